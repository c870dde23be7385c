"""Datasets and the LightningDataModule the trainer reads windows (and sub-actions) from.

Splits come from the signals layer: ``train`` / ``val`` (carved from training data there) /
``test`` (the official or file test split). For ``mmvqshape`` every item also carries the
label's sub-action embeddings padded to ``K_max`` with a mask, and the label's embedding.

Honesty: validation and test items carry ``text_present=False`` and *zeroed* sub-actions
with an all-false mask, so nothing evaluated can depend on the corpus sentences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from torch.utils.data._utils.collate import default_collate

from ..errors import UserError
from ..labels import normalize_label
from ..signals import WindowDataset
from ..signals.preprocess import preprocess


def match_labels(window_labels: Sequence[str], corpus_labels: Sequence[str], where: str) -> list[int]:
    """For each window label, the index of the same label (by name) in the corpus.

    Names match ignoring case and repeated whitespace; labels missing from the corpus are a
    :class:`UserError` that lists them all.
    """
    lookup = {normalize_label(name): i for i, name in enumerate(corpus_labels)}
    missing = [name for name in window_labels if normalize_label(name) not in lookup]
    if missing:
        raise UserError(
            where,
            f"labels missing from the corpus: {', '.join(missing)} (corpus has: {', '.join(corpus_labels)})",
        )
    return [lookup[normalize_label(name)] for name in window_labels]


@dataclass
class TextTable:
    """Per-class text tensors in the windows' class order (built from an EmbeddingSet)."""

    sub_actions: torch.Tensor  # (L, K_max, D) zero-padded
    sub_action_mask: torch.Tensor  # (L, K_max) bool
    label_embedding: torch.Tensor  # (L, D)

    @property
    def dim(self) -> int:
        return int(self.label_embedding.shape[1])

    @classmethod
    def build(cls, embeddings, window_labels: Sequence[str], where: str, drop: Sequence[str] = ()) -> "TextTable":
        """Table for ``window_labels`` from ``embeddings``; labels in ``drop`` get no sentences."""
        order = match_labels(window_labels, embeddings.labels, where)
        dropped = {normalize_label(name) for name in drop}
        rows = [
            embeddings.rows_of(ci) if normalize_label(name) not in dropped else np.zeros(0, dtype=np.int64)
            for name, ci in zip(window_labels, order)
        ]
        k_max = max(1, max(len(r) for r in rows))
        dim = embeddings.dim
        subs = torch.zeros(len(window_labels), k_max, dim)
        mask = torch.zeros(len(window_labels), k_max, dtype=torch.bool)
        for cls_index, r in enumerate(rows):
            if len(r):
                subs[cls_index, : len(r)] = torch.from_numpy(embeddings.subactions[r])
                mask[cls_index, : len(r)] = True
        label_embedding = torch.from_numpy(np.asarray(embeddings.label_vectors[order], dtype=np.float32))
        return cls(subs, mask, label_embedding)


class SignalDataset(Dataset):
    """Items ``{signal (C, L), label, index}`` (the signals layer's :class:`WindowDataset`)
    plus, when ``text`` is given, ``sub_actions`` (K_max, D), ``sub_action_mask`` (K_max,),
    ``label_embedding`` (D,) and ``text_present``.

    ``positions`` are row indices into ``windows.X``.
    """

    def __init__(self, windows, positions: np.ndarray, length: int | None, normalize: str,
                 text: TextTable | None = None, text_present: bool = False, scale: dict | None = None):
        self.windows = windows
        self.positions = np.asarray(positions, dtype=np.int64)
        self.base = WindowDataset(windows, split=None, length=length, normalize=normalize == "window", indices=self.positions)
        self.scale = None
        if normalize == "train" and scale is not None:
            self.scale = (torch.tensor(scale["mean"], dtype=torch.float32)[:, None], torch.tensor(scale["std"], dtype=torch.float32)[:, None])
        self.text = text
        self.text_present = text_present
        self.frozen_features: torch.Tensor | dict[str, torch.Tensor] | None = None  # (N, ...) per item (or per key), from a task's frozen parts

    def __len__(self) -> int:
        return len(self.positions)

    def labels(self) -> np.ndarray:
        return np.asarray(self.windows.y)[self.positions]

    def signal_affine(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(offset (C,), scale (C,)) with data units = model units x scale + offset, for item ``i``.

        Undoes this dataset's normalisation (training-split standardisation or per-window
        z-score) per channel; time stays resampled to the model's length. A spread (σ, std)
        maps with ``scale`` alone.
        """
        n_channels = self.windows.n_channels
        offset, scale = np.zeros(n_channels), np.ones(n_channels)
        if self.base.normalize:  # z-score of the resampled window (signals.preprocess.zscore)
            raw = preprocess(np.asarray(self.windows.X[int(self.positions[i])]), self.base.length, False)  # (C, L)
            offset, scale = raw.mean(axis=-1).astype(np.float64), raw.std(axis=-1).astype(np.float64) + 1e-6
        if self.scale is not None:
            mean, std = (s[:, 0].numpy().astype(np.float64) for s in self.scale)
            offset, scale = offset + scale * mean, scale * std  # x = ((x_model * std + mean) * scale + offset)
        return offset, scale

    def signals(self, chunk: int = 512):
        """Every item's signal as the model sees it, in order, as (≤ chunk, C, T) tensors."""
        for start in range(0, len(self), chunk):
            yield torch.stack([self[i]["signal"] for i in range(start, min(start + chunk, len(self)))])

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = self.base[i]
        if self.scale is not None:
            item["signal"] = (item["signal"] - self.scale[0]) / self.scale[1]
        if isinstance(self.frozen_features, dict):  # several tensors per window (e.g. bags and tokens)
            item["frozen_features"] = {key: value[i] for key, value in self.frozen_features.items()}
        elif self.frozen_features is not None:
            item["frozen_features"] = self.frozen_features[i]
        if self.text is not None:
            label = int(item["label"])
            if self.text_present:
                item["sub_actions"] = self.text.sub_actions[label]
                item["sub_action_mask"] = self.text.sub_action_mask[label]
            else:  # evaluation: the true label's sentences are never an input
                item["sub_actions"] = torch.zeros_like(self.text.sub_actions[label])
                item["sub_action_mask"] = torch.zeros_like(self.text.sub_action_mask[label])
            item["label_embedding"] = self.text.label_embedding[label]
            item["text_present"] = self.text_present
        return item


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Default collation, with ``text_present`` kept a plain bool for the whole batch."""
    present = [item.pop("text_present") for item in items if "text_present" in item]
    batch = default_collate(items)
    if present:
        batch["text_present"] = bool(all(present))
    return batch


class EpochShuffleSampler(Sampler[int]):
    """A shuffle that depends only on (seed, epoch), so a resumed run sees the same order."""

    def __init__(self, n: int, seed: int):
        self.n = n
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=generator).tolist())


def seeded_subset(positions, max_count: int, seed: int = 0) -> np.ndarray:
    """``positions`` in order, or a draw of ``max_count`` of them with ``seed`` (kept in order)."""
    positions = np.sort(np.asarray(positions))
    if len(positions) > max_count:
        positions = np.sort(np.random.default_rng(seed).choice(positions, max_count, replace=False))
    return positions


def channel_scale(windows, positions: np.ndarray, max_windows: int = 4096, seed: int = 0) -> dict[str, list[float]]:
    """Per-channel mean and std of (at most ``max_windows`` of) the given windows' raw samples."""
    positions = seeded_subset(positions, max_windows, seed)
    x = np.asarray(windows.X[positions], dtype=np.float64)  # (n, T, C)
    mean = x.mean(axis=(0, 1))
    std = x.std(axis=(0, 1))
    return {"mean": [float(v) for v in mean], "std": [float(v) if v > 1e-8 else 1.0 for v in std]}


def split_positions(windows, split: str, holdout: Sequence[str] = ()) -> np.ndarray:
    """Indices of ``split``'s windows, without those whose label is held out."""
    positions = np.asarray(windows.indices(split), dtype=np.int64)
    if holdout:
        dropped = {normalize_label(name) for name in holdout}
        keep_classes = np.array([normalize_label(name) not in dropped for name in windows.labels])
        positions = positions[keep_classes[np.asarray(windows.y)[positions]]]
    return positions


def check_holdout(labels: Sequence[str], holdout: Sequence[str]) -> None:
    known = {normalize_label(name) for name in labels}
    unknown = [name for name in holdout if normalize_label(name) not in known]
    if unknown:
        raise UserError("--holdout-labels", f"unknown labels {', '.join(unknown)} (data has: {', '.join(labels)})")
    if len({normalize_label(n) for n in holdout}) >= len(labels):
        raise UserError("--holdout-labels", "would hold out every label")


class WindowDataModule(pl.LightningDataModule):
    """train / val / test loaders over one :class:`Windows` object.

    ``train_text`` (training corpus, held-out labels' sentences removed) feeds training
    items; ``eval_text`` gives validation/test items their label embedding only.
    """

    def __init__(
        self,
        windows,
        *,
        length: int | None,
        normalize: str,
        batch_size: int,
        seed: int,
        num_workers: int = 0,
        holdout_labels: Sequence[str] = (),
        train_text: TextTable | None = None,
        eval_text: TextTable | None = None,
        validate: bool = True,
    ):
        super().__init__()
        self.windows = windows
        self.batch_size = batch_size
        self.seed = seed
        self.num_workers = num_workers
        if holdout_labels:
            check_holdout(windows.labels, holdout_labels)
        train_positions = split_positions(windows, "train", holdout_labels)
        self.scale = channel_scale(windows, train_positions, seed=seed) if normalize == "train" and len(train_positions) else None
        kw = dict(length=length, normalize=normalize, scale=self.scale)
        self.train_set = SignalDataset(windows, train_positions, text=train_text, text_present=True, **kw)
        self.val_set = SignalDataset(windows, split_positions(windows, "val", holdout_labels), text=eval_text, **kw)
        self.test_set = SignalDataset(windows, split_positions(windows, "test"), text=eval_text, **kw)
        if len(self.train_set) == 0:
            raise UserError(windows.name, "has no training windows")
        if validate and len(self.val_set) == 0:  # a refit run (training + validation merged) validates nothing
            raise UserError(windows.name, "has no validation windows (raise val_fraction)")
        if len(self.test_set) == 0:
            raise UserError(windows.name, "has no test windows")

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=EpochShuffleSampler(len(dataset), self.seed) if shuffle else None,
            num_workers=self.num_workers,
            collate_fn=collate,
            persistent_workers=self.num_workers > 0,
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)

    def cache_frozen_features(self, compute) -> bool:
        """Compute once what a task's frozen parts make of every training and validation window
        (``compute``: signals (M, C, T) -> (M, ...), a dict of such tensors, or None, e.g.
        ``task.frozen_features``) and hand it to their items as ``frozen_features`` (a dict of
        the window's rows for a dict). False when the task has nothing frozen."""
        for dataset in (self.train_set, self.val_set):
            if len(dataset) == 0:
                continue
            parts = []
            for signals in dataset.signals():
                part = compute(signals)
                if part is None:  # trained end to end: nothing to cache
                    return False
                parts.append(part)
            dataset.frozen_features = ({key: torch.cat([p[key] for p in parts]) for key in parts[0]}
                                       if isinstance(parts[0], dict) else torch.cat(parts))
        return True

    def train_signals(self, max_windows: int = 4096) -> torch.Tensor:
        """Up to ``max_windows`` training signals as the model sees them, (M, C, T) (a seeded draw
        in order): what a task fits its frozen parts on (``fit_shapes``)."""
        positions = seeded_subset(np.arange(len(self.train_set)), max_windows, self.seed)
        return torch.stack([self.train_set[int(i)]["signal"] for i in positions])

    def split_sizes(self) -> dict[str, int]:
        return {"train": len(self.train_set), "val": len(self.val_set), "test": len(self.test_set)}
