"""The plan's model on shape tokens (``architecture: plan``): the task file.

::

    signal (B, C, T) -> frozen shape tokens (shape_tokens_task.py; cached per window with the
       window's and its segments' bags, token_bag.py)       features (B, C, N, 5), bags (B, 1 + S, F)
    tokens.py            -> token embeddings, in P time bins                     (B, C, P, d)
    text (training, a share dropped: modality_dropout) sub_actions (B, K_data, D) -> K slots
       (action.assign_slots) -> fusion.TextTokens, or K learned queries (signal only)   (B, K, d)
    fusion.py            per channel, cross-attention + residual both ways
                         fused_z_s (B, C, P, d), fused_z_t (B, C, K, d)
                         (``fusion: false``: no cross-attention; each channel's text tokens are
                         the queries plus the channel's mean token)
    attribute_encoder.py fused_z_s -> pooled (B, d)
    heads.py             [window bag, pooled] -> logits (B, L); segment bags -> segment_logits (B, S, L)
    text_side.py         fused_z_t -> action_embedding (B, K, D) -> action codes -> label_embedding_pred (B, D)
    text_scores (B, L')  a candidate label's own sentences against the window's slots (mean over
                         its sentences of the best slot's cosine) plus the cosine of the window's
                         label_embedding_pred to the candidate's reconstructed embedding (its own
                         codes through the same action decoder): the zero-shot score.

``use_text: false``: tokens -> attribute encoder -> classifier, nothing else.

Losses: ``cls`` (weight_cls), ``segment_cls`` (w_segment), ``label`` = 1 − cos(label_embedding_pred,
label embedding) (w_label), ``align`` = 1 − cos of slot k to the label's k-th assigned sentence
(w_align; a target, also for samples whose text was dropped), ``action_vq`` (w_action_vq), ``text``
= cross-entropy over the seen labels of text_scores / temperature (w_text).

Signal-only inference: validation, test and explanation never read ``sub_actions``
(``text_present`` false). Explanation: each slot's attention over the tokens (fusion's
text-reads-signal, mean over channels and heads) spread over the samples each token covers gives
the slot's region (samples at ≥ half its peak); the slot proposes sentences by cosine plus the
log-probability of their label over its region (segments' posteriors); distinct sentences, best
slots first (``action_idx``); each is placed at the part of its region whose samples are labelled
as its sentence (``action_span``), the whole region when none is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..action import assign_slots
from ..fusion import FusionLayer, TextTokens
from ..mmvqshape_tokens import TokenMMVQShapeTask, pick_proposals
from ..shape_tokens import ShapeTokensConfig
from ..shape_tokens_task import TOKEN_OUTPUTS, ShapeTokensTask, TokenHeadConfig, split_keys
from .attribute_encoder import AttributeEncoder
from .heads import SharedHead
from .text_side import TextSide, candidate_slots
from .tokens import TokenEmbedding, bin_weights, token_features


@dataclass
class PlanConfig:
    """The plan's own keys (the tokenizer's and the bag head's come from ShapeTokensConfig, TokenHeadConfig)."""

    architecture: str = "plan"
    fusion: bool = True  # false: no cross-attention (the text side reads the pooled signal)
    action_codebook: bool = True  # false: continuous text side, no quantisation
    use_text: bool = True  # false: tokens -> attribute encoder -> classifier
    d_model: int = 32
    heads: int = 4
    latents: int = 4  # per channel, read by the attribute encoder
    bins: int = 16  # time bins the tokens are averaged into before fusion (0: every token)
    encoder_layers: int = 1
    num_slots: int = 6
    text_hidden: int = 128
    action_hidden: int = 256
    modality_dropout: float = 0.5
    segment_span: float = 0.25
    segment_hop: float = 0.5
    temperature: float = 0.1
    w_label: float = 1.0
    w_align: float = 1.0
    w_action_vq: float = 0.1
    w_text: float = 0.5
    w_segment: float = 0.5
    objective: str = "classify"  # the trainer's harness keys
    channels: str = "joint"

    def __post_init__(self) -> None:
        problems = []
        if self.architecture != "plan":
            problems.append(f"architecture must be plan here, not {self.architecture!r}")
        if self.objective != "classify" or self.channels != "joint":
            problems.append("the plan's model needs objective classify and channels joint")
        if self.d_model % self.heads:
            problems.append("d_model must be a multiple of heads")
        if self.num_slots < 1 or self.latents < 1 or self.temperature <= 0:
            problems.append("num_slots and latents must be at least 1, temperature positive")
        if not 0.0 <= self.modality_dropout <= 1.0:
            problems.append("modality_dropout must be in [0, 1]")
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class PlanTask(TokenMMVQShapeTask):
    """The task protocol (task.py) for the plan's model; the bag model's sentence bank, label
    candidates, tokenizer, bags and bag classifier are inherited and shared, not copied."""

    def __init__(self, cfg: PlanConfig, signal: ShapeTokensTask, *, text_dim: int):
        super().__init__(cfg, signal, text_dim=text_dim)
        self.sentence_projection = None  # the bag model's late interaction is not part of the plan
        d, C, K = cfg.d_model, signal.n_channels, cfg.num_slots
        start, end = signal.tokenizer.grid.start_end()  # (N,) samples
        length = signal.tokenizer.grid.length
        weights, places = bin_weights(start, end, length, cfg.bins) if cfg.bins > 0 else (None, torch.stack([start, end], -1))
        self.token_embedding = TokenEmbedding(signal.tokens_cfg.num_code, C, d, weights)
        self.attribute_encoder = AttributeEncoder(d, C, cfg.heads, cfg.latents, cfg.encoder_layers)
        self.head = SharedHead(signal.classifier, d, signal.n_classes)
        if cfg.use_text:
            self.text_tokens = TextTokens(text_dim, d, K)
            self.fusion = FusionLayer(d, cfg.heads) if cfg.fusion else None
            self.text_side = TextSide(d, text_dim, C, K, quantize=cfg.action_codebook, text_hidden=cfg.text_hidden,
                                      action_hidden=cfg.action_hidden)
        self.register_buffer("place_span", places, persistent=False)  # (P, 2) samples each fused signal token covers
        self.candidate_codes = torch.zeros(0, K, text_dim)  # (L', K, D) each candidate's own codes (extra state)

    @classmethod
    def build(cls, cfg: dict[str, Any], *, n_channels: int, length: int, n_classes: int, text_dim: int) -> "PlanTask":
        tokens, head, plan = split_keys(dict(cfg or {}), ShapeTokensConfig, TokenHeadConfig, PlanConfig)
        signal = ShapeTokensTask(ShapeTokensConfig(**tokens), TokenHeadConfig(**head), n_channels=n_channels,
                                 length=length, n_classes=n_classes)
        return cls(PlanConfig(**plan), signal, text_dim=text_dim)

    @property
    def uses_text(self) -> bool:
        return self.text_cfg.use_text

    # ---- text set-up ---------------------------------------------------------------------------
    def set_action_codebook(self, vectors: Any, sentences: Sequence[str] | None = None,
                            source_labels: Sequence[str] | None = None, seen: Sequence[bool] | None = None) -> None:
        """The sentence bank (as the bag model's), which is also the action codebook: every code a real sentence."""
        super().set_action_codebook(vectors, sentences, source_labels, seen)
        if self.text_cfg.use_text:
            vectors = torch.as_tensor(vectors, dtype=torch.float32)
            self.text_side.codebook.set(vectors, sentences, source_labels)
            n_labels = max(len(self.label_names), self.n_classes)
            self.candidate_codes = candidate_slots(F.normalize(vectors, dim=-1), self.sentence_owner, n_labels,
                                                   self.text_cfg.num_slots)

    def get_extra_state(self) -> dict[str, Any]:
        return {**super().get_extra_state(), "candidate_codes": self.candidate_codes}

    def num_codes(self) -> dict[str, int]:
        sizes = self.signal_task.num_codes()
        if self.text_cfg.use_text:
            sizes["action"] = len(self.sentences)
        return sizes

    # ---- cache -----------------------------------------------------------------------------------
    @torch.no_grad()
    def frozen_features(self, signals: torch.Tensor, chunk: int = 256) -> dict[str, torch.Tensor]:
        """Windows (M, C, T) -> ``bags`` (M, 1 + S, F) and token ``tokens`` (M, C, N, 5): all the heads read."""
        parts = [self.cached_inputs(self.signal_task.tokens(part)) for part in signals.split(chunk)]
        return {key: torch.cat([p[key] for p in parts]) for key in ("bags", "tokens")}

    def cached_inputs(self, tokens: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"bags": self.signal_task.bag(tokens, self.bag_members), "tokens": token_features(tokens)}

    # ---- the forward pass --------------------------------------------------------------------
    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        cached = batch.get("frozen_features")
        tokens = self.signal_task.tokens(batch["signal"]) if cached is None else {}
        inputs = self.cached_inputs(tokens) if cached is None else cached
        explain = cached is None and not self.training  # the explanation is an evaluation output
        out = self.plan_outputs(inputs["bags"], inputs["tokens"], batch, explain=explain)
        return {**{k: tokens[k] for k in TOKEN_OUTPUTS if k in tokens}, **out}

    def text_input(self, batch: dict[str, Any], batch_size: int, device: torch.device) -> torch.Tensor:
        """(B, K, d): the sub-action tokens of training samples whose text is kept, else the learned queries."""
        flag = batch.get("text_present", False)
        present = bool(flag.all()) if isinstance(flag, torch.Tensor) else bool(flag)
        if not present or "sub_actions" not in batch:
            return self.text_tokens(batch_size)
        keep = torch.ones(batch_size, dtype=torch.bool, device=device)
        if self.training and self.text_cfg.modality_dropout > 0:
            keep = torch.rand(batch_size, device=device) >= self.text_cfg.modality_dropout
        sub, mask = assign_slots(batch["sub_actions"].float(), batch.get("sub_action_mask"), self.text_cfg.num_slots)
        return self.text_tokens(batch_size, sub, mask, keep)

    def fuse(self, z_s: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z_s (B, C, P, d), text (B, K, d) -> fused_z_s (B, C, P, d), fused_z_t (B, C, K, d)."""
        if self.fusion is not None:
            return self.fusion(z_s, text)
        return z_s, text[:, None] + z_s.mean(dim=2, keepdim=True)  # no cross-attention

    def plan_outputs(self, bags: torch.Tensor, features: torch.Tensor, batch: dict[str, Any], *,
                     explain: bool = False) -> dict[str, Any]:
        """bags (B, 1 + S, F), token features (B, C, N, 5) -> logits, text outputs, losses."""
        cfg = self.text_cfg
        embedded = z_s = self.token_embedding(features)  # (B, C, P, d)
        B = z_s.shape[0]
        fused_z_t = None
        if cfg.use_text:
            text = self.text_input(batch, B, z_s.device)  # (B, K, d)
            z_s, fused_z_t = self.fuse(embedded, text)
        logits, segment_logits = self.head(bags, self.attribute_encoder(z_s))
        out: dict[str, Any] = {"logits": logits, "segment_logits": segment_logits}
        if fused_z_t is not None and len(self.sentences):
            out.update(self.text_outputs(fused_z_t))
        losses = self.losses(out, batch) if batch.get("label") is not None else {}
        weights = {"cls": self.signal_task.head_cfg.weight_cls, "segment_cls": cfg.w_segment, "label": cfg.w_label,
                   "align": cfg.w_align, "action_vq": cfg.w_action_vq, "text": cfg.w_text}
        loss = logits.sum() * 0.0 + sum(weights[k] * v for k, v in losses.items())
        if explain and "text_scores" in out:
            out.update(self.explain_slots(embedded, text, out["slot_similarity"], segment_logits))
        out.pop("slot_similarity", None)
        out.pop("vq_loss", None)
        return {**out, "losses": losses, "loss": loss}

    def text_outputs(self, fused_z_t: torch.Tensor) -> dict[str, Any]:
        """fused_z_t (B, C, K, d) -> action_embedding, label_embedding_pred, text_scores (B, L'), slot similarity (B, K, M)."""
        usable = self.sentence_seen if self.training else None  # held-out labels' codes are never trained on
        side = self.text_side(fused_z_t, usable)
        codebook = self.text_side.codebook.unit_vectors()
        slot_similarity = side["unit"] @ codebook.T  # (B, K, M)
        candidates = self.text_side.candidate_embeddings(self.candidate_codes.to(codebook.device))  # (L', D)
        recon = F.normalize(side["label_embedding_pred"], dim=-1) @ F.normalize(candidates, dim=-1).T  # (B, L')
        text_scores = self.label_text_scores(slot_similarity) + recon
        return {"action_embedding": side["action_embedding"], "label_embedding_pred": side["label_embedding_pred"],
                "text_scores": text_scores, "slot_similarity": slot_similarity, "vq_loss": side["vq_loss"]}

    def losses(self, out: dict[str, Any], batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        label = batch["label"]
        losses = {"cls": F.cross_entropy(out["logits"], label)}
        if out["segment_logits"] is not None:
            seg = out["segment_logits"]
            losses["segment_cls"] = F.cross_entropy(seg.flatten(0, 1), label.repeat_interleave(seg.shape[1]))
        if "text_scores" not in out:
            return losses
        if "label_embedding" in batch:
            losses["label"] = 1 - F.cosine_similarity(out["label_embedding_pred"], batch["label_embedding"].float(), dim=-1).mean()
        if "sub_actions" in batch and batch.get("sub_action_mask") is not None and bool(batch["sub_action_mask"].any()):
            target, mask = assign_slots(batch["sub_actions"].float(), batch["sub_action_mask"], self.text_cfg.num_slots)
            cos = F.cosine_similarity(out["action_embedding"], target, dim=-1)  # (B, K)
            losses["align"] = ((1 - cos) * mask).sum() / mask.sum().clamp(min=1)
        losses["action_vq"] = out["vq_loss"]
        seen = torch.zeros(out["text_scores"].shape[1], dtype=torch.bool, device=label.device)
        seen[self.sentence_owner[self.sentence_seen].to(label.device)] = True
        masked = (out["text_scores"] / self.text_cfg.temperature).masked_fill(~seen, -1e4)
        losses["text"] = F.cross_entropy(masked, label)
        return losses

    # ---- explanation --------------------------------------------------------------------------
    @torch.no_grad()
    def slot_regions(self, z_s: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Where each slot attends: (B, K, T) bool, the samples at ≥ half the slot's peak attention density."""
        length = self.signal_task.tokenizer.grid.length
        if self.fusion is None:
            return torch.ones(z_s.shape[0], text.shape[1], length, dtype=torch.bool, device=z_s.device)
        attention = self.fusion.text_attention(z_s, text).mean(dim=1)  # (B, K, P)
        time = torch.arange(length, device=z_s.device)
        cover = ((time[None] >= self.place_span[:, :1]) & (time[None] < self.place_span[:, 1:])).float()  # (P, T)
        density = attention @ (cover / cover.sum(-1, keepdim=True).clamp(min=1))  # (B, K, T)
        return density >= 0.5 * density.amax(-1, keepdim=True)

    @torch.no_grad()
    def explain_slots(self, z_s: torch.Tensor, text: torch.Tensor, similarity: torch.Tensor,
                      segment_logits: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """``action_idx`` (B, K) distinct sentences, ``action_span`` (B, K, 2) samples, ``action_similarity`` (B, K)."""
        region = self.slot_regions(z_s, text)  # (B, K, T)
        sample_proba = self.sample_posterior(segment_logits)  # (B, T, L)
        weight = region.float()
        slot_proba = torch.einsum("bkt,btl->bkl", weight, sample_proba) / weight.sum(-1, keepdim=True).clamp(min=1)
        owner = self.sentence_owner.to(similarity.device)
        class_of = owner.clamp(max=sample_proba.shape[-1] - 1)
        usable = self.sentence_seen.to(similarity.device)
        score = (similarity + slot_proba.clamp(min=1e-8).log()[..., class_of]).masked_fill(~usable, -1e4)  # (B, K, M)
        K = min(self.text_cfg.num_slots, int(usable.sum()))
        chosen = [pick_proposals(window, list(range(score.shape[1])), K) for window in score.cpu()]
        index = torch.tensor([[m for _, m in c] for c in chosen], dtype=torch.long, device=similarity.device)
        slots = torch.tensor([[s for s, _ in c] for c in chosen], dtype=torch.long, device=similarity.device)
        rows = torch.arange(len(chosen), device=similarity.device)[:, None]
        agree = region[rows, slots] & (sample_proba.argmax(-1)[:, None, :] == class_of[index][..., None])  # (B, K, T)
        where = torch.where(agree.any(-1, keepdim=True), agree, region[rows, slots])
        time = torch.arange(where.shape[-1], device=where.device)
        span = torch.stack([torch.where(where, time, where.shape[-1]).min(-1).values,
                            torch.where(where, time, -1).max(-1).values + 1], dim=-1)
        return {"action_idx": index, "action_span": span, "action_similarity": similarity[rows, slots, index]}

    def sample_posterior(self, segment_logits: torch.Tensor) -> torch.Tensor:
        """segment_logits (B, S, L) -> each sample's mean posterior over the segments covering it (B, T, L)."""
        length = self.signal_task.tokenizer.grid.length
        spans = self.segment_span.to(segment_logits.device)
        time = torch.arange(length, device=spans.device)
        cover = ((time[None] >= spans[:, :1]) & (time[None] < spans[:, 1:])).to(segment_logits.dtype)  # (S, T)
        proba = segment_logits.softmax(-1)
        return torch.einsum("st,bsl->btl", cover, proba) / cover.sum(0).clamp(min=1)[:, None]
