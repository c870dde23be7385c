"""``mmvq explain``: one test window explained — its shapes per channel and, for MMVQShape, its sub-actions.

Writes into ``out``:

- ``explain_<I>.png``: one panel per channel (the window, the model's reconstruction, and each
  decoded shape drawn where it sits: from t to t + l, placed with its μ and σ, coloured by
  code — all in the data's units, the dataset's normalisation undone), the window's
  reconstruction R² in the title and each channel's beside its name, and a text panel with
  the K chosen sub-action sentences, the predicted and true label and the top zero-shot
  candidates;
- ``explain_<I>.json``: the same as numbers and words (each shape with its ``fit_r2`` against
  the signal it claims, and ``mu_signal`` / ``sigma_signal`` in the data's units; ``length``
  the samples the model reads, ``loaded_length`` the window's samples as loaded, the unit of
  each sub-action's ``start`` / ``end``).

``I`` is the position of the window in the run's **test** split (0-based); the JSON also
records its row in the data. ``--data`` may be new windows (docs/usage.md, "Applying a model"):
an ``.npz`` with any splits or none (then every window is test) and ``y`` optional (the true
label then reads ``unknown``), cut as the run's windows were (same length and channels). The window goes through the model exactly as in evaluation:
signal only (``text_present=False``, no sub-actions passed). Works for VQShape runs too
(no words then).

:func:`run_explain_all` (``mmvq explain RUN --all``) explains every window of one split (the
**test** split unless ``split`` says otherwise) in batches and writes ``explanations_<split>.jsonl``:
one line per window, in split order (:func:`window_record` lists the keys; shapes in a compact
per-channel form), and a figure per window only when asked. Notebook use::

    from mmvqshape.pipelines.explain import run_explain, run_explain_all
    result = run_explain("runs/mm", data="basicmotions", index=3, out="explain/")
    every = run_explain_all("runs/mm", data="hapt-boundary", out="explain/")
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..atomic import atomic_file, ensure_folder, write_json
from ..errors import UserError
from ..training import shape_metrics
from ..training.data import SignalDataset, collate
from .data_units import to_data_units
from ..evaluation.grounding import loaded_spans
from .run.folder import find_checkpoint, read_run
from .run.inputs import load_shape_run

PER_CHANNEL_KEYS = ("code_idx", "t", "l", "mu", "sigma", "s_pred", "x_pred")
COMPACT_SHAPE_KEYS = {"code": "code_idx", "t": "t", "l": "l", "mu": "mu", "sigma": "sigma"}  # JSONL name -> output key
SPLITS = ("train", "val", "test")


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
    ``length``; written as ``loaded_length``); each placed sub-action's ``start`` / ``end`` are in those samples.
    """
    n_channels, length = signal.shape
    batch = {"signal": signal[None].float(), "label": torch.zeros(1, dtype=torch.long), "text_present": False}
    task.eval()
    with torch.no_grad():
        out = task(batch)
    result: dict[str, Any] = {"n_channels": n_channels, "length": length, "loaded_length": int(loaded_length or length)}
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
        loaded = None if spans is None else loaded_spans(spans[0].cpu().numpy(), length, loaded_length or length)  # (K, 2)
        result["sub_actions"] = [
            {"slot": k, "code": int(code), "sentence": sentence, "source_label": source,
             **({"cosine": round(float(cosine[0, k]), 6), "score": round(float(cosine[0, k]), 6)} if cosine is not None else {}),
             **({"start": int(loaded[k, 0]), "end": int(loaded[k, 1])} if loaded is not None else {})}
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
            lines.append("sub-actions (signal only; where: samples of the window as loaded):")
            lines += [f"  {s['slot'] + 1}. {s['sentence']}" + (f"  [{s['start']}–{s['end']})" if "start" in s else "")
                      for s in result["sub_actions"]]
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
                *, top: int = 5, split: str = "test") -> dict[str, Any]:
    """Explain window ``index`` of the ``split`` split (default test) of ``data`` (default: the
    run's data) with the run's model.

    Writes ``explain_<index>.png`` and ``explain_<index>.json`` into ``out`` and returns
    ``{"png", "json", "explanation"}``. A bad run folder or index is a :class:`UserError`.
    """
    loaded = load_explained_split(run, data, split)
    rows = loaded["rows"]
    if not 0 <= int(index) < len(rows):
        raise UserError("--index", f"must be between 0 and {len(rows) - 1} (the {split} split has {len(rows)} windows), got {index}")
    return write_window_explanation(loaded, int(index), Path(out), top=top)


def load_explained_split(run: str | Path, data: str | None, split: str) -> dict[str, Any]:
    """What explaining a split needs: ``run``, ``checkpoint``, ``cfg``, ``task``, ``info``,
    ``windows``, ``labels``, ``split`` and its ``rows`` (a :class:`UserError` for a bad run or split)."""
    if split not in SPLITS:
        raise UserError("--split", f"must be one of {', '.join(SPLITS)}, got {split!r}")
    run = Path(run)
    checkpoint = find_checkpoint(run)
    cfg = read_run(run)
    task, info, windows, labels = load_shape_run(run, checkpoint, cfg, data, "explain")
    return {"run": run, "checkpoint": checkpoint, "cfg": cfg, "task": task, "info": info, "windows": windows,
            "labels": labels, "split": split, "rows": windows.indices(split)}


def write_window_explanation(loaded: dict[str, Any], index: int, out: Path, *, top: int = 5) -> dict[str, Any]:
    """Explain window ``index`` of :func:`load_explained_split`'s split: figure + JSON into ``out``."""
    cfg, windows, labels, rows = loaded["cfg"], loaded["windows"], loaded["labels"], loaded["rows"]
    dataset = SignalDataset(windows, rows[[index]], cfg.length, cfg.normalize, scale=loaded["info"].get("scale"))  # as trained
    item = dataset[0]
    result = explain_window(loaded["task"], item["signal"], labels, top=top, affine=dataset.signal_affine(0),
                            loaded_length=int(np.asarray(windows.X).shape[1]))
    result = {
        "run": str(loaded["run"]), "checkpoint": loaded["checkpoint"].name, "model": cfg.model_name, "data": windows.name,
        "split": loaded["split"], "index": index, "row": int(rows[index]),
        "true_label": labels[int(item["label"])] if windows.labelled else "unknown",
        "channel_names": list(windows.channel_names), **result,
    }
    out.mkdir(parents=True, exist_ok=True)
    png = explain_figure(result, out / f"explain_{index}.png", list(windows.channel_names),
                         title=f"{cfg.model_name} · {Path(str(windows.name)).name} · {loaded['split']} window {index}")
    explanation = {k: v for k, v in result.items() if k != "arrays"}
    write_json(out / f"explain_{index}.json", {"kind": "explanation", **explanation})
    return {"png": png, "json": out / f"explain_{index}.json", "explanation": explanation}


def _rounded(values: np.ndarray, digits: int = 4) -> list:
    """A JSON-ready nested list: integers as they are, floats rounded."""
    return values.tolist() if np.issubdtype(values.dtype, np.integer) else np.round(values.astype(np.float64), digits).tolist()


def window_record(out: dict[str, np.ndarray], i: int, task, labels: list[str], model_length: int,
                  loaded_length: int) -> dict[str, Any]:
    """Window ``i`` of a batch's outputs (numpy, batch first) as one JSONL record's model keys:
    ``predicted_label`` and its ``probability``,
    ``sub_actions`` (each ``slot``, ``code``, ``sentence``, ``source_label``, ``score`` (the
    sentence's cosine to its segment), ``start`` / ``end`` in samples of the window as loaded)
    and ``shapes``: per key ``code``, ``t``, ``l`` (fractions of the window), ``mu``, ``sigma`` a
    (C, N) list, tokens in the model's order."""
    record: dict[str, Any] = {}
    if "logits" in out:
        logits = out["logits"][i].astype(np.float64)  # (L,)
        proba = np.exp(logits - logits.max())
        proba /= proba.sum()
        record.update(predicted_label=labels[int(proba.argmax())], probability=round(float(proba.max()), 6))
    if "action_idx" in out:
        idx = out["action_idx"][i:i + 1]  # (1, K)
        words = task.action_sentences(torch.as_tensor(idx))[0]
        sources = task.action_source_labels(torch.as_tensor(idx))[0]
        spans = loaded_spans(out["action_span"][i], model_length, loaded_length) if "action_span" in out else None  # (K, 2)
        record["sub_actions"] = [
            {"slot": k, "code": int(code), "sentence": sentence, "source_label": source,
             **({"score": round(float(out["action_similarity"][i, k]), 6)} if "action_similarity" in out else {}),
             **({"start": int(spans[k, 0]), "end": int(spans[k, 1])} if spans is not None else {})}
            for k, (code, sentence, source) in enumerate(zip(idx[0].tolist(), words, sources))
        ]
    if "code_idx" in out:
        n_channels = out["code_idx"].shape[1]
        record["shapes"] = {name: _rounded(_per_channel(torch.as_tensor(out[key][i]), n_channels))
                            for name, key in COMPACT_SHAPE_KEYS.items() if key in out}
    return record


def explained_windows(task, dataset: SignalDataset, labels: list[str], model_length: int, loaded_length: int, *,
                      batch_size: int = 256, shapes: bool = True, progress: bool = True, labelled: bool = True):
    """Yield one record per window of ``dataset``, in order: ``true_label`` (``"unknown"`` when
    not ``labelled``: the file held no ``y``) and :func:`window_record`'s keys (``shapes`` only
    when asked), running ``task`` on batches of signals only."""
    keys = ("logits", "action_idx", "action_span", "action_similarity", *(COMPACT_SHAPE_KEYS.values() if shapes else ()))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate)
    task.eval()
    with tqdm(total=len(dataset), desc="explain", unit="window", disable=not progress, leave=False) as bar:
        for batch in loader:
            with torch.no_grad():
                signal = batch["signal"].float()  # (B, C, T)
                out = task({"signal": signal, "label": torch.zeros(len(signal), dtype=torch.long), "text_present": False})  # signal only
            arrays = {k: out[k].detach().cpu().numpy() for k in keys if out.get(k) is not None}
            for i, label in enumerate(batch["label"].tolist()):
                yield {"true_label": labels[int(label)] if labelled else "unknown",
                       **window_record(arrays, i, task, labels, model_length, loaded_length)}
            bar.update(len(batch["label"]))


def run_explain_all(run: str | Path, data: str | None = None, out: str | Path = "explain", *, split: str = "test",
                    batch_size: int = 256, shapes: bool = True, figures: bool = False, top: int = 5,
                    progress: bool = True) -> dict[str, Any]:
    """Explain every ``split`` window of ``data`` (default: the run's data and its test split).

    Writes ``explanations_<split>.jsonl`` into ``out`` (atomically: whole or not at all), one
    line per window with ``index`` (position in the split), ``row`` (in the data) and
    :func:`explained_windows`' keys (without ``shapes`` when ``shapes`` is False); with ``figures`` also each window's ``explain_<I>.png`` and
    ``.json`` (as :func:`run_explain`, one window at a time). Returns ``{"jsonl", "n_windows", "split"}``.
    """
    loaded = load_explained_split(run, data, split)
    cfg, windows, rows = loaded["cfg"], loaded["windows"], loaded["rows"]
    if len(rows) == 0:
        raise UserError(data or cfg.data, f"has no {split} windows to explain")
    dataset = SignalDataset(windows, rows, cfg.length, cfg.normalize, scale=loaded["info"].get("scale"))  # as trained
    out = ensure_folder(Path(out))
    path = out / f"explanations_{split}.jsonl"
    records = explained_windows(loaded["task"], dataset, loaded["labels"], int(loaded["info"]["length"]),
                                int(np.asarray(windows.X).shape[1]), batch_size=batch_size, shapes=shapes, progress=progress,
                                labelled=windows.labelled)
    with atomic_file(path) as handle:
        for index, (row, record) in enumerate(zip(rows.tolist(), records)):
            handle.write(json.dumps({"index": index, "row": int(row), **record}) + "\n")
    if figures:
        for index in range(len(rows)):
            write_window_explanation(loaded, index, out, top=top)
    return {"jsonl": path, "n_windows": int(len(rows)), "split": split}
