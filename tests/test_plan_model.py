"""The plan's model on shape tokens (models/plan/, ``--architecture plan``) and the architecture switch."""

from __future__ import annotations

import json

import pytest
import torch

import train_support as ts
from mmvqshape.cli import main
from mmvqshape.models import build_task, mmvqshape_architecture
from mmvqshape.models.plan import PlanTask
from mmvqshape.models.plan.text_side import candidate_slots
from mmvqshape.models.plan.tokens import bin_weights
from test_explain_grounding import LABELS, LOADED, TINY_TOKENS, write_two_activity_windows
from test_shape_tokens import _signals

TINY_PLAN = {"architecture": "plan", "num_code": 8, "len_s": 16, "d_model": 8, "heads": 2, "num_slots": 3, "bins": 4,
             "text_hidden": 8, "action_hidden": 8}


def _plan(holdout: bool = False, **overrides) -> PlanTask:
    task = build_task("mmvqshape", {**TINY_PLAN, **overrides}, n_channels=3, length=128, n_classes=3, text_dim=6)
    task.set_label_candidates(["a", "b", "c", "d"], torch.randn(4, 6))
    g = torch.Generator().manual_seed(0)
    sources = [name for name in "abcd" for _ in range(3)]
    seen = [s != "d" and not (holdout and s == "c") for s in sources]
    task.set_action_codebook(torch.randn(12, 6, generator=g), [f"sentence {i}" for i in range(12)], sources, seen=seen)
    task.fit_shapes(_signals(), seed=0)
    return task


def _batch(n: int = 4, text: bool = False) -> dict:
    batch = {"signal": _signals(n, seed=1), "label": torch.tensor([0, 1, 2, 0][:n]), "label_embedding": torch.randn(n, 6)}
    if text:
        batch.update(sub_actions=torch.randn(n, 3, 6), sub_action_mask=torch.ones(n, 3, dtype=torch.bool), text_present=True)
    return batch


def test_architecture_names_and_old_names():
    assert mmvqshape_architecture({"objective": "classify", "channels": "joint"}) == "bag"
    assert mmvqshape_architecture({"architecture": "tokens"}) == "bag"
    assert mmvqshape_architecture({"architecture": "plan"}) == "plan"
    assert mmvqshape_architecture({"dim_embedding": 16, "num_token": 8}) == "legacy-fusion"
    with pytest.raises(ValueError, match="unknown architecture"):
        mmvqshape_architecture({"architecture": "planned"})
    assert isinstance(build_task("mmvqshape", {"architecture": "plan"}, n_channels=3, length=128, n_classes=3, text_dim=6),
                      PlanTask)
    assert build_task("mmvqshape", {"architecture": "tokens", "num_code": 8}, n_channels=3, length=128, n_classes=3,
                      text_dim=6).resolved_config()["architecture"] == "bag"


def test_cached_tokens_give_the_same_logits_and_loss():
    task = _plan().eval()
    batch = _batch()
    full = task(batch)
    cached = task({**batch, "frozen_features": task.frozen_features(batch["signal"])})
    torch.testing.assert_close(full["logits"], cached["logits"])
    torch.testing.assert_close(full["loss"], cached["loss"])
    assert full["label_embedding_pred"].shape == (4, 6) and full["text_scores"].shape == (4, 4)


def test_signal_only_explanation_distinct_seen_sentences_inside_the_window():
    task = _plan().eval()
    out = task(_batch())
    idx, span = out["action_idx"], out["action_span"]
    assert idx.shape == (4, 3) and span.shape == (4, 3, 2) and out["action_similarity"].shape == (4, 3)
    assert all(len(set(row)) == 3 for row in idx.tolist())
    assert bool(task.sentence_seen[idx].all())
    assert bool((span[..., 0] >= 0).all() and (span[..., 0] < span[..., 1]).all() and (span[..., 1] <= 128).all())


def test_text_is_read_only_in_training_and_held_out_codes_are_never_trained_on():
    task = _plan(holdout=True).train()
    torch.manual_seed(0)
    with_text = task(_batch(text=True))
    assert {"cls", "segment_cls", "label", "align", "action_vq", "text"} <= set(with_text["losses"])
    side = task.text_side(torch.randn(5, 3, 3, 8), task.sentence_seen)
    assert bool(task.sentence_seen[side["code_index"]].all())
    task.eval()  # evaluation: the sub-actions passed are never read
    a = task({**_batch(text=True), "text_present": False})
    b = task({**_batch(), "sub_actions": torch.randn(4, 3, 6), "sub_action_mask": torch.ones(4, 3, dtype=torch.bool)})
    torch.testing.assert_close(a["logits"], b["logits"])


@pytest.mark.parametrize("overrides, absent", [({"fusion": False}, None), ({"action_codebook": False}, None),
                                                ({"w_label": 0.0}, None), ({"use_text": False}, "text_scores")])
def test_ablation_keys_build_and_train(overrides, absent):
    task = _plan(**overrides).train()
    out = task(_batch(text=True))
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and out["logits"].shape == (4, 3)
    if absent:
        assert absent not in out and "text" not in out["losses"]
    else:
        assert "text_scores" in out


def test_candidate_slots_spread_each_labels_sentences_in_order():
    vectors = torch.eye(5)
    slots = candidate_slots(vectors, torch.tensor([0, 0, 1, 1, 1]), 3, 3)
    assert slots.shape == (3, 3, 5)
    assert slots[0, 0].argmax() == 0 and slots[0, 2].argmax() == 1 and slots[1, 1].argmax() == 3
    assert float(slots[2].abs().sum()) == 0.0  # a label without sentences


def test_bins_average_the_tokens_centred_in_them():
    weights, places = bin_weights(torch.tensor([0, 10, 60, 100]), torch.tensor([20, 30, 80, 128]), 128, 2)
    assert places.tolist() == [[0, 64], [64, 128]]
    assert weights[:, 0].tolist() == [0.5, 0.5, 0.0, 0.0] and weights[:, 1].tolist() == [0.0, 0.0, 0.5, 0.5]


@pytest.fixture(scope="module")
def plan_run(tmp_path_factory, one_thread):
    root = tmp_path_factory.mktemp("plan")
    data = write_two_activity_windows(root / "two.npz")
    emb = ts.write_embeddings(root / "emb", labels=LABELS, dim=8, k=4)
    (root / "plan.yaml").write_text(TINY_TOKENS + "  d_model: 8\n  heads: 2\n  bins: 4\n  text_hidden: 8\n  action_hidden: 8\n")
    assert main(["train", "--model", "mmvqshape", "--architecture", "plan", "--data", str(data), "--corpus", str(emb),
                 "--config", str(root / "plan.yaml"), "--out", str(root / "plan"), "--max-epochs", "2", *ts.TINY_FLAGS]) == 0
    return root, data, emb


def test_plan_run_records_its_architecture_and_the_plans_numbers(plan_run):
    root, _, _ = plan_run
    assert "architecture: plan" in (root / "plan" / "config.yaml").read_text()
    metrics = json.loads((root / "plan" / "metrics.json").read_text())
    assert set(metrics["label_reconstruction"]) == {"mean_cosine", "nearest_share", "n_windows"}
    assert -1 <= metrics["label_reconstruction"]["mean_cosine"] <= 1
    assert "action" in metrics["perplexity"] and "action" in metrics["dead_codes"]
    assert {"precision", "diversity", "repeat_rate"} <= set(metrics["explanation"])
    assert metrics["grounding"]["n_windows"] == 6


def test_plan_explain_all_places_sentences_in_the_window_as_loaded(plan_run):
    root, data, _ = plan_run
    assert main(["explain", str(root / "plan"), "--data", str(data), "--all", "--out", str(root / "every")]) == 0
    lines = [json.loads(line) for line in (root / "every" / "explanations_test.jsonl").read_text().splitlines()]
    assert len(lines) == 6
    for e in lines:
        assert len({s["sentence"] for s in e["sub_actions"]}) == 3
        assert all(0 <= s["start"] < s["end"] <= LOADED and s["source_label"] in LABELS for s in e["sub_actions"])


@pytest.mark.parametrize("flags, where", [(["--preset", "flat"], "--preset"), (["--init", "bundled"], "--init"),
                                          (["--architecture", "planned"], "--architecture")])
def test_preset_and_init_never_switch_the_architecture(plan_run, tmp_path, capsys, flags, where):
    root, data, emb = plan_run
    code = main(["train", "--model", "mmvqshape", "--data", str(data), "--corpus", str(emb), "--out", str(tmp_path / "x"),
                 "--max-epochs", "1", *flags, *ts.TINY_FLAGS])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and where in err[0]


def test_plan_outputs_are_documented_and_its_config_rebuilds_it():
    from mmvqshape.models.task import OUTPUT_KEYS

    task = _plan().eval()
    assert set(task(_batch())) <= set(OUTPUT_KEYS)
    torch.manual_seed(0)
    again = build_task("mmvqshape", task.resolved_config(), n_channels=3, length=128, n_classes=3, text_dim=6)
    assert again.resolved_config() == task.resolved_config() and task.resolved_config()["architecture"] == "plan"
    assert task.state_dict().keys() == again.state_dict().keys()
