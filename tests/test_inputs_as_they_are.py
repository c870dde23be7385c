"""Inputs read as they are (issue 24, item 6): a damaged JSON in a folder is named with its
parse error; numeric options outside their range stop with one line before any work; the
corpus view follows what the corpus holds wherever a command embeds one."""

from __future__ import annotations

import inspect
import json

import pytest
import typer.main

from mmvqshape.cli import app, main
from mmvqshape.errors import UserError


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_report_names_a_truncated_metrics_json_with_its_parse_error(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text('{"kind": "metrics", "model": "vqshape", "accuracy": 0.9, "per_cl')
    assert main(["report", str(run), "--out", str(tmp_path / "page.html")]) == 2
    line = one_error_line(capsys)
    assert "metrics.json" in line and "not valid JSON" in line and "char" in line  # json's own position
    assert "nothing to report" not in line and not (tmp_path / "page.html").exists()


def test_a_damaged_json_among_good_runs_stops_the_page(tmp_path, capsys):
    for name, text in (("a", json.dumps({"kind": "metrics", "model": "vqshape", "accuracy": 0.5, "n_test": 4})),
                       ("b", '{"kind": "metrics", "model": "minirocket", "accur')):
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "metrics.json").write_text(text)
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "page.html")]) == 2
    assert "b/metrics.json" in one_error_line(capsys) and not (tmp_path / "page.html").exists()


def test_evaluate_names_a_damaged_run_config(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text("model_name: vqshape\nmodel: {dim: [1, 2\n")
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "config.yaml" in one_error_line(capsys)


OUT_OF_RANGE = [
    (["bench", "zero-shot", "--unseen-size", "0"], "--unseen-size"),
    (["bench", "zero-shot", "--folds", "0"], "--folds"),
    (["bench", "zero-shot", "--seeds", "0"], "--seeds"),
    (["bench", "accuracy", "--seeds", "0"], "--seeds"),
    (["bench", "accuracy", "--zero-shot-seeds", "0"], "--zero-shot-seeds"),
    (["bench", "accuracy", "--max-epochs", "0"], "--max-epochs"),
    (["bench", "accuracy", "--batch-size", "0"], "--batch-size"),
    (["bench", "speed", "--seed", "-1"], "--seed"),
    (["train", "--out", "x", "--seed", "-1"], "--seed"),
    (["train", "--out", "x", "--max-epochs", "0"], "--max-epochs"),
    (["train", "--out", "x", "--lr", "0"], "--lr"),
    (["train", "--out", "x", "--num-workers", "-1"], "--num-workers"),
    (["pretrain", "--data", "basicmotions", "--out", "x", "--batch-size", "0"], "--batch-size"),
    (["explain", "run", "--all", "--batch-size", "0"], "--batch-size"),
    (["explain", "run", "--index", "-1"], "--index"),
    (["explain", "run", "--top", "-1"], "--top"),
    (["tokenize", "run", "--out", "x.csv", "--batch-size", "0"], "--batch-size"),
    (["data", "summary", "basicmotions", "--length", "1"], "--length"),
    (["data", "summary", "basicmotions", "--seed", "-2"], "--seed"),
    (["analyze", "projection", "emb", "--out", "x", "--dims", "4"], "--dims"),
    (["analyze", "projection", "emb", "--out", "x", "--perplexity", "0"], "--perplexity"),
    (["analyze", "recon", "emb", "--out", "x", "--test-fraction", "1"], "--test-fraction"),
    (["analyze", "recon", "emb", "--out", "x", "--seeds", "0"], "--seeds"),
    (["analyze", "codebook", "emb", "--out", "x", "--size", "0"], "--size"),
    (["analyze", "gram", "emb", "--out", "x", "--top", "-1"], "--top"),
    (["corpus", "check", "hapt", "--near", "1.5"], "--near"),
    (["corpus", "generate", "--out", "x.json", "--n", "0"], "--n"),
    (["corpus", "generate", "--out", "x.json", "--temperature", "-1"], "--temperature"),
    (["demo", "--seed", "-1"], "--seed"),
]


@pytest.mark.parametrize("argv, option", OUT_OF_RANGE, ids=[" ".join(a) for a, _ in OUT_OF_RANGE])
def test_an_out_of_range_option_is_one_line_and_exit_2(argv, option, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # nothing may be written; any output would land here
    assert main(argv) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: {option}:") and "must be" in line
    assert not list(tmp_path.iterdir())


def test_the_zero_shot_folds_refuse_size_zero_in_the_pipeline_too():
    from mmvqshape.pipelines.bench_zero_shot import choose_folds

    with pytest.raises(UserError, match="--unseen-size"):
        choose_folds(["a", "b", "c", "d"], None, 0, None)
    assert choose_folds(["a", "b", "c", "d"], None, None, None) == [["a"], ["b"], ["c"], ["d"]]


def _view_defaults(command, path=""):
    if hasattr(command, "commands"):  # a group (typer carries its own click)
        for name, sub in command.commands.items():
            yield from _view_defaults(sub, f"{path} {name}")
        return
    for param in command.params:
        if param.name == "view":
            yield path.strip(), param.default


def test_every_command_lets_the_corpus_choose_its_view():
    """Arm/Leg corpora read as armleg and plain sentences as text by default, everywhere: no
    command or pipeline fixes a view that a plain-sentence corpus lacks."""
    from mmvqshape.pipelines.bench_zero_shot import run_bench_zero_shot
    from mmvqshape.pipelines.corpus_check import run_corpus_check
    from mmvqshape.pipelines.embed import run_embed
    from mmvqshape.text.encoders import embed_corpus

    defaults = dict(_view_defaults(typer.main.get_command(app)))
    assert {"bench zero-shot", "train", "embed", "corpus check"} <= set(defaults)
    assert all(value in (None, "auto") for value in defaults.values()), defaults
    for function in (run_bench_zero_shot, run_corpus_check, run_embed, embed_corpus):
        assert inspect.signature(function).parameters["view"].default in (None, "auto"), function.__name__


def test_auto_reads_what_the_corpus_holds(tmp_path):
    from mmvqshape.text.corpus import load_corpus

    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"sit": ["Rests the arms on the thighs.", "Keeps the legs still."],
                                 "walk": ["Swings the arms.", "Steps forward in rhythm."]}))
    assert load_corpus(plain).view == "text" and load_corpus("hapt").view == "armleg"
