"""The report's grounding section: the model's grounding and the sliding classifier's, each in
a column under its own name, with coverage, both located / placed and the −1 sample count."""

from __future__ import annotations

import html
import json
import re

from mmvqshape.pipelines.report import build_report

OWN = {"precision": 0.71, "coverage": 0.42, "coverage_per_activity": {"sitting": 0.5, "walking": 0.34},
       "both_located": 0.25, "both_placed": 0.8, "unlabelled_samples": 1234, "n_samples": 50000, "n_windows": 100}
SLIDING = {"precision": 0.66, "coverage": 0.61, "coverage_per_activity": {"sitting": 0.7, "walking": 0.52},
           "both_located": 0.55, "both_placed": 0.9, "unlabelled_samples": 1234, "n_samples": 50000, "n_windows": 100}


def _row(page: str, name: str) -> list[str]:
    row = re.search(rf"<tr><td>{re.escape(html.escape(name))}</td>(.*?)</tr>", page).group(1)
    return [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]


def test_grounding_shows_the_model_and_the_sliding_baseline(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    metrics = {"kind": "metrics", "model": "mmvqshape", "accuracy": 0.9, "macro_f1": 0.9, "n_test": 100, "seed": 0,
               "split": {"method": "file", "sizes": {"train": 1, "val": 1, "test": 100}, "data": "hapt-boundary"},
               "grounding": OWN, "baselines": {"sliding_classifier": {"grounding": SLIDING, "sample_accuracy": 0.8}}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    page = build_report(run, tmp_path / "page.html").read_text()
    assert "Grounding: sentences on windows of two activities" in page
    head = re.search(r"Grounding: sentences.*?<thead><tr>(.*?)</tr>", page, re.S).group(1)
    assert re.findall(r"<th[^>]*>(.*?)</th>", head)[2:] == ["mmvqshape", "sliding classifier (baseline)"]
    assert _row(page, "both located")[1:] == ["0.250", "0.550"]
    assert _row(page, "both placed")[1:] == ["0.800", "0.900"]
    assert _row(page, "coverage (mean)")[1:] == ["0.420", "0.610"]
    assert _row(page, "coverage: walking")[1:] == ["0.340", "0.520"]
    assert _row(page, "samples labelled −1")[1:] == ["1234", "1234"]


def test_no_grounding_no_section(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"kind": "metrics", "model": "vqshape", "accuracy": 0.5, "n_test": 4}))
    assert "Grounding: sentences" not in build_report(run, tmp_path / "page.html").read_text()
