"""MMVQShapeTask: shapes, signal-only invariance, gradients, zero-shot, checkpoint round trip."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mmvqshape.models import build_task

D = 12  # text embedding width in these tests
TINY = {
    "dim_embedding": 16, "num_enc_head": 2, "num_enc_layer": 1, "num_tokenizer_head": 2, "num_tokenizer_layer": 1,
    "num_dec_head": 2, "num_dec_layer": 1, "patch_size": 8, "num_patch": 16, "num_token": 8, "len_s": 16,
    "num_code": 16, "dim_code": 4, "fusion_heads": 2, "text_hidden": 16, "action_hidden": 16, "dropout": 0.0,
}


def make_task(channels=3, slots=5, n_classes=4, **overrides):
    torch.manual_seed(0)
    task = build_task("mmvqshape", {**TINY, "num_slots": slots, **overrides}, n_channels=channels, length=128,
                      n_classes=n_classes, text_dim=D)
    task.set_action_codebook(F.normalize(torch.randn(7, D), dim=-1), [f"sentence {i}" for i in range(7)],
                             [f"label {i % 3}" for i in range(7)])
    return task


def make_batch(b=4, channels=3, k=5, present=True, seed=1):
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(b, k, dtype=torch.bool)
    mask[0, k // 2:] = False  # a ragged label: fewer sentences than slots
    return {
        "signal": torch.randn(b, channels, 128, generator=g),
        "label": torch.randint(0, 4, (b,), generator=g),
        "sub_actions": F.normalize(torch.randn(b, k, D, generator=g), dim=-1),
        "sub_action_mask": mask,
        "label_embedding": F.normalize(torch.randn(b, D, generator=g), dim=-1),
        "text_present": present,
    }


@pytest.mark.parametrize("channels", [1, 3, 6])
@pytest.mark.parametrize("slots", [5, 10])
def test_output_shapes(channels, slots):
    task = make_task(channels, slots)
    task.train()
    out = task(make_batch(channels=channels, k=7))  # data K (7) differs from the model's K: slots are assigned
    n = TINY["num_token"]
    assert out["logits"].shape == (4, 4)
    assert out["label_embedding_pred"].shape == (4, D)
    assert out["action_idx"].shape == (4, slots) and int(out["action_idx"].max()) < 7
    assert out["code_idx"].shape == (4, channels, n)
    for key in ("t", "l", "mu", "sigma"):
        assert out[key].shape == (4, channels, n), key
    assert out["s_pred"].shape == (4, channels, n, TINY["len_s"])
    assert out["x_pred"].shape == (4, channels, 128)
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
    assert {"ts", "vq", "shape", "dist", "cls", "label", "align", "action_vq"} <= set(out["losses"])


@pytest.mark.parametrize("slot_assignment", ["stretch", "pad"])
def test_ragged_masks_train(slot_assignment):
    task = make_task(slots=10, slot_assignment=slot_assignment)
    task.train()
    batch = make_batch(k=10)
    batch["sub_action_mask"][1, 5:] = False
    batch["sub_actions"][1, 5:] = 0.0
    out = task(batch)
    assert torch.isfinite(out["losses"]["align"])
    out["loss"].backward()


def _signal_only_outputs(task, sub_actions, mask):
    batch = make_batch(present=False)
    batch["sub_actions"], batch["sub_action_mask"] = sub_actions, mask
    with torch.no_grad():
        return task(batch)


def test_text_absent_outputs_do_not_depend_on_sub_actions():
    task = make_task().eval()
    base = make_batch()
    variants = [
        (base["sub_actions"], base["sub_action_mask"]),
        (torch.zeros_like(base["sub_actions"]), torch.zeros_like(base["sub_action_mask"])),
        (base["sub_actions"][torch.randperm(4)], torch.ones_like(base["sub_action_mask"])),
        (torch.randn_like(base["sub_actions"]) * 100, base["sub_action_mask"]),
    ]
    outs = [_signal_only_outputs(task, *v) for v in variants]
    missing = make_batch(present=False)
    del missing["sub_actions"], missing["sub_action_mask"]
    with torch.no_grad():
        outs.append(task(missing))
    for other in outs[1:]:
        for key in ("logits", "label_embedding_pred", "action_idx", "code_idx", "x_pred", "s_pred", "loss"):
            assert torch.equal(outs[0][key], other[key]), key
        for name, value in outs[0]["losses"].items():
            assert torch.equal(value, other["losses"][name]), name


def test_text_absent_in_training_reads_sentences_only_as_targets():
    task = make_task().train()
    results = []
    for sub in (make_batch()["sub_actions"], torch.zeros(4, 5, D)):
        batch = make_batch(present=False)
        batch["sub_actions"] = sub
        torch.manual_seed(3)
        results.append(task(batch))
    assert torch.equal(results[0]["logits"], results[1]["logits"])
    assert torch.equal(results[0]["label_embedding_pred"], results[1]["label_embedding_pred"])
    assert not torch.equal(results[0]["losses"]["align"], results[1]["losses"]["align"])  # a target, not an input


def test_text_present_changes_outputs_in_eval():
    task = make_task().eval()
    with torch.no_grad():
        with_text = task(make_batch(present=True))
        without = task(make_batch(present=False))
    assert not torch.allclose(with_text["logits"], without["logits"])


def test_gradients_reach_fusion_and_action_modules():
    task = make_task(modality_dropout=0.0).train()
    task(make_batch())["loss"].backward()
    for prefix in ("fusion.", "text_tokens.text_projection", "text_decoder.", "action_decoder.", "signal_task.vqshape.patch_encoder.", "signal_task.classifier.", "signal_task.pool."):
        grads = [p.grad for n, p in task.named_parameters() if n.startswith(prefix)]
        assert grads and all(g is not None and torch.isfinite(g).all() for g in grads), prefix
        assert sum(float(g.abs().sum()) for g in grads) > 0, prefix
    task.zero_grad()
    task(make_batch(present=False))["loss"].backward()
    assert task.text_tokens.subaction_queries.grad.abs().sum() > 0  # the signal-only path is trained
    assert task.text_tokens.text_projection[1].weight.grad is None or task.text_tokens.text_projection[1].weight.grad.abs().sum() == 0


def test_modality_dropout_trains_both_paths_in_one_batch():
    task = make_task(modality_dropout=0.5).train()
    torch.manual_seed(0)
    task(make_batch(b=16))["loss"].backward()
    assert task.text_tokens.subaction_queries.grad.abs().sum() > 0
    assert task.text_tokens.text_projection[1].weight.grad.abs().sum() > 0


def test_zero_shot_scores_open_vocabulary():
    task = make_task().eval()
    batch = make_batch(present=False)
    with torch.no_grad():
        out = task(batch)
    seen = F.normalize(torch.randn(4, D), dim=-1)
    unseen = F.normalize(out["label_embedding_pred"][0], dim=-1)  # a label text never trained on
    scores = task.zero_shot_scores(out, torch.cat([seen, unseen[None]]))
    assert scores.shape == (4, 5)
    assert int(scores[0].argmax()) == 4
    assert torch.allclose(task.zero_shot_scores(batch, seen), scores[:, :4], atol=1e-6)  # from a batch too


def test_no_quantization_and_no_text_ablations():
    no_q = make_task(quantize_actions=False).train()
    out = no_q(make_batch())
    assert "action_vq" not in out["losses"] and out["action_idx"].shape == (4, 5)
    no_text = make_task(use_text=False).train()
    out = no_text(make_batch())
    assert "label_embedding_pred" not in out and "label" not in out["losses"]
    assert not any(n.startswith(("fusion", "text_", "action_")) for n, _ in no_text.named_parameters())


def test_checkpoint_round_trip_keeps_sentences_and_candidates():
    task = make_task(codebook_trainable=True)
    task.set_label_candidates(["walk", "run", "badminton", "stand"], torch.randn(4, D))
    state = task.state_dict()
    fresh = build_task("mmvqshape", task.config.to_dict(), n_channels=3, length=128, n_classes=4, text_dim=D)
    fresh.load_state_dict(state, strict=True)
    assert fresh.action_codebook.sentences == task.action_codebook.sentences
    assert fresh.label_candidates()[0] == ["walk", "run", "badminton", "stand"]
    task.eval(), fresh.eval()
    batch = make_batch(present=False)
    with torch.no_grad():
        a, b = task(batch), fresh(batch)
    assert torch.equal(a["logits"], b["logits"]) and torch.equal(a["action_idx"], b["action_idx"])
    assert fresh.action_sentences(b["action_idx"][:1])[0][0].startswith("sentence")


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="joint"):
        build_task("mmvqshape", {**TINY, "channels": "independent"}, n_channels=3, length=128, n_classes=4, text_dim=D)
    with pytest.raises(ValueError, match="unknown vqshape keys"):
        build_task("mmvqshape", {**TINY, "w_labell": 1.0}, n_channels=3, length=128, n_classes=4, text_dim=D)


def test_use_text_false_is_vqshape_joint():
    cfg = {k: v for k, v in TINY.items() if k not in ("fusion_heads", "text_hidden", "action_hidden")}
    mm = build_task("mmvqshape", {**cfg, "use_text": False}, n_channels=3, length=128, n_classes=4, text_dim=D).eval()
    vq = build_task("vqshape", {**cfg, "channels": "joint", "objective": "classify"}, n_channels=3, length=128, n_classes=4).eval()
    vq.load_state_dict(mm.signal_task.state_dict())
    batch = make_batch(present=False)
    with torch.no_grad():
        a, b = mm(batch), vq(batch)
    for key in ("logits", "x_pred", "s_pred", "code_idx", "loss"):
        assert torch.equal(a[key], b[key]), key
