"""Figures of the analysis suite: matplotlib PNGs (no pyplot state) and plotly HTML for 3-D.

Every function draws already-computed numbers into one file; none computes results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from matplotlib.figure import Figure
from plotly.subplots import make_subplots

from ..palette import HEATMAP, REFERENCE_COLOR, label_colors, series_colors


def _figure(width: float, height: float):
    return Figure(figsize=(width, height), layout="constrained")


def plot_projection(panels: list[dict[str, Any]], labels: list[str], path: Path, dims: int) -> None:
    """Scatter plots side by side, one per panel ({"title", "coords" (N, dims), "owner" (N,)}),
    one legend below them in a size that stays readable when the picture is shrunk to a page."""
    colors = label_colors(labels)
    fig = _figure(4.2 * len(panels), 4.9)
    for index, panel in enumerate(panels):
        kwargs = {"projection": "3d"} if dims == 3 else {}
        ax = fig.add_subplot(1, len(panels), index + 1, **kwargs)
        coords, owner = panel["coords"], panel["owner"]
        for label_index, label in enumerate(labels):
            mask = owner == label_index
            points = [coords[mask, d] for d in range(dims)]
            ax.scatter(*points, s=26, color=colors[label_index], label=label, alpha=0.9, edgecolors="none")
        ax.set_title(panel["title"], fontsize=12)
        ax.set_xticks([])
        ax.set_yticks([])
        if dims == 3:
            ax.set_zticks([])
    handles, names = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=min(len(names), 7), fontsize=12, markerscale=1.8, frameon=False)
    fig.savefig(path, dpi=130)


def projection_html(
    panels: list[dict[str, Any]], labels: list[str], sentences: list[list[str]], path: Path, title: str, json_path: Path | None = None
) -> None:
    """Interactive 3-D scatter (plotly, self-contained: works offline), one scene per panel.

    ``json_path`` also gets the figure as plotly JSON (``mmvq report`` draws it inline)."""
    colors = label_colors(labels)
    fig = make_subplots(rows=1, cols=len(panels), specs=[[{"type": "scene"}] * len(panels)], subplot_titles=[p["title"] for p in panels])
    for index, panel in enumerate(panels):
        coords, owner = panel["coords"], panel["owner"]
        for label_index, label in enumerate(labels):
            mask = np.flatnonzero(owner == label_index)
            fig.add_trace(
                go.Scatter3d(
                    x=coords[mask, 0], y=coords[mask, 1], z=coords[mask, 2], mode="markers",
                    marker={"size": 4, "color": colors[label_index]}, name=label, legendgroup=label,
                    showlegend=index == 0, text=[sentences[index][i] for i in mask], hovertemplate="%{text}<extra>" + label + "</extra>",
                ),
                row=1, col=index + 1,
            )
    fig.update_layout(title=title, height=650, width=max(700, 600 * len(panels)), legend={"font": {"size": 10}})
    fig.write_html(path, include_plotlyjs=True, full_html=True)
    if json_path is not None:
        json_path.write_text(fig.to_json())


def plot_gram(gram: np.ndarray, owner: np.ndarray, labels: list[str], path: Path) -> None:
    """Heatmap of a label-ordered Gram matrix with label boundaries and names at block centres."""
    fig = _figure(9.5, 8.0)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(gram, cmap=HEATMAP, vmin=min(0.0, float(gram.min())), vmax=1.0, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8, label="cosine similarity")
    counts = np.bincount(owner, minlength=len(labels))
    edges = np.concatenate([[0], np.cumsum(counts)])
    for edge in edges[1:-1]:
        ax.axhline(edge - 0.5, color="white", linewidth=0.8)
        ax.axvline(edge - 0.5, color="white", linewidth=0.8)
    centres = (edges[:-1] + edges[1:]) / 2 - 0.5
    present = counts > 0
    ax.set_xticks(centres[present], [l for l, p in zip(labels, present) if p], rotation=60, ha="right", fontsize=10)
    ax.set_yticks(centres[present], [l for l, p in zip(labels, present) if p], fontsize=10)
    ax.set_title("Cosine Gram matrix of sub-actions (grouped by label)")
    fig.savefig(path, dpi=130)


def plot_recon(summary: list[dict[str, Any]], path: Path) -> None:
    """Test cosine and top-1 retrieval vs hidden size (mean ± std), one line per protocol/input,
    baselines as dashed horizontal lines."""
    fig = _figure(11.0, 5.2)
    metrics = [("cosine", "test cosine to the label embedding"), ("top1", "top-1 retrieval accuracy")]
    series = sorted({(row["protocol"], row["input"]) for row in summary})
    colors = series_colors(max(1, len(series)))
    for m_index, (metric, ylabel) in enumerate(metrics):
        ax = fig.add_subplot(1, 2, m_index + 1)
        for s_index, (protocol, input_) in enumerate(series):
            rows = [r for r in summary if r["protocol"] == protocol and r["input"] == input_]
            probe = sorted((r for r in rows if r["model"] == "probe"), key=lambda r: r["hidden"])
            name = f"{protocol} / {input_}"
            if probe:
                hidden = [r["hidden"] for r in probe]
                ax.errorbar(hidden, [r[f"{metric}_mean"] for r in probe], yerr=[r[f"{metric}_std"] for r in probe],
                            marker="o", capsize=3, color=colors[s_index], label=f"probe: {name}")
            for r in rows:
                if r["model"] == "baseline":
                    ax.axhline(r[f"{metric}_mean"], linestyle="--", color=colors[s_index], linewidth=1, label=f"mean baseline: {name}")
        if metric == "top1" and summary:
            ax.axhline(summary[0]["chance_top1"], linestyle=":", color=REFERENCE_COLOR, linewidth=1, label="chance")
        ax.set_xscale("log", base=2)
        sizes = sorted({r["hidden"] for r in summary if r["model"] == "probe"})
        if sizes:
            ax.set_xticks(sizes, [str(h) for h in sizes])
            ax.minorticks_off()
        ax.set_xlabel("hidden size")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    handles, names = fig.axes[-1].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=2, fontsize=10, frameon=False)
    fig.suptitle("Label embedding from its sub-actions (test samples, mean ± std over seeds)")
    fig.savefig(path, dpi=130)


def plot_coverage(coverage: dict[str, Any], labels: list[str], path: Path) -> None:
    """Three panels: codes serving each label, codes drawn from each label, labels served per code."""
    fig = _figure(14.0, 4.8)
    positions = np.arange(len(labels))
    without = set(coverage["labels_without_own_code"])
    ax = fig.add_subplot(1, 3, 1)
    colors = label_colors(labels)
    tick_size = 10 if len(labels) <= 8 else 8
    ax.bar(positions, [coverage["codes_per_label"][l] for l in labels], color=colors)
    ax.set_title("codes serving each label\n(nearest code of one of its sentences)", fontsize=10)
    ax.set_xticks(positions, labels, rotation=60, ha="right", fontsize=tick_size)
    ax = fig.add_subplot(1, 3, 2)
    ax.bar(positions, [coverage["own_codes_per_label"][l] for l in labels], color=colors,
           hatch=["//" if l in without else "" for l in labels], edgecolor=REFERENCE_COLOR)
    ax.set_title(f"codes drawn from each label's sentences\n({len(without)} labels without a code of their own)", fontsize=10)
    ax.set_xticks(positions, labels, rotation=60, ha="right", fontsize=tick_size)
    ax = fig.add_subplot(1, 3, 3)
    per_code = np.asarray(coverage["labels_per_code"], dtype=int)
    top = int(per_code.max()) if per_code.size else 1
    ax.bar(np.arange(top + 1), np.bincount(per_code, minlength=top + 1), color=REFERENCE_COLOR)
    ax.set_title(f"labels served per code\n({len(coverage['shared_codes'])} of {coverage['size']} codes shared)", fontsize=10)
    ax.set_xticks(np.arange(top + 1))
    ax.set_xlabel("labels served")
    ax.set_ylabel("codes")
    fig.suptitle(f"Action codebook coverage ({coverage['size']} codes, mean cosine to nearest code {coverage['mean_cosine_to_code']:.3f})")
    fig.savefig(path, dpi=130)
