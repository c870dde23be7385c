"""Training harness: config merging, schedule, metrics, text items, run folders, evaluate."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import train_support as ts
from mmvqshape.cli import main
from mmvqshape.errors import UserError
from mmvqshape.training.config import load_config, merge_config, read_run_config, save_config
from mmvqshape.training.metrics import classification_metrics, codebook_health, zero_shot_metrics
from mmvqshape.training.module import warmup_cosine


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    import mmvqshape.models

    monkeypatch.setattr(mmvqshape.models, "build_task", ts.tiny_build_task)
    return ts.write_windows(tmp_path / "w.npz")


def _train(data, out, *extra):
    return main(["train", "--data", str(data), "--out", str(out), "--max-epochs", "2", *ts.TINY_FLAGS, *extra])


# ---------------------------------------------------------------------------- unit tests
def test_config_precedence_defaults_yaml_flags(tmp_path):
    yml = tmp_path / "c.yaml"
    yml.write_text("max_epochs: 7\nlr: 0.01\nmodel: {num_code: 16, preset: flat}\n")
    cfg = load_config(yml, {"max_epochs": 3, "objective": "pretrain", "devices": "2", "lr": None})
    assert cfg.max_epochs == 3 and cfg.lr == 0.01 and cfg.batch_size == 8 and cfg.devices == 2
    assert cfg.model == {"num_code": 16, "preset": "flat", "objective": "pretrain", "channels": "joint"}
    save_config(cfg, tmp_path / "r.yaml")
    assert read_run_config(tmp_path / "r.yaml") == cfg


@pytest.mark.parametrize("layer, where", [({"nonsense": 1}, "nonsense"), ({"model_name": "cnn"}, "model"), ({"val_fraction": 1.5}, "val_fraction")])
def test_config_rejects_bad_values(layer, where):
    with pytest.raises(UserError, match=where):
        merge_config(layer)


def test_warmup_then_cosine():
    lrs = [warmup_cosine(s, warmup=4, total=20, min_ratio=0.1) for s in range(20)]
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:]))  # cosine never rises
    assert lrs[-1] == pytest.approx(0.1, abs=0.01)


def test_metrics_and_codebook_health():
    m = classification_metrics(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]), ["a", "b", "c"])
    assert m["accuracy"] == 0.75 and m["confusion"] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert m["per_class"]["b"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1}
    uniform = codebook_health(np.arange(8).repeat(3), 16)
    assert uniform["perplexity"] == pytest.approx(8.0) and uniform["dead_codes"] == 8
    assert codebook_health(np.zeros(10, dtype=int), 4)["perplexity"] == pytest.approx(1.0)
    z = zero_shot_metrics(np.eye(3)[[0, 1, 2, 2]], np.eye(3), np.array([0, 1, 2, 1]), ["a", "b", "c"], ["b"])
    assert z["accuracy"] == 0.75 and z["holdout_accuracy"] == 0.5 and z["chance"] == pytest.approx(1 / 3)


def test_text_table_ragged_masks_and_missing_labels(tmp_path):
    from mmvqshape.text.embeddings import load_embeddings
    from mmvqshape.training.data import TextTable

    emb = load_embeddings(ts.write_embeddings(tmp_path / "e", k=3))
    table = TextTable.build(emb, ["Run", "sit", "walk"], where="corpus")  # case-insensitive, window order
    assert table.sub_actions.shape == (3, 3, 6)
    assert table.sub_action_mask.sum(1).tolist() == [1, 3, 2]
    assert torch.equal(table.sub_actions[0, 0], torch.from_numpy(emb.subactions[emb.rows_of("run")[0]]))
    assert table.sub_actions[0, 1:].abs().sum() == 0
    dropped = TextTable.build(emb, ["sit", "walk", "run"], where="corpus", drop=["walk"])
    assert dropped.sub_action_mask[1].sum() == 0 and dropped.sub_action_mask[0].sum() == 3
    with pytest.raises(UserError, match="missing from the corpus: jump, swim"):
        TextTable.build(emb, ["sit", "jump", "swim"], where="corpus")


# ---------------------------------------------------------------------------- end to end
def test_train_writes_run_folder_and_evaluate_reproduces_it(tiny, tmp_path):
    run = tmp_path / "run"
    assert _train(tiny, run, "--protocol", "holdout") == 0
    for name in ("config.yaml", "metrics.json", "predictions.csv", "checkpoints/last.ckpt", "checkpoints/best.ckpt", "logs/csv/metrics.csv"):
        assert (run / name).is_file(), name
    assert list((run / "logs" / "tensorboard").glob("events.*"))
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 1  # the latest epoch, always
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("accuracy", "macro_f1", "per_class", "confusion", "n_test", "split", "model", "seed", "perplexity", "dead_codes"):
        assert key in metrics
    assert metrics["n_test"] == 12 and metrics["split"]["sizes"]["test"] == 12 and metrics["checkpoint"] == "best.ckpt"
    assert metrics["protocol"] == "holdout" and not (run / "selection").exists()
    assert metrics["codebooks"]["shape"]["num_codes"] == 8
    header = (run / "predictions.csv").read_text().splitlines()[0]
    assert header == "index,true,pred,p_sit,p_walk,p_run"
    before = (run / "metrics.json").read_text(), (run / "predictions.csv").read_text()
    assert main(["evaluate", str(run)]) == 0
    assert ((run / "metrics.json").read_text(), (run / "predictions.csv").read_text()) == before
    for png in ("confusion.png", "code_usage.png", "reconstruction.png"):
        assert (run / "figures" / png).stat().st_size > 1000


def test_refit_chooses_epochs_on_validation_then_fits_train_plus_val(tiny, tmp_path):
    run = tmp_path / "run"
    assert _train(tiny, run, "--max-epochs", "3") == 0  # refit is the default protocol
    assert read_run_config(run / "config.yaml").protocol == "refit"
    chosen = json.loads((run / "selection.json").read_text())["selection"]
    assert (run / "selection" / "checkpoints" / "best.ckpt").is_file()
    assert torch.load(run / "selection" / "checkpoints" / "best.ckpt", weights_only=True)["epoch"] == chosen["best_epoch"]
    assert len(chosen["history"]) == 3 and chosen["epochs"] == chosen["best_epoch"] + 1 and chosen["val_accuracy"] is not None
    assert not (run / "checkpoints" / "best.ckpt").exists()  # the refit's final weights are what evaluate/explain load
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == chosen["epochs"] - 1
    metrics = json.loads((run / "metrics.json").read_text())
    sizes = metrics["split"]["sizes"]
    assert metrics["protocol"] == "refit" and sizes["val"] == 0 and sizes["test"] == 12
    assert metrics["checkpoint"] == "last.ckpt" and metrics["selection"]["epochs"] == chosen["epochs"]
    assert json.loads((run / "timing.json").read_text())["epochs"]["refit"] == chosen["epochs"]
    before = (run / "metrics.json").read_text()
    assert main(["evaluate", str(run)]) == 0  # the same windows (validation merged) and the same selection record
    assert (run / "metrics.json").read_text() == before
    again = tmp_path / "again"
    assert _train(tiny, again, "--max-epochs", "3") == 0
    assert (again / "metrics.json").read_text() == before  # same seed, same numbers
    assert _train(tiny, again, "--max-epochs", "3", "--resume") == 0  # a finished refit resumes to the same numbers
    assert (again / "metrics.json").read_text() == before


def test_baselines_fit_train_plus_val_under_refit(tmp_path):
    data = ts.write_windows(tmp_path / "w.npz")
    sizes = {}
    for protocol in ("refit", "holdout"):
        run = tmp_path / protocol
        assert main(["train", "--model", "summary-lr", "--data", str(data), "--out", str(run), "--length", "64",
                     "--protocol", protocol]) == 0
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["protocol"] == protocol
        sizes[protocol] = metrics["split"]["sizes"]
    assert sizes["refit"]["train"] == sizes["holdout"]["train"] + sizes["holdout"]["val"] and sizes["refit"]["val"] == 0


def test_hydra_baseline_trains_and_scores(tmp_path):
    data = ts.write_windows(tmp_path / "w.npz")
    run = tmp_path / "hydra"
    cfg = tmp_path / "h.yaml"
    cfg.write_text("model: {n_kernels: 4, n_groups: 8}\n")
    threads = torch.get_num_threads()
    assert main(["train", "--model", "hydra", "--data", str(data), "--out", str(run), "--config", str(cfg), "--length", "64"]) == 0
    assert torch.get_num_threads() == threads  # aeon's Hydra leaves the process' torch threads alone
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"] == "hydra" and metrics["n_test"] == 12 and metrics["accuracy"] > 0.5
    assert read_run_config(run / "config.yaml").model["n_groups"] == 8
    first = (run / "predictions.csv").read_text()
    assert main(["evaluate", str(run)]) == 0
    assert (run / "predictions.csv").read_text() == first


def test_pretrain_with_histogram_probe_selects_c_on_validation(tiny, tmp_path):
    run = tmp_path / "probe"
    assert _train(tiny, run, "--objective", "pretrain") == 0
    pretrained = json.loads((run / "metrics.json").read_text())
    assert pretrained["accuracy"] is None and "ts" in pretrained["test_losses"]
    weights = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    # probing a finished pre-training: --resume keeps its weights, the probe is fitted on them
    assert _train(tiny, run, "--objective", "pretrain", "--probe", "histogram", "--resume") == 0
    again = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    assert all(torch.equal(weights[k], again[k]) for k in weights)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["objective"] == "pretrain" and metrics["probe"]["features"] == "histogram"
    by_c = metrics["probe"]["val_accuracy_by_C"]
    assert metrics["probe"]["val_accuracy"] == max(by_c.values()) == by_c[str(metrics["probe"]["C"])]
    assert (metrics["accuracy"], metrics["n_test"]) == ts.predictions_accuracy(run) and (run / "probe.joblib").is_file()
    first = (run / "metrics.json").read_text()
    assert main(["evaluate", str(run)]) == 0
    assert (run / "metrics.json").read_text() == first


def test_mmvqshape_items_holdout_and_corpus_independent_evaluation(tiny, tmp_path):
    from mmvqshape.text.embeddings import EmbeddingSet, load_embeddings, save_embeddings

    emb_dir = ts.write_embeddings(tmp_path / "emb")
    run = tmp_path / "mm"
    assert _train(tiny, run, "--model", "mmvqshape", "--corpus", str(emb_dir), "--holdout-labels", "walk") == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["split"]["sizes"]["test"] == 12  # test keeps the held-out label's windows
    zero_shot = metrics["zero_shot"]
    assert zero_shot["unseen_labels"] == ["walk"] and "accuracy" not in zero_shot  # never an average over seen windows
    assert {"unseen_accuracy", "seen_accuracy", "unseen_gzsl_accuracy", "harmonic_mean"} <= set(zero_shot)
    assert "model_label_embedding" in zero_shot["baselines"]
    explanation = metrics["explanation"]  # on the seen labels' test windows
    assert {"precision", "diversity", "repeat_rate", "specificity", "faithfulness"} <= set(explanation)
    assert explanation["n_windows"] == 8 and explanation["action_codes"]["n_windows"] == 8
    # the fusion design's explanation block is the sentence reader's, and says so; its action codes are the model's
    assert explanation["computed_by"].startswith("sentence reader") and explanation["action_codes"]["computed_by"].startswith("model")
    assert "action" in metrics["perplexity"]
    # the same run scored with sentences shuffled across labels gives identical outputs
    emb = load_embeddings(emb_dir)
    perm = np.random.default_rng(1).permutation(len(emb.subactions))
    shuffled = EmbeddingSet(emb.subactions[perm], emb.label_vectors, emb.labels, emb.owner, [emb.sentences[i] for i in perm], emb.meta)
    save_embeddings(shuffled, tmp_path / "shuffled")
    a, b = tmp_path / "eval_a", tmp_path / "eval_b"
    assert main(["evaluate", str(run), "--out", str(a)]) == 0
    assert main(["evaluate", str(run), "--corpus", str(tmp_path / "shuffled"), "--out", str(b)]) == 0
    for name in ("metrics.json", "predictions.csv"):
        assert (a / name).read_text() == (b / name).read_text()


def test_eval_items_carry_no_sentences(tmp_path):
    from mmvqshape.signals import load_windows
    from mmvqshape.text.embeddings import load_embeddings
    from mmvqshape.training.data import TextTable, WindowDataModule, collate

    w = load_windows(ts.write_windows(tmp_path / "w.npz"), seed=0, val_fraction=0.25)
    table = TextTable.build(load_embeddings(ts.write_embeddings(tmp_path / "e")), w.labels, where="e")
    dm = WindowDataModule(w, length=32, normalize=False, batch_size=4, seed=0, train_text=table, eval_text=table, holdout_labels=["run"])
    train_batch = next(iter(dm.train_dataloader()))
    assert train_batch["text_present"] is True and train_batch["sub_action_mask"].any()
    assert train_batch["signal"].shape == (4, 3, 32) and train_batch["sub_actions"].shape == (4, 3, 6)
    assert 2 not in dm.train_set.labels() and 2 not in dm.val_set.labels() and 2 in dm.test_set.labels()
    for loader in (dm.val_dataloader(), dm.test_dataloader()):
        batch = next(iter(loader))
        assert batch["text_present"] is False
        assert batch["sub_actions"].abs().sum() == 0 and not batch["sub_action_mask"].any()
    first = [int(i) for b in dm.train_dataloader() for i in b["index"]]
    dm.train_dataloader().sampler.set_epoch(0)
    again = [int(i) for b in dm.train_dataloader() for i in b["index"]]
    assert first == again  # the order is a function of (seed, epoch) only
    assert collate([{"a": torch.zeros(1), "text_present": False}])["text_present"] is False


def test_minirocket_baseline_same_split(tmp_path):
    cfg = tmp_path / "mr.yaml"
    cfg.write_text("model: {n_kernels: 84, max_dilations_per_kernel: 4}\n")
    data = ts.write_windows(tmp_path / "w.npz")
    run = tmp_path / "mr"
    assert main(["train", "--model", "minirocket", "--data", str(data), "--out", str(run), "--config", str(cfg), "--length", "64"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"] == "minirocket" and metrics["n_test"] == 12 and metrics["accuracy"] > 0.5
    assert (run / "model.joblib").is_file()
    first = (run / "predictions.csv").read_text()
    assert main(["evaluate", str(run)]) == 0
    assert (run / "predictions.csv").read_text() == first


def test_summary_lr_baseline_trains_scores_and_repeats(tmp_path):
    data = ts.write_windows(tmp_path / "w.npz")
    runs = [tmp_path / "a", tmp_path / "b"]
    for run in runs:
        assert main(["train", "--model", "summary-lr", "--data", str(data), "--out", str(run), "--length", "64",
                     "--protocol", "holdout"]) == 0
    metrics = json.loads((runs[0] / "metrics.json").read_text())
    assert metrics["model"] == "summary-lr" and metrics["n_test"] == 12 and metrics["accuracy"] > 0.5
    assert metrics["objective"] == "classify" and metrics["perplexity"] == {} and metrics["val_accuracy"] > 0.5  # chance 1/3
    assert read_run_config(runs[0] / "config.yaml").model == {"C": 1.0, "max_iter": 2000}
    assert (runs[0] / "metrics.json").read_text() == (runs[1] / "metrics.json").read_text()  # same seed, same numbers
    first = (runs[0] / "predictions.csv").read_text()
    assert first == (runs[1] / "predictions.csv").read_text()
    assert main(["evaluate", str(runs[0])]) == 0
    assert (runs[0] / "predictions.csv").read_text() == first


def test_summary_lr_refuses_a_config_key_it_does_not_have(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: {n_kernels: 84}\n")
    data = ts.write_windows(tmp_path / "w.npz")
    run = tmp_path / "run"
    assert main(["train", "--model", "summary-lr", "--data", str(data), "--out", str(run), "--config", str(cfg)]) == 2
    _one_error_line(capsys, "unknown summary-lr config keys: n_kernels")
    assert not run.exists()


# ------------------------------------------------------------------------------ bad input
def _one_error_line(capsys, needle):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err


def test_out_folder_with_a_different_run_is_refused(tiny, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(tiny, run) == 0
    capsys.readouterr()
    assert _train(tiny, run, "--seed", "3") == 2
    _one_error_line(capsys, "already holds a different run (seed differ)")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert _train(tiny, tmp_path / "other") == 2
    _one_error_line(capsys, "holds no run")
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"
    assert _train(tiny, tmp_path / "other" / "notes.txt" / "run") == 2  # under a file: cannot be created
    _one_error_line(capsys, "cannot create the run folder")


@pytest.mark.parametrize("content", [b"not a checkpoint", None])
def test_corrupt_or_foreign_checkpoint_exits_2(tiny, tmp_path, capsys, content):
    run = tmp_path / "run"
    assert _train(tiny, run) == 0
    for name in ("best.ckpt", "last.ckpt"):
        path = run / "checkpoints" / name
        if content is None:
            torch.save({"state_dict": {"w": torch.zeros(2)}}, path)  # a foreign checkpoint
        else:
            path.write_bytes(content)
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 2
    _one_error_line(capsys, "best.ckpt")
    assert _train(tiny, run, "--resume") == 2
    _one_error_line(capsys, "last.ckpt")


def test_evaluate_needs_a_run_and_matching_labels(tiny, tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    _one_error_line(capsys, "is not a run folder")
    run = tmp_path / "run"
    emb = ts.write_embeddings(tmp_path / "emb", labels=("sit", "walk"))
    assert _train(tiny, run, "--model", "mmvqshape", "--corpus", str(emb)) == 2
    _one_error_line(capsys, "labels missing from the corpus: run")
    assert not (run / "config.yaml").exists()
