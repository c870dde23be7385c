"""Evaluation figures (matplotlib PNGs, no pyplot state): confusion matrix, code usage, reconstruction."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from ..atomic import atomic_file

from ..palette import RECONSTRUCTION_COLOR, SIGNAL_COLOR
from .shape_metrics import window_r2


def _subplots(*args, figsize: tuple[float, float], **kwargs):
    """A figure and its axes without pyplot (no global state, no backend switched)."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def _save(fig: Figure, path: Path) -> Path:
    with atomic_file(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120, bbox_inches="tight")
    return path


def confusion_figure(confusion: Sequence[Sequence[int]], labels: Sequence[str], path: Path, title: str = "") -> Path:
    """Counts with true labels as rows, predictions as columns."""
    matrix = np.asarray(confusion)
    size = max(4.0, 0.55 * len(labels) + 2)
    fig, ax = _subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black", fontsize=8)
    ax.set_title(title or "confusion (test)")
    return _save(fig, path)


def code_usage_figure(counts: dict[str, np.ndarray], path: Path) -> Path:
    """One bar chart per codebook: how often each code is used on the test split."""
    fig, axes = _subplots(len(counts), 1, figsize=(9, 2.6 * len(counts)), squeeze=False)
    for ax, (name, c) in zip(axes[:, 0], counts.items()):
        ax.bar(np.arange(len(c)), c, width=1.0, color=RECONSTRUCTION_COLOR)
        ax.set_title(f"{name} codebook: {int((c > 0).sum())}/{len(c)} codes used")
        ax.set_xlabel("code")
        ax.set_ylabel("count")
    fig.tight_layout()
    return _save(fig, path)


def reconstruction_figure(figure: dict[str, np.ndarray], labels_of_windows: Sequence[str], channel_names: Sequence[str], path: Path,
                          max_shapes: int = 8) -> Path | None:
    """For each window (rows) and channel (columns): x, x_pred, and the decoded shapes
    ``s_pred`` drawn over [t, min(t + l, 1)] of the series (the most prominent ``max_shapes``),
    each window's reconstruction R² beside its label (``figure["r2"]`` when given)."""
    if "x_pred" not in figure and "s_pred" not in figure:
        return None
    signal = figure["signal"]  # (W, C, T)
    n_win, n_ch, T = signal.shape
    fig, axes = _subplots(n_win, n_ch, figsize=(4 * n_ch, 2.2 * n_win), squeeze=False, sharex=True)
    time_axis = np.arange(T)
    for w in range(n_win):
        for c in range(n_ch):
            ax = axes[w, c]
            ax.plot(time_axis, signal[w, c], color=SIGNAL_COLOR, lw=0.9, label="x")
            if "x_pred" in figure:
                x_pred = figure["x_pred"][w].reshape(n_ch, -1)[c]
                ax.plot(np.linspace(0, T - 1, len(x_pred)), x_pred, color=RECONSTRUCTION_COLOR, lw=0.9, label="x̂")
            if "s_pred" in figure and "t" in figure and "l" in figure:
                shapes = figure["s_pred"][w].reshape(n_ch, -1, figure["s_pred"].shape[-1])[c]  # (N, len_s)
                t = figure["t"][w].reshape(n_ch, -1)[c]
                l = figure["l"][w].reshape(n_ch, -1)[c]
                order = np.argsort(-l)[:max_shapes]
                colors = colormaps["tab10"](np.linspace(0, 1, max(len(order), 1)))
                for color, k in zip(colors, order):
                    start, end = t[k] * (T - 1), min(t[k] + l[k], 1.0) * (T - 1)
                    ax.plot(np.linspace(start, end, shapes.shape[-1]), shapes[k], color=color, lw=1.4, alpha=0.8)
            if w == 0:
                ax.set_title(channel_names[c] if c < len(channel_names) else f"channel {c}")
            if c == 0:
                name = labels_of_windows[w] if w < len(labels_of_windows) else ""
                if "r2" in figure:  # given with the figure (computed before a change of units)
                    r2 = figure["r2"][w]
                else:
                    r2 = window_r2(signal[w:w + 1], figure["x_pred"][w:w + 1].reshape(1, n_ch, -1))[0] if "x_pred" in figure else np.nan
                ax.set_ylabel(name if np.isnan(r2) else f"{name}\nR² {r2:.2f}", fontsize=11)
    axes[0, 0].legend(loc="upper right", fontsize=7)
    fig.suptitle("x (black), x̂ (blue), decoded shapes at (t, l) (colours)")
    fig.tight_layout()
    return _save(fig, path)
