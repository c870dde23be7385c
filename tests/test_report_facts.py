"""What the report's numbers mean, checked without HTML: whose numbers they are, chance,
fold choice, verdicts, model rows, and which JSON files the report reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmvqshape.pipelines.report.facts import (
    NOT_RECORDED,
    SENTENCE_READER,
    Scorer,
    ZeroShotFold,
    bench_folds,
    bench_rows,
    chance_among_all,
    chance_among_held_out,
    explanation_columns,
    headline_folds,
    label_text_retrieval,
    prediction_verdict,
    run_folds,
    run_rows,
    tied_best,
    timeline_spans,
    zero_shot_answer,
)
from mmvqshape.pipelines.report.folder import Run, documented_kind, read_document

LABELS = ["standing", "walking", "running", "badminton"]


def _run(name: str, **metrics) -> Run:
    return Run(Path("runs") / name, {"model": "mmvqshape", "seed": 0, "accuracy": 0.9, **metrics})


def _fold(scorer: Scorer, held: list[str], **values) -> ZeroShotFold:
    return ZeroShotFold(held, values, scorer)


# ---------------------------------------------------------------- whose numbers


def test_todays_explanation_is_the_readers_and_its_action_codes_the_models():
    run = _run("mmvqshape", explanation={"precision": 0.8, "shuffled_control": {"precision": 0.3},
                                         "action_codes": {"precision": 0.4}})
    columns = explanation_columns([run])
    assert [(c.scorer.name, c.scorer.is_model, c.values["precision"]) for c in columns] == [
        ("MMVQShape", True, 0.4), (SENTENCE_READER, False, 0.8),
        (f"{SENTENCE_READER}, corpus shuffled across labels (control)", False, 0.3)]


def test_with_a_reader_baseline_the_explanation_is_the_models_own():
    run = _run("mmvqshape", explanation={"precision": 0.7},
               baselines={"sentence_reader": {"explanation": {"precision": 0.8}}})
    columns = explanation_columns([run])
    assert [(c.scorer.name, c.scorer.is_model, c.values["precision"]) for c in columns] == [
        ("MMVQShape", True, 0.7), (SENTENCE_READER, False, 0.8)]


def test_one_column_per_model_key_first_seed_only():
    runs = [_run("mmvqshape-seed0", explanation={"action_codes": {"precision": 0.4}}),
            _run("mmvqshape-seed1", explanation={"action_codes": {"precision": 0.5}})]
    assert [c.values["precision"] for c in explanation_columns(runs)] == [0.4]


def test_zero_shot_of_a_held_out_run_is_credited_to_what_computed_it():
    zero_shot = {"unseen_labels": ["running", "walking"], "unseen_accuracy": 0.8, "method": "ridge reader",
                 "baselines": {"model_label_embedding": {"unseen_accuracy": 0.6}, "name_only": {"unseen_accuracy": 0.5}}}
    folds = run_folds(_run("fold0-seed0", zero_shot=zero_shot))
    assert [(f.scorer.name, f.scorer.is_model) for f in folds] == [
        (SENTENCE_READER, False), ("MMVQShape (fold0), predicted label embedding", True), ("baseline: label names only", False)]
    assert all(f.held_out == ["running", "walking"] for f in folds)
    zero_shot["candidates"] = LABELS
    assert all(chance_among_all(f) == 0.25 for f in run_folds(_run("fold0-seed0", zero_shot=zero_shot)))  # the fold's candidates


def test_a_zero_shot_result_without_a_method_is_not_credited_to_the_model():
    folds = run_folds(_run("fold0-seed0", zero_shot={"unseen_labels": ["running", "walking"], "unseen_accuracy": 0.8}))
    assert [f.scorer for f in folds] == [Scorer(NOT_RECORDED)]
    bench = bench_folds({"per_fold": [{"unseen_labels": ["walking"], "unseen_gzsl_accuracy": 0.3}]}, Path("zero_shot.json"))
    assert [f.scorer for f in bench] == [Scorer(NOT_RECORDED)]


def test_with_a_reader_baseline_zero_shot_is_the_models_and_the_readers_sits_beside_it():
    run = _run("fold0-seed0", zero_shot={"unseen_labels": ["walking", "running"], "unseen_accuracy": 0.6},
               baselines={"sentence_reader": {"zero_shot": {"unseen_accuracy": 0.9}}})
    folds = run_folds(run)
    assert [(f.scorer.name, f.scorer.is_model, f.values["unseen_accuracy"]) for f in folds] == [
        ("MMVQShape (fold0)", True, 0.6), (SENTENCE_READER, False, 0.9)]


def test_a_run_that_held_nothing_out_has_no_zero_shot_folds():
    assert run_folds(_run("mmvqshape", zero_shot={"accuracy": 0.7, "candidates": 4})) == []


# ---------------------------------------------------------------- fold choice, chance, verdicts


def test_the_headline_answers_from_the_models_own_folds_first():
    reader, model = Scorer(SENTENCE_READER), Scorer("MMVQShape", True)
    folds = [_fold(reader, ["a", "b"], unseen_accuracy=0.9), _fold(model, ["a", "b"], unseen_accuracy=0.6),
             _fold(model, ["c", "d"], unseen_accuracy=0.7)]
    assert [f.values["unseen_accuracy"] for f in headline_folds(folds)] == [0.6, 0.7]
    assert [f.scorer for f in headline_folds(folds[:1])] == [reader]  # no model fold: the first scorer, as itself
    assert headline_folds([]) == []


def test_chance_levels():
    fold = _fold(Scorer("x"), ["a", "b"], candidates=["a", "b", "c", "d"])
    assert chance_among_held_out(fold) == 0.5 and chance_among_all(fold) == 0.25
    assert chance_among_held_out(_fold(Scorer("x"), ["a", "b"], chance_unseen=0.4)) == 0.4
    assert chance_among_all(_fold(Scorer("x"), ["a"], candidates=5)) == 0.2
    assert chance_among_all(_fold(Scorer("x"), ["a"])) is None


def test_two_held_out_answer_among_the_held_out():
    model = Scorer("MMVQShape", True)
    answer = zero_shot_answer([_fold(model, ["a", "b"], unseen_accuracy=0.8, unseen_gzsl_accuracy=0.5, harmonic_mean=0.6),
                               _fold(model, ["c", "d"], unseen_accuracy=0.6, unseen_gzsl_accuracy=0.3, harmonic_mean=0.4)])
    assert answer.scorer == model and answer.n_folds == 2 and answer.among_held_out
    assert answer.accuracy == pytest.approx(0.7) and answer.chance == 0.5 and answer.above_chance
    assert answer.all_activities_accuracy == pytest.approx(0.4) and answer.harmonic_mean == pytest.approx(0.5)


def test_one_fold_above_chance_only_beyond_its_interval():
    model = Scorer("MMVQShape", True)
    noisy = zero_shot_answer([_fold(model, ["a", "b"], unseen_accuracy=0.554, unseen_accuracy_ci95=[0.424, 0.676])])
    assert noisy.lower == pytest.approx(0.424) and not noisy.above_chance and noisy.within_noise
    clear = zero_shot_answer([_fold(model, ["a", "b"], unseen_accuracy=0.8, unseen_accuracy_ci95=[0.7, 0.88])])
    assert clear.above_chance and not clear.within_noise
    # several folds: mean 0.6 over 0.9, 0.3, 0.6 -> s.e. 0.173, lower 0.26 < 0.5
    spread = zero_shot_answer([_fold(model, ["a", "b"], unseen_accuracy=v) for v in (0.9, 0.3, 0.6)])
    assert spread.lower == pytest.approx(0.6 - 1.96 * 0.3 / 3 ** 0.5) and spread.within_noise


def test_one_held_out_answers_among_all_from_the_older_key():
    answer = zero_shot_answer([_fold(Scorer(NOT_RECORDED), ["walking"], holdout_accuracy=0.0, candidates=4, chance=0.25)])
    assert not answer.among_held_out and answer.accuracy == 0.0 and answer.chance == 0.25 and not answer.above_chance
    assert zero_shot_answer([]) is None


def test_no_accuracy_no_verdict():
    answer = zero_shot_answer([_fold(Scorer("x"), ["a"], seen_accuracy=0.9, unseen_labels=["a"])])
    assert answer.accuracy is None and not answer.above_chance


def test_prediction_verdict():
    assert prediction_verdict("walking", "walking") == "correct"
    assert prediction_verdict("walking", "running") == "wrong"
    assert prediction_verdict("walking", None) is None


# ---------------------------------------------------------------- rows


def test_bench_rows_leave_out_zero_shot_and_name_shots():
    rows = bench_rows([{"model": "vqshape", "shots": "4-shot", "seeds": 2, "accuracy_mean": 0.5, "accuracy_std": 0.1},
                       {"model": "minirocket", "shots": "all", "seeds": 2, "accuracy_mean": 0.9},
                       {"model": "mmvqshape zero-shot", "shots": "held out: walking", "accuracy_mean": 0.0}])
    assert [(r.name, r.mean, r.seeds) for r in rows] == [("MiniRocket", 0.9, 2), ("VQShape, 4 training windows per class", 0.5, 2)]


def test_run_rows_group_seeds_and_ties():
    runs = [Run(Path(f"runs/vqshape-seed{s}"), {"model": "vqshape", "accuracy": a, "macro_f1": a, "n_test": 40})
            for s, a in ((0, 0.8), (1, 0.9))]
    runs.append(Run(Path("runs/minirocket"), {"model": "minirocket", "accuracy": 0.85, "n_test": 40}))
    rows = run_rows(runs)
    assert [(r.name, r.seeds) for r in rows] == [("VQShape", 2), ("MiniRocket", 1)]  # 0.85 each: tied, name order
    assert rows[0].mean == pytest.approx(0.85) and rows[0].std == pytest.approx(0.05) and rows[1].macro_f1_mean is None
    assert len(tied_best(rows)) == 2 and tied_best([]) == []


def test_label_text_retrieval_reads_the_older_key():
    old = Run(Path("runs/mm"), {"model": "mmvqshape", "zero_shot": {"accuracy": 0.7, "candidates": 4}})
    new = Run(Path("runs/mm2"), {"model": "mmvqshape", "label_text_retrieval": {"accuracy": 0.6, "chance": 0.2}})
    assert [(r.accuracy, r.chance) for r in label_text_retrieval([old, new])] == [(0.7, 0.25), (0.6, 0.2)]


def test_timeline_spans_need_start_and_end():
    explanation = {"sub_actions": [{"slot": 0, "sentence": "a", "source_label": "walking", "start": 10, "end": 90},
                                   {"slot": 1, "sentence": "b", "source_label": "running"},
                                   {"slot": 2, "sentence": "c", "source_label": "running", "start": 50, "end": 20}]}
    assert [(s.slot, s.start, s.end) for s in timeline_spans(explanation)] == [(0, 10.0, 90.0)]
    assert timeline_spans({}) == []


# ---------------------------------------------------------------- which files are read


def test_documented_names_fix_the_kind_of_older_files(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "accuracy.csv").write_text("model\n")
    assert documented_kind(tmp_path / "runs" / "metrics.json") == "metrics"
    assert documented_kind(tmp_path / "zero_shot.json") == "zero_shot_bench"
    assert documented_kind(tmp_path / "explain" / "explain_3.json") == "explanation"
    assert documented_kind(tmp_path / "data" / "summary.json") == "data_summary"
    assert documented_kind(tmp_path / "summary.json") == "bench_accuracy"
    assert documented_kind(tmp_path / "other" / "summary.json") is None
    assert documented_kind(tmp_path / "results.json") is None


def test_the_recorded_kind_decides(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"accuracy": 0.9}))
    assert read_document(tmp_path / "metrics.json").kind == "metrics"
    (tmp_path / "renamed.json").write_text(json.dumps({"kind": "metrics", "accuracy": 0.9}))
    assert read_document(tmp_path / "renamed.json").data["accuracy"] == 0.9
    (tmp_path / "zero_shot.json").write_text(json.dumps({"kind": "something_else", "per_fold": []}))
    assert read_document(tmp_path / "zero_shot.json").kind is None
    (tmp_path / "loose.json").write_text(json.dumps({"accuracy": 0.9}))
    assert read_document(tmp_path / "loose.json").data is None


def test_a_bench_through_the_model_credits_the_model_and_a_reader_bench_does_not():
    fold = {"unseen_labels": ["walking"], "unseen_gzsl_accuracy": 0.3, "method": "token MMVQShape"}
    through_model = bench_folds({"model": "mmvqshape", "per_fold": [fold]}, Path("zero_shot.json"))
    reader = bench_folds({"model": "sentence-reader", "per_fold": [fold]}, Path("zero_shot.json"))
    assert through_model[0].scorer.is_model and not reader[0].scorer.is_model
