"""``mmvq tokenize RUN|CHECKPOINT|WEIGHTS --data D --out FILE``: every window's shape tokens as a table.

What VQShape's users feed to downstream models: for every window of the data (or of one
split), every channel's tokens. Two CSV tables (``.csv`` or gzip-compressed ``.csv.gz``, chosen
by the ``--out`` name; CSV because it needs no optional dependency and pandas reads it with
``pd.read_csv``):

- ``FILE`` — one row per token: ``window`` (row in the data), ``split``, ``label``,
  ``channel`` (name), ``token`` (index among the channel's tokens), ``code``, ``t``, ``l``
  (start and length, fractions of the window), ``mu``, ``sigma`` (the token's offset and
  scale in the model's per-series standardised units, as the model holds them), and
  ``mu_signal``, ``sigma_signal`` (the mean and std of the placed shape in the data's units,
  the normalisations undone), ``start_sample``, ``end_sample`` (where the shape sits, in
  samples of the model's window length).
- ``FILE`` with ``.histograms`` before the extension — one row per window and channel:
  ``window``, ``split``, ``label``, ``channel`` and ``code_0`` … ``code_{K-1}``, the number of
  the channel's tokens using each code (VQShape's histogram representation).

Windows pass through the model as in evaluation (eval mode, signal only). Both files are
written under temporary names and renamed when complete. Notebook use::

    from mmvqshape.pipelines.tokenize import tokenize
    paths = tokenize("runs/vq", data="hapt", out="tokens.csv.gz")
    tokens = pandas.read_csv(paths["tokens"])
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from ..atomic import atomic_file
from ..errors import UserError
from ..models.vqshape_task import VQShapeTask
from ..signals import load_windows
from ..training.config import read_run_config
from ..training.data import SignalDataset, collate
from .run.folder import find_checkpoint
from .run.inputs import load_shape_run
from .vqshape_convert import load_vqshape

SPLITS = ("all", "train", "val", "test")
TOKEN_KEYS = ("code_idx", "t", "l", "mu", "sigma")


def histogram_path(out: Path) -> Path:
    """``tokens.csv.gz`` -> ``tokens.histograms.csv.gz`` (the same for ``.csv``)."""
    suffix = ".csv.gz" if out.name.endswith(".csv.gz") else ".csv"
    return out.with_name(out.name[: -len(suffix)] + ".histograms" + suffix)


def _run_source(source: Path) -> tuple[Path, Path]:
    """(checkpoint, run folder) of a run folder or of a checkpoint inside ``RUN/checkpoints/``."""
    if source.is_dir():
        return find_checkpoint(source), source
    if source.is_file():
        run = source.parent.parent
        if not (run / "config.yaml").is_file():
            raise UserError(source, "is not inside a run folder (no config.yaml two levels up)")
        return source, run
    raise UserError(source, "no such run folder, checkpoint or weights file")


def _from_run(source: Path, data: str | None, split: str):
    """(task, dataset, windows, labels, positions) for a run folder or a checkpoint in one."""
    checkpoint, run = _run_source(source)
    cfg = read_run_config(run / "config.yaml")
    task, info, windows, labels = load_shape_run(run, checkpoint, cfg, data, "tokenize")
    if windows.n_channels != info.get("n_channels", windows.n_channels):
        raise UserError(data or cfg.data, f"has {windows.n_channels} channels, the run's model {info['n_channels']}")
    positions = _positions(windows, split, data or cfg.data)
    dataset = SignalDataset(windows, positions, cfg.length, cfg.normalize, scale=info.get("scale"))  # as trained
    return task, dataset, windows, labels, positions


def _from_weights(source: Path, data: str | None, split: str):
    """The same for a VQShape weights file: every channel its own series, the data's own units."""
    if data is None:
        raise UserError("--data", f"tokenizing with the weights file {source.name} needs --data")
    model = load_vqshape(source)
    windows = load_windows(data)  # the split `mmvq train --seed 0` draws
    task = VQShapeTask(model.cfg, n_channels=windows.n_channels, n_classes=len(windows.labels),
                       channels="independent", objective="pretrain")
    task.vqshape.load_state_dict(model.state_dict())
    positions = _positions(windows, split, data)
    # VQShape standardises every series itself, so its tokens do not depend on a dataset normalisation
    dataset = SignalDataset(windows, positions, model.cfg.len_input, "none")
    return task, dataset, windows, list(windows.labels), positions


def _positions(windows, split: str, where: str) -> np.ndarray:
    positions = np.arange(len(windows.y)) if split == "all" else windows.indices(split)
    if len(positions) == 0:
        raise UserError(where, f"has no {split} windows")
    return positions


def _run_model(task, dataset, batch_size: int, progress: bool) -> dict[str, np.ndarray]:
    """Token attributes (W, C, N) of every window, and each placed shape's mean and std (model units)."""
    kept: dict[str, list[np.ndarray]] = {k: [] for k in (*TOKEN_KEYS, "shape_mean", "shape_std")}
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate)
    task.eval()
    done = 0
    with torch.no_grad():
        for batch in loader:
            outputs = task({"signal": batch["signal"], "label": batch["label"], "text_present": False})
            for key in TOKEN_KEYS:
                kept[key].append(outputs[key].detach().cpu().numpy())
            s_pred = outputs["s_pred"].detach().double().cpu().numpy()  # (B, C, N, len_s): summarised, not kept
            kept["shape_mean"].append(s_pred.mean(axis=-1))
            kept["shape_std"].append(s_pred.std(axis=-1, ddof=1))
            done += len(batch["label"])
            if progress:
                print(f"\rtokenized {done}/{len(dataset)} windows", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return {k: np.concatenate(v) for k, v in kept.items()}


def tokenize(source: str | Path, *, data: str | None = None, out: str | Path, split: str = "all",
             batch_size: int = 256, progress: bool = True) -> dict[str, Any]:
    """Tokenise every window of ``data`` (default: the run's) with a shape model.

    ``source``: a run folder (its best checkpoint), a checkpoint file in a run folder, or a
    VQShape weights file (``.safetensors``: ``mmvq pretrain``'s or ``mmvq convert-vqshape``'s;
    needs ``data``, applied to every channel as its own series).
    Returns ``{"tokens": path, "histograms": path, "n_windows", "n_tokens"}``.
    """
    out = Path(out)
    if not (out.name.endswith(".csv") or out.name.endswith(".csv.gz")):
        raise UserError(out, "the output must end in .csv or .csv.gz")
    if split not in SPLITS:
        raise UserError("--split", f"must be one of {', '.join(SPLITS)}, not {split!r}")
    source = Path(source)
    if source.suffix == ".safetensors":
        task, dataset, windows, labels, positions = _from_weights(source, data, split)
    else:
        task, dataset, windows, labels, positions = _from_run(source, data, split)
    num_codes = task.num_codes()["shape"]
    arrays = _run_model(task, dataset, batch_size, progress)  # (W, C, N) each
    W, C, N = arrays["code_idx"].shape
    offset, scale = np.stack([np.stack(dataset.signal_affine(i)) for i in range(W)], axis=1)  # (W, C) each

    length = int(dataset.base.length or windows.length)
    t, l = arrays["t"].astype(np.float64), arrays["l"].astype(np.float64)
    window_rows = positions[:, None, None].repeat(C, 1).repeat(N, 2)
    channel_names = np.asarray(list(windows.channel_names))
    tokens = pd.DataFrame({
        "window": window_rows.ravel(),
        "split": np.asarray(windows.split)[window_rows].ravel(),
        "label": np.asarray(labels)[np.asarray(windows.y)[window_rows]].ravel(),
        "channel": channel_names[np.arange(C)[None, :, None].repeat(W, 0).repeat(N, 2)].ravel(),
        "token": np.arange(N)[None, None, :].repeat(W, 0).repeat(C, 1).ravel(),
        "code": arrays["code_idx"].astype(np.int64).ravel(),
        "t": t.ravel(), "l": l.ravel(),
        "mu": arrays["mu"].astype(np.float64).ravel(), "sigma": arrays["sigma"].astype(np.float64).ravel(),
        "mu_signal": (arrays["shape_mean"] * scale[..., None] + offset[..., None]).ravel(),
        "sigma_signal": (arrays["shape_std"] * scale[..., None]).ravel(),
        "start_sample": (t * (length - 1)).ravel(),
        "end_sample": (np.minimum(t + l, 1.0) * (length - 1)).ravel(),
    })

    series_codes = arrays["code_idx"].reshape(W * C, N).astype(np.int64)
    counts = np.zeros((W * C, num_codes), dtype=np.int64)
    np.add.at(counts, (np.arange(W * C)[:, None], series_codes), 1)
    histograms = pd.DataFrame({
        "window": positions.repeat(C),
        "split": np.asarray(windows.split)[positions].repeat(C),
        "label": np.asarray(labels)[np.asarray(windows.y)[positions]].repeat(C),
        "channel": np.tile(channel_names, W),
    })
    histograms = pd.concat([histograms, pd.DataFrame(counts, columns=[f"code_{k}" for k in range(num_codes)])], axis=1)

    compression = "gzip" if out.name.endswith(".gz") else None
    hist_out = histogram_path(out)
    with atomic_file(out, "wb") as token_handle:  # both written before either is renamed into place
        tokens.to_csv(token_handle, index=False, compression=compression, float_format="%.6g")
        with atomic_file(hist_out, "wb") as handle:
            histograms.to_csv(handle, index=False, compression=compression)
    return {"tokens": out, "histograms": hist_out, "n_windows": int(W), "n_tokens": int(len(tokens))}
