"""Unit tests of MMVQShape's building blocks: fusion, action codebook, slot assignment."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mmvqshape.models.action import ActionCodebook, ActionDecoder, TextAttributeDecoder, assign_slots
from mmvqshape.models.fusion import FusionLayer, TextTokens


@pytest.mark.parametrize("channels", [1, 3, 6])
@pytest.mark.parametrize("slots", [5, 10])
def test_fusion_shapes(channels, slots):
    fusion = FusionLayer(16, heads=2)
    text = TextTokens(text_dim=12, dim=16, num_slots=slots)
    z_s = torch.randn(2, channels, 8, 16)
    tokens = text(2, torch.randn(2, slots, 12), torch.ones(2, slots, dtype=torch.bool), torch.tensor([True, False]))
    fused_s, fused_t = fusion(z_s, tokens)
    assert fused_s.shape == (2, channels, 8, 16)
    assert fused_t.shape == (2, channels, slots, 16)


def test_text_tokens_absent_sample_uses_queries_only():
    text = TextTokens(text_dim=12, dim=16, num_slots=4)
    queries = text(3)
    sub = torch.randn(3, 4, 12)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1]], dtype=torch.bool)
    mixed = text(3, sub, mask, torch.tensor([True, False, True]))
    assert torch.equal(mixed[1], queries[1])  # absent sample: queries
    assert torch.equal(mixed[0, 2:], queries[0, 2:])  # masked slots: queries
    assert not torch.allclose(mixed[0, :2], queries[0, :2])  # real slots: text
    assert not torch.allclose(mixed[2], queries[2])


def test_action_codebook_quantizes_by_cosine_with_straight_through():
    book = ActionCodebook(text_dim=4)
    book.set(torch.eye(4) * 3.0, sentences=["a", "b", "c", "d"])
    embedding = torch.tensor([[0.1, 2.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.5]], requires_grad=True)
    out = book.quantize(embedding)
    assert out["index"].tolist() == [1, 3]
    assert torch.allclose(out["codes"], torch.eye(4)[[1, 3]])
    out["codes"].sum().backward()
    assert embedding.grad is not None and embedding.grad.abs().sum() > 0
    assert "vectors" in dict(book.named_buffers())  # frozen by default


def test_action_codebook_roundtrips_through_state_dict_with_sentences():
    book = ActionCodebook(text_dim=4, trainable=True)
    book.set(torch.randn(6, 4), sentences=[f"s{i}" for i in range(6)], source_labels=["x"] * 6)
    state = book.state_dict()
    fresh = ActionCodebook(text_dim=4, trainable=True)
    fresh.load_state_dict(state)
    assert fresh.size == 6 and fresh.sentences == [f"s{i}" for i in range(6)]
    assert torch.allclose(fresh.vectors, book.vectors)
    assert isinstance(fresh.vectors, torch.nn.Parameter)


def test_empty_codebook_fails_clearly():
    with pytest.raises(RuntimeError, match="set_action_codebook"):
        ActionCodebook(text_dim=4).quantize(torch.randn(2, 4))


def test_decoders_shapes():
    dec = TextAttributeDecoder(dim=16, text_dim=12, n_channels=3, hidden=8)
    assert dec(torch.randn(2, 3, 5, 16)).shape == (2, 5, 12)
    assert ActionDecoder(12, 5, hidden=8)(torch.randn(2, 5, 12)).shape == (2, 12)


def test_assign_slots_stretch_and_pad():
    sub = torch.arange(2 * 10).float().reshape(2, 10, 1)
    mask = torch.zeros(2, 10, dtype=torch.bool)
    mask[0, :5] = True
    mask[1, :10] = True
    stretched, smask = assign_slots(sub, mask, 5, "stretch")
    assert stretched[0, :, 0].tolist() == [0, 1, 2, 3, 4]
    assert stretched[1, :, 0].tolist() == [10, 12, 14, 17, 19]
    assert smask.all()
    stretched10, _ = assign_slots(sub[:, :5], mask[:, :5], 10, "stretch")
    assert stretched10[0, :, 0].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    padded, pmask = assign_slots(sub[:, :5], mask[:, :5], 7, "pad")
    assert padded.shape == (2, 7, 1) and pmask[0].tolist() == [True] * 5 + [False] * 2
    cut, cmask = assign_slots(sub, mask, 3, "pad")
    assert cut.shape == (2, 3, 1) and cmask.all()


def test_fusion_gradients_reach_both_directions():
    fusion = FusionLayer(16, heads=2)
    text = TextTokens(text_dim=12, dim=16, num_slots=5)
    z_s = torch.randn(2, 3, 8, 16)
    fused_s, fused_t = fusion(z_s, text(2, torch.randn(2, 5, 12)))
    (fused_s.square().mean() + F.mse_loss(fused_t, torch.ones_like(fused_t))).backward()
    for name, param in list(fusion.named_parameters()) + list(text.named_parameters()):
        if name == "subaction_queries":
            continue  # text present everywhere: the queries are not used
        assert param.grad is not None and param.grad.abs().sum() > 0, name
