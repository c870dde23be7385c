"""Dataset summary: what a DATA argument holds after loading and pre-processing."""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..signals import load_windows
from ..signals.windows import activity_pairs


def summarize_data(data: str, *, channels: str = "acc", length: int | None = 512, seed: int = 0, val_fraction: float = 0.2) -> dict:
    """Classes, counts per split and class, subjects per split, shapes before and after
    pre-processing, split method.

    ``official_train`` counts the file's own training part (train + the validation carved from it).
    ``subjects_per_split`` lists each split's subjects (``None`` without subjects);
    ``subjects_in_two_splits`` must stay empty. Windows that carry each sample's activity add
    ``activity_pairs``: per split, the number of windows per pair of main activities.
    """
    windows = load_windows(data, channels=channels, seed=seed, val_fraction=val_fraction)
    out_length = length or windows.length
    splits = {}
    for name in ("train", "val", "test"):
        rows = windows.indices(name)
        counts = Counter(windows.y[rows].tolist())
        splits[name] = {
            "n": int(len(rows)),
            "shape": [int(len(rows)), windows.n_channels, out_length],
            "per_class": {windows.labels[k]: int(counts.get(k, 0)) for k in range(len(windows.labels))},
        }
    per_split = None if windows.subject is None else {
        name: _sorted_subjects(windows.subject[windows.indices(name)]) for name in ("train", "val", "test")
    }
    shared = [] if per_split is None else sorted(
        {s for a in per_split for b in per_split if a < b for s in set(per_split[a]) & set(per_split[b])}, key=str
    )
    fit_rows = np.concatenate([windows.indices("train"), windows.indices("val")])
    return {
        "data": windows.name,
        "labels": windows.labels,
        "channels": windows.channel_names,
        "raw_shape": [int(s) for s in windows.X.shape],
        "length": out_length,
        "split": windows.split_summary(),
        "official_train": [int(len(fit_rows)), windows.n_channels, out_length],
        "splits": splits,
        "subjects": None if windows.subject is None else int(len(np.unique(windows.subject))),
        "subjects_per_split": per_split,
        "subjects_in_two_splits": shared,
        "activity_pairs": None if windows.activity is None else pair_counts(windows),
    }


def pair_counts(windows) -> dict[str, dict[str, int]]:
    """Per split, the number of windows per pair of main activities (most windows first)."""
    pairs = np.array(activity_pairs(windows.activity, windows.labels))
    out = {}
    for name in ("train", "val", "test"):
        counts = Counter(pairs[windows.indices(name)].tolist())
        out[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return out


def _sorted_subjects(values: np.ndarray) -> list:
    """Unique subject ids, numeric order when they are numbers."""
    unique = np.unique(values).tolist()
    return sorted(unique, key=lambda v: (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v)))


def format_summary(summary: dict) -> str:
    """A readable table of :func:`summarize_data`'s result."""
    lines = [
        f"data      {summary['data']}",
        f"raw       {tuple(summary['raw_shape'])} (N, T, C) time-major",
        f"channels  {', '.join(summary['channels'])}",
        f"classes   {len(summary['labels'])}: {', '.join(summary['labels'])}",
        f"split     {summary['split']['method']} (seed {summary['split']['seed']})",
    ]
    if summary["subjects"]:
        lines.append(f"subjects  {summary['subjects']}")
    for name, subjects in (summary.get("subjects_per_split") or {}).items():
        lines.append(f"  {name.ljust(5)}   {len(subjects)} subjects: {', '.join(map(str, subjects))}")
    if summary.get("subjects_per_split") is not None:
        shared = summary["subjects_in_two_splits"]
        lines.append("  no subject is in two splits" if not shared else f"  SUBJECTS IN TWO SPLITS: {', '.join(map(str, shared))}")
    lines.append(f"after pre-processing (C, L) = ({summary['official_train'][1]}, {summary['length']}):")
    header = "  " + "split".ljust(7) + "shape".ljust(16) + "  ".join(label.rjust(max(5, len(label))) for label in summary["labels"])
    lines.append(header)
    for name, info in summary["splits"].items():
        counts = "  ".join(str(info["per_class"][label]).rjust(max(5, len(label))) for label in summary["labels"])
        lines.append("  " + name.ljust(7) + str(tuple(info["shape"])).ljust(16) + counts)
    lines.append(
        f"  (train + val = {tuple(summary['official_train'])}: validation is carved from training data only)"
    )
    if summary.get("activity_pairs"):
        lines += format_pairs(summary["activity_pairs"])
    return "\n".join(lines)


def format_pairs(pairs: dict[str, dict[str, int]]) -> list[str]:
    """Lines of a table: windows per pair of main activities (rows) and split (columns)."""
    names = sorted({p for counts in pairs.values() for p in counts}, key=lambda p: (-sum(c.get(p, 0) for c in pairs.values()), p))
    width = max(len(p) for p in names) + 2
    lines = ["windows per pair of activities (each sample's activity):",
             "  " + "pair".ljust(width) + "".join(split.rjust(7) for split in pairs)]
    for name in names:
        lines.append("  " + name.ljust(width) + "".join(str(pairs[split].get(name, 0)).rjust(7) for split in pairs))
    return lines
