"""``mmvq bench ablation``: named rows, mean ± std over seeds, validation decides the default, the report shows it."""

from __future__ import annotations

import json

import pytest

from mmvqshape.cli import main
from mmvqshape.errors import UserError
from mmvqshape.pipelines.bench_ablation import ROWS, choose_default, parse_rows, run_bench_ablation, summarize_rows

pytestmark = pytest.mark.usefixtures("one_thread")


def test_rows_name_the_plans_parts():
    assert list(ROWS) == ["bag", "plan", "plan-no-fusion", "plan-no-action-codebook", "plan-no-label-recon", "plan-no-text"]
    assert ROWS["plan-no-text"] == {"architecture": "plan", "use_text": False}
    assert ROWS["plan-no-label-recon"]["w_label"] == 0
    with pytest.raises(UserError, match="unknown nope"):
        parse_rows("bag,nope", ROWS)


def test_default_is_decided_on_validation_and_ties_go_to_the_earlier_row():
    runs = [{"row": r, "seed": s, "accuracy": acc, "val_accuracy": val}
            for r, vals in (("bag", (0.90, 0.92)), ("plan", (0.93, 0.91)), ("plan-no-text", (0.80, 0.80)))
            for s, (acc, val) in enumerate(zip((0.99, 0.98), vals))]
    summary = summarize_rows(runs, ["bag", "plan", "plan-no-text"], {})
    assert summary[0]["val_accuracy"]["mean"] == pytest.approx(0.91) and summary[0]["val_accuracy"]["std"] == pytest.approx(0.01)
    choice = choose_default(summary)
    assert choice["best_validation_row"] == "plan" and choice["row"] == "bag"  # bag is within one std of plan's 0.92
    runs[1]["val_accuracy"] = 0.70  # bag falls out of plan's band
    assert choose_default(summarize_rows(runs, ["bag", "plan", "plan-no-text"], {}))["row"] == "plan"


@pytest.mark.slow
def test_bench_ablation_on_a_hapt_slice_writes_its_table_and_the_report_shows_it(hapt_slice, tmp_path):
    rows = {"bag": {}, "bag-warm": {"temperature": 0.2}}  # two token rows stand in for the plan's until it exists
    out = tmp_path / "ablation"
    result = run_bench_ablation(data="hapt", seeds=2, rows="bag,bag-warm", row_configs=rows, max_epochs=2, batch_size=16,
                                grounding_data="hapt-boundary", out=out)
    assert [(r["row"], r["seed"]) for r in result["runs"]] == [("bag", 0), ("bag-warm", 0), ("bag", 1), ("bag-warm", 1)]
    for run in result["runs"]:
        assert run["protocol"] == "refit" and 0 <= run["val_accuracy"] <= 1 and 0 <= run["accuracy"] <= 1
        assert run["explanation.precision"] is not None and "grounding.precision" in run
    entry = result["summary"][0]
    assert entry["seeds"] == 2 and set(entry["accuracy"]) == {"mean", "std"}
    assert result["default"]["row"] in rows and "validation" in result["markdown"]
    assert "| row | accuracy | macro-F1 | validation accuracy |" in result["markdown"]
    document = json.loads((out / "ablation.json").read_text())
    assert document["kind"] == "bench_ablation" and document["setup"]["rows"] == rows
    assert (out / "ablation.csv").read_text().count("\n") == 5
    assert not list(out.rglob("*.ckpt"))  # weights are not kept
    assert json.loads((out / "runs" / "bag-seed1" / "ablation_row.json").read_text())["row"] == "bag"
    assert main(["report", str(out), "--out", str(tmp_path / "page.html")]) == 0
    page = (tmp_path / "page.html").read_text()
    assert "Part by part: the ablation table" in page and "bag-warm" in page
    assert "Protocol refit: every model fitted on the same" in page  # the runs' own protocol under the model table


def test_a_row_without_sentences_leaves_its_grounding_empty(tmp_path, monkeypatch):
    import mmvqshape.pipelines.bench_ablation as bench

    metrics = {"accuracy": 0.9, "macro_f1": 0.8, "protocol": "refit", "selection": {"val_accuracy": 0.85}}
    monkeypatch.setattr(bench, "train", lambda cfg, run: {"metrics": metrics})

    def no_sentences(run, data, split):
        raise KeyError("action_idx")  # what a model without a text side gives measure_sentences

    monkeypatch.setattr(bench, "measure_sentences", no_sentences)
    row = bench._run_row("plan-no-text", 0, {"model_name": "mmvqshape", "data": "hapt", "corpus": "hapt"}, tmp_path / "r",
                         "hapt-boundary")
    assert row["val_accuracy"] == 0.85 and row["accuracy"] == 0.9 and not any(k.startswith("grounding.") for k in row)
    assert json.loads((tmp_path / "r" / "ablation_row.json").read_text())["row"] == "plan-no-text"
