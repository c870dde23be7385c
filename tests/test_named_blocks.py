"""A block of numbers a baseline computed names it, in the file and in the Markdown:
``mmvq bench zero-shot``'s ``explanation`` is the sentence reader's, whichever ``--model`` scores the folds."""

from __future__ import annotations

import numpy as np

from mmvqshape.models.zero_shot import CandidateTexts
from mmvqshape.pipelines.bench_zero_shot import bench_markdown, reader_explanation
from mmvqshape.evaluation.reader import EXPLANATION_BY

HEADLINE = {"mean": 0.5, "std": 0.1}


def _summary(model: str, explanation: dict) -> dict:
    keys = ("unseen_accuracy", "seen_accuracy", "unseen_gzsl_accuracy", "harmonic_mean")
    every = {k: HEADLINE for k in keys}
    return {"data": "basicmotions", "corpus": "c", "encoder": "e", "view": "text", "folds": [["running"]], "seeds": 1,
            "wall_seconds": 1.0, "machine": "x", "model": model, "summary": every, "per_fold": [],
            "baselines": {"sentence_reader": every, "name_only": every,
                          "text_only": {"unseen_accuracy": HEADLINE, "unseen_gzsl_accuracy": HEADLINE}},
            "explanation": explanation}


def test_the_bench_explanation_block_names_the_sentence_reader():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 12)
    features = np.eye(3)[y] + 0.1 * rng.normal(size=(len(y), 3))
    split = np.array((["train"] * 8 + ["test"] * 4) * 3)
    texts = CandidateTexts(["a", "b", "c"], [rng.normal(size=(3, 6)) + 2 * np.eye(6)[i] for i in range(3)])
    block = reader_explanation(features, y, split, texts)
    assert block["computed_by"] == EXPLANATION_BY and "sentence reader" in EXPLANATION_BY
    assert block["n_windows"] == 12 and "precision" in block["shuffled_control"]
    through_model = bench_markdown(_summary("mmvqshape", block))
    assert f"Explanations by the {EXPLANATION_BY}, a baseline: not the model's own sentences" in through_model
    reader_bench = bench_markdown(_summary("sentence-reader", block))  # the reader is what this bench scores
    assert f"Explanations by the {EXPLANATION_BY} (test windows" in reader_bench and "a baseline" not in reader_bench
