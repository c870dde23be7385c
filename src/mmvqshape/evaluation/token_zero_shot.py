"""One zero-shot fold through the token MMVQShape itself (``mmvq bench zero-shot --model mmvqshape``,
and a ``--holdout-labels`` run's ``zero_shot``). No I/O.

For the fold's seen labels::

    windows (N, C, T) -> resampled to ``length``, standardised per channel with the seen
       training windows' mean and std                                     signals (N, C, length)
    TokenMMVQShapeTask: shape codebook + bag standardisation fitted on the seen training
       windows (fit_shapes), then every window's bags computed once         bags (N, 1 + S, F)
    heads (classifier + sentence projection) trained on the seen training windows' bags
       with the model's own loss, AdamW, ``steps`` mini-batch steps
    sentence bank: the candidates' sentences, centred on the seen ones; only seen labels'
       sentences are a target (the model masks the others out of its text loss)

Scores, all from the model: an unseen candidate ranks by the model's ``text_scores`` (each
sentence's best segment, averaged over the label's sentences); within the seen labels the
classifier's logits rank; the generalised decision is
:func:`~mmvqshape.evaluation.calibration.calibrated_fold` (the one decision): a window goes to
the unseen candidates when its *novelty* exceeds a threshold chosen on nested held-out seen
labels. A nested fold does not refit the model: it is the fold's model *restricted* to the
inner labels (:meth:`TokenZeroShot.restricted`: novelty statistics refitted on the inner labels'
training bags, the classifier's softmax over the inner labels only). The stand-in label's
windows did shape the fold's tokenizer and heads (as seen data); the fold's unseen labels and
the test windows still choose nothing. This replaced a full refit per seen label (12 tokenizer
fits per HAPT-transitions fold, about 15 minutes).

Unseen labels' windows reach no fitted part (tokenizer, standardisations, heads) and their
sentences are candidates only; neither chooses anything.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
from sklearn.covariance import LedoitWolf

from ..models.mmvqshape_tokens import TokenMMVQShapeTask
from ..models.zero_shot import CandidateTexts, smallest_mahalanobis
from ..signals.preprocess import preprocess
from .calibration import calibrated_fold, label_indices

#: How the model's sentence projection (segment bags -> sentence space) is fitted: ``late`` by its
#: own late-interaction loss (SGD with the classifier), ``ridge`` in closed form, each training
#: segment's bag sent to its window's label prototype (the mean of the label's centred sentences).
TEXT_ROUTES = ("late", "ridge")
#: How unfamiliar a window is to the seen labels (larger = more likely unseen).
NOVELTY_KINDS = ("classifier", "text", "mahalanobis", "mahalanobis-logits")
MAHALANOBIS_SPACES = ("mahalanobis", "mahalanobis-logits")
METHOD = "token MMVQShape: segment bags x label sentences (late interaction) + novelty-calibrated stacking"
NESTED = "the fold's model restricted to the inner seen labels (novelty refitted on their training bags; no refit of tokenizer or heads)"


@dataclass
class TokenZeroShotSettings:
    """How the bench fits the token MMVQShape in each fold. Defaults chosen on HAPT validation
    subjects (``--evaluate-on val``), never on test windows: 100 steps at lr 1e-2 matched 200 at
    3e-3; temperature 0.1 beat 0.05; Mahalanobis novelty on the classifier's seen logits beat it
    on the bag, the classifier's confidence and the text's (HAPT-transitions)."""

    model: dict[str, Any] = field(default_factory=dict)  # TokenMMVQShapeTask config keys (temperature, w_text ...)
    length: int = 512  # samples each window is resampled to (the trainer's default)
    steps: int = 100  # optimiser steps on the cached bags
    batch_size: int = 256
    lr: float = 1e-2
    weight_decay: float = 0.01
    novelty: str = "mahalanobis-logits"  # one of NOVELTY_KINDS (HAPT-transitions validation subjects, docs/zero-shot.md)
    max_fit_windows: int = 4096  # training windows the shape codebook is fitted on at most (a seeded draw)
    text_route: str = "late"  # one of TEXT_ROUTES: how the sentence projection is fitted
    ridge_alpha: float = 100.0  # the ridge route's penalty

    def __post_init__(self) -> None:
        if self.novelty not in NOVELTY_KINDS:
            raise ValueError(f"novelty must be one of {', '.join(NOVELTY_KINDS)}")
        if self.text_route not in TEXT_ROUTES:
            raise ValueError(f"text_route must be one of {', '.join(TEXT_ROUTES)}")
        if self.steps < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("steps, batch_size and lr must be positive")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def resampled_signals(X: np.ndarray, length: int) -> np.ndarray:
    """Windows (N, T, C) -> (N, C, length) float32, as the trainer resamples them."""
    return np.stack([preprocess(np.asarray(window), length, False) for window in X]).astype(np.float32)


class TokenZeroShot:
    """A token MMVQShape fitted on seen labels, read through cached bags (the ``features`` of
    :func:`~mmvqshape.evaluation.calibration.calibrated_fold`: (N, 1 + S, F) arrays)."""

    def __init__(self, task: TokenMMVQShapeTask, seen: Sequence[int], candidates: Sequence[int], novelty_kind: str,
                 train_bags: np.ndarray, train_y: np.ndarray):
        self.task, self.seen, self.candidates, self.novelty_kind = task, sorted(seen), sorted(candidates), novelty_kind
        if task is not None:
            task.eval()
        if novelty_kind in MAHALANOBIS_SPACES:  # shared within-class covariance of the seen training windows
            window = self._space(train_bags)  # (n, F)
            self.class_means = np.stack([window[train_y == c].mean(0) for c in self.seen])  # (S, F)
            residual = window - self.class_means[np.searchsorted(self.seen, train_y)]
            self.inverse_covariance = LedoitWolf().fit(residual).precision_

    def _space(self, bags: np.ndarray) -> np.ndarray:
        """Where Mahalanobis novelty is measured: the window's bag (n, F), or the classifier's
        logits of this model's seen labels (n, |seen|)."""
        if self.novelty_kind == "mahalanobis":
            return bags[:, 0].astype(np.float64)
        return self.outputs(bags)["logits"][:, self.seen]

    def restricted(self, inner: Sequence[int], bags: np.ndarray, y: np.ndarray, split: np.ndarray) -> "TokenZeroShot":
        """This model seen as one of the ``inner`` labels only (a nested calibration fold): same
        task, novelty statistics from the inner labels' training bags, candidates its seen labels."""
        rows = (np.asarray(split) == "train") & np.isin(y, inner)
        return type(self)(self.task, inner, self.seen, self.novelty_kind, bags[rows], np.asarray(y)[rows])

    @torch.no_grad()
    def outputs(self, bags: np.ndarray) -> dict[str, np.ndarray]:
        """``logits`` (n, L) and ``text_scores`` (n, L) of bags (n, 1 + S, F)."""
        heads = [self.task.head_outputs(torch.from_numpy(part)) for part in np.array_split(bags, max(1, len(bags) // 512))]
        out = {key: torch.cat([h[key] for h in heads]).double().numpy() for key in ("logits", "text_scores")}
        out["text_scores"] = out["text_scores"][:, :out["logits"].shape[1]]  # the windows' classes only
        return out

    def text_scores(self, bags: np.ndarray) -> np.ndarray:
        """(n, L) the model's late-interaction score of every label; labels without sentences in the bank -inf."""
        scores = self.outputs(bags)["text_scores"]
        scores[:, [i for i in range(scores.shape[1]) if i not in self.candidates]] = -np.inf
        return scores

    def seen_probabilities(self, logits: np.ndarray) -> np.ndarray:
        """(n, |seen|) softmax of the classifier's seen-label logits."""
        seen_logits = logits[:, self.seen]
        shifted = np.exp(seen_logits - seen_logits.max(1, keepdims=True))
        return shifted / shifted.sum(1, keepdims=True)

    def novelty(self, bags: np.ndarray) -> np.ndarray:
        """(n,) larger = less like any seen label; from the model's seen side only."""
        if self.novelty_kind in MAHALANOBIS_SPACES:
            return smallest_mahalanobis(self._space(bags), self.class_means, self.inverse_covariance)
        out = self.outputs(bags)
        if self.novelty_kind == "text":
            return -out["text_scores"][:, self.seen].max(1)
        return 1.0 - self.seen_probabilities(out["logits"]).max(1)

    def generalised_scores(self, bags: np.ndarray) -> np.ndarray:
        """(n, L) for calibrated stacking with ``gamma = -threshold``, as the reader's: seen labels
        score ``-novelty`` (+ 1e-6 x the classifier's probability), unseen candidates 0 (+ 1e-6 x
        the text score), other labels -inf."""
        out = self.outputs(bags)
        scores = np.full(out["logits"].shape, -np.inf)
        scores[:, self.seen] = -self.novelty(bags)[:, None] + 1e-6 * self.seen_probabilities(out["logits"])
        unseen = [c for c in self.candidates if c not in self.seen]
        if unseen:
            scores[:, unseen] = 1e-6 * out["text_scores"][:, unseen]
        return scores


def _sentence_bank(task: TokenMMVQShapeTask, texts: CandidateTexts, seen: Sequence[int], candidates: Sequence[int]) -> None:
    """Give ``task`` every label as a candidate name and the ``candidates``' sentences (seen ones
    trained on). The bench reads scores, not sentences, so each sentence is named by its label."""
    task.set_label_candidates(texts.labels, texts.names if texts.names is not None else np.zeros((len(texts.labels), task.text_dim)))
    rows = [texts.sentences[c] for c in candidates]  # (n_c, D) unit each
    owners = [texts.labels[c] for c in candidates for _ in range(len(texts.sentences[c]))]
    words = [f"{texts.labels[c]} #{k}" for c in candidates for k in range(len(texts.sentences[c]))]
    trained = [c in set(seen) for c in candidates for _ in range(len(texts.sentences[c]))]
    task.set_action_codebook(np.concatenate(rows), words, owners, seen=trained)


def _train_heads(task: TokenMMVQShapeTask, bags: torch.Tensor, y: torch.Tensor, settings: TokenZeroShotSettings, seed: int) -> None:
    """The classifier and sentence projection trained on cached bags (n, 1 + S, F), labels (n,)."""
    generator = torch.Generator().manual_seed(seed)
    parameters = list(task.signal_task.classifier.parameters()) + list(task.sentence_projection.parameters())
    decay = [p for p in parameters if p.ndim >= 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                                   {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0}], lr=settings.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, settings.steps, eta_min=settings.lr * 0.01)
    task.train()
    for _ in range(settings.steps):
        batch = torch.randperm(len(y), generator=generator)[: settings.batch_size]
        loss = task.head_outputs(bags[batch], y[batch])["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    task.eval()


@torch.no_grad()
def ridge_projection(task: TokenMMVQShapeTask, bags: np.ndarray, y: np.ndarray, texts: CandidateTexts,
                     seen: Sequence[int], alpha: float) -> None:
    """Set ``task.sentence_projection`` in closed form: ridge from every training segment's bag
    (bags (n, 1 + S, F)) to the prototype of its window's label (labels ``y`` (n,), all seen)."""
    segments = bags[:, 1:].reshape(-1, bags.shape[-1]).astype(np.float64)  # (n S, F)
    target = texts.prototypes(seen)[np.repeat(y, bags.shape[1] - 1)]  # (n S, D)
    x_mean, t_mean = segments.mean(0), target.mean(0)
    x, t = segments - x_mean, target - t_mean
    weight = np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ t)  # (F, D)
    task.sentence_projection.weight.copy_(torch.from_numpy(weight.T))
    task.sentence_projection.bias.copy_(torch.from_numpy(t_mean - x_mean @ weight))


def prepared_task(task_class: type, X: np.ndarray, y: np.ndarray, split: np.ndarray, texts: CandidateTexts,
                  seen: Sequence[int], candidates: Sequence[int], settings: TokenZeroShotSettings,
                  seed: int) -> tuple[Any, torch.Tensor, np.ndarray]:
    """A ``task_class`` (the bag model or the plan's) built from ``settings.model``, its sentence
    bank the ``candidates``' sentences (seen ones trained on), shape codebook fitted on the seen
    training windows; returns it, every window standardised with those windows' per-channel
    mean and std (N, C, length), and the seen training rows (N,) bool."""
    train_rows = (split == "train") & np.isin(y, seen)
    mean = X[train_rows].mean(axis=(0, 2), keepdims=True)  # (1, C, 1)
    std = X[train_rows].std(axis=(0, 2), keepdims=True)
    signals = torch.from_numpy((X - mean) / np.where(std > 1e-8, std, 1.0)).float()  # (N, C, length)
    torch.manual_seed(seed)
    task = task_class.build(dict(settings.model), n_channels=X.shape[1], length=X.shape[2],
                            n_classes=len(texts.labels), text_dim=texts.sentences[0].shape[1])
    _sentence_bank(task, texts, seen, candidates)
    fit_positions = np.flatnonzero(train_rows)
    if len(fit_positions) > settings.max_fit_windows:
        fit_positions = np.sort(np.random.default_rng(seed).choice(fit_positions, settings.max_fit_windows, replace=False))
    task.fit_shapes(signals[fit_positions], seed=seed)
    return task, signals, train_rows


def fit_token_model(X: np.ndarray, y: np.ndarray, split: np.ndarray, texts: CandidateTexts, seen: Sequence[int],
                    candidates: Sequence[int], settings: TokenZeroShotSettings, seed: int = 0) -> tuple[TokenZeroShot, np.ndarray]:
    """Fit a token MMVQShape on the ``seen`` labels' training windows of ``X`` (N, C, length),
    its sentence bank holding the ``candidates``' sentences; returns it and every window's bags
    (N, 1 + S, F)."""
    task, signals, train_rows = prepared_task(TokenMMVQShapeTask, X, y, split, texts, seen, candidates, settings, seed)
    with torch.no_grad():
        bags = torch.cat([task.window_bags(part) for part in signals.split(256)])  # (N, 1 + S, F)
    _train_heads(task, bags[train_rows], torch.from_numpy(y[train_rows]).long(), settings, seed)
    bags_np = bags.numpy()
    if settings.text_route == "ridge":
        ridge_projection(task, bags_np[train_rows], y[train_rows], texts, seen, settings.ridge_alpha)
    return TokenZeroShot(task, seen, candidates, settings.novelty, bags_np[train_rows], y[train_rows]), bags_np


def token_fold_metrics(model: TokenZeroShot, bags: np.ndarray, y: np.ndarray, split: np.ndarray,
                       labels: Sequence[str], unseen: Sequence[int]) -> dict[str, Any]:
    """The fold's zero-shot keys for a fitted ``model`` and every window's ``bags``: the one
    decision (:func:`calibrated_fold`), nested folds by :meth:`TokenZeroShot.restricted`."""
    def nested(inner: list[int]) -> tuple[TokenZeroShot, np.ndarray]:
        return model.restricted(inner, bags, y, split), bags

    result = calibrated_fold(model, nested, bags, y, split, labels, unseen)
    result["calibration"].update(novelty=model.novelty_kind, nested_model=NESTED)
    result["method"] = METHOD
    return result


class ScoredZeroShot(TokenZeroShot):
    """The same decision over a trained run's per-window outputs instead of bags: ``features``
    (N, 2 L) are its ``logits`` then its ``text_scores`` over the L window classes. Any model with
    text scores (the bag model, the plan's) is read this way; novelty from the logits or the text."""

    def __init__(self, task: Any, seen: Sequence[int], candidates: Sequence[int], novelty_kind: str,
                 train_features: np.ndarray, train_y: np.ndarray):
        if novelty_kind == "mahalanobis":
            raise ValueError("a trained run's outputs hold no bags: novelty mahalanobis-logits, classifier or text")
        super().__init__(None, seen, candidates, novelty_kind, train_features, train_y)

    def outputs(self, bags: np.ndarray) -> dict[str, np.ndarray]:
        n_labels = bags.shape[1] // 2
        return {"logits": np.asarray(bags[:, :n_labels], dtype=np.float64),
                "text_scores": np.asarray(bags[:, n_labels:], dtype=np.float64)}


def trained_model_fold(outputs: np.ndarray, y: np.ndarray, split: np.ndarray, labels: Sequence[str],
                       unseen_names: Sequence[str], novelty: str | None = None) -> dict[str, Any]:
    """:func:`token_fold_metrics` of a model trained elsewhere on the seen labels (a
    ``--holdout-labels`` run): ``outputs`` (N, 2 L) its logits and text scores of every train,
    val and test window (:class:`ScoredZeroShot`). The held-out labels' training and validation
    windows are dropped first: they reach nothing."""
    split, y = np.asarray(split), np.asarray(y)
    unseen = label_indices(labels, unseen_names)
    keep = (split == "test") | ~np.isin(y, unseen)
    outputs, y, split = outputs[keep], y[keep], split[keep]
    seen = [i for i in range(len(labels)) if i not in unseen]
    train = (split == "train") & np.isin(y, seen)
    model = ScoredZeroShot(None, seen, range(len(labels)), novelty or TokenZeroShotSettings().novelty, outputs[train], y[train])
    return token_fold_metrics(model, outputs, y, split, labels, unseen)


def token_zero_shot_fold(X: np.ndarray, y: np.ndarray, split: np.ndarray, texts: CandidateTexts, unseen_names: Sequence[str],
                         settings: TokenZeroShotSettings | None = None, seed: int = 0,
                         fit: Callable[..., tuple[TokenZeroShot, np.ndarray]] | None = None) -> dict[str, Any]:
    """All zero-shot keys of one fold computed by the token MMVQShape (``gzsl_metrics``) + its calibration.

    ``X`` (N, C, length) resampled windows (:func:`resampled_signals`), ``y`` (N,), ``split`` (N,)
    of train / val / test; ``texts`` every label's sentences (unseen ones candidates only).
    ``fit`` (default :func:`fit_token_model`, same arguments) is where another model plugs in:
    it returns a zero-shot model of the seen labels and every window's features."""
    settings = settings or TokenZeroShotSettings()
    split, y = np.asarray(split), np.asarray(y)
    unseen = label_indices(texts.labels, unseen_names)
    seen = [i for i in range(len(texts.labels)) if i not in unseen]
    model, bags = (fit or fit_token_model)(X, y, split, texts, seen, range(len(texts.labels)), settings, seed)
    return token_fold_metrics(model, bags, y, split, texts.labels, unseen)
