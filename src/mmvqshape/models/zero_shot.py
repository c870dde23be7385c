"""Zero-shot recognition through sub-actions: every candidate label is its sentences.

A window's pooled signal features ``x`` (N, F) — any representation: summary statistics of
the signal (:func:`mmvqshape.signals.features.summary_features`) or a trained model's pooled
tokens — are read into the sentence-embedding space, and each candidate label, seen in
training or not, is scored by how well that reading matches *its own sub-action sentences*::

    x (N, F) -> standardise (training windows' statistics)
             -> ridge map W                                      z (N, D)
    label c: sentences S_c (n_c, D) -> unit, minus the seen sentences' mean, unit, mean, unit
                                                                  m_c (D,)
    text score(x, c) = cos(z, m_c)                                (N, L)

W is fitted to send each training window to its own label's ``m_c`` (only seen labels'
sentences and windows are ever used; the centring mean is over seen sentences only). A
window of an unseen label lands where its signal resembles the seen labels, and the unseen
candidate whose sentences describe that mixture best wins: ``unseen_accuracy`` ranks the
unseen candidates by this score.

**Generalised decision (seen and unseen candidates together).** Text scores favour seen labels
(W was fitted to them), so the generalised decision is calibrated stacking (Chao et al. 2016)
over two experts: the seen labels' score is minus the window's novelty (its smallest squared
Mahalanobis distance to a seen class mean under a shared within-class covariance with
Ledoit-Wolf shrinkage, estimated on the training windows; a seen classifier ranks within the seen labels), the unseen labels' score is
0 (the text score ranks within them), and ``gamma = -threshold`` is subtracted from the seen
labels. The threshold is chosen on *seen* labels only (a nested held-out seen label plays
unseen) and carried over as a quantile of the seen validation windows' novelty
(:meth:`novelty_threshold`).

**Explanation.** The ``k`` seen-label sentences that best fit the window (match with ``z`` plus
the log-probability of their label) form a set — no order, no repeats; a candidate's
explanation score is the mean match of its sentences, so a chosen sentence carries score
(the explanation metrics measure how much).

No I/O: sentence and label embeddings come in as arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.linear_model import LogisticRegression, Ridge

from ..numeric import unit_rows


def smallest_mahalanobis(x: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """(N,) smallest squared Mahalanobis distance of rows ``x`` (N, F) to ``means`` (S, F) under
    ``precision`` (F, F), expanded as x'Px - 2 x'Pm + m'Pm: one (N, F) x (F, F) product."""
    xp = x @ precision  # (N, F)
    distance = (xp * x).sum(1)[:, None] - 2 * xp @ means.T + ((means @ precision) * means).sum(1)[None]  # (N, S)
    return np.maximum(distance, 0.0).min(1)


def novelty_threshold(novelty: np.ndarray, quantile: float) -> float:
    """The novelty above which a window goes to the unseen labels: exceeded by the share
    ``quantile`` of the (seen validation windows') ``novelty`` values; ``inf`` for 0 (none)."""
    if quantile <= 0:
        return float("inf")
    return float(np.quantile(novelty, 1 - quantile))


@dataclass
class ZeroShotConfig:
    ridge_alpha: float = 10.0  # ridge penalty of the signal -> sentence-space map
    classifier_c: float = 1.0  # inverse penalty of the seen expert (logistic regression)
    name_weight: float = 0.0  # weight of the label name's embedding beside its sentences' mean (0: sentences only)

    def __post_init__(self) -> None:
        if self.ridge_alpha <= 0 or self.classifier_c <= 0:
            raise ValueError("ridge_alpha and classifier_c must be positive")
        if not 0.0 <= self.name_weight <= 1.0:
            raise ValueError("name_weight must be in [0, 1]")


class CandidateTexts:
    """Candidate labels given only as text: each label's sentence embeddings and name embedding.

    ``prototypes(seen)`` centres every vector on the *seen* labels' sentences (unseen text is
    only ever a candidate, never a statistic).
    """

    def __init__(self, labels: Sequence[str], sentences: Sequence[np.ndarray], names: np.ndarray | None = None):
        if len(labels) != len(sentences):
            raise ValueError("one sentence array per label is needed")
        if any(len(s) == 0 for s in sentences):
            raise ValueError("every candidate label needs at least one sentence")
        self.labels = list(labels)
        self.sentences = [unit_rows(s) for s in sentences]
        self.names = None if names is None else unit_rows(names)

    def centre(self, seen: Sequence[int]) -> np.ndarray:
        return np.concatenate([self.sentences[i] for i in seen]).mean(0)

    def sentence_rows(self, seen: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """All labels' sentences centred on the seen ones: (M, D) unit rows and their owner (M,)."""
        mu = self.centre(seen)
        rows = np.concatenate([unit_rows(s - mu) for s in self.sentences])
        owner = np.concatenate([np.full(len(s), i) for i, s in enumerate(self.sentences)])
        return rows, owner

    def prototypes(self, seen: Sequence[int], name_weight: float = 0.0) -> np.ndarray:
        """(L, D) unit: mean of each label's centred sentences (+ its centred name)."""
        mu = self.centre(seen)
        protos = unit_rows(np.stack([unit_rows(s - mu).mean(0) for s in self.sentences]))
        if name_weight > 0 and self.names is not None:
            names = unit_rows(self.names - self.names[list(seen)].mean(0))
            protos = unit_rows((1 - name_weight) * protos + name_weight * names)
        return protos


class SubActionZeroShot:
    """Fit on seen windows' features; score any candidate labels by their sentences.

    Fitted attributes end in ``_`` (as in scikit-learn): ``seen_`` (label indices),
    ``feature_mean_`` / ``feature_std_`` (standardisation), ``prototypes_`` (L, D),
    ``sentences_`` (M, D) with ``owner_`` (M,), ``reader_`` (ridge map), ``seen_expert_``
    (logistic regression), ``class_ids_`` / ``class_means_`` (S, F) and
    ``inverse_covariance_`` (F, F, the shrunk shared within-class covariance's inverse).
    """

    def __init__(self, config: ZeroShotConfig | None = None):
        self.config = config or ZeroShotConfig()

    def fit(self, features: np.ndarray, y: np.ndarray, seen: Sequence[int], texts: CandidateTexts) -> "SubActionZeroShot":
        """``features`` (N, F) and labels ``y`` (N,) of training windows, all in ``seen``."""
        features = np.asarray(features, dtype=np.float64)
        y = np.asarray(y, dtype=np.int64)
        self.seen_ = sorted(int(s) for s in seen)
        if not np.isin(y, self.seen_).all():
            raise ValueError("training windows must belong to seen labels only")
        if len(np.unique(y)) < 2:
            raise ValueError("at least two seen labels with windows are needed")
        self.feature_mean_, self.feature_std_ = features.mean(0), features.std(0) + 1e-6
        x = self._standardise(features)
        self.prototypes_ = texts.prototypes(self.seen_, self.config.name_weight)  # (L, D)
        self.sentences_, self.owner_ = texts.sentence_rows(self.seen_)  # (M, D), (M,)
        self.reader_ = Ridge(alpha=self.config.ridge_alpha).fit(x, self.prototypes_[y])
        self.seen_expert_ = LogisticRegression(C=self.config.classifier_c, max_iter=3000).fit(x, y)
        self.class_ids_ = np.unique(y)
        self.class_means_ = np.stack([x[y == c].mean(0) for c in self.class_ids_])  # (S, F)
        residuals = x - self.class_means_[np.searchsorted(self.class_ids_, y)]
        self.inverse_covariance_ = LedoitWolf().fit(residuals).precision_  # shared within-class covariance, shrunk
        return self

    def _standardise(self, features: np.ndarray) -> np.ndarray:
        return (np.asarray(features, dtype=np.float64) - self.feature_mean_) / self.feature_std_

    def read(self, features: np.ndarray) -> np.ndarray:
        """What the model reads from the signal, in the sentence space: (N, D) unit."""
        return unit_rows(self.reader_.predict(self._standardise(features)))

    def text_scores(self, features: np.ndarray) -> np.ndarray:
        """(N, L) cosine of each window's reading with each candidate's sentence prototype."""
        return self.read(features) @ self.prototypes_.T

    def sentence_match(self, features: np.ndarray) -> np.ndarray:
        """(N, M) cosine of each window's reading with every candidate sentence."""
        return self.read(features) @ self.sentences_.T

    def novelty(self, features: np.ndarray) -> np.ndarray:
        """(N,) smallest squared Mahalanobis distance to a seen class mean (shared within-class
        covariance, Ledoit-Wolf shrinkage, all feature directions)."""
        return smallest_mahalanobis(self._standardise(features), self.class_means_, self.inverse_covariance_)

    def novelty_threshold(self, seen_validation_features: np.ndarray, quantile: float) -> float:
        """:func:`novelty_threshold` of the *seen* validation windows' novelty: the share
        ``quantile`` of them would be called unseen (0: none)."""
        return novelty_threshold(self.novelty(seen_validation_features), quantile)

    def generalised_scores(self, features: np.ndarray) -> np.ndarray:
        """(N, L) scores over all candidates for calibrated stacking with ``gamma = -threshold``
        (:meth:`novelty_threshold`; the rule is ``training.zero_shot_metrics.calibrated_predictions``):
        seen labels score ``-novelty`` (+ 1e-6 x the seen expert's probability, to rank within
        them), unseen labels ``0`` (+ 1e-6 x the text score). After subtracting ``gamma`` from
        the seen labels, a window goes to the unseen labels exactly when its novelty exceeds the
        threshold."""
        x = self._standardise(features)
        n_labels = len(self.prototypes_)
        unseen = [i for i in range(n_labels) if i not in self.seen_]
        scores = np.full((len(x), n_labels), -np.inf)
        proba = self.seen_expert_.predict_proba(x)  # columns follow classes_
        scores[:, self.seen_expert_.classes_] = -self.novelty(features)[:, None] + 1e-6 * proba
        if unseen:
            scores[:, unseen] = 1e-6 * self.text_scores(features)[:, unseen]
        return scores

    def explain(self, features: np.ndarray, k: int, posterior_weight: float = 1.0) -> np.ndarray:
        """(N, k) indices into :attr:`sentences_`: the ``k`` seen-label sentences that best explain
        each window, a set (no order, no repeats). A sentence's score is its match with the
        window's reading plus ``posterior_weight`` x the log-probability the seen expert gives
        its label, so the chosen sentences are right (their label fits the signal) and specific
        (among a label's sentences, those the window's reading is nearest)."""
        allowed = np.isin(self.owner_, self.seen_)
        proba = np.zeros((len(features), len(self.prototypes_)))
        proba[:, self.seen_expert_.classes_] = self.seen_expert_.predict_proba(self._standardise(features))
        score = self.sentence_match(features) + posterior_weight * np.log(proba[:, self.owner_] + 1e-9)
        score = np.where(allowed[None, :], score, -np.inf)
        k = min(k, int(allowed.sum()))
        return np.argsort(-score, axis=1, kind="stable")[:, :k]

    def class_score_from_sentences(self, match: np.ndarray, owner: np.ndarray, n_labels: int) -> np.ndarray:
        """(N, L): each label's mean match over its sentences (the explanation's class score)."""
        out = np.zeros((len(match), n_labels))
        for c in range(n_labels):
            rows = owner == c
            out[:, c] = match[:, rows].mean(1) if rows.any() else -np.inf
        return out
