"""Run a trained task over a dataset once, in eval mode, and collect what metrics need."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from .data import collate, seeded_subset
from .shape_metrics import ShapeMetricsAccumulator

# Outputs kept for every window (small), and for the first few windows only (figures).
PER_WINDOW = ("logits", "code_idx", "action_idx", "action_span", "label_embedding_pred", "text_scores")
FIGURE_KEYS = ("x_pred", "s_pred", "t", "l", "mu", "sigma", "code_idx")
N_FIGURE_WINDOWS = 4
PCA_TRAIN_SERIES = 20_000  # training series (window x channel) the PCA baseline is fitted on, at most


def figure_items(labels: np.ndarray, n: int = N_FIGURE_WINDOWS) -> list[int]:
    """Dataset positions of up to ``n`` windows for figures: the first of each class, in turn."""
    labels = np.asarray(labels)
    firsts = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
    return sorted(firsts[:n]) if len(firsts) >= n else sorted(set(firsts) | set(range(min(n, len(labels)))))[:n]


def sample_signals(dataset, max_windows: int, seed: int = 0) -> np.ndarray:
    """Up to ``max_windows`` of ``dataset``'s signals (drawn with ``seed``, kept in order) as (W, C, T)."""
    positions = seeded_subset(np.arange(len(dataset)), max_windows, seed)
    return np.stack([dataset[int(i)]["signal"].numpy() for i in positions])


@torch.no_grad()
def training_subsequences(task, dataset, *, max_windows: int = 512, max_rows: int = 20_000, seed: int = 0,
                          batch_size: int = 64) -> tuple[np.ndarray, int]:
    """The k-means yardstick's training data: the sub-sequences ``task``'s tokens claim on up to
    ``max_windows`` training windows (at most ``max_rows`` of them, a seeded draw), with the
    number of shape codes the dictionary gets -> ((M, S), n_codes)."""
    from .shape_metrics import claimed_subsequence  # lazy: keeps this module's imports to what every caller needs

    positions = seeded_subset(np.arange(len(dataset)), max_windows, seed)
    task = task.eval()
    rows = []
    for start in range(0, len(positions), batch_size):
        batch = collate([dataset[int(p)] for p in positions[start:start + batch_size]])  # items as evaluated: signal only
        out = task(batch)
        length = out["s_pred"].shape[-1]
        rows.append(claimed_subsequence(batch["signal"].numpy(), out["t"].float().cpu().numpy(), out["l"].float().cpu().numpy(),
                                        length).reshape(-1, length))
    rows = np.concatenate(rows)
    keep = np.sort(np.random.default_rng(seed).permutation(len(rows))[:max_rows])
    return rows[keep], int(task.num_codes()["shape"])


@torch.no_grad()
def collect_outputs(task, dataset, batch_size: int = 64, device: str | torch.device = "cpu",
                    figure_at: list[int] | None = None, scores: ShapeMetricsAccumulator | None = None) -> dict[str, Any]:
    """Outputs of ``task`` over ``dataset`` in order: ``index``, ``label``, the per-window keys
    present, mean ``losses``, and ``figure`` (signal and explanation keys of the windows at
    dataset positions ``figure_at``; default: the first few). ``scores`` (when given) is fed
    every batch's signal and outputs (reconstruction and shape metrics)."""
    task = task.to(device).eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate)
    kept: dict[str, list[np.ndarray]] = {"index": [], "label": []}
    loss_sums: dict[str, float] = {}
    figure: dict[str, list[np.ndarray]] = {}
    n = 0
    for batch in loader:
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        out = task(batch)
        b = batch["label"].shape[0]
        if scores is not None:
            scores.add(batch["signal"], out, batch["label"])
        kept["index"].append(batch["index"].cpu().numpy())
        kept["label"].append(batch["label"].cpu().numpy())
        for key in PER_WINDOW:
            if out.get(key) is not None:
                kept.setdefault(key, []).append(out[key].detach().float().cpu().numpy() if key != "code_idx" and key != "action_idx" else out[key].cpu().numpy())
        losses = {"loss": out["loss"], **out.get("losses", {})}
        for name, value in losses.items():
            loss_sums[name] = loss_sums.get(name, 0.0) + float(value) * b
        n += b
        wanted = [p - (n - b) for p in (figure_at if figure_at is not None else range(N_FIGURE_WINDOWS)) if n - b <= p < n]
        if wanted:
            rows = torch.tensor(wanted, device=batch["signal"].device)
            figure.setdefault("signal", []).append(batch["signal"][rows].float().cpu().numpy())
            figure.setdefault("index", []).append(batch["index"][rows].cpu().numpy())
            for key in FIGURE_KEYS:
                if out.get(key) is not None:
                    figure.setdefault(key, []).append(out[key][rows].detach().float().cpu().numpy())
    result: dict[str, Any] = {k: np.concatenate(v) for k, v in kept.items()}
    result["losses"] = {k: v / max(n, 1) for k, v in loss_sums.items()}
    result["figure"] = {k: np.concatenate(v) for k, v in figure.items()}
    return result


def shape_scores(task, dataset, train_dataset=None, *, class_names=None, channel_names=None, seed: int = 0,
                 batch_size: int = 64, device: str | torch.device = "cpu") -> dict[str, Any]:
    """``{"reconstruction": ..., "shapes": ...}`` of ``task`` on ``dataset`` (e.g. the validation
    split, to choose a recipe), as ``metrics.json`` reports them on the test split; the PCA
    baseline is fitted on ``train_dataset`` (none without it). Empty for a model without a
    reconstruction. See :mod:`mmvqshape.training.shape_metrics`."""
    n_channels = dataset[0]["signal"].shape[0]
    scores = ShapeMetricsAccumulator(
        pca_train=None if train_dataset is None else lambda: sample_signals(train_dataset, max(1, PCA_TRAIN_SERIES // n_channels), seed),
        seed=seed)
    collect_outputs(task, dataset, batch_size=batch_size, device=device, figure_at=[], scores=scores)
    if not scores:
        return {}
    result = {"reconstruction": scores.reconstruction(class_names, channel_names)}
    if scores.shapes() is not None:
        result["shapes"] = scores.shapes()
    return result
