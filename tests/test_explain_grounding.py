"""``mmvq explain --all`` and the token MMVQShape's own ``grounding`` on a tiny run whose test
windows hold two activities, with known answers for the span mapping and the span trimming."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import train_support as ts
from mmvqshape.cli import main
from mmvqshape.models.mmvqshape_tokens import agreeing_spans
from mmvqshape.pipelines.evaluate import measure_sentences
from mmvqshape.evaluation.grounding import loaded_spans, model_placements, token_model_grounding
from mmvqshape.pipelines.report.facts import timeline_extent, timeline_spans
from mmvqshape.signals import load_windows
from mmvqshape.text.embeddings import EmbeddingSet, load_embeddings, save_embeddings

LABELS = ("sit", "walk", "run")
LOADED = 80  # samples per window as loaded; the model reads 64
TINY_TOKENS = "model:\n  scales: [0.125, 0.25]\n  len_s: 8\n  num_code: 8\n  kmeans_iters: 3\n  num_slots: 3\n"


def sine(k: int, n: int, rng) -> np.ndarray:
    t = np.arange(n)[:, None] / LOADED
    return np.sin(2 * np.pi * (k + 1) * 4 * t + rng.uniform(0, 6, 3)) + 0.2 * rng.standard_normal((n, 3))


def write_two_activity_windows(path, seed: int = 0):
    """Training windows of one activity; test windows of one activity, then another from sample 30."""
    rng = np.random.default_rng(seed)
    X, y, split, activity = [], [], [], []
    for k in range(3):
        for i in range(12):
            X.append(sine(k, LOADED, rng))
            y.append(k)
            split.append("train")
            activity.append(np.full(LOADED, k))
        for other in (o for o in range(3) if o != k):
            X.append(np.concatenate([sine(other, 30, rng), sine(k, LOADED - 30, rng)]))
            y.append(k)
            split.append("test")
            activity.append(np.r_[np.full(30, other), np.full(LOADED - 30, k)])
    np.savez(path, X=np.stack(X).astype(np.float32), y=np.array(y), labels=np.array(LABELS), split=np.array(split),
             activity=np.stack(activity))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory, one_thread):
    root = tmp_path_factory.mktemp("grounding")
    data = write_two_activity_windows(root / "two.npz")
    emb = ts.write_embeddings(root / "emb", labels=LABELS, dim=8, k=4)
    (root / "tokens.yaml").write_text(TINY_TOKENS)
    assert main(["train", "--model", "mmvqshape", "--data", str(data), "--corpus", str(emb), "--config",
                 str(root / "tokens.yaml"), "--out", str(root / "mm"), "--max-epochs", "2", *ts.TINY_FLAGS]) == 0
    return root, data


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_explain_all_writes_one_line_per_test_window(run, capsys):
    root, data = run
    assert main(["explain", str(root / "mm"), "--data", str(data), "--all", "--out", str(root / "every")]) == 0
    lines = read_lines(root / "every" / "explanations_test.jsonl")
    windows = load_windows(str(data))
    assert [e["index"] for e in lines] == list(range(6)) and [e["row"] for e in lines] == windows.indices("test").tolist()
    for e in lines:
        assert e["true_label"] == LABELS[windows.y[e["row"]]] and e["predicted_label"] in LABELS
        assert len(e["sub_actions"]) == 3 and len({s["sentence"] for s in e["sub_actions"]}) == 3
        for s in e["sub_actions"]:
            assert {"sentence", "source_label", "score", "start", "end"} <= set(s)
            assert 0 <= s["start"] < s["end"] <= LOADED and s["source_label"] in LABELS
        assert set(e["shapes"]) == {"code", "t", "l", "mu", "sigma"} and len(e["shapes"]["code"]) == 3
    assert not list((root / "every").glob("*.png"))  # no figure unless asked
    assert "explained 6 test windows" in capsys.readouterr().out


def test_explain_all_other_split_without_shapes(run):
    root, data = run
    assert main(["explain", str(root / "mm"), "--data", str(data), "--all", "--split", "train", "--no-shapes",
                 "--no-progress", "--batch-size", "5", "--out", str(root / "train_split")]) == 0
    lines = read_lines(root / "train_split" / "explanations_train.jsonl")
    assert [e["row"] for e in lines] == load_windows(str(data)).indices("train").tolist()
    assert all("shapes" not in e and len(e["sub_actions"]) == 3 for e in lines)


@pytest.mark.parametrize("flags, where", [(["--all", "--index", "1"], "--all"), (["--all", "--split", "nope"], "--split")])
def test_explain_all_bad_input_exits_2_and_writes_nothing(run, capsys, flags, where):
    root, data = run
    assert main(["explain", str(root / "mm"), "--data", str(data), *flags, "--out", str(root / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and where in err[0]
    assert not (root / "bad").exists() or not list((root / "bad").iterdir())


def right_samples(label: int, start: int, end: int, true: int, other: int) -> int:
    """Samples of [start, end) whose activity is ``label`` in a test window of
    :func:`write_two_activity_windows`: ``other`` on 0..30, ``true`` on 30..LOADED."""
    before, after = max(0, min(end, 30) - max(start, 0)), max(0, min(end, LOADED) - max(start, 30))
    return (before if label == other else 0) + (after if label == true else 0)


def test_evaluate_writes_the_models_own_grounding_from_its_spans(run):
    root, data = run
    assert main(["evaluate", str(root / "mm"), "--data", str(data), "--out", str(root / "eval")]) == 0
    metrics = json.loads((root / "eval" / "metrics.json").read_text())
    assert set(metrics["grounding"]) == {"precision", "coverage", "coverage_per_activity", "both_located", "both_placed",
                                         "unlabelled_samples", "n_samples", "n_windows"}
    assert metrics["grounding"]["n_windows"] == 6 and metrics["grounding"]["unlabelled_samples"] == 0
    assert set(metrics["baselines"]["sliding_classifier"]["grounding"]) == set(metrics["grounding"])
    # precision by hand from the spans explain --all writes: every sample is labelled (no -1), so
    # it is the samples of the spans on their own label's part of the window over all span samples
    assert main(["explain", str(root / "mm"), "--data", str(data), "--all", "--out", str(root / "spans")]) == 0
    windows = load_windows(str(data))
    right = labelled = 0
    for e in read_lines(root / "spans" / "explanations_test.jsonl"):
        true, other = int(windows.activity[e["row"]][-1]), int(windows.activity[e["row"]][0])
        for s in e["sub_actions"]:
            right += right_samples(LABELS.index(s["source_label"]), s["start"], s["end"], true, other)
            labelled += s["end"] - s["start"]
    assert labelled > 0 and metrics["grounding"]["precision"] == pytest.approx(right / labelled)


def test_explain_json_says_the_loaded_length_its_spans_are_in(run):
    root, data = run
    assert main(["explain", str(root / "mm"), "--data", str(data), "--index", "0", "--out", str(root / "one")]) == 0
    result = json.loads((root / "one" / "explain_0.json").read_text())
    assert result["length"] == 64 and result["loaded_length"] == LOADED  # the model reads 64 of the 80 loaded samples
    spans = timeline_spans(result)
    assert spans and timeline_extent(result, spans) == LOADED and max(s.end for s in spans) <= LOADED


def test_timeline_axis_is_the_window_as_loaded_not_the_models_length():
    # BasicMotions: 100 samples as loaded, read by the model at 500
    result = {"length": 500, "loaded_length": 100, "sub_actions": [{"sentence": "a", "start": 0, "end": 40},
                                                                   {"sentence": "b", "start": 60, "end": 100}]}
    assert timeline_extent(result, timeline_spans(result)) == 100
    older = {"length": 500, "sub_actions": result["sub_actions"]}  # a file from before loaded_length: the spans' extent
    assert timeline_extent(older, timeline_spans(older)) == 100


def test_grounding_is_the_same_whatever_corpus_is_passed(run):
    root, data = run
    own_text = load_embeddings(root / "emb")
    order = np.random.default_rng(3).permutation(len(own_text.subactions))  # every sentence vector moved to another row
    shuffled = save_embeddings(EmbeddingSet(own_text.subactions[order], own_text.label_vectors[::-1].copy(), own_text.labels,
                                            own_text.owner, own_text.sentences, dict(own_text.meta)), root / "shuffled_emb")
    assert main(["evaluate", str(root / "mm"), "--data", str(data), "--corpus", str(shuffled), "--out", str(root / "eval_other")]) == 0
    assert main(["evaluate", str(root / "mm"), "--data", str(data), "--out", str(root / "eval_own")]) == 0
    own, other = (json.loads((root / name / "metrics.json").read_text()) for name in ("eval_own", "eval_other"))
    assert own["grounding"] == other["grounding"] and own["grounding"]["precision"] is not None


def test_measure_sentences_scores_another_split_and_writes_nothing(run):
    root, data = run
    before = sorted(p.name for p in (root / "mm").iterdir())
    result = measure_sentences(root / "mm", data=str(data), split="train")
    assert result["split"] == "train" and result["n_windows"] == len(load_windows(str(data)).indices("train"))
    assert result["explanation"]["k"] == 3 and result["grounding"]["n_windows"] == result["n_windows"]
    assert sorted(p.name for p in (root / "mm").iterdir()) == before


def test_spans_map_to_the_window_as_loaded():
    # model window of 5 samples, loaded window of 9: sample s of the model sits at 2 s
    assert loaded_spans(np.array([[0, 5], [1, 3]]), 5, 9).tolist() == [[0, 9], [2, 5]]
    outputs = {"index": np.array([0, 1]), "action_idx": np.array([[0, 2], [1, -1]]),
               "action_span": np.array([[[0, 3], [2, 5]], [[0, 5], [0, 0]]])}
    sentence_label = np.array([0, 1, 1])  # sentences 1 and 2 come from label 1
    placed = model_placements(outputs["action_idx"], outputs["action_span"], sentence_label, 5, 9)
    assert placed == [[(0, 0, 5), (1, 4, 9)], [(1, 0, 9)]]

    class Known:
        name, length, labels = "known", 9, ["a", "b"]
        activity = np.array([[0, 0, 0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1, -1]])

    result = token_model_grounding(Known, outputs, ["a", "b", "B"], 5)
    # window 0: label 0 on 0..5: 4 of 5 right; label 1 on 4..9: 5 of 5; window 1: label 1 on 0..9: 8 of 8 labelled
    assert result["precision"] == pytest.approx(17 / 18) and result["both_located"] == 1.0 and result["n_windows"] == 2


def test_spans_are_trimmed_to_where_the_segments_agree():
    segment_span = torch.tensor([[0, 4], [2, 6], [4, 8]])
    proba = torch.tensor([[[0.9, 0.1], [0.2, 0.8], [0.1, 0.9]]])  # segment 0 says label 0, the others label 1
    # per-sample mean posterior: 0-1 label 0 (0.9), 2-3 (0.55, 0.45) label 0, 4-5 label 1, 6-7 label 1
    spans = agreeing_spans(segment_span, proba, torch.tensor([[0, 1, 2, 1]]), torch.tensor([[0, 1, 1, 0]]), 8)
    assert spans.tolist() == [[[0, 4], [4, 6], [4, 8], [2, 4]]]
    # a pick whose label no sample of its segment agrees with keeps its whole segment
    assert agreeing_spans(segment_span, proba, torch.tensor([[2]]), torch.tensor([[0]]), 8).tolist() == [[[4, 8]]]
