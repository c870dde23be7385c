"""Test support for the training harness: a tiny task that follows the model task protocol
(a test double for the harness's own tests), tiny real-model configs, tiny windows and
embedding files, and a script entry that runs ``mmvq``.

``python tests/train_support.py train ...`` behaves like ``mmvq train ...`` with the real
models; with ``MMVQ_TEST_STEP_SLEEP=S`` every training step first sleeps S seconds, so a
test can kill a run mid-way (kill and resume).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


@dataclass
class TinyConfig:
    objective: str = "classify"
    channels: str = "joint"
    preset: str = "reference"
    hidden: int = 8
    num_token: int = 4
    num_code: int = 8
    len_s: int = 8
    dropout: float = 0.2
    num_action_code: int = 5
    num_slots: int = 2

    def to_dict(self):
        return dataclasses.asdict(self)


class TinyTask(nn.Module):
    """Per-channel tokens -> a small codebook -> logits / reconstruction (protocol outputs)."""

    def __init__(self, config: TinyConfig, n_channels: int, length: int, n_classes: int, text_dim: int | None = None):
        super().__init__()
        self.config = config
        self.n_channels, self.length = n_channels, length
        self.seg = length // config.num_token
        self.encode = nn.Linear(self.seg, config.hidden)
        self.dropout = nn.Dropout(config.dropout)
        self.shape_codebook = nn.Embedding(config.num_code, config.hidden)
        self.decode = nn.Linear(config.hidden, self.seg)
        self.shape_decoder = nn.Linear(config.hidden, config.len_s)
        self.classifier = nn.Linear(config.hidden * n_channels, n_classes)
        self.text_dim = text_dim
        self.label_names: list[str] = []
        if text_dim:
            self.text_in = nn.Linear(text_dim, config.hidden * n_channels)
            self.label_out = nn.Linear(config.hidden * n_channels, text_dim)
            self.action_codebook = nn.Embedding(config.num_action_code, config.hidden * n_channels)

    # ---- the task protocol (mmvqshape.models.task) ----------------------------------------
    def fit_shapes(self, signals, *, seed: int = 0) -> None:
        """Nothing is fitted before training (the task protocol's hook)."""

    def frozen_features(self, signals):
        return None

    def num_codes(self) -> dict[str, int]:
        return {"shape": self.config.num_code, **({"action": self.config.num_action_code} if self.text_dim else {})}

    def resolved_config(self) -> dict:
        return self.config.to_dict()

    def label_candidates(self):
        return list(self.label_names), torch.zeros(len(self.label_names), self.text_dim or 0)

    def zero_shot_scores(self, outputs_or_batch, candidates):
        return F.normalize(outputs_or_batch["label_embedding_pred"], dim=-1) @ F.normalize(torch.as_tensor(candidates), dim=-1).T

    def action_sentences(self, action_idx):
        return [[f"tiny code {i}" for i in row] for row in action_idx.tolist()]

    def action_source_labels(self, action_idx):
        return [["" for _ in row] for row in action_idx.tolist()]

    # ---- text set-up (what the pipeline hands an MMVQShape task) ------------------------
    uses_text = False  # no action codebook to choose: the tiny task's own embedding table serves

    def set_label_candidates(self, names, vectors):
        self.label_names = list(names)

    @classmethod
    def build(cls, cfg, *, n_channels, length, n_classes, text_dim=None):
        own = {k: v for k, v in cfg.items() if k != "architecture"}  # the trainer writes mmvqshape's architecture
        return cls(TinyConfig(**own), n_channels, length, n_classes, text_dim)

    def tokens(self, x):
        b, c, t = x.shape
        seg = x[..., : self.seg * self.config.num_token].reshape(b, c, self.config.num_token, self.seg)
        z = self.dropout(self.encode(seg))  # (B, C, N, h)
        dist = torch.cdist(z.reshape(-1, z.shape[-1]), self.shape_codebook.weight)
        code_idx = dist.argmin(-1).reshape(b, c, -1)
        code = self.shape_codebook(code_idx)
        z_q = z + (code - z).detach()
        vq = F.mse_loss(z, code.detach()) + F.mse_loss(code, z.detach())
        return z_q, code_idx, vq

    def features(self, batch, kind):
        z_q, code_idx, _ = self.tokens(batch["signal"])
        if kind == "histogram":
            return F.one_hot(code_idx, self.config.num_code).sum(2).flatten(1).float()
        return z_q.flatten(1)

    def forward(self, batch):
        x = batch["signal"]
        b, c, t = x.shape
        z_q, code_idx, vq = self.tokens(x)
        x_pred = self.decode(z_q).reshape(b, c, -1)
        ts = F.mse_loss(x_pred, x[..., : x_pred.shape[-1]])
        pooled = z_q.mean(2).flatten(1)  # (B, C*h)
        out = {"code_idx": code_idx, "x_pred": x_pred, "s_pred": self.shape_decoder(z_q)}
        n = self.config.num_token
        out["t"] = (torch.arange(n, dtype=torch.float32) / n).expand(b, c, n)
        out["l"] = torch.full((b, c, n), 1.0 / n)
        losses = {"ts": ts, "vq": vq}
        if self.text_dim:
            if batch.get("text_present", False):
                mask = batch["sub_action_mask"].float()[..., None]
                text = (batch["sub_actions"] * mask).sum(1) / mask.sum(1).clamp(min=1)
                pooled = pooled + self.text_in(text)
            pred = self.label_out(pooled)
            losses["label"] = 1 - F.cosine_similarity(pred, batch["label_embedding"], dim=-1).mean()
            out["label_embedding_pred"] = pred
            sim = pooled @ self.action_codebook.weight.T
            out["action_idx"] = sim.topk(self.config.num_slots, dim=-1).indices
        if self.config.objective == "classify":
            logits = self.classifier(pooled)
            out["logits"] = logits
            losses["ce"] = F.cross_entropy(logits, batch["label"])
        out["losses"] = losses
        out["loss"] = sum(losses.values())
        return out


def tiny_build_task(name, cfg, *, n_channels, length, n_classes, text_dim=None):
    if name not in ("vqshape", "mmvqshape"):
        raise ValueError(f"unknown model {name!r}")
    cfg = {k: v for k, v in cfg.items() if k != "architecture"}  # train writes mmvqshape's architecture; the double has one
    return TinyTask.build(cfg, n_channels=n_channels, length=length, n_classes=n_classes, text_dim=text_dim)


def patch_models() -> None:
    """Make ``mmvqshape.models.build_task`` build :class:`TinyTask`."""
    import mmvqshape.models

    mmvqshape.models.build_task = tiny_build_task


def write_windows(path: Path, n_per_class: int = 12, length: int = 64, channels: int = 3, labels=("sit", "walk", "run"), seed: int = 0) -> Path:
    """A small, learnable .npz: each class a sine of its own frequency plus noise; a test split."""
    rng = np.random.default_rng(seed)
    X, y, split = [], [], []
    t = np.linspace(0, 1, length)
    for k in range(len(labels)):
        for i in range(n_per_class):
            phase = rng.uniform(0, 2 * np.pi, size=channels)
            w = np.sin(2 * np.pi * (k + 1) * 2 * t[:, None] + phase[None, :]) + 0.3 * rng.standard_normal((length, channels))
            X.append(w.astype(np.float32))
            y.append(k)
            split.append("test" if i % 3 == 0 else "train")
    np.savez(path, X=np.stack(X), y=np.array(y), labels=np.array(labels), split=np.array(split))
    return path


def write_embeddings(path: Path, labels=("sit", "walk", "run"), dim: int = 6, k: int = 3, seed: int = 0) -> Path:
    """A tiny embedding folder with ``k`` (ragged: k, k-1, ...) sub-actions per label."""
    from mmvqshape.text.embeddings import EmbeddingSet, save_embeddings

    rng = np.random.default_rng(seed)
    subs, owner, sentences = [], [], []
    for i, name in enumerate(labels):
        for j in range(max(1, k - i)):
            subs.append(rng.standard_normal(dim))
            owner.append(i)
            sentences.append(f"{name} phase {j}")
    save_embeddings(EmbeddingSet(np.array(subs), rng.standard_normal((len(labels), dim)), list(labels), np.array(owner), sentences,
                                 {"encoder": "test", "view": "text"}), path)
    return path


def predictions_accuracy(run: Path) -> tuple[float, int]:
    """Share of a run's ``predictions.csv`` rows whose ``pred`` is ``true``, and the number of rows:
    what ``metrics.json``'s ``accuracy`` and ``n_test`` must say."""
    import csv

    with open(Path(run) / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return (sum(r["true"] == r["pred"] for r in rows) / len(rows) if rows else float("nan")), len(rows)


TINY_FLAGS = ["--length", "64", "--batch-size", "8", "--no-progress", "--accelerator", "cpu"]

#: ``--config`` files for the real models at tiny sizes (64-sample windows, a few seconds an epoch).
TINY_VQSHAPE = (
    "model:\n  dim_embedding: 16\n  num_enc_head: 2\n  num_enc_layer: 1\n  num_tokenizer_head: 2\n  num_dec_head: 2\n"
    "  num_token: 8\n  num_code: 16\n  dim_code: 4\n  len_s: 16\n  patch_size: 4\n  num_patch: 16\n"
)
TINY_MMVQSHAPE = TINY_VQSHAPE + "  num_slots: 3\n  fusion_heads: 2\n  text_hidden: 16\n  action_hidden: 16\n"


def sleep_every_training_step(seconds: float) -> None:
    """Slow every training step down (whatever the model), so that a test can kill a run mid-way."""
    from mmvqshape.training.module import TaskModule

    step = TaskModule.training_step

    def slow_step(self, batch, batch_idx):
        time.sleep(seconds)
        return step(self, batch, batch_idx)

    TaskModule.training_step = slow_step


if __name__ == "__main__":
    if os.environ.get("MMVQ_TEST_STEP_SLEEP"):
        sleep_every_training_step(float(os.environ["MMVQ_TEST_STEP_SLEEP"]))
    from mmvqshape.cli import main

    sys.exit(main(sys.argv[1:]))
