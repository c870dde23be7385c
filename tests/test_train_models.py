"""The harness with the real models (tiny dimensions): vqshape both channel modes, mmvqshape honesty."""

from __future__ import annotations

import json

import numpy as np
import pytest

import train_support as ts
from mmvqshape.cli import main

TINY_VQSHAPE = ts.TINY_VQSHAPE


@pytest.fixture
def files(tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY_VQSHAPE)
    return ts.write_windows(tmp_path / "w.npz", n_per_class=6), cfg


@pytest.mark.parametrize("channels", ["joint", "independent"])
def test_vqshape_trains_and_evaluates(files, tmp_path, channels):
    data, cfg = files
    run = tmp_path / channels
    epochs = "1"
    args = ["train", "--model", "vqshape", "--data", str(data), "--config", str(cfg), "--out", str(run),
            "--channels", channels, "--max-epochs", epochs, *ts.TINY_FLAGS]
    assert main(args) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["channels"] == channels and metrics["codebooks"]["shape"]["num_codes"] == 16
    assert 0 <= metrics["dead_codes"]["shape"] <= 16 and metrics["perplexity"]["shape"] >= 1.0
    if channels == "joint":
        assert main(["evaluate", str(run)]) == 0
        assert (run / "figures" / "reconstruction.png").stat().st_size > 1000


def test_mmvqshape_evaluation_ignores_corpus_sentences(files, tmp_path):
    from mmvqshape.text.embeddings import EmbeddingSet, load_embeddings, save_embeddings

    data, cfg = files
    emb_dir = ts.write_embeddings(tmp_path / "emb", dim=8, k=4)
    cfg.write_text(ts.TINY_MMVQSHAPE)
    run = tmp_path / "mm"
    assert main(["train", "--model", "mmvqshape", "--data", str(data), "--corpus", str(emb_dir), "--config", str(cfg),
                 "--out", str(run), "--max-epochs", "1", *ts.TINY_FLAGS]) == 0
    emb = load_embeddings(emb_dir)
    perm = np.random.default_rng(3).permutation(len(emb.subactions))
    save_embeddings(EmbeddingSet(emb.subactions[perm], emb.label_vectors, emb.labels, emb.owner,
                                 [emb.sentences[i] for i in perm], emb.meta), tmp_path / "shuffled")
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["evaluate", str(run), "--out", str(a)]) == 0
    assert main(["evaluate", str(run), "--corpus", str(tmp_path / "shuffled"), "--out", str(b)]) == 0
    for name in ("metrics.json", "predictions.csv"):
        assert (a / name).read_text() == (b / name).read_text()
    metrics = json.loads((a / "metrics.json").read_text())
    assert "action" in metrics["perplexity"] and "label_text_retrieval" in metrics and "zero_shot" not in metrics
