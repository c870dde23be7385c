"""Text encoders and ``mmvq embed``: MiniLM reproduces the plan, tiny local BERT, the cache."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mmvqshape.cli import main
from mmvqshape.errors import UserError
from mmvqshape.text.embeddings import load_embeddings
from mmvqshape.text.encoders import embed_corpus, embed_texts, load_encoder

PLAN_TREADMILL_1MPH = [  # the plan's merged sentences for "Treadmill 1mph (0% grade)"
    "Arm: Wrist swings slightly forward with low amplitude. Leg: Heel contacts ground initiating slow step.",
    "Arm: Forearm passes alongside torso during forward swing. Leg: Body weight transfers to front foot.",
    "Arm: Wrist reaches furthest forward point before reversing. Leg: Rear leg begins lift-off.",
    "Arm: Wrist moves backward smoothly behind hip. Leg: Foot swings slowly forward through the air.",
    "Arm: Forearm returns to neutral beside torso. Leg: Foot approaches ground preparing for next contact.",
]
PLAN_FIRST_ROW = np.array([-0.03090179, -0.04691923, 0.04170857, -0.02017843, -0.09610803], dtype=np.float32)

TINY_CORPUS = {
    "activities": [
        {"action_label": "walking", "sub_actions": [
            {"Arm": "Wrist swings forward.", "Leg": "Heel contacts ground."},
            {"Arm": "Wrist swings back.", "Leg": "Toes push off."},
            {"Arm": "Forearm passes hip.", "Leg": "Foot swings forward."},
        ]},
        {"action_label": "standing", "sub_actions": [
            {"Arm": "Wrist stays still.", "Leg": "Feet stay flat."},
            {"Arm": "Hand rests on hip.", "Leg": "Weight shifts."},
            {"Arm": "Wrist swings forward.", "Leg": "Heel contacts ground."},
        ]},
    ]
}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMVQ_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    """A 1-layer BERT with hidden size 32 and a word-level vocabulary, saved locally."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny_bert")
    words = sorted({w for text in json.dumps(TINY_CORPUS).lower().split() for w in re.findall(r"[a-z]+", text)})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ":", *words]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizer(str(folder / "vocab.txt"))  # positional: vocab_file (v4) / vocab (v5)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=64)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def minilm():
    return load_encoder("minilm", device="cpu")


def test_minilm_reproduces_the_plan(minilm):
    vectors, n_encoded = embed_texts(PLAN_TREADMILL_1MPH, minilm, cache=False)
    assert vectors.shape == (5, 384) and vectors.dtype == np.float32 and n_encoded == 5
    np.testing.assert_allclose(vectors[0, :5], PLAN_FIRST_ROW, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert minilm.dim == 384 and minilm.normalized and minilm.pooling == "mean"


def test_tiny_bert_poolings(tiny_bert):
    texts = ["Arm: Wrist swings forward. Leg: Heel contacts ground.", "Arm: Wrist stays still. Leg: Feet stay flat."]
    cls = load_encoder(tiny_bert, pooling="cls", device="cpu")
    mean = load_encoder(tiny_bert, pooling="mean", device="cpu")
    a, b = cls.encode(texts), mean.encode(texts)
    assert a.shape == b.shape == (2, 32) and cls.dim == 32
    assert not np.allclose(a, b, atol=1e-3)
    assert not np.allclose(b[0], b[1], atol=1e-3)  # the words reach the model (not all [UNK])
    assert cls.kind == "transformers" and not cls.normalized
    assert load_encoder(tiny_bert).pooling == "mean"
    unit = load_encoder(tiny_bert, pooling="cls", normalize=True).encode(texts)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(unit, a / np.linalg.norm(a, axis=1, keepdims=True), atol=1e-5)


def test_sentence_transformers_folder(tiny_bert, tmp_path):
    from sentence_transformers import SentenceTransformer, models

    word = models.Transformer(str(tiny_bert))
    st = SentenceTransformer(modules=[word, models.Pooling(32, "cls"), models.Normalize()])
    st.save(str(tmp_path / "st"))
    encoder = load_encoder(tmp_path / "st", device="cpu")
    assert encoder.kind == "sentence-transformers" and encoder.pooling == "cls" and encoder.normalized
    vectors = encoder.encode(["Arm: Wrist swings forward. Leg: Heel contacts ground."])
    assert vectors.shape == (1, 32)
    plain = load_encoder(tiny_bert, pooling="cls").encode(["Arm: Wrist swings forward. Leg: Heel contacts ground."])
    np.testing.assert_allclose(vectors, plain / np.linalg.norm(plain), atol=1e-5)
    other = load_encoder(tmp_path / "st", pooling="mean")  # not its own pooling: plain path
    assert other.kind == "transformers" and not other.normalized


def test_second_embed_performs_no_forward(tiny_bert, tmp_path):
    corpus = tmp_path / "c.json"
    corpus.write_text(json.dumps(TINY_CORPUS))
    first = load_encoder(tiny_bert, pooling="cls")
    stats: dict = {}
    emb = embed_corpus(corpus, encoder=first, stats=stats)
    assert first.forward_count >= 1 and stats["n_encoded"] == 7  # 5 distinct sentences + 2 label names
    assert emb.subactions.shape == (6, 32) and emb.label_vectors.shape == (2, 32)
    assert emb.owner.tolist() == [0, 0, 0, 1, 1, 1]
    np.testing.assert_array_equal(emb.subactions[0], emb.subactions[5])  # the shared sentence
    second = load_encoder(tiny_bert, pooling="cls")
    again = embed_corpus(corpus, encoder=second, stats=stats)
    assert second.forward_count == 0 and not second.loaded and stats["n_encoded"] == 0
    np.testing.assert_array_equal(again.subactions, emb.subactions)
    np.testing.assert_array_equal(again.label_vectors, emb.label_vectors)
    other_pooling = load_encoder(tiny_bert, pooling="mean")  # a different cache key
    embed_corpus(corpus, encoder=other_pooling)
    assert other_pooling.forward_count >= 1
    bypass = load_encoder(tiny_bert, pooling="cls")
    embed_corpus(corpus, encoder=bypass, cache=False)
    assert bypass.forward_count >= 1


def test_embed_cli_writes_the_folder(tiny_bert, tmp_path, capsys):
    corpus = tmp_path / "c.json"
    corpus.write_text(json.dumps({**TINY_CORPUS, "label_text": {"walking": "a person walking"}}))
    out = tmp_path / "emb"
    argv = ["embed", str(corpus), "--encoder", str(tiny_bert), "--pooling", "cls", "--view", "arm", "--device", "cpu", "--out", str(out)]
    assert main(argv) == 0
    assert "encoded 7" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["index.json", "labels.npy", "labels.pt", "subactions.npy", "subactions.pt"]
    emb = load_embeddings(out)
    index = json.loads((out / "index.json").read_text())
    assert index["view"] == "arm" and index["pooling"] == "cls" and index["dim"] == 32 and index["normalized"] is False
    assert index["label_texts"] == ["a person walking", "standing"]
    assert emb.sentences[0] == "Wrist swings forward."
    direct = load_encoder(tiny_bert, pooling="cls").encode(["Wrist swings forward.", "a person walking"])
    np.testing.assert_allclose(emb.subactions[0], direct[0], atol=1e-5)
    np.testing.assert_allclose(emb.label_vectors[0], direct[1], atol=1e-5)
    assert main(argv) == 0
    assert "encoded 0" in capsys.readouterr().out
    import torch

    per_label = torch.load(out / "subactions.pt")
    assert list(per_label) == ["walking", "standing"] and tuple(per_label["walking"].shape) == (3, 32)


def test_corpus_check_with_encoder_writes_figures(tiny_bert, tmp_path, capsys):
    corpus = tmp_path / "c.json"
    corpus.write_text(json.dumps(TINY_CORPUS))
    out = tmp_path / "check"
    assert main(["corpus", "check", str(corpus), "--encoder", str(tiny_bert), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "within-label" in printed and "closest cross-label pairs" in printed
    assert "exact duplicates: 1" in printed
    assert {"check.json", "similarity_hist.png", "gram.png", "label_similarity.png"} <= {p.name for p in out.iterdir()}
    report = json.loads((out / "check.json").read_text())
    top = report["similarity"]["closest_cross_label"][0]
    assert top["cosine"] == pytest.approx(1.0, abs=1e-5)  # the sentence both labels share
    assert "label_recoverability" in report and "style_flags" in report
    assert report["kind"] == "corpus_check"
    separation = report["nearest_centroid"]["sentence_folds"]
    assert separation["n_scored"] == 6 and separation["chance"] == 0.5 and set(separation["per_label"]) == {"walking", "standing"}
    confusion = np.array(separation["confusion"])  # rows: the sentence's label, columns: the nearest centroid's
    assert confusion.sum() == 6 and separation["accuracy"] == pytest.approx(np.trace(confusion) / 6)
    assert separation["per_label"]["walking"] == pytest.approx(confusion[0, 0] / confusion[0].sum())
    folds = report["nearest_centroid"]["label_folds"]
    assert [f["unseen"] for f in folds["per_fold"]] == [["walking"], ["standing"]] and folds["chance"] == 0.5
    assert {"separation_confusion.png", "separation_per_label.png"} <= {p.name for p in out.iterdir()}
    assert "separation, nearest label centroid (leave-one-out sentences)" in printed


@pytest.mark.parametrize(
    "encoder, message",
    [
        ("no-such-org/no-such-model", "not available offline"),
        ("./no/such/folder/here", "neither a known encoder"),
    ],
)
def test_unknown_encoder_exit_2(tmp_path, capsys, encoder, message):
    out = tmp_path / "emb"
    assert main(["embed", "basicmotions", "--encoder", encoder, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


def test_bad_options(tiny_bert, tmp_path):
    with pytest.raises(UserError, match="unknown pooling"):
        load_encoder(tiny_bert, pooling="max")
    with pytest.raises(UserError, match="unknown device"):
        load_encoder(tiny_bert, device="tpu")
    with pytest.raises(UserError, match="not a model folder"):
        load_encoder(tmp_path)
