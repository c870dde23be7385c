"""Scoring a trained model on the test split, once: metrics, predictions and figures.

:func:`score_run` scores a checkpoint (``mmvq train`` after training, ``mmvq evaluate``
later), :func:`score_baseline` a fitted baseline (MiniRocket, summary-lr), and :func:`write_scores` writes
what both produce (design.md's run folder): ``metrics.json`` (accuracy, macro_f1,
per_class, confusion, n_test, split, model, seed, perplexity and dead_codes of the shape
and action codebooks with each code's count, for models with shapes ``reconstruction``
(R² and its PCA baseline) and ``shapes`` (fit and σ ratio; see ``training.shape_metrics``),
and for ``mmvqshape`` ``label_text_retrieval`` (every label seen) or ``zero_shot`` (a
``--holdout-labels`` run: see :mod:`mmvqshape.evaluation.calibration`), and for windows that carry each
sample's ``activity`` the token MMVQShape's own ``grounding`` (its chosen sentences at its own spans) beside
``baselines.sliding_classifier`` (its ``grounding`` and ``sample_accuracy``: see
:mod:`mmvqshape.evaluation.grounding`)), ``predictions.csv`` and PNGs (``figures/confusion.png``,
``figures/code_usage.png``, ``figures/reconstruction.png``).

Honesty: test items never carry sub-action text (zeroed, ``text_present=False``), so the
numbers do not depend on the corpus sentences passed; validation chooses the probe's C.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import torch

from ..atomic import atomic_file, write_json
from ..errors import UserError
from ..evaluation.grounding import token_model_grounding
from ..evaluation.reader import EXPLANATION_BY, explanation_check, shuffled_corpus_precision, zero_shot_fold
from ..evaluation.token_zero_shot import trained_model_fold
from ..labels import normalize_label
from ..models import BASELINES
from ..models.zero_shot import CandidateTexts
from ..numeric import unit_rows
from ..signals import WindowDataset
from ..signals.features import summary_features
from ..training.checkpoint import load_task
from ..training.config import TrainConfig
from ..training.data import SignalDataset, TextTable, split_positions
from ..training.evaluation import PCA_TRAIN_SERIES, collect_outputs, figure_items, sample_signals, training_subsequences
from ..training.explanation_metrics import explanation_metrics
from ..training.figures import code_usage_figure, confusion_figure, reconstruction_figure
from ..training.metrics import classification_metrics, label_reconstruction, predictions_table, softmax, zero_shot_metrics
from ..training.refit import effective_protocol
from ..training.probe import fit_probe as fit_linear_probe, probe_features, probe_proba
from ..training.shape_metrics import ShapeMetricsAccumulator, code_usage as usage_of, window_r2
from ..training.zero_shot_metrics import gzsl_metrics, headline
from .grounding import sliding_baseline_entry
from .data_units import to_data_units
from .run.inputs import check_same_labels
from .zero_shot import candidate_texts

#: Shuffles of the corpus averaged in a run's ``explanation.shuffled_control`` (the bench averages its own count).
N_SHUFFLES = 1


def write_scores(out: Path, *, cfg: TrainConfig, windows, index: np.ndarray, y_true: np.ndarray, proba: np.ndarray | None,
                 extra: dict[str, Any] | None = None, code_usage: dict[str, tuple[np.ndarray, int]] | None = None,
                 figure: dict[str, np.ndarray] | None = None, figures: bool = True) -> dict[str, Any]:
    """Assemble and write ``metrics.json`` + ``predictions.csv`` (+ PNGs when ``figures``)."""
    labels = list(windows.labels)
    metrics: dict[str, Any] = {}
    if proba is not None:
        metrics.update(classification_metrics(y_true, proba.argmax(-1), labels))
    else:  # pre-training without a probe predicts no class
        metrics.update({"accuracy": None, "macro_f1": None, "per_class": None, "confusion": None, "n_test": int(len(y_true))})
    metrics["split"] = windows.split_summary()
    metrics["model"] = cfg.model_name
    baseline = cfg.model_name in BASELINES
    metrics["objective"] = "classify" if baseline else cfg.objective
    metrics["channels"] = None if baseline else cfg.model.get("channels")
    metrics["seed"] = cfg.seed
    metrics["protocol"] = effective_protocol(cfg)  # refit | holdout (training/refit.py)
    health = {name: usage_of(idx, n) for name, (idx, n) in (code_usage or {}).items()}  # with each code's count
    metrics["perplexity"] = {name: h["perplexity"] for name, h in health.items()}
    metrics["dead_codes"] = {name: h["dead_codes"] for name, h in health.items()}
    metrics["codebooks"] = health
    metrics.update(extra or {})
    if getattr(windows, "activity", None) is not None:  # each sample's activity: the sliding classifier's grounding
        metrics.setdefault("baselines", {})["sliding_classifier"] = sliding_baseline_entry(windows, split="test")
    write_json(out / "metrics.json", {"kind": "metrics", **metrics})
    if proba is not None:
        with atomic_file(out / "predictions.csv") as handle:
            predictions_table(index, y_true, proba, labels).to_csv(handle, index=False)
    if figures:
        fig_dir = out / "figures"
        fig_dir.mkdir(exist_ok=True)
        if metrics["confusion"] is not None:
            confusion_figure(metrics["confusion"], labels, fig_dir / "confusion.png",
                             title=f"{cfg.model_name}: test accuracy {metrics['accuracy']:.3f}")
        if code_usage:
            code_usage_figure({name: np.asarray(h["histogram"]) for name, h in health.items()}, fig_dir / "code_usage.png")
        if figure:
            window_labels = [labels[int(windows.y[i])] for i in figure.get("index", [])]
            reconstruction_figure(figure, window_labels, list(windows.channel_names), fig_dir / "reconstruction.png")
    return metrics


def figure_in_data_units(figure: dict[str, np.ndarray], affines: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Add each figure window's R² (``r2``, the model's units, as metrics.json counts it), then map
    ``signal``, ``x_pred`` and ``s_pred`` to the data's units in place (one (offset, scale) per window)."""
    if "signal" not in figure or not affines:
        return
    if "x_pred" in figure:
        figure["x_pred"] = figure["x_pred"].reshape(figure["signal"].shape)
        figure["r2"] = window_r2(figure["signal"], figure["x_pred"])
    offset = np.stack([a[0] for a in affines]).astype(np.float32)  # (W, C)
    scale = np.stack([a[1] for a in affines]).astype(np.float32)
    figure.update(to_data_units(figure, offset, scale))


def score_run(out: Path, *, cfg: TrainConfig, windows, checkpoint: Path, embeddings=None, reader_text=None,
              fit_probe: bool = False, figures: bool = True, selection: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score ``checkpoint`` on ``windows``' test split and write the scores into ``out``.

    ``embeddings`` is the corpus passed now: it fills the dataset items' text fields (which
    the model ignores at test time). ``reader_text`` is the run's own corpus (default:
    ``embeddings``): the sub-action reader behind ``explanation`` and ``zero_shot`` is fitted
    on it, as at training time, so a corpus passed at evaluation changes no number.

    With ``cfg.probe`` the class comes from a linear probe on frozen features: fitted here
    (on train, C chosen on val) when ``fit_probe``, else read from ``out/probe.joblib``.
    """
    task, info = load_task(checkpoint)
    check_same_labels(windows, list(info["labels"]), windows.name)
    item_text = item_text_table(cfg, windows, info, embeddings)

    def dataset(split: str) -> SignalDataset:
        return scored_dataset(windows, split, cfg, info, item_text)

    test = dataset("test")
    outputs, shape_scores = collect_test_outputs(task, test, dataset("train"), cfg, windows.n_channels)
    extra: dict[str, Any] = {
        "checkpoint": checkpoint.name,
        "checkpoint_epoch": info.get("epoch"),
        "test_losses": {k: round(float(v), 6) for k, v in outputs["losses"].items()},
        **shape_entries(shape_scores, windows),
    }
    if selection is not None:  # the refit protocol: what validation chose (training/refit.py)
        extra["selection"] = selection
    if cfg.probe:
        probe, probe_info = fitted_probe(task, dataset, cfg, out) if fit_probe else saved_probe(out)
        proba = probe_proba(probe, probe_features(task, test, cfg.probe), len(windows.labels))
        extra["probe"] = {"features": cfg.probe, **probe_info}
    else:
        proba = softmax(outputs["logits"].astype(np.float64)) if "logits" in outputs else None
    if "text_scores" in outputs and item_text is not None:  # token MMVQShape: sentences placed by the model itself
        extra.update(token_text_entries(task, windows, cfg, outputs, embeddings if reader_text is None else reader_text,
                                        dataset))
        if "label_embedding_pred" in outputs:  # the plan's model reconstructs the label's embedding
            extra["label_reconstruction"] = label_reconstruction(outputs["label_embedding_pred"],
                                                                 item_text.label_embedding.numpy(), outputs["label"])
        if "action_span" in outputs and getattr(windows, "activity", None) is not None:
            extra["grounding"] = token_model_grounding(windows, outputs, task.source_labels, int(info["length"]))
    elif "label_embedding_pred" in outputs and item_text is not None:
        run_corpus = embeddings if reader_text is None else reader_text
        run_text = item_text if reader_text is None else TextTable.build(reader_text, windows.labels, where=str(cfg.corpus))
        extra.update(sub_action_entries(task, windows, cfg, outputs, run_corpus, run_text))
    return write_scores(out, cfg=cfg, windows=windows, index=outputs["index"], y_true=outputs["label"], proba=proba,
                        extra=extra, code_usage=code_usage_of(task, outputs), figure=outputs["figure"], figures=figures)


def item_text_table(cfg: TrainConfig, windows, info: dict[str, Any], embeddings) -> TextTable | None:
    """The text table of the dataset items of an MMVQShape run (None for other models), from the
    corpus passed now, checked against the run's text dimension."""
    if info["model_name"] != "mmvqshape":
        return None
    if embeddings is None:
        raise UserError("--corpus", "scoring an mmvqshape run needs its corpus or embedding folder")
    table = TextTable.build(embeddings, windows.labels, where=str(cfg.corpus))
    if table.dim != info.get("text_dim"):
        raise UserError(str(cfg.corpus), f"embedding dimension {table.dim} differs from the run's {info.get('text_dim')}")
    return table


def scored_dataset(windows, split: str, cfg: TrainConfig, info: dict[str, Any], item_text: TextTable | None) -> SignalDataset:
    """The ``split`` windows as the model reads them at test time: no sub-action text, and the
    training split's statistics (``info["scale"]``) whatever data is scored."""
    return SignalDataset(windows, split_positions(windows, split), cfg.length, cfg.normalize, text=item_text,
                         text_present=False, scale=info.get("scale"))


def collect_test_outputs(task, test: SignalDataset, train: SignalDataset, cfg: TrainConfig,
                         n_channels: int) -> tuple[dict[str, Any], ShapeMetricsAccumulator]:
    """The model's outputs over the test windows (figure windows mapped to the data's units) and
    the reconstruction / shape scores gathered on the way, whose PCA baseline is fitted on
    training windows as the model sees them. The task is left on the CPU."""
    device = "cuda" if torch.cuda.is_available() and cfg.accelerator not in ("cpu",) else "cpu"
    shape_scores = ShapeMetricsAccumulator(
        pca_train=lambda: sample_signals(train, max(1, PCA_TRAIN_SERIES // n_channels), cfg.seed), seed=cfg.seed,
        kmeans_train=lambda: training_subsequences(task, train, seed=cfg.seed))
    figure_at = figure_items(test.labels())
    outputs = collect_outputs(task, test, batch_size=max(cfg.batch_size, 64), device=device, figure_at=figure_at,
                              scores=shape_scores)
    task.cpu()
    figure_in_data_units(outputs["figure"], [test.signal_affine(p) for p in sorted(figure_at)])
    return outputs, shape_scores


def shape_entries(shape_scores: ShapeMetricsAccumulator, windows) -> dict[str, Any]:
    """``reconstruction`` (R² with its PCA baseline) and ``shapes`` of models that reconstruct."""
    if not shape_scores:
        return {}
    entries = {"reconstruction": shape_scores.reconstruction(list(windows.labels), list(windows.channel_names))}
    shapes = shape_scores.shapes()  # computed once: it fits the k-means yardstick
    if shapes is not None:
        entries["shapes"] = shapes
    return entries


def fitted_probe(task, dataset, cfg: TrainConfig, out: Path):
    """A linear probe on the frozen features of the training windows (C chosen on validation),
    saved to ``out/probe.joblib``; returns ``(probe, info)``."""
    train, val = dataset("train"), dataset("val")
    probe, probe_info = fit_linear_probe(probe_features(task, train, cfg.probe), train.labels(),
                                         probe_features(task, val, cfg.probe), val.labels(), cfg.seed)
    with atomic_file(out / "probe.joblib", "wb") as handle:
        joblib.dump({"probe": probe, "info": probe_info}, handle)
    return probe, probe_info


def saved_probe(out: Path):
    """``(probe, info)`` that :func:`fitted_probe` saved in ``out`` (a :class:`UserError` if none)."""
    probe_path = out / "probe.joblib"
    try:
        saved = joblib.load(probe_path)
        return saved["probe"], saved["info"]
    except Exception:  # noqa: BLE001
        raise UserError(probe_path, "missing or unreadable probe (train again with --probe)") from None


def code_usage_of(task, outputs: dict[str, Any]) -> dict[str, tuple[np.ndarray, int]]:
    """Each codebook's chosen codes on the test windows and its size: ``shape`` and ``action``."""
    sizes = task.num_codes()
    return {kind: (outputs[key], sizes[kind]) for kind, key in (("shape", "code_idx"), ("action", "action_idx"))
            if key in outputs}


def sub_action_entries(task, windows, cfg: TrainConfig, outputs: dict[str, Any], run_corpus, run_text: TextTable) -> dict[str, Any]:
    """The text-side entries of an MMVQShape run, all read from the run's own corpus
    (``run_corpus``, an EmbeddingSet, and ``run_text``, its text table): ``explanation``, and
    ``zero_shot`` (a ``--holdout-labels`` run) or ``label_text_retrieval`` (every label seen)."""
    # the sub-action reader's inputs, shared by the explanation and zero-shot entries
    features = summary_features(np.asarray(windows.X))
    candidates = candidate_texts(run_corpus, list(windows.labels), str(cfg.corpus))
    entries = {"explanation": explanation_entry(task, windows, features, candidates, cfg, outputs)}
    if cfg.holdout_labels:
        entries["zero_shot"] = holdout_zero_shot(windows, features, candidates, cfg, outputs, run_text)
    else:  # every label seen: a consistency check of the predicted label embedding, not zero-shot
        entries["label_text_retrieval"] = zero_shot_metrics(outputs["label_embedding_pred"], run_text.label_embedding.numpy(),
                                                            outputs["label"], list(windows.labels), cfg.holdout_labels)
    return entries


def token_text_entries(task, windows, cfg: TrainConfig, outputs: dict[str, Any], run_corpus, dataset) -> dict[str, Any]:
    """The text-side entries of a token MMVQShape run: ``explanation`` from the model's own
    chosen sentences (seen labels' test windows), ``zero_shot`` (a ``--holdout-labels`` run) from
    its own text scores under the bench's decision (calibrated on seen labels only:
    :func:`~mmvqshape.evaluation.token_zero_shot.trained_model_fold`), and the sentence reader's
    numbers under ``baselines.sentence_reader`` (read from the run's own corpus). ``dataset(split)``
    gives a split's windows as the model reads them."""
    labels = list(windows.labels)
    held_out = {normalize_label(n) for n in cfg.holdout_labels or []}
    seen = [i for i, name in enumerate(labels) if normalize_label(name) not in held_out]
    owner = task.sentence_owner.numpy()
    owner = np.where(owner < len(labels), owner, len(labels))  # sentences of labels without windows own nothing
    rows = np.isin(outputs["label"], seen)
    entries: dict[str, Any] = {"explanation": explanation_metrics(outputs["action_idx"][rows], owner, outputs["label"][rows],
                                                                  candidates=task.sentence_seen.numpy())}
    features = summary_features(np.asarray(windows.X))
    candidates = candidate_texts(run_corpus, labels, str(cfg.corpus))
    reader = explanation_check(features, windows.y, windows.split, candidates, seen=seen)
    reader["shuffled_control"] = shuffled_corpus_precision(features, windows.y, windows.split, candidates, N_SHUFFLES, seen=seen)
    entries["baselines"] = {"sentence_reader": {"explanation": reader}}
    if cfg.holdout_labels:
        entries["zero_shot"] = {**trained_model_fold(*run_outputs(task, dataset, len(labels)), labels, cfg.holdout_labels),
                                "scoring": task.text_scoring + "; generalised decision calibrated on seen labels only (evaluation.calibration)"}
        reader_fold = zero_shot_fold(features, windows.y, windows.split, candidates, cfg.holdout_labels)
        entries["baselines"]["sentence_reader"]["zero_shot"] = {**headline(reader_fold), **{
            k: reader_fold[k] for k in ("unseen_accuracy_by_construction", "unseen_accuracy_note") if k in reader_fold}}
    return entries


def run_outputs(task, dataset, n_labels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's ``logits`` and ``text_scores`` (N, 2 L) of every train, val and test window as it
    reads them at test time (no text), their labels (N,) and split names (N,). An empty split (the
    refit protocol's validation windows, which it trains on) is left out."""
    parts = {name: part for name in ("train", "val", "test") if len(part := dataset(name))}
    scores, labels = [], []
    for part in parts.values():
        out = collect_outputs(task, part, batch_size=256, figure_at=[])
        scores.append(np.concatenate([out["logits"], out["text_scores"][:, :n_labels]], axis=1))
        labels.append(out["label"])
    split = np.concatenate([np.full(len(part), name) for name, part in parts.items()])
    return np.concatenate(scores), np.concatenate(labels), split


def holdout_zero_shot(windows, features: np.ndarray, candidates: CandidateTexts, cfg: TrainConfig, outputs: dict[str, Any],
                      run_text: TextTable) -> dict[str, Any]:
    """``metrics.json`` ``zero_shot`` of a ``--holdout-labels`` run: the held-out labels scored
    through their sub-action sentences under the bench's protocol (:func:`zero_shot_fold`, on the
    signal's summary features: held-out windows and sentences choose nothing), with the model's
    own label-embedding scoring (nearest label name, no calibration) as a baseline."""
    result = zero_shot_fold(features, windows.y, windows.split, candidates, cfg.holdout_labels)
    result["signal_representation"] = "summary_features"
    model_scores = unit_rows(outputs["label_embedding_pred"]) @ unit_rows(run_text.label_embedding.numpy()).T
    own = gzsl_metrics(model_scores, outputs["label"], list(windows.labels), cfg.holdout_labels, 0.0)
    result["baselines"]["model_label_embedding"] = headline(own)
    return result


def explanation_entry(task, windows, features: np.ndarray, candidates: CandidateTexts, cfg: TrainConfig,
                      outputs: dict[str, Any]) -> dict[str, Any]:
    """``metrics.json`` ``explanation`` of a fusion MMVQShape run, on the seen labels' test
    windows: the sentence reader's set-valued sub-action explanation (the k sentences that best
    explain a window, read from its summary features; :func:`explanation_check`; ``computed_by``
    names it) with a shuffled-corpus control (:data:`N_SHUFFLES` shuffles), and under
    ``action_codes`` the same metrics for the model's own K action-code slots (no faithfulness)."""
    labels = list(windows.labels)
    seen = [i for i, name in enumerate(labels) if name not in set(cfg.holdout_labels or [])]
    entry = {"computed_by": EXPLANATION_BY, **explanation_check(features, windows.y, windows.split, candidates, seen=seen)}
    entry["shuffled_control"] = shuffled_corpus_precision(features, windows.y, windows.split, candidates, N_SHUFFLES, seen=seen)
    if "action_idx" in outputs:
        n_codes = int(task.num_codes().get("action", 0))
        code_labels = task.action_source_labels(torch.arange(n_codes)[None])[0] if n_codes else []  # each code's label
        lookup = {normalize_label(name): i for i, name in enumerate(labels)}
        owner = np.array([lookup.get(normalize_label(name), -1) for name in code_labels], dtype=np.int64)
        rows = np.isin(outputs["label"], seen)
        if rows.any() and len(owner):
            entry["action_codes"] = {"computed_by": "model (its action-code slots)", **explanation_metrics(
                outputs["action_idx"][rows], np.where(owner < 0, len(labels), owner), outputs["label"][rows])}
    return entry


def score_baseline(out: Path, *, cfg: TrainConfig, windows, model, figures: bool = True) -> dict[str, Any]:
    """Score a fitted baseline on ``windows``' test split (and its validation accuracy) into ``out``."""
    test = WindowDataset(windows, "test", cfg.length, cfg.normalize == "window")
    X_test, y_test = test.arrays()  # (N, C, T), (N,)
    X_val, y_val = WindowDataset(windows, "val", cfg.length, cfg.normalize == "window").arrays()
    val_acc = float((model.predict(X_val) == y_val).mean()) if len(y_val) else None
    return write_scores(out, cfg=cfg, windows=windows, index=test.rows, y_true=y_test, proba=model.predict_proba(X_test),
                        extra={"val_accuracy": val_acc, "checkpoint": "model.joblib"}, figures=figures)


def read_baseline(path: Path, model_name: str):
    """The fitted baseline ``model_name`` that ``mmvq train`` saved (anything else is a :class:`UserError`)."""
    try:
        model = joblib.load(path)
    except Exception:  # noqa: BLE001 - any unreadable file is the user's problem here
        model = None
    _, model_class = BASELINES[model_name]
    if not isinstance(model, model_class):
        raise UserError(path, f"missing or not a {model_name} model written by mmvq train")
    return model
