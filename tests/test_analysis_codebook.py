"""Action-codebook selection (mmvqshape.analysis.codebook): methods, files, coverage, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmvqshape.analysis.codebook import (
    DEFAULT_METHOD,
    METHODS,
    codebook_coverage,
    load_codebook,
    prune_indices,
    quantize,
    save_codebook,
    select_codebook,
)
from mmvqshape.errors import UserError
from mmvqshape.text.embeddings import EmbeddingSet


def separable(n_labels: int = 4, per_label: int = 6, dim: int = 16, noise: float = 0.25, seed: int = 0) -> EmbeddingSet:
    """Clearly separated label clusters: sub-actions = label centre + small noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_labels, dim))
    subactions = np.concatenate([c + noise * rng.normal(size=(per_label, dim)) for c in centres])
    owner = np.repeat(np.arange(n_labels), per_label)
    sentences = [f"label {i} sentence {j}" for i in range(n_labels) for j in range(per_label)]
    return EmbeddingSet(subactions, centres + 0.05 * rng.normal(size=centres.shape), [f"L{i}" for i in range(n_labels)], owner, sentences, {"encoder": "synthetic"})


def test_prune_threshold_one_keeps_everything_and_minus_one_keeps_one():
    emb = separable()
    assert select_codebook(emb, "prune", threshold=1.0).size == len(emb.sentences)
    assert select_codebook(emb, "prune", threshold=-1.0).size == 1


def test_prune_drops_exact_duplicate_text_and_near_duplicates():
    emb = separable()
    emb.subactions[1] = emb.subactions[0] * 1.0001  # near-duplicate vector, different text
    cb = select_codebook(emb, "prune", threshold=0.999)
    assert 1 not in cb.rows and 0 in cb.rows
    assert cb.size == len(emb.sentences) - 1


def test_prune_with_size_finds_a_threshold_keeping_at_most_size():
    emb = separable()
    cb = select_codebook(emb, "prune", size=5)
    assert 1 <= cb.size <= 5
    # the threshold is the largest pairwise cosine (or -1) that keeps at most 5: the next one up keeps more
    unit = emb.subactions / np.linalg.norm(emb.subactions, axis=1, keepdims=True)
    cosines = np.unique(np.r_[-1.0, np.clip(unit @ unit.T, -1, 1)[np.triu_indices(len(unit), 1)]])
    at = int(np.argmin(np.abs(cosines - cb.meta["threshold"])))
    assert cosines[at] == pytest.approx(cb.meta["threshold"], abs=1e-9)
    assert len(prune_indices(unit, cosines[at])) == cb.size and len(prune_indices(unit, cosines[at + 1])) > 5


@pytest.mark.parametrize("method", ["kmeans", "fps"])
def test_sized_methods_return_distinct_corpus_sentences(method):
    emb = separable()
    cb = select_codebook(emb, method, size=7, seed=3)
    assert cb.size == 7
    assert len(set(cb.rows.tolist())) == 7
    for row, sentence, label, vector in zip(cb.rows, cb.sentences, cb.source_labels, cb.vectors):
        assert emb.sentences[row] == sentence
        assert emb.labels[emb.owner[row]] == label
        np.testing.assert_array_equal(vector, emb.subactions[row])


def test_kmeans_with_one_code_per_cluster_takes_one_from_each_label():
    emb = separable()
    cb = select_codebook(emb, "kmeans", size=4)
    assert sorted(cb.source_labels) == emb.labels


def test_kmeans_is_deterministic_for_a_seed():
    emb = separable(per_label=10)
    assert select_codebook(emb, "kmeans", size=9, seed=1).rows.tolist() == select_codebook(emb, "kmeans", size=9, seed=1).rows.tolist()


def test_community_finds_the_label_clusters():
    emb = separable()
    cb = select_codebook(emb, "community", threshold=0.8)
    assert cb.meta["communities"] == 4
    assert sorted(cb.source_labels) == emb.labels
    assert all(emb.sentences[r] == s for r, s in zip(cb.rows, cb.sentences))


def test_default_method_is_known_and_default_size_is_capped():
    emb = separable()
    assert DEFAULT_METHOD in METHODS
    assert select_codebook(emb).size == len(emb.sentences)  # 24 < 64


def test_duplicate_texts_give_one_code():
    emb = separable()
    emb.sentences[5] = emb.sentences[0]
    cb = select_codebook(emb, "prune", threshold=1.0)
    assert cb.size == len(emb.sentences) - 1


@pytest.mark.parametrize(
    "kwargs, where",
    [
        ({"method": "nope"}, "--method"),
        ({"method": "kmeans", "size": 1000}, "--size"),
        ({"method": "kmeans", "size": 0}, "--size"),
        ({"method": "prune", "threshold": 1.5}, "--threshold"),
        ({"method": "fps", "threshold": 0.5}, "--threshold"),
        ({"method": "prune", "threshold": 0.5, "size": 3}, "--threshold"),
    ],
)
def test_bad_arguments_are_user_errors(kwargs, where):
    with pytest.raises(UserError) as err:
        select_codebook(separable(), **kwargs)
    assert err.value.where == where


def test_save_load_round_trip(tmp_path):
    emb = separable()
    cb = select_codebook(emb, "fps", size=5)
    save_codebook(cb, tmp_path / "cb")
    index = json.loads((tmp_path / "cb" / "codebook.json").read_text())
    assert index["sentences"] == cb.sentences and index["rows"] == cb.rows.tolist() and index["source_labels"] == cb.source_labels
    back = load_codebook(tmp_path / "cb")
    np.testing.assert_array_equal(back.vectors, cb.vectors)
    assert back.method == "fps" and back.sentences == cb.sentences
    assert load_codebook(tmp_path / "cb" / "codebook.json").size == 5


def test_load_bad_codebooks_are_user_errors(tmp_path):
    import torch

    with pytest.raises(UserError):
        load_codebook(tmp_path / "missing")
    cb = select_codebook(separable(), "fps", size=5)
    save_codebook(cb, tmp_path / "cb")
    torch.save(torch.zeros(3, 16), tmp_path / "cb" / "codebook.pt")  # 3 vectors, 5 sentences
    with pytest.raises(UserError, match="holds 3 vectors"):
        load_codebook(tmp_path / "cb")
    (tmp_path / "cb" / "codebook.pt").write_bytes(b"not a tensor file")
    with pytest.raises(UserError, match="cannot be read"):
        load_codebook(tmp_path / "cb")
    (tmp_path / "cb" / "codebook.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_codebook(tmp_path / "cb")


def test_quantize_maps_to_nearest_code_and_checks_dimension():
    emb = separable()
    cb = select_codebook(emb, "kmeans", size=4)
    quantized = quantize(emb.subactions, cb)
    assert quantized.shape == emb.subactions.shape
    for row in cb.rows:  # a code's own sentence maps to itself
        np.testing.assert_array_equal(quantized[row], emb.subactions[row])
    with pytest.raises(UserError, match="dimension"):
        quantize(np.zeros((2, 8), dtype=np.float32), cb)


def test_coverage_counts_served_own_and_shared_codes():
    emb = separable()
    one_label = select_codebook(emb, "prune", threshold=1.0)
    # keep only codes from label L0: every other label has no code of its own
    keep = [i for i, l in enumerate(one_label.source_labels) if l == "L0"][:2]
    cb = type(one_label)(one_label.rows[keep], one_label.vectors[keep], [one_label.sentences[i] for i in keep],
                         [one_label.source_labels[i] for i in keep], "manual")
    coverage = codebook_coverage(cb, emb)
    assert coverage["labels_without_own_code"] == ["L1", "L2", "L3"]
    assert coverage["own_codes_per_label"]["L0"] == 2
    assert sum(coverage["codes_per_label"].values()) == sum(coverage["labels_per_code"])
    assert all(coverage["codes_per_label"][l] >= 1 for l in emb.labels)  # every sentence has a nearest code
    assert len(coverage["shared_codes"]) >= 1  # two codes serve four labels
    assert sorted(set().union(*(c["serves"] for c in coverage["shared_codes"])) | {"L0"}) == emb.labels
    per_label = select_codebook(emb, "kmeans", size=4)
    full = codebook_coverage(per_label, emb)
    assert full["labels_without_own_code"] == [] and full["shared_codes"] == [] and full["labels_per_code"] == [1, 1, 1, 1]
