"""The main job end to end (quick mode): every step runs, the outputs stay usable after the
demo, and the report shows every figure in a real browser."""

from __future__ import annotations

import json

import pytest

from mmvqshape.cli import main
from test_report import browser_available, check_page_in_browser


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    return out


def test_demo_writes_every_step(demo):
    for path in ["data/summary.json", "text/armleg/index.json", "text/arm/index.json", "text/leg/index.json",
                 "analysis/projection_umap_3d/projection.plotly.json", "analysis/gram/gram.png",
                 "analysis/recon/summary.csv", "analysis/codebook/codebook.json", "explain/explain_0.png",
                 "explain/explain_0.json", "report.html", "timing.json"]:
        assert (demo / path).is_file(), path
    for model in ("minirocket", "vqshape", "mmvqshape"):
        metrics = json.loads((demo / "runs" / model / "metrics.json").read_text())
        assert metrics["n_test"] == 40 and metrics["split"]["method"].startswith("official")
    assert not [p for p in demo.rglob("*") if ".tmp-" in p.name]


def test_demo_runs_stay_usable_afterwards(demo, capsys):
    # the mmvqshape run's config points at the demo's own embedding folder, which still exists
    assert main(["evaluate", str(demo / "runs" / "mmvqshape"), "--out", str(demo.parent / "re-eval")]) == 0
    first = json.loads((demo / "runs" / "mmvqshape" / "metrics.json").read_text())
    again = json.loads((demo.parent / "re-eval" / "metrics.json").read_text())
    assert again["accuracy"] == first["accuracy"]


def test_demo_refuses_data_it_does_not_know(tmp_path, capsys):
    assert main(["demo", "--quick", "--data", "geneactiv", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--data" in err[0] and not (tmp_path / "d").exists()


def test_demo_refuses_a_folder_that_is_not_a_demo(tmp_path, capsys):
    (tmp_path / "precious.txt").write_text("keep me")
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 2
    assert (tmp_path / "precious.txt").read_text() == "keep me"


@pytest.mark.skipif(not browser_available(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_demo_report_reads_well_in_a_browser(demo, tmp_path):
    # no horizontal overflow at 1280 px and at phone width, every figure captioned, no heading
    # a file name, no script error, every image loads, the interactive 3-D view drawn
    check_page_in_browser(demo / "report.html", tmp_path, min_images=10, min_plots=1)


def test_demo_explains_one_window_per_class(demo):
    explained = [json.loads(p.read_text())["true_label"] for p in sorted((demo / "explain").glob("explain_*.json"))]
    assert sorted(explained) == sorted(json.loads((demo / "data" / "summary.json").read_text())["labels"])
