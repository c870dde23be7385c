"""PyTorch dataset over :class:`~mmvqshape.signals.windows.Windows`, pre-processed per item.

Items are pre-processed lazily, so a memory-mapped file of a million windows is never read
whole.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from .windows import Windows
from .preprocess import preprocess, resample_labels


class WindowDataset(Dataset):
    """Windows of one split as ``{"signal": (C, L) float32, "label": int64, "index": int}``,
    plus ``"activity"`` (L,) int64 (each sample's label index, -1 = none, resampled by nearest
    neighbour) when the windows carry one."""

    def __init__(self, windows: Windows, split: str | None = "train", length: int | None = 512, normalize: bool = False,
                 indices: np.ndarray | None = None):
        self.windows = windows
        self.rows = np.asarray(indices) if indices is not None else (
            np.arange(len(windows.y)) if split is None else windows.indices(split)
        )
        self.length = length
        self.normalize = normalize

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        row = int(self.rows[i])
        signal = preprocess(np.asarray(self.windows.X[row]), self.length, self.normalize)  # (T, C) -> (C, L)
        item = {
            "signal": torch.from_numpy(signal),
            "label": torch.tensor(int(self.windows.y[row]), dtype=torch.long),
            "index": row,
        }
        if self.windows.activity is not None:
            activity = self.windows.activity[row]  # (T,)
            if self.length is not None and self.length != len(activity):
                activity = resample_labels(activity, self.length)  # (L,)
            item["activity"] = torch.from_numpy(np.ascontiguousarray(activity, dtype=np.int64))
        return item

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All items at once: (X (n, C, L) float32, y (n,)) — for small data and sklearn baselines."""
        X = preprocess(np.asarray(self.windows.X[self.rows]), self.length, self.normalize)
        return X, self.windows.y[self.rows]
