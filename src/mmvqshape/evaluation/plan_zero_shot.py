"""One zero-shot fold through the plan's model (``mmvq bench zero-shot --model mmvqshape
--architecture plan``): the ``fit`` that :func:`~mmvqshape.evaluation.token_zero_shot.token_zero_shot_fold`
takes. No I/O.

For the fold's seen labels::

    windows (N, C, length), standardised on the seen training windows; PlanTask built from
       settings.model (the plan's defaults when empty); its shape codebook fitted on the seen
       training windows; every window's tokens and bags computed once     tokens (N, C, n, 5), bags (N, 1 + S, F)
    the model trained on the seen training windows' cached tokens with its own losses (sub-action
       sentences and label embedding as the trainer gives them, modality dropout included):
       AdamW, ``budget.epochs`` epochs of ``budget.batch_size``, linear warm-up then cosine
    every window read signal only (no text)                  logits (N, L), text_scores (N, L)

The decision is the bag model's (:class:`~mmvqshape.evaluation.token_zero_shot.ScoredZeroShot`
over the logits and text scores, as a ``--holdout-labels`` run of the plan is scored). Unseen
labels' windows reach no fitted part; their sentences are candidates only.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from ..models.plan import PlanTask
from ..models.zero_shot import CandidateTexts
from .token_zero_shot import ScoredZeroShot, TokenZeroShotSettings, prepared_task


@dataclass
class PlanBudget:
    """The plan's training in a fold: the bench's budget (``bench accuracy`` trains HAPT 10
    epochs at batch 32) with the trainer's optimiser defaults."""

    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_epochs: float = 2.0
    min_lr_ratio: float = 0.01
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs, batch_size and lr must be positive")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def text_batch(texts: CandidateTexts, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each label's sub-action sentences (B, K_max, D) zero-padded, their mask, and label embedding (B, D)."""
    k_max = max(len(s) for s in texts.sentences)
    subs = torch.zeros(len(texts.labels), k_max, texts.sentences[0].shape[1])
    mask = torch.zeros(len(texts.labels), k_max, dtype=torch.bool)
    for c, rows in enumerate(texts.sentences):
        subs[c, : len(rows)] = torch.from_numpy(np.asarray(rows, dtype=np.float32))
        mask[c, : len(rows)] = True
    names = texts.names if texts.names is not None else np.stack([s.mean(0) for s in texts.sentences])
    return {"sub_actions": subs[labels], "sub_action_mask": mask[labels],
            "label_embedding": torch.from_numpy(np.asarray(names, dtype=np.float32))[labels]}


def train_plan(task: PlanTask, cached: dict[str, torch.Tensor], y: torch.Tensor, texts: CandidateTexts,
               budget: PlanBudget, seed: int) -> None:
    """Train ``task`` on cached ``bags`` (n, 1 + S, F) and ``tokens`` (n, C, N, 5) of labels ``y`` (n,)."""
    generator = torch.Generator().manual_seed(seed)
    parameters = [p for p in task.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": [p for p in parameters if p.ndim >= 2], "weight_decay": budget.weight_decay},
                                   {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0}], lr=budget.lr)
    per_epoch = math.ceil(len(y) / budget.batch_size)
    total, warmup = budget.epochs * per_epoch, int(budget.warmup_epochs * per_epoch)

    def multiplier(step: int) -> float:  # linear warm-up, then cosine to min_lr_ratio (the trainer's schedule)
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return budget.min_lr_ratio + (1.0 - budget.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, multiplier)
    task.train()
    for _ in range(budget.epochs):
        for batch in torch.randperm(len(y), generator=generator).split(budget.batch_size):
            inputs = {"frozen_features": {k: v[batch] for k, v in cached.items()}, "label": y[batch],
                      "text_present": True, **text_batch(texts, y[batch])}
            loss = task(inputs)["loss"]
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, budget.grad_clip)
            optimizer.step()
            schedule.step()
    task.eval()


@torch.no_grad()
def signal_only_scores(task: PlanTask, cached: dict[str, torch.Tensor], n_labels: int, chunk: int = 256) -> np.ndarray:
    """(N, 2 L): the ``logits`` then ``text_scores`` of the L window classes, every window read without text."""
    task.eval()
    parts = []
    for start in range(0, len(cached["bags"]), chunk):
        out = task({"frozen_features": {k: v[start:start + chunk] for k, v in cached.items()}, "text_present": False})
        parts.append(torch.cat([out["logits"], out["text_scores"][:, :n_labels]], dim=1).double())
    return torch.cat(parts).numpy()


def fit_plan_model(X: np.ndarray, y: np.ndarray, split: np.ndarray, texts: CandidateTexts, seen: Sequence[int],
                   candidates: Sequence[int], settings: TokenZeroShotSettings, seed: int = 0,
                   budget: PlanBudget | None = None) -> tuple[ScoredZeroShot, np.ndarray]:
    """The plan's model fitted on the ``seen`` labels' training windows of ``X`` (N, C, length);
    returns its zero-shot model and every window's features (N, 2 L): logits, then text scores."""
    task, signals, train_rows = prepared_task(PlanTask, X, y, split, texts, seen, candidates, settings, seed)
    if not task.uses_text:
        raise ValueError("zero-shot through the plan's model needs its text side (use_text: true)")
    cached = task.frozen_features(signals)
    rows = torch.from_numpy(np.flatnonzero(train_rows))
    train_plan(task, {k: v[rows] for k, v in cached.items()}, torch.from_numpy(y[train_rows]).long(), texts,
               budget or PlanBudget(), seed)
    features = signal_only_scores(task, cached, len(texts.labels))
    model = ScoredZeroShot(None, seen, candidates, settings.novelty, features[train_rows], y[train_rows])
    return model, features
