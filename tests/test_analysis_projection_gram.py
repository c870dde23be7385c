"""Projection and Gram analyses (run_projection / run_gram / `mmvq analyze projection|gram`)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from mmvqshape.analysis.gram import gram_statistics, top_cross_label_pairs
from mmvqshape.analysis.projection import project
from mmvqshape.cli import main
from mmvqshape.errors import UserError
from mmvqshape.pipelines.analyze import run_gram, run_projection
from mmvqshape.text.embeddings import EmbeddingSet, save_embeddings


def separable(n_labels: int = 4, per_label: int = 6, dim: int = 16, noise: float = 0.25, seed: int = 0, view: str = "armleg") -> EmbeddingSet:
    """Clearly separated label clusters, rows interleaved (not grouped) to test ordering."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_labels, dim))
    owner = np.tile(np.arange(n_labels), per_label)
    subactions = centres[owner] + noise * rng.normal(size=(len(owner), dim))
    sentences = [f"label {o} sentence {i}" for i, o in enumerate(owner)]
    return EmbeddingSet(subactions, centres, [f"L{i}" for i in range(n_labels)], owner, sentences, {"encoder": "synthetic", "view": view})


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_projection_is_seeded_and_shaped(method):
    from mmvqshape.analysis.threads import limited_threads

    emb = separable()
    with limited_threads(1):  # t-SNE's OpenMP threads crawl on a busy machine
        a, used = project(emb.subactions, method, dims=2, seed=1)
        b, _ = project(emb.subactions, method, dims=2, seed=1)
    assert a.shape == (24, 2) and used["method"] == method
    np.testing.assert_array_equal(a, b)


def test_umap_neighbours_are_clamped_below_the_point_count():
    emb = separable()
    coords, used = project(emb.subactions, "umap", dims=3, seed=0)
    assert coords.shape == (24, 3) and used["n_neighbors"] == 23
    again, _ = project(emb.subactions, "umap", dims=3, seed=0)
    np.testing.assert_array_equal(coords, again)


@pytest.mark.parametrize("kwargs, where", [({"method": "lda"}, "--method"), ({"dims": 4}, "--dims")])
def test_projection_bad_arguments(kwargs, where):
    with pytest.raises(UserError) as err:
        project(separable().subactions, **kwargs)
    assert err.value.where == where


def test_run_projection_3d_writes_offline_html_and_side_by_side_panels(tmp_path):
    views = [separable(view=v, seed=i) for i, v in enumerate(["arm", "leg", "armleg"])]
    result = run_projection(views, tmp_path / "p", method="pca", dims=3)
    assert [p["view"] for p in result["panels"]] == ["arm", "leg", "armleg"]
    page = (tmp_path / "p" / "projection.html").read_text()
    assert "cdn.plot.ly" not in page.split("<body>")[0] and len(page) > 1_000_000  # plotly.js inlined
    spec = json.loads((tmp_path / "p" / "projection.plotly.json").read_text())
    assert len(spec["data"]) == 3 * 4  # one trace per view and label
    with open(tmp_path / "p" / "coordinates.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 * 24 and set(rows[0]) == {"view", "row", "label", "sentence", "x", "y", "z"}
    assert (tmp_path / "p" / "projection.png").read_bytes()[:4] == b"\x89PNG"


def test_run_projection_same_seed_same_coordinates(tmp_path):
    emb = separable()
    run_projection(emb, tmp_path / "a", method="tsne", seed=3)
    run_projection(emb, tmp_path / "b", method="tsne", seed=3)
    assert (tmp_path / "a" / "coordinates.csv").read_text() == (tmp_path / "b" / "coordinates.csv").read_text()
    assert not (tmp_path / "a" / "projection.html").exists()  # 2-D: PNG only


def test_gram_statistics_and_pairs_on_separable_labels():
    emb = separable()
    stats = gram_statistics(emb)
    assert stats["within"]["n_pairs"] == 4 * 15 and stats["between"]["n_pairs"] == 24 * 23 // 2 - 60
    assert stats["within"]["mean"] > 0.8 > stats["between"]["mean"]
    assert stats["separation"] == pytest.approx(stats["within"]["mean"] - stats["between"]["mean"])
    pairs = top_cross_label_pairs(emb, top=5)
    assert len(pairs) == 5 and all(p["label_a"] != p["label_b"] for p in pairs)
    assert [p["cosine"] for p in pairs] == sorted((p["cosine"] for p in pairs), reverse=True)
    assert pairs[0]["sentence_a"] == emb.sentences[pairs[0]["row_a"]]


def test_run_gram_files_are_grouped_by_label(tmp_path):
    emb = separable()
    result = run_gram(emb, tmp_path / "g", top=3)
    with open(tmp_path / "g" / "gram.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 25 and len(rows[0]) == 25
    assert rows[0][1:7] == [f"L0 #{k}" for k in range(1, 7)]  # interleaved corpus rows grouped by label
    matrix = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-6)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-6)
    assert len(json.loads((tmp_path / "g" / "top_pairs.json").read_text())) == 3
    assert result["within"]["mean"] > result["between"]["mean"]
    for name in ("gram.png", "items.csv", "gram_stats.json", "label_similarity.csv", "top_pairs.csv"):
        assert (tmp_path / "g" / name).is_file()


def test_cli_gram_projection_codebook_and_bad_input(tmp_path, capsys):
    save_embeddings(separable(), tmp_path / "emb")
    assert main(["analyze", "gram", str(tmp_path / "emb"), "--out", str(tmp_path / "g")]) == 0
    assert "separation" in capsys.readouterr().out
    assert main(["analyze", "projection", str(tmp_path / "emb"), "--method", "pca", "--dims", "3", "--out", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "projection.html").is_file()
    assert main(["analyze", "codebook", str(tmp_path / "emb"), "--method", "prune", "--threshold", "1.0", "--out", str(tmp_path / "c")]) == 0
    assert "kept 24 of 24" in capsys.readouterr().out
    for argv in (
        ["analyze", "gram", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")],
        ["analyze", "projection", str(tmp_path / "emb"), "--method", "lda", "--out", str(tmp_path / "x")],
        ["analyze", "projection", str(tmp_path / "emb"), "--views", "arm,leg", "--out", str(tmp_path / "x")],
        ["analyze", "codebook", str(tmp_path / "emb"), "--size", "25", "--out", str(tmp_path / "x")],
        ["analyze", "codebook", str(tmp_path / "emb"), "--method", "magic", "--out", str(tmp_path / "x")],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ")
    assert not (tmp_path / "x").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left


@pytest.mark.slow
def test_views_embed_one_corpus_per_view_with_minilm(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("MMVQ_CACHE_DIR", str(tmp_path / "cache"))
    corpus = {
        "Walking": [{"arm": f"Arm swings forward step {i}", "leg": f"Leg strides {i}"} for i in range(4)],
        "Sitting": [{"arm": f"Hands rest on lap {i}", "leg": f"Legs stay still {i}"} for i in range(4)],
    }
    (tmp_path / "c.json").write_text(json.dumps(corpus))
    result = run_projection(str(tmp_path / "c.json"), tmp_path / "p", method="pca", dims=2, views=["arm", "leg", "armleg"])
    assert [p["view"] for p in result["panels"]] == ["arm", "leg", "armleg"]
    with open(tmp_path / "p" / "coordinates.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["sentence"] for r in rows if r["view"] == "arm"} == {f"Arm swings forward step {i}" for i in range(4)} | {f"Hands rest on lap {i}" for i in range(4)}
