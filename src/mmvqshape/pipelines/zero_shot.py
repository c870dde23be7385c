"""One zero-shot fold under the honest protocol, shared by ``mmvq bench zero-shot`` and the
``zero_shot`` entry of a ``--holdout-labels`` run's ``metrics.json``.

What each unseen label contributes: its sentences and name as *test-time candidates* only.
Its windows and sentences never reach the fitted reader, the seen expert, the feature
standardisation, the sentence centring, the novelty threshold (gamma) or anything chosen.

* the zero-shot model (:class:`~mmvqshape.models.zero_shot.SubActionZeroShot`) is fitted on
  the seen labels' *training* windows;
* gamma: for each seen label in turn (playing unseen), a nested model is fitted on the other
  seen labels' training windows and the harmonic mean is measured on their validation windows
  plus the held-out seen label's windows, for every share ``q`` of seen validation windows
  called unseen; the ``q`` with the best mean curve is carried over to the full model as a
  quantile of its seen validation windows' novelty;
* test windows (all labels) are scored once.

Baselines on the same fold: label-name-only scoring (a ridge map to the label names'
embeddings, nearest name, no calibration — the model's previous zero-shot path) and a
text-only check (each sentence of a candidate label held out and matched against every
candidate's other sentences: can the text tell the labels apart at all?).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..errors import UserError
from ..labels import normalize_label
from ..models.zero_shot import CandidateTexts, SubActionZeroShot, ZeroShotConfig, novelty_threshold
from ..numeric import unit_rows
from ..training.data import match_labels
from ..training.explanation_metrics import explanation_metrics
from ..training.zero_shot_metrics import calibrated_predictions, gzsl_metrics, harmonic, headline

#: Shares of seen validation windows that the novelty threshold may call unseen.
QUANTILE_GRID = np.round(np.linspace(0.0, 0.8, 41), 4)
EXPLANATION_K = 5
#: What :func:`explanation_check` is, where its block sits among a model's numbers (``computed_by``).
EXPLANATION_BY = "sentence reader (ridge on summary features)"


def candidate_texts(embeddings, window_labels: Sequence[str], where: str) -> CandidateTexts:
    """Every window label's sentences and name vector, in the windows' class order."""
    order = match_labels(window_labels, embeddings.labels, where)
    sentences = [embeddings.subactions[embeddings.owner == i] for i in order]
    empty = [window_labels[j] for j, s in enumerate(sentences) if len(s) == 0]
    if empty:
        raise UserError(where, f"labels without sub-action sentences: {', '.join(empty)}")
    return CandidateTexts(list(window_labels), sentences, embeddings.label_vectors[order])


def label_indices(labels: Sequence[str], names: Sequence[str]) -> list[int]:
    wanted = {normalize_label(n) for n in names}
    return [i for i, name in enumerate(labels) if normalize_label(name) in wanted]


def _generalised_harmonic(model: Any, features: np.ndarray, y: np.ndarray, seen: Sequence[int],
                          unseen: Sequence[int], seen_val: np.ndarray) -> np.ndarray:
    """Harmonic mean over :data:`QUANTILE_GRID` on the windows ``features`` (labels ``y``).

    ``model`` has ``generalised_scores`` and ``novelty`` (the reader, or the token model of
    :mod:`~mmvqshape.pipelines.zero_shot_tokens`). Only ``seen`` and ``unseen`` are candidates:
    in a nested fold the outer fold's unseen labels take no part in choosing anything."""
    scores = np.array(model.generalised_scores(features), dtype=np.float64)  # (n, L)
    others = [i for i in range(scores.shape[1]) if i not in set(seen) | set(unseen)]
    scores[:, others] = -np.inf
    novelty_val = model.novelty(seen_val)
    is_seen, is_unseen = np.isin(y, seen), np.isin(y, unseen)
    curve = np.zeros(len(QUANTILE_GRID))
    for j, q in enumerate(QUANTILE_GRID):
        pred = calibrated_predictions(scores, seen, gamma=-novelty_threshold(novelty_val, q))
        curve[j] = harmonic(float((pred[is_seen] == y[is_seen]).mean()), float((pred[is_unseen] == y[is_unseen]).mean()))
    return curve


def nested_quantile(fit_nested: Callable[[list[int]], tuple[Any, np.ndarray]], y: np.ndarray, split: np.ndarray,
                    seen: Sequence[int], labels: Sequence[str]) -> tuple[float, dict[str, Any]]:
    """The share q of seen validation windows to call unseen, chosen on nested held-out *seen* labels.

    ``fit_nested(inner)`` fits a model on the ``inner`` seen labels' training windows only and
    returns it with every window's representation for it, ``features`` (N, ...)."""
    curves = {}
    for pseudo in seen:
        inner = [s for s in seen if s != pseudo]
        if len(inner) < 2:
            continue
        fit_rows = (split == "train") & np.isin(y, inner)
        val_rows = (split == "val") & np.isin(y, inner)
        pseudo_rows = np.isin(split, ["train", "val"]) & (y == pseudo)
        if not val_rows.any() or len(np.unique(y[fit_rows])) < 2:
            continue
        model, features = fit_nested(inner)
        rows = val_rows | pseudo_rows
        curves[labels[pseudo]] = _generalised_harmonic(model, features[rows], y[rows], inner, [pseudo], features[val_rows])
    if not curves:
        return 0.0, {"nested_labels": [], "note": "too few seen labels for a nested fold: no calibration"}
    mean = np.mean(np.stack(list(curves.values())), axis=0)
    best = int(np.flatnonzero(mean >= mean.max() - 1e-12)[0])  # ties: the smallest share
    return float(QUANTILE_GRID[best]), {"nested_labels": list(curves), "nested_harmonic_mean": float(mean[best])}


def choose_quantile(features: np.ndarray, y: np.ndarray, split: np.ndarray, seen: Sequence[int], texts: CandidateTexts,
                    config: ZeroShotConfig) -> tuple[float, dict[str, Any]]:
    """:func:`nested_quantile` for the sentence reader on fixed ``features`` (N, F)."""
    def fit_reader(inner: list[int]) -> tuple[SubActionZeroShot, np.ndarray]:
        rows = (split == "train") & np.isin(y, inner)
        return SubActionZeroShot(config).fit(features[rows], y[rows], inner, texts), features

    return nested_quantile(fit_reader, y, split, seen, texts.labels)


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
    return headline(gzsl_metrics(model.text_scores(features[test]), y[test], labels, unseen_names, 0.0))


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
    return {"unseen_accuracy": hits_unseen / n if n else float("nan"),
            "unseen_gzsl_accuracy": hits_all / n if n else float("nan"), "n_sentences": n}


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
    split = np.asarray(split)
    quantile, nested = choose_quantile(features, y, split, seen, texts, config)
    fit_rows = (split == "train") & np.isin(y, seen)
    val_rows = (split == "val") & np.isin(y, seen)
    model = SubActionZeroShot(config).fit(features[fit_rows], y[fit_rows], seen, texts)
    threshold = model.novelty_threshold(features[val_rows], quantile) if val_rows.any() else float("inf")
    test = split == "test"
    result = gzsl_metrics(model.generalised_scores(features[test]), y[test], labels, [labels[i] for i in unseen],
                          gamma=-threshold)
    # unseen_accuracy ranks the unseen candidates by the text score (the generalised scores'
    # unseen columns carry the same ranking, scaled)
    text_result = gzsl_metrics(model.text_scores(features[test]), y[test], labels, [labels[i] for i in unseen], 0.0)
    result["unseen_accuracy"] = text_result["unseen_accuracy"]
    result["unseen_accuracy_ci95"] = text_result["unseen_accuracy_ci95"]
    result["gamma"] = None if not np.isfinite(threshold) else -float(threshold)
    result["calibration"] = {"quantile": quantile, "novelty_threshold": None if not np.isfinite(threshold) else float(threshold),
                             **nested}
    result["method"] = "sub-action sentences (ridge reader) + novelty-calibrated stacking"
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
