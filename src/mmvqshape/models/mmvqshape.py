"""MMVQShape: VQShape shape tokens per accelerometer channel plus sub-action codes from an action codebook.

The plan's model (seed §5). One window ``signal`` (B, C, T) and, in training only, its label's
ordered sub-action embeddings ``sub_actions`` (B, K, D) flow through::

    signal (B, C, T) -> per channel: normalize, patch encoder (VQShape)  h_patch (B, C, P, d)
    text:  sub_actions (B, K, D) -> project to d + slot position          (B, K, d)
           or, when text is absent, K learned sub-action queries          (B, K, d)
    fusion (fusion.py): per channel, cross-attention + residual both ways
           signal reads text -> fused_z_s (B, C, P, d); text reads signal -> fused_z_t (B, C, K, d)

    signal side (§5.3) = VQShapeTask with channels joint (vqshape_task.py), from fused_z_s:
           tokenizer, attribute decoder, shape codebook, shape decoder, sub-sequence loss,
           attribute encoder, series decoder; the channels' attribute-encoder tokens joined
           (channel embedding, Transformer, attention pool) -> classifier -> logits (B, L)
    text side (§5.2, action.py): fused_z_t (+ each channel's mean and log std, which VQShape's
           normalisation removes) -> text attribute decoder -> mean over channels
           -> action_embedding (B, K, D) -> quantised by cosine against the action codebook
           (M real sentence embeddings, frozen or trainable) -> action_idx (B, K)
           -> K codes concatenated -> action decoder -> label_embedding_pred (B, D)

**Signal-only inference.** When ``batch["text_present"]`` is false (always at validation,
test and explanation) ``sub_actions`` is never read: the learned queries take the text
tokens' place. In training, text is dropped per sample with probability
``modality_dropout`` so the signal-only path is trained in every batch. Every reported
number comes from the signal-only path.

**Losses** (``outputs["losses"]``): VQShape's ``ts``, ``vq``, ``shape``, ``dist`` (weighted
by its config), ``cls`` (cross-entropy, weight ``weight_cls``), ``label`` (1 − cos or MSE between the predicted
and the true label embedding), ``align`` (slot k's decoded vector against the label's k-th
sub-action, ordered phases; training only, also for samples whose text was dropped —
there the sentences are a *target*, never an input), ``action_vq`` (commitment, plus the
codebook term when it is trainable).

**Ablations** are config keys: ``use_text: false`` (exactly VQShape joint + classifier),
``quantize_actions: false`` (text side without the action codebook), ``num_slots`` (K),
``slot_assignment`` (``stretch``|``pad``), ``align_targets`` (``ordered``: slot k against the
k-th assigned sentence; ``set``: slots matched one-to-one to the label's sentences, see
:func:`set_alignment`), the loss weights ``w_label``, ``w_align``,
``w_action_vq`` and the signal side's (``weight_ts``, ``weight_vq``, ``weight_shape``,
``weight_dist``, ``weight_cls``, or a ``preset``). The codebook selection method is the
trainer's ``--codebook`` / default, and the text view is the embedding's.

**No I/O.** The pipeline chooses or reads the action codebook and hands it over as tensors
and sentences (:meth:`MMVQShapeTask.set_action_codebook`, :meth:`set_label_candidates`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from scipy.optimize import linear_sum_assignment
from torch import nn

from .action import ActionCodebook, ActionDecoder, TextAttributeDecoder, assign_slots
from .config_keys import field_names
from .fusion import FusionLayer, TextTokens
from .vqshape_task import TASK_KEYS, VQShapeTask


@dataclass
class MMVQShapeConfig:
    """MMVQShape's own keys. Every other key of the config dict belongs to the signal side and
    goes to :meth:`VQShapeTask.build` (VQShapeConfig fields and its task keys: ``objective``,
    ``preset``, ``weight_cls``, ``classifier_hidden``, ``joint_layers``; ``channels`` is
    always ``joint``)."""

    use_text: bool = True  # false = VQShape joint + classifier, no fusion, no text side
    quantize_actions: bool = True  # false = decoded slots go to the action decoder unquantised
    num_slots: int = 5  # K sub-action slots (ordered phases)
    slot_assignment: str = "stretch"  # how a label's n sentences fill K slots: stretch | pad (see action.assign_slots)
    align_targets: str = "ordered"  # ordered: slot k -> the k-th assigned sentence; set: slots matched one-to-one to the label's sentences
    fusion_heads: int = 4
    fusion_dropout: float = 0.0
    text_hidden: int = 128  # text attribute decoder hidden width
    action_hidden: int = 256  # action decoder hidden width (the plan's projection)
    codebook_trainable: bool = False  # action codebook frozen (default) or trained
    action_commitment: float = 0.25
    modality_dropout: float = 0.5  # share of training samples whose text is hidden
    label_loss: str = "cosine"  # cosine | mse
    w_label: float = 1.0
    w_align: float = 1.0
    w_action_vq: float = 0.1

    def __post_init__(self) -> None:
        problems = []
        if self.num_slots < 1:
            problems.append("num_slots must be at least 1")
        if self.slot_assignment not in ("stretch", "pad"):
            problems.append(f"slot_assignment must be stretch or pad, not {self.slot_assignment!r}")
        if self.align_targets not in ("ordered", "set"):
            problems.append(f"align_targets must be ordered or set, not {self.align_targets!r}")
        if self.label_loss not in ("cosine", "mse"):
            problems.append(f"label_loss must be cosine or mse, not {self.label_loss!r}")
        if not 0.0 <= self.modality_dropout <= 1.0:
            problems.append("modality_dropout must be in [0, 1]")
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SIGNAL_DEFAULTS = {"channels": "joint", "objective": "classify"}


def split_config(cfg: dict[str, Any]) -> tuple[MMVQShapeConfig, dict[str, Any]]:
    """One flat config dict -> (MMVQShape's keys, the signal side's dict for VQShapeTask.build)."""
    own = field_names(MMVQShapeConfig)
    mm = MMVQShapeConfig(**{k: v for k, v in cfg.items() if k in own})
    signal = {**SIGNAL_DEFAULTS, **{k: v for k, v in cfg.items() if k not in own}}
    if signal["channels"] != "joint":
        raise ValueError(f"mmvqshape needs channels: joint (got {signal['channels']!r})")
    return mm, signal


class MMVQShapeTask(nn.Module):
    """The MMVQShape task (the task protocol, ``task.py``): ``task(batch) -> outputs``; see the module docstring.

    It composes :class:`VQShapeTask` through its public stages: ``encode`` (patch encoder per
    channel), the fusion with the text tokens here, then ``decode`` (tokens, shapes, losses,
    logits) on the fused encoder output.
    """

    def __init__(self, config: MMVQShapeConfig, signal_task: VQShapeTask, *, text_dim: int):
        super().__init__()
        self.mm_config = config
        self.signal_task = signal_task  # VQShape, channels joint (its stages and its joint classifier)
        self.n_channels, self.n_classes, self.text_dim = signal_task.n_channels, signal_task.n_classes, text_dim
        d = signal_task.cfg.dim_embedding
        if config.use_text:
            self.text_tokens = TextTokens(text_dim, d, config.num_slots)
            self.fusion = FusionLayer(d, config.fusion_heads, config.fusion_dropout)
            self.text_decoder = TextAttributeDecoder(d, text_dim, self.n_channels, config.text_hidden)
            # without quantisation the codebook only names the nearest sentences, so it is never trained
            self.action_codebook = ActionCodebook(text_dim, trainable=config.codebook_trainable and config.quantize_actions)
            self.action_decoder = ActionDecoder(text_dim, config.num_slots, config.action_hidden)
        self.label_names: list[str] = []  # zero-shot candidates saved with the model (extra state)
        self.label_vectors = torch.zeros(0, text_dim)
        self._signal_keys: dict[str, Any] = {}  # the signal-side task keys given at build (resolved config)

    @classmethod
    def build(cls, cfg: dict[str, Any], *, n_channels: int, length: int, n_classes: int, text_dim: int) -> "MMVQShapeTask":
        """Build from a flat config dict: MMVQShape's keys + the signal side's (see :class:`MMVQShapeConfig`)."""
        mm, signal = split_config(dict(cfg or {}))
        signal_task = VQShapeTask.build(signal, n_channels=n_channels, length=length, n_classes=n_classes)
        task = cls(mm, signal_task, text_dim=text_dim)
        task._signal_keys = {k: signal[k] for k in ("channels", "objective", "preset", *TASK_KEYS) if k in signal}
        return task

    @property
    def config(self) -> "ResolvedConfig":
        """The resolved flat config (what the trainer writes to config.yaml and rebuilds from)."""
        task_keys = {
            "channels": "joint", "objective": self.signal_task.objective, "weight_cls": self.signal_task.weight_cls,
            "series_stats": self.signal_task.series_stats, **self._signal_keys,
        }
        return ResolvedConfig(self.mm_config, {**task_keys, **self.signal_task.cfg.to_dict()})

    @property
    def shape_codebook(self) -> nn.Module:
        return self.signal_task.shape_codebook

    @property
    def shape_model(self) -> nn.Module:
        """The signal side's VQShape (what ``mmvq train --init`` loads pre-trained weights into)."""
        return self.signal_task.shape_model

    @property
    def uses_text(self) -> bool:
        """False for the ``use_text: false`` ablation (no action codebook to install)."""
        return self.mm_config.use_text

    # ---- the task protocol (task.py) -----------------------------------------------------
    def num_codes(self) -> dict[str, int]:
        sizes = self.signal_task.num_codes()
        if self.mm_config.use_text:
            sizes["action"] = self.action_codebook.size
        return sizes

    def resolved_config(self) -> dict[str, Any]:
        return {"architecture": "legacy-fusion", **self.config.to_dict()}

    def fit_shapes(self, signals: torch.Tensor, *, seed: int = 0) -> None:
        """Nothing is fitted before training (the shape side trains end to end)."""

    def frozen_features(self, signals: torch.Tensor) -> None:
        """Nothing frozen to cache."""
        return None

    # ---- text set-up (called by the trainer before training) ---------------------------
    def set_action_codebook(self, vectors: Any, sentences: Sequence[str] | None = None,
                            source_labels: Sequence[str] | None = None) -> None:
        """Install the action codebook: M real sentence embeddings (M, D) and their sentences."""
        if not self.mm_config.use_text:
            return
        self.action_codebook.set(vectors, sentences, source_labels)

    def set_label_candidates(self, names: Sequence[str], vectors: Any) -> None:
        """Label names and embeddings (L, D) kept in the checkpoint as default zero-shot candidates."""
        vectors = torch.as_tensor(vectors, dtype=torch.float32)
        if vectors.ndim != 2 or len(names) != len(vectors):
            raise ValueError("one label embedding per name is needed")
        self.label_names, self.label_vectors = list(names), vectors.clone()

    def label_candidates(self) -> tuple[list[str], torch.Tensor]:
        """The saved zero-shot candidates: (names, (L, D))."""
        return list(self.label_names), self.label_vectors

    def get_extra_state(self) -> dict[str, Any]:
        return {"label_names": list(self.label_names), "label_vectors": self.label_vectors.clone()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.label_names = list(state.get("label_names", []))
        self.label_vectors = torch.as_tensor(state.get("label_vectors", torch.zeros(0, self.text_dim)))

    # ---- the forward pass ------------------------------------------------------------------
    def _text_presence(self, batch: dict[str, Any], batch_size: int, device: torch.device) -> torch.Tensor | None:
        """(B,) bool of samples whose sub-actions are an input, or None when none is (never read)."""
        flag = batch.get("text_present", False)
        present = bool(flag.all()) if isinstance(flag, torch.Tensor) else bool(flag)
        if not present or "sub_actions" not in batch:
            return None
        keep = torch.ones(batch_size, dtype=torch.bool, device=device)
        if self.training and self.mm_config.modality_dropout > 0:
            keep = torch.rand(batch_size, device=device) >= self.mm_config.modality_dropout
        return keep  # even when all were dropped: both token sources stay in the graph (DDP-safe)

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        cfg, signal_task = self.mm_config, self.signal_task
        encoded = signal_task.encode(batch)  # h_patch (B*C, P', d)
        B, C = encoded.n_windows, encoded.n_channels
        text_out: dict[str, Any] = {}
        text_losses: dict[str, torch.Tensor] = {}
        if cfg.use_text:
            present = self._text_presence(batch, B, encoded.series.device)
            if present is None:  # signal only: sub_actions is not touched
                text = self.text_tokens(B)
            else:
                sub, sub_mask = assign_slots(batch["sub_actions"].float(), batch.get("sub_action_mask"), cfg.num_slots, cfg.slot_assignment)
                text = self.text_tokens(B, sub, sub_mask, present)
            fused_z_s, fused_z_t = self.fusion(rearrange(encoded.h_patch, "(b c) p d -> b c p d", c=C), text)
            encoded = encoded.with_patches(rearrange(fused_z_s, "b c p d -> (b c) p d"))
            stats = rearrange(torch.cat([encoded.mean, encoded.std.log()], dim=-1), "(b c) s -> b c s", c=C)  # (B, C, 2)
            text_out = self._text_side(fused_z_t, stats, batch, text_losses)

        signal = signal_task.decode(encoded, batch.get("label"))  # VQShape's outputs, losses and logits
        losses = {**text_losses, **signal["losses"]}
        loss = signal["loss"]
        for name, weight in (("label", cfg.w_label), ("align", cfg.w_align), ("action_vq", cfg.w_action_vq)):
            if name in losses:
                loss = loss + weight * losses[name]
        return {**text_out, **signal, "loss": loss, "losses": losses}

    def _text_side(self, fused_z_t: torch.Tensor, stats: torch.Tensor, batch: dict[str, Any],
                   losses: dict[str, torch.Tensor]) -> dict[str, Any]:
        """fused_z_t (B, C, K, d), channel stats (B, C, 2) -> action codes and the predicted label
        embedding (+ text losses)."""
        cfg = self.mm_config
        action_embedding = self.text_decoder(fused_z_t, stats)  # (B, K, D)
        unit = F.normalize(action_embedding, dim=-1)
        out: dict[str, Any] = {"action_embedding": action_embedding}
        if cfg.quantize_actions:
            q = self.action_codebook.quantize(action_embedding, cfg.action_commitment)
            slots = q["codes"]  # (B, K, D), straight-through
            losses["action_vq"] = q["loss"]
            out["action_idx"] = q["index"]  # (B, K)
            out["action_similarity"] = q["similarity"].gather(-1, q["index"][..., None])[..., 0]  # (B, K)
        else:
            slots = unit
            if self.action_codebook.size:  # nearest sentences for the explanation only (no gradient)
                with torch.no_grad():
                    similarity = unit @ self.action_codebook.unit_vectors().T
                out["action_idx"] = similarity.argmax(-1)
                out["action_similarity"] = similarity.max(-1).values
        prediction = self.action_decoder(slots)  # (B, D)
        out["label_embedding_pred"] = prediction
        if batch.get("label_embedding") is not None:
            target = batch["label_embedding"].float()
            if cfg.label_loss == "cosine":
                losses["label"] = (1 - F.cosine_similarity(prediction, target, dim=-1)).mean()
            else:
                losses["label"] = F.mse_loss(prediction, target)
        if self.training and batch.get("sub_actions") is not None:  # targets only, never an input here
            if cfg.align_targets == "set":
                loss = set_alignment(unit, batch["sub_actions"].float(), batch.get("sub_action_mask"))
                if loss is not None:
                    losses["align"] = loss
                return out
            targets, slot_mask = assign_slots(batch["sub_actions"].float(), batch.get("sub_action_mask"), cfg.num_slots, cfg.slot_assignment)
            weight = slot_mask.float()
            if weight.sum() > 0:
                distance = 1 - (unit * F.normalize(targets, dim=-1)).sum(-1)  # (B, K)
                losses["align"] = (distance * weight).sum() / weight.sum()
        return out

    # ---- inference helpers -------------------------------------------------------------------
    @torch.no_grad()
    def zero_shot_scores(self, outputs_or_batch: dict[str, Any], candidates: Any) -> torch.Tensor:
        """Cosine between each window's predicted label embedding and candidate label embeddings.

        ``outputs_or_batch``: this task's outputs, or a batch (run here, signal only).
        ``candidates`` (L', D): any label texts' embeddings, seen in training or not.
        Returns (B, L').
        """
        if "label_embedding_pred" not in outputs_or_batch:
            batch = {k: v for k, v in outputs_or_batch.items() if k not in ("sub_actions", "sub_action_mask")}
            batch["text_present"] = False
            was_training = self.training
            self.eval()
            outputs_or_batch = self(batch)
            self.train(was_training)
        prediction = outputs_or_batch.get("label_embedding_pred")
        if prediction is None:
            raise ValueError("this task has no text side (use_text: false): no label embedding to score")
        candidates = torch.as_tensor(candidates, dtype=prediction.dtype, device=prediction.device)
        return F.normalize(prediction, dim=-1) @ F.normalize(candidates, dim=-1).T

    def action_sentences(self, action_idx: torch.Tensor) -> list[list[str]]:
        """The stored sentences of action codes (B, K) -> B lists of K sentences."""
        if not self.mm_config.use_text:
            raise ValueError("this task has no text side (use_text: false): no action codebook")
        sentences = self.action_codebook.sentences
        return [[sentences[i] if i < len(sentences) else f"code {i}" for i in row] for row in action_idx.tolist()]

    def action_source_labels(self, action_idx: torch.Tensor) -> list[list[str]]:
        """The label each chosen code's sentence came from, (B, K) -> B lists of K labels."""
        if not self.mm_config.use_text:
            raise ValueError("this task has no text side (use_text: false): no action codebook")
        labels = self.action_codebook.source_labels
        return [[labels[i] if i < len(labels) else "" for i in row] for row in action_idx.tolist()]


def set_alignment(slots: torch.Tensor, sentences: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
    """Set-valued alignment: each window's K unit slots (B, K, D) matched one-to-one (Hungarian,
    on cosine distance, no gradient through the matching) to distinct sentences of its label
    (B, n, D) + mask (B, n); mean 1 - cos over matched pairs. Which sentences, and in which
    slot, is the signal's to choose. With n < K the unmatched slots take their nearest sentence.
    None when no window has a sentence."""
    if mask is None:
        mask = torch.ones(sentences.shape[:2], dtype=torch.bool, device=sentences.device)
    similarity = slots @ F.normalize(sentences, dim=-1).transpose(1, 2)  # (B, K, n)
    similarity = similarity.masked_fill(~mask.bool()[:, None, :], -2.0)
    cost = (1 - similarity).detach().cpu().numpy()
    real_mask = mask.bool().cpu().numpy()
    picked = torch.full(slots.shape[:2], -1, dtype=torch.long)  # (B, K) matched sentence per slot
    for b in range(slots.shape[0]):
        real = np.flatnonzero(real_mask[b])
        if len(real) == 0:
            continue
        rows, cols = linear_sum_assignment(cost[b][:, real])
        picked[b, torch.as_tensor(rows)] = torch.as_tensor(real[cols])
    picked = picked.to(slots.device)
    has_text = mask.any(dim=1)  # (B,)
    if not bool(has_text.any()):
        return None
    nearest = similarity.argmax(-1)  # (B, K): for slots left unmatched (n < K)
    index = torch.where(picked >= 0, picked, nearest)
    matched = similarity.gather(-1, index[..., None])[..., 0]  # (B, K)
    return (1 - matched[has_text]).mean()


@dataclass
class ResolvedConfig:
    """Both halves of MMVQShape's config; ``to_dict`` is the flat dict :meth:`MMVQShapeTask.build` reads."""

    mm: MMVQShapeConfig
    signal: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {**self.mm.to_dict(), **self.signal}
