"""The plan's model (seed §5) on shape tokens, one module per part of the plan's drawing.

::

    tokens.py             cached shape tokens (B, C, N, 5) -> token embeddings in P time bins (B, C, P, d)
    ../fusion.py          per channel, cross-attention + residual both ways with the
                          K sub-action tokens (or K learned queries: signal only)
                          fused_z_s (B, C, P, d), fused_z_t (B, C, K, d)
    attribute_encoder.py  fused_z_s -> per-channel latents -> small Transformer      pooled (B, d)
    heads.py              pooled + the window's token bag (the bag model's head)    logits (B, L)
    text_side.py          fused_z_t -> text attribute decoder -> action codebook
                          (../action.py) -> codes concatenated -> label embedding   (B, D)
    plan.py               the task (task.py protocol): losses, explanation, zero-shot scores
"""

from .plan import PlanConfig, PlanTask

__all__ = ["PlanConfig", "PlanTask"]
