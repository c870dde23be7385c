"""The sentence reader's zero-shot fold (:class:`~mmvqshape.models.zero_shot.SubActionZeroShot` on
fixed features, e.g. :func:`~mmvqshape.signals.features.summary_features`), its baselines and
its explanation check. No I/O.

What each unseen label contributes: its sentences and name as *test-time candidates* only.
Its windows and sentences never reach the fitted reader, the seen expert, the feature
standardisation, the sentence centring, the novelty threshold (gamma) or anything chosen.
The reader is fitted on the seen labels' *training* windows; gamma comes from
:func:`~mmvqshape.evaluation.calibration.calibrated_fold` (the one decision), each nested
fold refitting the reader on the other seen labels (it is cheap); test windows are scored once.

Baselines on the same fold: label-name-only scoring (a ridge map to the label names'
embeddings, nearest name, no calibration) and a text-only check (each sentence of a candidate
label held out and matched against every candidate's other sentences: can the text tell the
labels apart at all?).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..models.zero_shot import CandidateTexts, SubActionZeroShot, ZeroShotConfig
from ..numeric import unit_rows
from ..training.explanation_metrics import explanation_metrics
from ..training.zero_shot_metrics import gzsl_metrics, headline
from .calibration import by_construction, calibrated_fold, label_indices, nested_quantile

EXPLANATION_K = 5
#: What :func:`explanation_check` is, where its block sits among a model's numbers (``computed_by``).
EXPLANATION_BY = "sentence reader (ridge on summary features)"
METHOD = "sub-action sentences (ridge reader) + novelty-calibrated stacking"


def choose_quantile(features: np.ndarray, y: np.ndarray, split: np.ndarray, seen: Sequence[int], texts: CandidateTexts,
                    config: ZeroShotConfig) -> tuple[float, dict[str, Any]]:
    """:func:`~mmvqshape.evaluation.calibration.nested_quantile` for the sentence reader on fixed ``features`` (N, F)."""
    return nested_quantile(reader_refit(features, y, split, texts, config), y, split, seen, texts.labels)


def reader_refit(features: np.ndarray, y: np.ndarray, split: np.ndarray, texts: CandidateTexts,
                 config: ZeroShotConfig) -> Callable[[list[int]], tuple[SubActionZeroShot, np.ndarray]]:
    """The reader's nested fit: a reader of the ``inner`` labels' training windows (it is cheap)."""
    def fit_reader(inner: list[int]) -> tuple[SubActionZeroShot, np.ndarray]:
        rows = (split == "train") & np.isin(y, inner)
        return SubActionZeroShot(config).fit(features[rows], y[rows], inner, texts), features

    return fit_reader


def development_split(split: np.ndarray, subject: np.ndarray | None, seed: int = 0, share: float = 0.25) -> np.ndarray:
    """Splits for design choices made without the test windows: the validation windows become
    ``test``, a ``share`` of the training subjects (of the training windows where there are no
    subjects; a seeded draw) becomes ``val``, and the test windows are left out (``unused``)."""
    split = np.asarray(split)
    out = np.where(split == "val", "test", np.where(split == "train", "train", "unused")).astype(object)
    train = np.flatnonzero(split == "train")
    rng = np.random.default_rng(seed)
    if subject is not None:
        people = np.unique(np.asarray(subject)[train])
        chosen = rng.choice(people, max(1, round(share * len(people))), replace=False)
        out[train[np.isin(np.asarray(subject)[train], chosen)]] = "val"
    else:
        out[rng.choice(train, max(1, round(share * len(train))), replace=False)] = "val"
    return out.astype(str)


def name_only_baseline(features: np.ndarray, y: np.ndarray, split: np.ndarray, seen: Sequence[int], texts: CandidateTexts,
                       labels: Sequence[str], unseen_names: Sequence[str], config: ZeroShotConfig) -> dict[str, Any]:
    """Label names only: ridge map to the centred name embeddings, nearest name, gamma 0."""
    names_only = CandidateTexts(texts.labels, [n[None, :] for n in texts.names], texts.names)
    fit_rows = (split == "train") & np.isin(y, seen)
    model = SubActionZeroShot(config).fit(features[fit_rows], y[fit_rows], seen, names_only)
    test = split == "test"
    return by_construction(headline(gzsl_metrics(model.text_scores(features[test]), y[test], labels, unseen_names, 0.0)),
                           len(unseen_names))


def text_only_check(texts: CandidateTexts, seen: Sequence[int], unseen: Sequence[int]) -> dict[str, Any]:
    """Each sentence of a candidate label held out, matched to every label's other sentences'
    prototype (centred on the seen labels' sentences): share matched to its own label among the
    unseen candidates and among all candidates."""
    mu = texts.centre(seen)
    centred = [unit_rows(s - mu) for s in texts.sentences]
    hits_unseen, hits_all, n = 0, 0, 0
    for c in unseen:
        for i in range(len(centred[c])):
            protos = []
            for j, rows in enumerate(centred):
                keep = np.delete(rows, i, axis=0) if j == c else rows
                protos.append(unit_rows(keep.mean(0)) if len(keep) else np.zeros(rows.shape[1]))
            sims = np.stack(protos) @ centred[c][i]
            hits_all += int(sims.argmax() == c)
            hits_unseen += int(list(unseen)[int(sims[list(unseen)].argmax())] == c)
            n += 1
    return by_construction({"unseen_accuracy": hits_unseen / n if n else float("nan"),
                            "unseen_gzsl_accuracy": hits_all / n if n else float("nan"), "n_sentences": n}, len(unseen))


def zero_shot_fold(features: np.ndarray, y: np.ndarray, split: np.ndarray, texts: CandidateTexts,
                   unseen_names: Sequence[str], config: ZeroShotConfig | None = None,
                   baselines: bool = True) -> dict[str, Any]:
    """All zero-shot keys of one fold (``gzsl_metrics``) + the chosen calibration + baselines.

    ``features`` (N, F), ``y`` (N,), ``split`` (N,) of train / val / test for every window of
    the data; ``texts`` holds every label's sentences (unseen ones are used as candidates only).
    """
    config = config or ZeroShotConfig()
    labels = texts.labels
    unseen = label_indices(labels, unseen_names)
    seen = [i for i in range(len(labels)) if i not in unseen]
    split, y = np.asarray(split), np.asarray(y)
    fit_rows = (split == "train") & np.isin(y, seen)
    model = SubActionZeroShot(config).fit(features[fit_rows], y[fit_rows], seen, texts)
    result = calibrated_fold(model, reader_refit(features, y, split, texts, config), features, y, split, labels, unseen)
    result["method"] = METHOD
    if baselines:
        result["baselines"] = {
            "name_only": name_only_baseline(features, y, split, seen, texts, labels, [labels[i] for i in unseen], config),
            "text_only": text_only_check(texts, seen, unseen),
        }
    return result


def explanation_check(features: np.ndarray, y: np.ndarray, split: np.ndarray, texts: CandidateTexts, k: int = EXPLANATION_K,
                      config: ZeroShotConfig | None = None, shuffle_seed: int | None = None,
                      seen: Sequence[int] | None = None) -> dict[str, Any]:
    """Explanation metrics on the test windows of a model fitted on the ``seen`` labels'
    training windows (default: every label): the ``k`` sentences that best explain each
    window, scored on the seen labels' test windows. ``shuffle_seed`` shuffles the corpus
    across labels before fitting (the control); precision is always measured against the
    sentences' true labels."""
    config = config or ZeroShotConfig()
    labels = list(range(len(texts.labels))) if seen is None else sorted(seen)
    fit_texts = texts
    permutation = None
    if shuffle_seed is not None:
        rows = np.concatenate(texts.sentences)
        counts = [len(s) for s in texts.sentences]
        permutation = np.random.default_rng(shuffle_seed).permutation(len(rows))
        shuffled = np.split(rows[permutation], np.cumsum(counts)[:-1])
        fit_texts = CandidateTexts(texts.labels, shuffled, texts.names)
    fit_rows = (split == "train") & np.isin(y, labels)
    model = SubActionZeroShot(config).fit(features[fit_rows], y[fit_rows], labels, fit_texts)
    test = (split == "test") & np.isin(y, labels)
    chosen = model.explain(features[test], k)
    owner = model.owner_  # labels of the sentences as fitted
    if permutation is not None:  # back to each sentence's true label
        true_owner = np.concatenate([np.full(len(s), i) for i, s in enumerate(texts.sentences)])
        owner = true_owner[permutation]
    match = model.sentence_match(features[test])
    fitted_owner = model.owner_

    def class_scores(m: np.ndarray) -> np.ndarray:
        return model.class_score_from_sentences(m, fitted_owner, len(texts.labels))

    return explanation_metrics(chosen, owner, y[test], match=match, class_scores=class_scores,
                               candidates=np.isin(fitted_owner, labels))  # the sentences model.explain can choose


def shuffled_corpus_precision(features: np.ndarray, y: np.ndarray, split: np.ndarray, texts: CandidateTexts,
                              n_shuffles: int, seen: Sequence[int] | None = None) -> dict[str, Any]:
    """The shuffled-corpus control of :func:`explanation_check`: its ``precision`` with the corpus
    shuffled across labels (shuffle seeds ``0 .. n_shuffles - 1``), averaged over the shuffles,
    each shuffle's value and their count. Should sit at chance."""
    per_shuffle = [explanation_check(features, y, split, texts, seen=seen, shuffle_seed=s)["precision"]
                   for s in range(n_shuffles)]
    return {"precision": float(np.mean(per_shuffle)), "precision_per_shuffle": per_shuffle, "n_shuffles": n_shuffles}
