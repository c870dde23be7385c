"""``mmvq explain``: one test window explained — its shapes per channel and, for MMVQShape, its sub-actions.

Writes into ``out``:

- ``explain_<I>.png``: one panel per channel (the window, the model's reconstruction, and each
  decoded shape drawn where it sits: from t to t + l, placed with its μ and σ, coloured by
  code — all in the data's units, the dataset's normalisation undone), the window's
  reconstruction R² in the title and each channel's beside its name, and a text panel with
  the K chosen sub-action sentences, the predicted and true label and the top zero-shot
  candidates;
- ``explain_<I>.json``: the same as numbers and words (each shape with its ``fit_r2`` against
  the signal it claims, and ``mu_signal`` / ``sigma_signal`` in the data's units).

``I`` is the position of the window in the run's **test** split (0-based); the JSON also
records its row in the data. The window goes through the model exactly as in evaluation:
signal only (``text_present=False``, no sub-actions passed). Works for VQShape runs too
(no words then). Notebook use::

    from mmvqshape.pipelines.explain import run_explain
    result = run_explain("runs/mm", data="basicmotions", index=3, out="explain/")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure

from ..atomic import atomic_file, write_json
from ..errors import UserError
from ..training import shape_metrics
from ..training.data import SignalDataset
from .data_units import to_data_units
from .run.folder import find_checkpoint, read_run
from .run.inputs import load_shape_run

PER_CHANNEL_KEYS = ("code_idx", "t", "l", "mu", "sigma", "s_pred", "x_pred")


def _per_channel(value: torch.Tensor, n_channels: int) -> np.ndarray:
    """One window's per-channel output as (C, ...): accepts (1, C, ...) or (C, ...) (channel-independent)."""
    array = value.detach().float().cpu().numpy() if value.dtype.is_floating_point else value.detach().cpu().numpy()
    if array.shape[0] == 1 and array.ndim >= 2 and array.shape[1] == n_channels:
        array = array[0]
    if array.shape[0] != n_channels:
        raise ValueError(f"cannot read per-channel output of shape {value.shape} for {n_channels} channels")
    if array.ndim == 3 and array.shape[-1] == 1:  # (C, N, 1) attributes
        array = array[..., 0]
    return array


def _round(value: float) -> float | None:
    """A JSON-ready number: 6 decimals, None for nan."""
    return None if not np.isfinite(value) else round(float(value), 6)


def explain_window(task, signal: torch.Tensor, labels: list[str], *, top: int = 5,
                   affine: tuple[np.ndarray, np.ndarray] | None = None, loaded_length: int | None = None) -> dict[str, Any]:
    """Run ``task`` on one pre-processed window ``signal`` (C, T), signal only, and describe it.

    Returns a JSON-ready dict (shapes per channel with each shape's fit R², the window's
    reconstruction R², sub-actions, prediction, zero-shot candidates) plus ``"arrays"``
    (signal, x_pred, s_pred ... as numpy) for the figure. ``affine`` = (offset (C,), scale (C,))
    maps the model's units back to the data's (``SignalDataset.signal_affine``): the arrays
    and each shape's ``mu_signal`` / ``sigma_signal`` are then in the data's units.
    ``loaded_length``: samples of the window as loaded (before resampling to the model's
    length); each placed sub-action's ``start`` / ``end`` are in those samples.
    """
    n_channels, length = signal.shape
    batch = {"signal": signal[None].float(), "label": torch.zeros(1, dtype=torch.long), "text_present": False}
    task.eval()
    with torch.no_grad():
        out = task(batch)
    result: dict[str, Any] = {"n_channels": n_channels, "length": length}
    arrays: dict[str, np.ndarray] = {"signal": signal.numpy()}
    if out.get("logits") is not None:
        proba = torch.softmax(out["logits"][0].float(), dim=-1).numpy()
        order = np.argsort(-proba)
        result["predicted_label"] = labels[int(order[0])]
        result["probabilities"] = {labels[i]: round(float(proba[i]), 6) for i in order}
    for key in PER_CHANNEL_KEYS:
        if out.get(key) is not None:
            arrays[key] = _per_channel(out[key], n_channels)
    offset, scale = affine if affine is not None else (np.zeros(n_channels), np.ones(n_channels))
    channel_r2: list[float | None] = [None] * n_channels
    if "x_pred" in arrays:  # R² of the reconstruction (the same definition as metrics.json)
        sse, ss = shape_metrics.series_errors(arrays["signal"], arrays["x_pred"])  # (C,)
        result["reconstruction_r2"] = _round(shape_metrics.window_r2(arrays["signal"][None], arrays["x_pred"][None])[0])
        channel_r2 = [_round(1 - e / v) if v > 0 else None for e, v in zip(sse, ss)]
    data_units = to_data_units(arrays, offset, scale)  # what the figure and mu_signal / sigma_signal show
    if "code_idx" in arrays:
        fit = (shape_metrics.shape_fit_r2(arrays["signal"][None], arrays["t"][None], arrays["l"][None], arrays["s_pred"][None])[0]
               if "s_pred" in arrays else np.full(arrays["code_idx"].shape, np.nan))  # (C, N)
        channels = []
        for c in range(n_channels):
            shapes = []
            for n in np.argsort(arrays["t"][c]):  # shapes in time order
                t, l = float(arrays["t"][c, n]), float(arrays["l"][c, n])
                placed = data_units["s_pred"][c, n] if "s_pred" in arrays else None
                shapes.append({
                    "token": int(n), "code": int(arrays["code_idx"][c, n]), "t": round(t, 6), "l": round(l, 6),
                    "mu": round(float(arrays["mu"][c, n]), 6), "sigma": round(float(arrays["sigma"][c, n]), 6),
                    "start_sample": round(t * (length - 1), 2), "end_sample": round(min(t + l, 1.0) * (length - 1), 2),
                    **({"mu_signal": _round(placed.mean()), "sigma_signal": _round(placed.std(ddof=1)),
                        "fit_r2": _round(fit[c, n])} if placed is not None else {}),
                })
            channels.append({"channel": c, "reconstruction_r2": channel_r2[c], "shapes": shapes})
        result["channels"] = channels
    if out.get("action_idx") is not None:
        idx = out["action_idx"][0].reshape(-1).tolist()
        words = task.action_sentences(out["action_idx"][:1].reshape(1, -1))[0]
        sources = task.action_source_labels(out["action_idx"][:1].reshape(1, -1))[0]
        cosine = out.get("action_similarity")
        spans = out.get("action_span")  # (1, K, 2) samples of the model's window: mapped to the window as loaded
        to_loaded = (loaded_length - 1) / max(length - 1, 1) if loaded_length else 1.0
        result["sub_actions"] = [
            {"slot": k, "code": int(code), "sentence": sentence, "source_label": source,
             **({"cosine": round(float(cosine[0, k]), 6), "score": round(float(cosine[0, k]), 6)} if cosine is not None else {}),
             **({"start": int(round(float(spans[0, k, 0]) * to_loaded)),
                 "end": int(round((float(spans[0, k, 1]) - 1) * to_loaded)) + 1} if spans is not None else {})}
            for k, (code, sentence, source) in enumerate(zip(idx, words, sources))
        ]
    if out.get("label_embedding_pred") is not None:
        names, candidates = task.label_candidates()
        if len(names):
            scores = task.zero_shot_scores(out, candidates)[0].numpy()
            order = np.argsort(-scores)[:top]
            result["zero_shot"] = [{"label": names[i], "cosine": round(float(scores[i]), 6)} for i in order]
    result["arrays"] = data_units
    return result


def explain_figure(result: dict[str, Any], path: Path, channel_names: list[str] | None = None, title: str = "") -> Path:
    """Draw :func:`explain_window`'s result: a panel per channel and a text panel (no pyplot state)."""
    arrays = result["arrays"]
    n_channels, length = arrays["signal"].shape
    has_text = "sub_actions" in result or "zero_shot" in result or "predicted_label" in result
    heights = [2.0] * n_channels + ([0.22 * (len(result.get("sub_actions", [])) + 4)] if has_text else [])
    fig = Figure(figsize=(11, sum(heights) + 0.6))
    axes = fig.subplots(len(heights), 1, squeeze=False, gridspec_kw={"height_ratios": heights})
    colors = colormaps["tab20"]
    time = np.arange(length)
    for c in range(n_channels):
        ax = axes[c, 0]
        ax.plot(time, arrays["signal"][c], color="black", lw=1.0, label="signal")
        if "x_pred" in arrays:
            ax.plot(time, arrays["x_pred"][c], color="0.55", lw=0.9, ls="--", label="reconstruction")
        if "s_pred" in arrays:
            for n in range(arrays["s_pred"].shape[1]):
                t, l = float(arrays["t"][c, n]), float(arrays["l"][c, n])
                start, end = t * (length - 1), min(t + l, 1.0) * (length - 1)
                xs = np.linspace(start, end, arrays["s_pred"].shape[-1])
                ax.plot(xs, arrays["s_pred"][c, n], color=colors(int(arrays["code_idx"][c, n]) % 20), lw=1.2, alpha=0.75)
        name = channel_names[c] if channel_names and c < len(channel_names) else f"channel {c}"
        r2 = (result.get("channels") or [{}] * n_channels)[c].get("reconstruction_r2")
        ax.set_ylabel(name + ("" if r2 is None else f"\nR² {r2:.2f}"))
        ax.set_xlim(0, length - 1)
        if c == 0:
            ax.legend(loc="upper right", fontsize=7)
    axes[n_channels - 1, 0].set_xlabel("sample (shapes coloured by code, each at its t, l, μ, σ in the data's units)")
    if has_text:
        ax = axes[-1, 0]
        ax.axis("off")
        lines = [f"predicted: {result.get('predicted_label', '—')}    true: {result.get('true_label', '—')}"]
        if "sub_actions" in result:
            lines.append("sub-actions (signal only):")
            lines += [f"  {s['slot'] + 1}. {s['sentence']}" for s in result["sub_actions"]]
        if "zero_shot" in result:
            lines.append("nearest label texts: " + ", ".join(f"{z['label']} ({z['cosine']:.2f})" for z in result["zero_shot"]))
        ax.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", family="monospace", fontsize=8, wrap=True,
                transform=ax.transAxes)
    if result.get("reconstruction_r2") is not None:
        title = f"{title} · reconstruction R² {result['reconstruction_r2']:.2f}" if title else f"reconstruction R² {result['reconstruction_r2']:.2f}"
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_file(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    return path


def run_explain(run: str | Path, data: str | None = None, index: int = 0, out: str | Path = "explain",
                *, top: int = 5) -> dict[str, Any]:
    """Explain test window ``index`` of ``data`` (default: the run's data) with the run's model.

    Writes ``explain_<index>.png`` and ``explain_<index>.json`` into ``out`` and returns
    ``{"png", "json", "explanation"}``. A bad run folder or index is a :class:`UserError`.
    """
    run = Path(run)
    checkpoint = find_checkpoint(run)
    cfg = read_run(run)
    task, info, windows, labels = load_shape_run(run, checkpoint, cfg, data, "explain")
    rows = windows.indices("test")
    if not 0 <= int(index) < len(rows):
        raise UserError("--index", f"must be between 0 and {len(rows) - 1} (the test split has {len(rows)} windows), got {index}")
    dataset = SignalDataset(windows, rows[[int(index)]], cfg.length, cfg.normalize, scale=info.get("scale"))  # as trained
    item = dataset[0]
    result = explain_window(task, item["signal"], labels, top=top, affine=dataset.signal_affine(0),
                            loaded_length=int(np.asarray(windows.X).shape[1]))
    result = {
        "run": str(run), "checkpoint": checkpoint.name, "model": cfg.model_name, "data": windows.name,
        "index": int(index), "row": int(rows[int(index)]), "true_label": labels[int(item["label"])],
        "channel_names": list(windows.channel_names), **result,
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    png = explain_figure(result, out / f"explain_{int(index)}.png", list(windows.channel_names),
                         title=f"{cfg.model_name} · {Path(str(windows.name)).name} · test window {index}")
    explanation = {k: v for k, v in result.items() if k != "arrays"}
    write_json(out / f"explain_{int(index)}.json", {"kind": "explanation", **explanation})
    return {"png": png, "json": out / f"explain_{int(index)}.json", "explanation": explanation}
