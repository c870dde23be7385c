"""Reconstruction probe: can a label's embedding be produced from its sub-actions' embeddings?

The plan's ProjectionModel concatenates K sub-action embeddings and maps them through
Linear -> ReLU -> Linear to the label-embedding size; it is trained with a **cosine loss**
(1 - cos(prediction, label embedding)), because everything downstream (the metrics, retrieval,
the action decoder's target) compares directions, and BERT vectors are not unit length.

A *sample* is an ordered choice of K distinct sub-action rows of one label; its target is that
label's own embedding. Two protocols say exactly what is measured:

- ``sentences``: the distinct sentences of every label are split (seeded) into a training and a
  held-out part (``test_fraction``); training samples use training sentences only, test samples
  held-out sentences only. A sentence text that occurs under several labels is held out
  everywhere once held out anywhere. Measures generalisation to unseen wordings of known labels.
- ``labels``: whole labels (``heldout_label_fraction`` of them, seeded) are held out; the probe
  never sees their sentences nor their embeddings. Measures zero-shot reconstruction of an
  unseen activity. Both rules are checked by :func:`check_split` before any training.

**K for labels with different counts**: by default K = min over labels of min(n_test, n - n_test),
where n is the label's number of distinct sentences and n_test = round(test_fraction * n) the
number the ``sentences`` protocol holds out (with the default 0.5: half the smallest label's
count, rounded down). So every label can supply K distinct sentences to a training sample and K
to a test sample, and the same K is used by both protocols so their numbers compare. Each
sample draws K of its label's available sentences without repetition (a random ordered subset):
labels with more sentences give more varied samples, never a longer input. (A sentence text
shared by two labels and held out in one is removed from the other's training part; if that
leaves a label short, K shrinks to what is available.) ``--k`` overrides.

Metrics on test samples: cosine to the true label embedding and top-1 retrieval accuracy among
*all* label embeddings (chance = 1 / #labels); the no-learning baseline is the mean of the
sample's K sub-action embeddings, scored the same way.

Training is full-batch Adam for a fixed number of steps (no early stopping, so the test split
chooses nothing), with ``torch.manual_seed(seed)`` before the model is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from einops import rearrange
from torch import nn

from ..errors import UserError
from ..text.embeddings import EmbeddingSet
from .similarity import unit_rows
from .threads import limited_threads

PROTOCOLS = ("sentences", "labels")
DEFAULT_HIDDEN = 256
DEFAULT_HIDDEN_SIZES = (64, 128, 256, 512, 1024, 2048)


@dataclass
class ProbeConfig:
    """Hyper-parameters of one probe run (shared by every hidden size and seed)."""

    steps: int = 60
    lr: float = 3e-3
    weight_decay: float = 0.0
    train_samples_per_label: int = 4
    test_samples_per_label: int = 8
    test_fraction: float = 0.5  # `sentences`: share of each label's distinct sentences held out
    heldout_label_fraction: float = 0.25  # `labels`: share of labels held out
    k: int | None = None  # sub-actions per sample; None = the documented rule

    def validate(self) -> None:
        """UserError for a value no run can use."""
        if not 0.0 < self.test_fraction < 1.0:
            raise UserError("--test-fraction", f"must be between 0 and 1, got {self.test_fraction}")
        if not 0.0 < self.heldout_label_fraction < 1.0:
            raise UserError("--heldout-labels", f"must be between 0 and 1, got {self.heldout_label_fraction}")
        for name in ("steps", "train_samples_per_label", "test_samples_per_label"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')}", f"must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise UserError("--lr", f"must be positive, got {self.lr}")


class ProjectionModel(nn.Module):
    """The plan's concat-based projection: K sub-action embeddings -> one label embedding."""

    def __init__(self, sub_dim: int, num_sub: int, hidden_dim: int, out_dim: int | None = None):
        super().__init__()
        self.num_sub = num_sub
        self.mlp = nn.Sequential(
            nn.Linear(sub_dim * num_sub, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, out_dim or sub_dim),
        )

    def forward(self, sub_actions: torch.Tensor) -> torch.Tensor:
        x = rearrange(sub_actions, "b k d -> b (k d)")  # (B, K, D) -> (B, K*D)
        return self.mlp(x)  # (B, D_out)


@dataclass
class ProbeSplit:
    """Samples of one protocol and seed: row indices into the sub-action table."""

    protocol: str
    k: int
    train_rows: np.ndarray  # (n_train, K) int64
    train_owner: np.ndarray  # (n_train,) label index
    test_rows: np.ndarray  # (n_test, K)
    test_owner: np.ndarray  # (n_test,)
    heldout_labels: list[int] = field(default_factory=list)  # `labels` protocol only


def make_split(embeddings: EmbeddingSet, protocol: str, seed: int, config: ProbeConfig | None = None) -> ProbeSplit:
    """Build the training and test samples of ``protocol`` (seeded) and check its honesty rule."""
    config = config or ProbeConfig()
    config.validate()
    if protocol not in PROTOCOLS:
        raise UserError("--protocols", f"unknown protocol '{protocol}' (choose from {', '.join(PROTOCOLS)})")
    rng = np.random.default_rng(seed)
    n_labels = len(embeddings.labels)
    k = default_k(embeddings, config) if config.k is None else config.k
    if protocol == "sentences":
        train_pools, test_pools = _split_sentences(embeddings, config.test_fraction, rng)
        heldout: list[int] = []
        available = min(min(len(train_pools[i]), len(test_pools[i])) for i in range(n_labels))
    else:
        if n_labels < 2:
            raise UserError("embeddings", "the `labels` protocol needs at least two labels")
        n_held = min(n_labels - 1, max(1, round(config.heldout_label_fraction * n_labels)))
        heldout = sorted(int(i) for i in rng.permutation(n_labels)[:n_held])
        pools = [embeddings.rows_of(i) for i in range(n_labels)]
        train_pools = {i: pools[i] for i in range(n_labels) if i not in heldout}
        test_pools = {i: pools[i] for i in heldout}
        available = min(len(p) for p in pools)
    if available < 1:
        raise UserError("embeddings", f"a label has no sentence left for the `{protocol}` protocol's training or test part")
    if config.k is None:
        k = min(k, available)  # a text shared by two labels can leave one a sentence short
    if not 1 <= k <= available:
        raise UserError("--k", f"must be between 1 and {available} for the `{protocol}` protocol (every label must supply K sentences)")
    train_rows, train_owner = _draw_samples(train_pools, k, config.train_samples_per_label, rng)
    test_rows, test_owner = _draw_samples(test_pools, k, config.test_samples_per_label, rng)
    split = ProbeSplit(protocol, k, train_rows, train_owner, test_rows, test_owner, heldout)
    check_split(split, embeddings)
    return split


def _n_heldout(n_texts: int, test_fraction: float) -> int:
    """Distinct sentences of a label the `sentences` protocol holds out (at least one each side)."""
    return min(n_texts - 1, max(1, round(test_fraction * n_texts)))


def default_k(embeddings: EmbeddingSet, config: ProbeConfig | None = None) -> int:
    """The documented K: min over labels of min(n_test, n - n_test) distinct sentences (at least 1)."""
    config = config or ProbeConfig()
    counts = [len(set(embeddings.sentences[r] for r in embeddings.rows_of(i))) for i in range(len(embeddings.labels))]
    if not counts:
        raise UserError("embeddings", "has no labels")
    return max(1, min(min(_n_heldout(n, config.test_fraction), n - _n_heldout(n, config.test_fraction)) if n >= 2 else n for n in counts))


def _split_sentences(embeddings: EmbeddingSet, test_fraction: float, rng: np.random.Generator):
    """Per label, hold out a share of its distinct sentence texts; no held-out text is trained on."""
    train_pools, test_pools = {}, {}
    heldout_texts: set[str] = set()
    for index, label in enumerate(embeddings.labels):
        rows = embeddings.rows_of(index)
        texts = list(dict.fromkeys(embeddings.sentences[r] for r in rows))
        if len(texts) < 2:
            raise UserError("embeddings", f"label '{label}' has fewer than two distinct sentences; the `sentences` protocol needs to hold one out")
        order = rng.permutation(len(texts))
        n_test = _n_heldout(len(texts), test_fraction)
        test_texts = {texts[i] for i in order[:n_test]}
        heldout_texts |= test_texts
        test_pools[index] = np.array([r for r in rows if embeddings.sentences[r] in test_texts], dtype=np.int64)
    for index in range(len(embeddings.labels)):
        rows = embeddings.rows_of(index)
        train_pools[index] = np.array([r for r in rows if embeddings.sentences[r] not in heldout_texts], dtype=np.int64)
    return train_pools, test_pools


def _draw_samples(pools: dict[int, np.ndarray], k: int, per_label: int, rng: np.random.Generator):
    """``per_label`` random ordered K-subsets (no repetition inside a sample) of each label's pool."""
    rows, owner = [], []
    for label, pool in sorted(pools.items()):
        for _ in range(per_label):
            rows.append(rng.permutation(pool)[:k])
            owner.append(label)
    return np.asarray(rows, dtype=np.int64).reshape(-1, k), np.asarray(owner, dtype=np.int64)


def check_split(split: ProbeSplit, embeddings: EmbeddingSet) -> None:
    """Raise AssertionError if a protocol's rule is broken (checked on every split, not only in tests)."""
    if split.protocol == "labels":
        leaked = set(split.train_owner.tolist()) & set(split.heldout_labels)
        if leaked:
            raise AssertionError(f"`labels` protocol trains on held-out labels {sorted(leaked)}")
        trained_rows = set(split.train_rows.ravel().tolist())
        if any(int(embeddings.owner[r]) in split.heldout_labels for r in trained_rows):
            raise AssertionError("`labels` protocol trains on a sentence of a held-out label")
    else:
        train_texts = {embeddings.sentences[r] for r in split.train_rows.ravel()}
        test_texts = {embeddings.sentences[r] for r in split.test_rows.ravel()}
        if train_texts & test_texts:
            raise AssertionError("`sentences` protocol: a held-out sentence is in the training samples")
    if (embeddings.owner[split.train_rows] != split.train_owner[:, None]).any() or (
        embeddings.owner[split.test_rows] != split.test_owner[:, None]
    ).any():
        raise AssertionError("a sample mixes sub-actions of different labels")


def _score(predictions: np.ndarray, owner: np.ndarray, label_vectors: np.ndarray) -> tuple[float, float]:
    """(mean cosine to the true label embedding, top-1 retrieval accuracy among all labels)."""
    similarity = unit_rows(predictions) @ unit_rows(label_vectors).T  # (n, L)
    cosine = similarity[np.arange(len(owner)), owner]
    top1 = similarity.argmax(axis=1) == owner
    return float(cosine.mean()), float(top1.mean())


def baseline_scores(table: np.ndarray, label_vectors: np.ndarray, split: ProbeSplit) -> dict[str, float]:
    """No-learning baseline on the test samples: mean of the K sub-action embeddings."""
    cosine, top1 = _score(table[split.test_rows].mean(axis=1), split.test_owner, label_vectors)
    return {"test_cosine": cosine, "test_top1": top1}


def train_probe(
    table: np.ndarray, label_vectors: np.ndarray, split: ProbeSplit, hidden: int, seed: int, config: ProbeConfig | None = None
) -> tuple[ProjectionModel, dict[str, float]]:
    """Train one ProjectionModel on ``split``'s training samples; score train and test samples.

    ``table`` (N, D) holds the sub-action vectors the samples index (raw or quantized).
    """
    config = config or ProbeConfig()
    torch.manual_seed(seed)
    inputs = torch.from_numpy(np.ascontiguousarray(table, dtype=np.float32))
    targets = torch.from_numpy(np.ascontiguousarray(label_vectors, dtype=np.float32))
    train_x = inputs[torch.from_numpy(split.train_rows)]  # (n_train, K, D)
    train_y = targets[torch.from_numpy(split.train_owner)]  # (n_train, D)
    model = ProjectionModel(table.shape[1], split.k, hidden, label_vectors.shape[1])
    optimizer = _adam(model, config)
    model.train()
    for _ in range(config.steps):
        optimizer.zero_grad(set_to_none=True)
        loss = 1.0 - nn.functional.cosine_similarity(model(train_x), train_y, dim=-1).mean()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        train_pred = model(train_x).numpy()
        test_pred = model(inputs[torch.from_numpy(split.test_rows)]).numpy()
    train_cosine, train_top1 = _score(train_pred, split.train_owner, label_vectors)
    test_cosine, test_top1 = _score(test_pred, split.test_owner, label_vectors)
    return model, {"train_cosine": train_cosine, "train_top1": train_top1, "test_cosine": test_cosine, "test_top1": test_top1}


def _adam(model: nn.Module, config: ProbeConfig) -> torch.optim.Optimizer:
    """Adam, fused when this torch supports it on CPU (same update, about 2x faster here)."""
    try:
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)
    except (TypeError, RuntimeError):
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def label_recoverability(embeddings: EmbeddingSet, seed: int = 0) -> float:
    """Held-out-sentence top-1 retrieval accuracy of the label from its sub-actions.

    One probe (hidden size :data:`DEFAULT_HIDDEN`) under the ``sentences`` protocol with the
    default :class:`ProbeConfig`; a corpus-quality score in [0, 1] (chance = 1 / #labels).
    """
    config = ProbeConfig()
    split = make_split(embeddings, "sentences", seed, config)
    with limited_threads(1):
        _, scores = train_probe(embeddings.subactions, embeddings.label_vectors, split, DEFAULT_HIDDEN, seed, config)
    return scores["test_top1"]
