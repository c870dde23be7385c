"""MMVQShape on shape tokens (``architecture: bag``, the default): sub-actions placed in time by the model.

::

    signal (B, C, T) -> ShapeTokensTask (shape_tokens_task.py): frozen shape tokens (B, C, N)
       -> TokenBag over the whole window and over S segments (spans of ``segment_span`` of
          the window, every ``segment_hop`` of a span)                        bags (B, 1 + S, F)
       -> classifier (shared by the window and its segments)                  logits (B, L)
                                                                 segment_logits (B, S, L)
       -> sentence_projection: segment bags to the text space                  (B, S, D)
    sentences of every label (the training corpus, held-out labels' only as candidates)
       -> centred on the seen sentences' mean, unit length                     bank (M, D)
    late interaction: similarity (B, S, M); each sentence's best segment (B, M);
       a label's text score = mean over its sentences                      text_scores (B, L)

Training: cross-entropy of the window's logits and (``w_segment``) of every segment's logits
against the window's label, and (``w_text``) cross-entropy over the seen labels of the text
scores / ``temperature`` — sentences are a target, never an input: inference reads the
signal only. Explanation: every segment proposes its best sentence by similarity plus the
log-probability of the sentence's label under that segment's logits; the ``num_slots`` best
segments' proposals (distinct sentences) are ``action_idx`` (B, K) into the sentence bank.
Each is placed at ``action_span`` (B, K, 2) samples: the part of its segment whose samples
the segments agree to be its label (the argmax of the mean posterior of the segments covering
a sample). Zero-shot: an unseen label is scored the same way from its own sentences
(``text_scores``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..labels import normalize_label
from .shape_tokens import ShapeTokensConfig
from .shape_tokens_task import TOKEN_OUTPUTS, ShapeTokensTask, TokenHeadConfig, split_keys
from .token_bag import segment_spans, token_membership


@dataclass
class TokenTextConfig:
    """The text side of token MMVQShape."""

    architecture: str = "bag"  # bag (this file) | plan (plan/) | legacy-fusion (mmvqshape.py): models.ARCHITECTURES
    segment_span: float = 0.25  # segment length, fraction of the window
    segment_hop: float = 0.5  # step between segments, fraction of the span
    num_slots: int = 6  # sentences chosen per window (the best 6 of the default 7 segments)
    temperature: float = 0.1
    w_text: float = 0.5
    w_segment: float = 0.5
    objective: str = "classify"  # the trainer's harness keys: token MMVQShape always classifies ...
    channels: str = "joint"  # ... and reads the channels jointly

    def __post_init__(self) -> None:
        problems = []
        if self.architecture == "tokens":  # the old name, from config.yaml files written before ``bag``
            self.architecture = "bag"
        if self.architecture != "bag":
            problems.append(f"architecture must be bag here, not {self.architecture!r}")
        if self.objective != "classify" or self.channels != "joint":
            problems.append("token MMVQShape needs objective classify and channels joint")
        if not 0 < self.segment_span <= 1 or not 0 < self.segment_hop <= 1:
            problems.append("segment_span and segment_hop must be in (0, 1]")
        if self.num_slots < 1 or self.temperature <= 0:
            problems.append("num_slots must be at least 1 and temperature positive")
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class TokenMMVQShapeTask(nn.Module):
    """The task protocol (``task.py``) for token MMVQShape; see the module docstring."""

    def __init__(self, text_cfg: TokenTextConfig, signal: ShapeTokensTask, *, text_dim: int):
        super().__init__()
        self.text_cfg, self.signal_task, self.text_dim = text_cfg, signal, text_dim
        self.n_channels, self.n_classes = signal.n_channels, signal.n_classes
        grid = signal.tokenizer.grid
        spans = segment_spans(grid.length, text_cfg.segment_span, text_cfg.segment_hop)  # (S, 2)
        self.register_buffer("segment_span", spans, persistent=False)
        membership = torch.cat([torch.ones(1, grid.n_tokens, dtype=torch.bool), token_membership(grid, spans)])
        self.register_buffer("bag_members", membership, persistent=False)  # (1 + S, N): the window, then segments
        self.sentence_projection = nn.Linear(signal.bag.dim, text_dim)
        self.sentence_vectors = torch.zeros(0, text_dim)  # (M, D) unit, centred (extra state)
        self.sentence_owner = torch.zeros(0, dtype=torch.long)  # (M,) label index of each sentence
        self.sentence_seen = torch.zeros(0, dtype=torch.bool)  # (M,) trained on (not held out)
        self.sentences: list[str] = []
        self.source_labels: list[str] = []
        self.label_names: list[str] = []
        self.label_vectors = torch.zeros(0, text_dim)

    @classmethod
    def build(cls, cfg: dict[str, Any], *, n_channels: int, length: int, n_classes: int, text_dim: int) -> "TokenMMVQShapeTask":
        tokens, head, text = split_keys(dict(cfg or {}), ShapeTokensConfig, TokenHeadConfig, TokenTextConfig)
        signal = ShapeTokensTask(ShapeTokensConfig(**tokens), TokenHeadConfig(**head), n_channels=n_channels,
                                 length=length, n_classes=n_classes)
        return cls(TokenTextConfig(**text), signal, text_dim=text_dim)

    # ---- the task protocol -----------------------------------------------------------------
    uses_text = True

    @property
    def shape_codebook(self) -> torch.Tensor:
        return self.signal_task.tokenizer.shape_codebook

    def num_codes(self) -> dict[str, int]:
        return {**self.signal_task.num_codes(), "action": len(self.sentences)}

    def resolved_config(self) -> dict[str, Any]:
        return {**self.signal_task.resolved_config(), **self.text_cfg.to_dict()}

    def fit_shapes(self, signals: torch.Tensor, *, seed: int = 0) -> None:
        self.signal_task.fit_shapes(signals, seed=seed)

    @torch.no_grad()
    def frozen_features(self, signals: torch.Tensor, chunk: int = 256) -> torch.Tensor:
        """Standardised bags of the window and its segments, windows (M, C, T) -> (M, 1 + S, F)."""
        return torch.cat([self.window_bags(part) for part in signals.split(chunk)])

    def set_label_candidates(self, names: Sequence[str], vectors: Any) -> None:
        self.label_names, self.label_vectors = list(names), torch.as_tensor(vectors, dtype=torch.float32).clone()

    def label_candidates(self) -> tuple[list[str], torch.Tensor]:
        return list(self.label_names), self.label_vectors

    def set_action_codebook(self, vectors: Any, sentences: Sequence[str] | None = None,
                            source_labels: Sequence[str] | None = None, seen: Sequence[bool] | None = None) -> None:
        """The sentence bank: every sentence (M, D) with its label (in the windows' label order,
        by :meth:`set_label_candidates`); ``seen`` False for held-out labels' sentences."""
        vectors = torch.as_tensor(vectors, dtype=torch.float32)
        seen_mask = torch.ones(len(vectors), dtype=torch.bool) if seen is None else torch.as_tensor(list(seen), dtype=torch.bool)
        lookup = {normalize_label(name): i for i, name in enumerate(self.label_names)}
        owner = [lookup.get(normalize_label(name), -1) for name in (source_labels or [])]
        if len(owner) != len(vectors) or min(owner, default=0) < 0:
            raise ValueError("every sentence needs a source label among the label candidates")
        if any(s and o >= self.n_classes for s, o in zip(seen_mask.tolist(), owner)):
            raise ValueError("only sentences of the model's classes can be trained on")
        centre = vectors[seen_mask].mean(0) if seen_mask.any() else vectors.mean(0)
        self.sentence_vectors = F.normalize(vectors - centre, dim=-1)
        self.sentence_owner, self.sentence_seen = torch.tensor(owner, dtype=torch.long), seen_mask
        self.sentences, self.source_labels = list(sentences or []), list(source_labels or [])

    def get_extra_state(self) -> dict[str, Any]:
        return {"label_names": self.label_names, "label_vectors": self.label_vectors, "sentences": self.sentences,
                "source_labels": self.source_labels, "sentence_vectors": self.sentence_vectors,
                "sentence_owner": self.sentence_owner, "sentence_seen": self.sentence_seen}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)

    def action_sentences(self, action_idx: torch.Tensor) -> list[list[str]]:
        return [[self.sentences[i] for i in row] for row in action_idx.tolist()]

    def action_source_labels(self, action_idx: torch.Tensor) -> list[list[str]]:
        return [[self.source_labels[i] for i in row] for row in action_idx.tolist()]

    # ---- the forward pass ----------------------------------------------------------------------
    def label_text_scores(self, similarity: torch.Tensor) -> torch.Tensor:
        """similarity (B, S, M) -> each label's mean over its sentences of their best segment (B, L)."""
        best = similarity.max(dim=1).values  # (B, M)
        n_labels = max(len(self.label_names), self.n_classes)
        owner = self.sentence_owner.to(best.device)
        total = best.new_zeros(best.shape[0], n_labels).index_add_(1, owner, best)
        count = torch.bincount(owner, minlength=n_labels).clamp(min=1).to(best.dtype)
        return total / count

    def window_bags(self, signal: torch.Tensor) -> torch.Tensor:
        """signal (B, C, T) -> standardised bags (B, 1 + S, F): the whole window's, then each
        segment's. The tokenizer is frozen, so a caller may compute these once and train the
        heads on them (:meth:`head_outputs`)."""
        return self.signal_task.bag(self.signal_task.tokens(signal), self.bag_members)

    def head_outputs(self, bags: torch.Tensor, label: torch.Tensor | None = None) -> dict[str, Any]:
        """Everything after the bags: ``logits`` (B, L), ``segment_logits`` (B, S, L), and, with
        a sentence bank, ``similarity`` (B, S, M) and ``text_scores`` (B, L); ``losses`` and
        ``loss`` when ``label`` (B,) is given."""
        cfg = self.text_cfg
        all_logits = self.signal_task.classifier(bags)  # (B, 1 + S, L)
        logits, segment_logits = all_logits[:, 0], all_logits[:, 1:]
        outputs: dict[str, Any] = {"logits": logits, "segment_logits": segment_logits}
        losses: dict[str, torch.Tensor] = {}
        loss = logits.sum() * 0.0
        if label is not None:
            losses["cls"] = F.cross_entropy(logits, label)
            losses["segment_cls"] = F.cross_entropy(segment_logits.flatten(0, 1), label.repeat_interleave(segment_logits.shape[1]))
            loss = self.signal_task.head_cfg.weight_cls * losses["cls"] + cfg.w_segment * losses["segment_cls"]
        if len(self.sentences):
            segment_text = F.normalize(self.sentence_projection(bags[:, 1:]), dim=-1)  # (B, S, D)
            similarity = segment_text @ self.sentence_vectors.to(segment_text.device).T  # (B, S, M)
            text_scores = self.label_text_scores(similarity)  # (B, L)
            outputs.update(similarity=similarity, text_scores=text_scores)
            if label is not None:
                seen = torch.zeros(text_scores.shape[1], dtype=torch.bool, device=text_scores.device)
                seen[self.sentence_owner[self.sentence_seen].to(text_scores.device)] = True
                masked = (text_scores / cfg.temperature).masked_fill(~seen, -1e4)
                losses["text"] = F.cross_entropy(masked, label)
                loss = loss + cfg.w_text * losses["text"]
        outputs.update(losses=losses, loss=loss)
        return outputs

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        cached = batch.get("frozen_features")  # (B, 1 + S, F) from frozen_features: the tokenizer is skipped
        tokens = self.signal_task.tokens(batch["signal"]) if cached is None else {}
        bags = self.signal_task.bag(tokens, self.bag_members) if cached is None else cached  # (B, 1 + S, F)
        heads = self.head_outputs(bags, batch.get("label"))
        outputs = {k: tokens[k] for k in TOKEN_OUTPUTS if k in tokens}
        outputs.update(logits=heads["logits"], segment_logits=heads["segment_logits"])
        if "similarity" in heads:
            outputs["text_scores"] = heads["text_scores"]
            if cached is None and not self.training:  # the explanation is an evaluation output
                outputs.update(self.explain(heads["similarity"], heads["segment_logits"]))
        outputs.update(losses=heads["losses"], loss=heads["loss"])
        return outputs

    @torch.no_grad()
    def explain(self, similarity: torch.Tensor, segment_logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """The chosen sentences: ``action_idx`` (B, K), ``action_span`` (B, K, 2) samples,
        ``action_similarity`` (B, K).

        A proposal (segment, sentence) scores its similarity plus the log-probability of the
        sentence's label under the segment's logits. Every segment places its best sentence,
        best-scoring segments first, until K are placed (then, when K exceeds the segments, the
        best remaining proposals). Sentences never repeat. Each span is its segment trimmed to
        the samples labelled as its sentence (:func:`agreeing_spans`).
        """
        owner = self.sentence_owner.to(similarity.device)
        usable = self.sentence_seen.to(similarity.device)
        class_of = owner.clamp(max=segment_logits.shape[-1] - 1)  # sentences of other labels are not usable anyway
        score = (similarity + segment_logits.log_softmax(-1)[..., class_of]).masked_fill(~usable, -1e4)  # (B, S, M)
        K = min(self.text_cfg.num_slots, int(usable.sum()))
        every_segment = list(range(score.shape[1]))
        chosen = [pick_proposals(window, every_segment, K) for window in score.cpu()]
        device = similarity.device
        index = torch.tensor([[m for _, m in c] for c in chosen], dtype=torch.long, device=device)  # (B, K)
        segments = torch.tensor([[s for s, _ in c] for c in chosen], dtype=torch.long, device=device)  # (B, K)
        span = agreeing_spans(self.segment_span.to(device), segment_logits.softmax(-1), segments, class_of[index],
                              self.signal_task.tokenizer.grid.length)
        rows = torch.arange(len(chosen), device=device)[:, None]
        return {"action_idx": index, "action_span": span, "action_similarity": similarity[rows, segments, index]}


def agreeing_spans(segment_span: torch.Tensor, segment_proba: torch.Tensor, segments: torch.Tensor,
                   labels: torch.Tensor, length: int) -> torch.Tensor:
    """Each pick's span: from the first to the last sample of its segment whose label is the
    pick's label, a sample's label being the argmax of the mean posterior of the segments that
    cover it; the whole segment when no sample of it agrees.

    segment_span (S, 2) [start, end) samples, segment_proba (B, S, L), segments and labels
    (B, K) -> (B, K, 2) [start, end) samples.
    """
    time = torch.arange(length, device=segment_span.device)  # (T,)
    cover = (time[None] >= segment_span[:, :1]) & (time[None] < segment_span[:, 1:])  # (S, T)
    weight = cover.to(segment_proba.dtype)
    mean_proba = torch.einsum("st,bsl->btl", weight, segment_proba) / weight.sum(0).clamp(min=1)[:, None]  # (B, T, L)
    sample_label = mean_proba.argmax(-1)  # (B, T)
    agree = cover[segments] & (sample_label[:, None, :] == labels[..., None])  # (B, K, T)
    first = torch.where(agree, time, length).min(-1).values  # (B, K)
    last = torch.where(agree, time, -1).max(-1).values + 1
    whole = segment_span[segments]  # (B, K, 2)
    found = agree.any(-1)
    return torch.stack([torch.where(found, first, whole[..., 0]), torch.where(found, last, whole[..., 1])], dim=-1)


def pick_proposals(score: torch.Tensor, tiling: list[int], k: int) -> list[tuple[int, int]]:
    """score (S, M) of each (segment, sentence) -> k distinct-sentence picks: the best sentence
    of each segment in ``tiling`` first (best-scoring segments first), then the best remaining
    proposals."""
    picks: list[tuple[int, int]] = []
    used: set[int] = set()
    order = score.flatten().argsort(descending=True).tolist()
    for segment in sorted(tiling, key=lambda s: -float(score[s].max())):
        for m in score[segment].argsort(descending=True).tolist():
            if m not in used:
                picks.append((segment, m))
                used.add(m)
                break
    for position in order:
        if len(picks) >= k:
            break
        segment, m = divmod(position, score.shape[1])
        if m not in used:
            picks.append((segment, m))
            used.add(m)
    return picks[:k]
