"""Reconstruction probe (mmvqshape.analysis.recon + run_recon / `mmvq analyze recon`)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from mmvqshape.analysis.recon import (
    ProbeConfig,
    ProjectionModel,
    check_split,
    default_k,
    label_recoverability,
    make_split,
)
from mmvqshape.cli import main
from mmvqshape.errors import UserError
from mmvqshape.pipelines.analyze import run_codebook, run_recon
from mmvqshape.text.embeddings import EmbeddingSet, save_embeddings

FAST = ProbeConfig(steps=60, train_samples_per_label=6, test_samples_per_label=4)


def separable(n_labels: int = 5, per_label: int = 6, dim: int = 16, noise: float = 0.3, seed: int = 0, counts=None) -> EmbeddingSet:
    """Clearly separated label clusters; the label embedding sits near its cluster's centre."""
    rng = np.random.default_rng(seed)
    counts = counts or [per_label] * n_labels
    centres = rng.normal(size=(len(counts), dim))
    subactions = np.concatenate([c + noise * rng.normal(size=(n, dim)) for c, n in zip(centres, counts)])
    owner = np.repeat(np.arange(len(counts)), counts)
    sentences = [f"label {i} sentence {j}" for i, n in enumerate(counts) for j in range(n)]
    return EmbeddingSet(subactions, centres + 0.05 * rng.normal(size=centres.shape), [f"L{i}" for i in range(len(counts))], owner, sentences, {"encoder": "synthetic"})


def test_projection_model_shapes():
    import torch

    model = ProjectionModel(sub_dim=16, num_sub=3, hidden_dim=8, out_dim=12)
    assert model(torch.zeros(5, 3, 16)).shape == (5, 12)


def test_k_rule_with_different_counts():
    emb = separable(counts=[4, 9, 6])
    assert default_k(emb) == 2  # half of the smallest label's 4 sentences
    for protocol in ("sentences", "labels"):
        split = make_split(emb, protocol, seed=0, config=FAST)
        assert split.k == 2 and split.train_rows.shape[1] == 2 and split.test_rows.shape[1] == 2
    with pytest.raises(UserError) as err:
        make_split(emb, "sentences", 0, ProbeConfig(k=3))
    assert err.value.where == "--k"


def test_sentences_protocol_never_trains_on_a_held_out_sentence():
    emb = separable()
    emb.sentences[7] = emb.sentences[1]  # the same text under two labels
    for seed in range(5):
        split = make_split(emb, "sentences", seed, FAST)
        train_texts = {emb.sentences[r] for r in split.train_rows.ravel()}
        test_texts = {emb.sentences[r] for r in split.test_rows.ravel()}
        assert not train_texts & test_texts
        assert set(split.test_owner.tolist()) == set(range(len(emb.labels)))  # every label is tested


def test_labels_protocol_never_trains_on_a_held_out_label():
    emb = separable(n_labels=8)
    for seed in range(5):
        split = make_split(emb, "labels", seed, FAST)
        assert split.heldout_labels and not set(split.train_owner.tolist()) & set(split.heldout_labels)
        assert set(split.test_owner.tolist()) == set(split.heldout_labels)
        assert not set(emb.owner[split.train_rows.ravel()].tolist()) & set(split.heldout_labels)
    # the check inside the code catches a leak
    split.train_owner[0] = split.heldout_labels[0]
    split.train_rows[0] = emb.rows_of(split.heldout_labels[0])[: split.k]
    with pytest.raises(AssertionError, match="held-out labels"):
        check_split(split, emb)


def test_sentences_check_catches_a_leaked_sentence():
    emb = separable()
    split = make_split(emb, "sentences", 0, FAST)
    split.train_rows[0, 0] = split.test_rows[0, 0]
    split.train_owner[0] = split.test_owner[0]
    split.train_rows[0, 1:] = split.test_rows[0, 0]
    with pytest.raises(AssertionError):
        check_split(split, emb)


def _read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_probe_beats_chance_on_separable_labels_and_reports_the_baseline(tmp_path):
    emb = separable()
    result = run_recon(emb, tmp_path / "recon", hidden=[8, 32], seeds=2, protocols=["sentences"], config=FAST, progress=False)
    rows = _read(tmp_path / "recon" / "summary.csv")
    assert [r["model"] for r in rows] == ["baseline", "probe", "probe"]
    chance = 1 / len(emb.labels)
    assert result["chance_top1"] == pytest.approx(chance)
    for row in rows:
        assert float(row["top1_mean"]) > chance + 0.3
    probe = [r for r in rows if r["model"] == "probe"]
    assert max(float(r["cosine_mean"]) for r in probe) > 0.9
    runs = _read(tmp_path / "recon" / "runs.csv")
    assert len(runs) == 2 * (1 + 2)  # seeds x (baseline + 2 hidden sizes)
    assert (tmp_path / "recon" / "recon.png").stat().st_size > 0
    saved = json.loads((tmp_path / "recon" / "recon.json").read_text())
    assert saved["k"] == {"sentences": 3} and saved["seeds"] == [0, 1]


def test_same_seed_same_numbers(tmp_path):
    emb = separable()
    kwargs = dict(hidden=[16], seeds=2, config=FAST, progress=False)
    run_recon(emb, tmp_path / "a", **kwargs)
    run_recon(emb, tmp_path / "b", **kwargs)
    for name in ("runs.csv", "summary.csv"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()
    run_recon(emb, tmp_path / "c", seed=5, **kwargs)
    assert (tmp_path / "a" / "runs.csv").read_text() != (tmp_path / "c" / "runs.csv").read_text()


def test_quantized_columns_side_by_side(tmp_path):
    emb = separable()
    run_codebook(emb, tmp_path / "cb", method="kmeans", size=5)
    result = run_recon(emb, tmp_path / "recon", hidden=[16], seeds=1, codebook=tmp_path / "cb", config=FAST, progress=False)
    rows = _read(tmp_path / "recon" / "summary.csv")
    assert {"quantized_cosine_mean", "quantized_top1_mean", "cosine_drop", "top1_drop"} <= set(rows[0])
    assert {r["protocol"] for r in rows} == {"sentences", "labels"}
    for row in result["summary"]:
        assert row["cosine_drop"] == pytest.approx(row["cosine_mean"] - row["quantized_cosine_mean"], abs=1e-5)


def test_label_recoverability_is_a_fraction_above_chance():
    score = label_recoverability(separable(), seed=0)
    assert 0.2 + 0.3 < score <= 1.0


def test_cli_recon_end_to_end_and_bad_inputs(tmp_path, capsys):
    emb = separable()
    save_embeddings(emb, tmp_path / "emb")
    out = tmp_path / "out"
    assert main(["analyze", "recon", str(tmp_path / "emb"), "--hidden", "8", "--seeds", "1", "--steps", "20", "--out", str(out)]) == 0
    assert "mean baseline" in capsys.readouterr().out
    assert (out / "summary.csv").is_file()
    # a codebook of another dimension: exit 2, one line naming the codebook, nothing written
    other = separable(dim=8)
    run_codebook(other, tmp_path / "cb8", method="fps", size=3)
    bad_out = tmp_path / "bad"
    assert main(["analyze", "recon", str(tmp_path / "emb"), "--codebook", str(tmp_path / "cb8"), "--out", str(bad_out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cb8" in err[0] and "dimension" in err[0]
    assert not bad_out.exists()
    assert main(["analyze", "recon", str(tmp_path / "missing"), "--out", str(bad_out)]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["analyze", "recon", str(tmp_path / "emb"), "--protocols", "weird", "--out", str(bad_out)]) == 2
    assert main(["analyze", "recon", str(tmp_path / "emb"), "--hidden", "a,b", "--out", str(bad_out)]) == 2
    assert not bad_out.exists()
