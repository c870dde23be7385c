"""``mmvq bench speed`` and ``mmvq bench accuracy``: claims from one command, like with like.

Speed ratios are computed within one run on one machine, so they compare like with like;
absolute numbers depend on the machine (recorded in the output).
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler

from ..analysis.projection import project
from ..analysis.threads import limited_threads
from ..atomic import atomic_dir
from ..models import build_task, mmvqshape_architecture
from ..models.vqshape import VQShape, VQShapeConfig
from ..signals import WindowDataset, load_windows
from ..text.encoders import embed_corpus
from ..training.config import TrainConfig
from ..training.data import SignalDataset, split_positions

#: The reference fixture's constructor arguments (tests/fixtures/vqshape-reference/config.json).
FIXTURE_CONFIG = dict(
    dim_embedding=64, patch_size=8, num_patch=64, num_enc_head=4, num_enc_layer=2, num_tokenizer_head=4,
    num_tokenizer_layer=2, num_dec_head=4, num_dec_layer=1, num_token=64, len_s=128, len_input=512,
    s_smooth_factor=1, num_code=64, dim_code=8, lambda_commit=0.25, lambda_entropy=0.1, entropy_gamma=1.0,
    mask_ratio=0.25,
)


def machine() -> dict:
    """What the numbers were measured on."""
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def _rate(step: Callable[[], None], items_per_step: int, *, steps: int, warmup: int = 1) -> float:
    """Items per second of ``step`` after ``warmup`` untimed calls (median of per-step rates)."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return items_per_step / float(np.median(times))


def _train_step(module: torch.nn.Module, forward: Callable[[], torch.Tensor]) -> Callable[[], None]:
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-4)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        forward().backward()
        optimizer.step()

    return step


def vqshape_decode_speed(batch: int = 16, steps: int = 5, seed: int = 0) -> dict:
    """Train and tokenize windows/s at the fixture's config: per-token (the reference) vs per-code."""
    x = torch.randn(batch, 512, generator=torch.Generator().manual_seed(seed))
    result = {}
    for mode in ("per_token", "per_code"):
        torch.manual_seed(seed)
        model = VQShape(VQShapeConfig(**FIXTURE_CONFIG, shape_decode=mode)).train()
        train = _rate(_train_step(model, lambda: model(x, mask_ratio=0.25)["loss"]), batch, steps=steps)
        model.eval()

        def tokenize() -> None:
            with torch.no_grad():
                model(x)

        result[mode] = {"train_windows_per_s": train, "tokenize_windows_per_s": _rate(tokenize, batch, steps=steps)}
    result["train_speedup"] = result["per_code"]["train_windows_per_s"] / result["per_token"]["train_windows_per_s"]
    result["tokenize_speedup"] = result["per_code"]["tokenize_windows_per_s"] / result["per_token"]["tokenize_windows_per_s"]
    return result


def default_mmvqshape(n_channels: int, length: int, n_classes: int, text_dim: int, signals: torch.Tensor, *, seed: int,
                      model_cfg: dict | None = None):
    """The MMVQShape ``mmvq train`` builds by default (or the one ``model_cfg`` configures), ready
    to run as the trainer runs it: label candidates and a bank of 24 random unit sentences
    spread over the classes, and its frozen parts (if any) fitted on ``signals`` (M, C, T).
    Returns the task and its architecture, read from its resolved config."""
    torch.manual_seed(seed)
    task = build_task("mmvqshape", dict(model_cfg or {}), n_channels=n_channels, length=length, n_classes=n_classes,
                      text_dim=text_dim)
    names = [f"label {i}" for i in range(n_classes)]
    task.set_label_candidates(names, torch.nn.functional.normalize(torch.randn(n_classes, text_dim), dim=-1))
    task.set_action_codebook(torch.nn.functional.normalize(torch.randn(24, text_dim), dim=-1), [f"code {i}" for i in range(24)],
                             [names[i % n_classes] for i in range(24)])
    task.fit_shapes(signals, seed=seed)
    return task, mmvqshape_architecture(task.resolved_config())


def as_trained(task, batch: dict) -> dict:
    """``batch`` as the trainer feeds it: with the task's ``frozen_features`` computed once
    (cached before training) when it has frozen parts, so a timed step is one training step."""
    frozen = task.frozen_features(batch["signal"])
    return batch if frozen is None else {**batch, "frozen_features": frozen}


def _batch(batch: int, n_channels: int, length: int, n_classes: int, text_dim: int, k: int, text: bool) -> dict:
    g = torch.Generator().manual_seed(1)
    return {
        "signal": torch.randn(batch, n_channels, length, generator=g),
        "label": torch.randint(0, n_classes, (batch,), generator=g),
        "sub_actions": torch.nn.functional.normalize(torch.randn(batch, k, text_dim, generator=g), dim=-1),
        "sub_action_mask": torch.ones(batch, k, dtype=torch.bool),
        "label_embedding": torch.nn.functional.normalize(torch.randn(batch, text_dim, generator=g), dim=-1),
        "text_present": text,
    }


def _frozen_rate(task, signals: torch.Tensor, steps: int) -> float | None:
    """Windows/s of the task's frozen features (computed once per window and run); None without."""
    if task.frozen_features(signals[:1]) is None:
        return None
    return _rate(lambda: task.frozen_features(signals), len(signals), steps=steps)


def task_speed(batch: int = 16, steps: int = 5, seed: int = 0) -> dict:
    """The default MMVQShape (its ``architecture`` named) vs VQShape (joint) at the same signal
    config: train windows/s (a step as the trainer takes it: on cached frozen features when the
    model has them, their own rate then under ``frozen_features_windows_per_s``), inference
    latency (signal only, everything computed)."""
    n_channels, length, n_classes, text_dim, k = 3, 512, 4, 384, 10
    train_batch = _batch(batch, n_channels, length, n_classes, text_dim, k, text=True)
    one = _batch(1, n_channels, length, n_classes, text_dim, k, text=False)
    torch.manual_seed(seed)
    vq = build_task("vqshape", {"channels": "joint", "objective": "classify"}, n_channels=n_channels, length=length, n_classes=n_classes)
    mm, architecture = default_mmvqshape(n_channels, length, n_classes, text_dim, train_batch["signal"], seed=seed)
    out: dict = {}
    for name, task in (("vqshape_joint", vq), ("mmvqshape", mm)):
        fed = as_trained(task, train_batch)
        task.train()
        train = _rate(_train_step(task, lambda t=task: t(fed)["loss"]), batch, steps=steps)
        task.eval()

        def infer(t=task) -> None:
            with torch.no_grad():
                t(one)

        latency_ms = 1000.0 / _rate(infer, 1, steps=max(steps, 10))
        out[name] = {"train_windows_per_s": train, "inference_ms_per_window": latency_ms}
    out["mmvqshape"].update(architecture=architecture, frozen_features_windows_per_s=_frozen_rate(mm, train_batch["signal"], steps))
    out["mm_step_cost_ratio"] = out["vqshape_joint"]["train_windows_per_s"] / out["mmvqshape"]["train_windows_per_s"]
    return out


def _hapt_mmvqshape(n_batches: int, batch: int, seed: int, model_cfg: dict | None = None):
    """The default MMVQShape (:func:`default_mmvqshape`, or ``model_cfg``'s) at the trainer's
    defaults, its architecture, and ``n_batches`` real HAPT training batches as the trainer
    feeds them (signals with random text embeddings, K=10 sub-actions of 384 dims; frozen
    features cached), plus the training and validation positions of HAPT's split."""
    defaults = TrainConfig()
    windows = load_windows("hapt", seed=seed)
    text_dim, k = 384, 10
    train_positions, val_positions = split_positions(windows, "train"), split_positions(windows, "val")
    dataset = SignalDataset(windows, train_positions[: batch * n_batches], defaults.length, "window")
    loaded = list(DataLoader(dataset, batch_size=batch))
    task, architecture = default_mmvqshape(windows.n_channels, defaults.length, len(windows.labels), text_dim,
                                           torch.cat([b["signal"] for b in loaded]), seed=seed, model_cfg=model_cfg)
    g = torch.Generator().manual_seed(seed)
    text = {"sub_actions": torch.nn.functional.normalize(torch.randn(batch, k, text_dim, generator=g), dim=-1),
            "sub_action_mask": torch.ones(batch, k, dtype=torch.bool), "text_present": True}
    batches = [as_trained(task, {**b, **text, "label_embedding": torch.randn(len(b["label"]), text_dim, generator=g)})
               for b in loaded]
    return task, architecture, batches, train_positions, val_positions


def hapt_epoch_speed(steps: int = 6, seed: int = 0, batch_size: int | None = None, model_cfg: dict | None = None) -> dict:
    """Seconds of one training epoch of the default MMVQShape (``architecture`` named) over
    HAPT's training windows at the trainer's defaults (window length, batch size, model config;
    shipped HAPT corpus size of text).

    Times ``steps`` training steps on real HAPT batches and one validation batch, then scales
    to the training and validation split sizes (the full epoch would take as long again). A
    model with frozen parts trains on features computed once per run: their seconds over the
    training and validation windows are ``frozen_features_s``, not part of ``epoch_s`` (the
    k-means fit of its shapes is in neither). ``model_cfg`` replaces the default model config.
    """
    defaults = TrainConfig()
    batch = batch_size or defaults.batch_size
    task, architecture, batches, train_positions, val_positions = _hapt_mmvqshape(steps + 1, batch, seed, model_cfg)
    signals = torch.cat([b["signal"] for b in batches])
    task.train()
    step = _train_step(task, lambda: task(batches.pop(0))["loss"])
    train_rate = _rate(step, batch, steps=steps)
    task.eval()
    val_batch = {**batches[0], "text_present": False} if batches else None

    def infer() -> None:
        with torch.no_grad():
            task(val_batch)

    val_rate = _rate(infer, batch, steps=2) if val_batch is not None else float("inf")
    n_train, n_val = len(train_positions), len(val_positions)
    frozen_rate = _frozen_rate(task, signals, 1)
    return {"architecture": architecture, "train_windows": n_train, "val_windows": n_val, "batch_size": batch,
            "length": defaults.length, "train_windows_per_s": train_rate, "epoch_s": n_train / train_rate + n_val / val_rate,
            "frozen_features_s": None if frozen_rate is None else (n_train + n_val) / frozen_rate}


def _cpu_and_wall(work: Callable[[], None]) -> dict:
    """User and system CPU seconds of this process (all its threads) and wall seconds of ``work()``."""
    start_usage, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    work()
    end_usage, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - start
    return {"user_s": end_usage.ru_utime - start_usage.ru_utime,
            "system_s": end_usage.ru_stime - start_usage.ru_stime, "wall_s": wall}


def _after_over_before(after: float, before: float) -> float:
    return after / before if before > 0 else float("nan")


def training_around_umap_speed(steps: int = 20, batch: int = 8, points: int = 300, seed: int = 0) -> dict:
    """User / system CPU and wall seconds of ``steps`` MMVQShape training steps on HAPT batches
    before and after a seeded 3-D UMAP projection of ``points`` random vectors in the same
    process, and their ratios after / before (about 1 when the projection leaves training alone).

    Issue 19: numba's OpenMP threading layer switched nested parallelism on in torch's OpenMP
    runtime, and every later training step created and destroyed threads (system time). Only
    the first time numba starts its threads in a process can do that: run this before anything
    else in the process uses numba. ``NUMBA_THREADING_LAYER=default`` (numba picks OpenMP
    again) measures the behaviour before the package chose numba's own thread pool.
    """
    n_batches = 4
    task, architecture, batches, _, _ = _hapt_mmvqshape(n_batches, batch, seed)
    task.train()
    batches_in_turn = itertools.cycle(batches)
    step = _train_step(task, lambda: task(next(batches_in_turn))["loss"])

    def train() -> None:
        for _ in range(steps):
            step()

    step()  # warm-up: first-call allocations
    before = _cpu_and_wall(train)
    vectors = np.random.default_rng(seed).normal(size=(points, 32))
    projection = _cpu_and_wall(lambda: _umap_as_run_projection_does(vectors, seed))
    after = _cpu_and_wall(train)
    return {"architecture": architecture, "steps": steps, "batch_size": batch, "umap_points": points, "numba_threading_layer": _numba_threading_layer(),
            "before": before, "umap": projection, "after": after,
            "ratios": {key.removesuffix("_s"): _after_over_before(after[key], before[key]) for key in before}}


def _umap_as_run_projection_does(vectors: np.ndarray, seed: int) -> np.ndarray:
    """3-D UMAP coordinates (N, 3) of ``vectors`` (N, D) under ``mmvq analyze projection``'s
    default thread limit (1 while projecting, restored after): the path of issue 19."""
    with limited_threads(1):
        coords, _ = project(vectors, method="umap", dims=3, seed=seed)
    return coords


def _numba_threading_layer() -> str:
    """The threading layer numba started (after a projection has run it)."""
    # lazy: numba is a slow import that only the UMAP projection needs (it has loaded it by now)
    import numba

    try:
        return numba.threading_layer()
    except ValueError:  # numba started no threads
        return "none started"


def text_speed(corpus: str = "geneactiv14", encoder: str = "minilm") -> dict:
    """Sentences/s embedding a shipped corpus without cache, then with a warm cache."""
    with tempfile.TemporaryDirectory() as cache:
        old = os.environ.get("MMVQ_CACHE_DIR")
        os.environ["MMVQ_CACHE_DIR"] = cache
        try:
            start = time.perf_counter()
            embeddings = embed_corpus(corpus, encoder=encoder, cache=True)
            cold = time.perf_counter() - start
            start = time.perf_counter()
            embed_corpus(corpus, encoder=encoder, cache=True)
            warm = time.perf_counter() - start
        finally:
            if old is None:
                os.environ.pop("MMVQ_CACHE_DIR", None)
            else:
                os.environ["MMVQ_CACHE_DIR"] = old
    n = len(embeddings.sentences) + len(embeddings.labels)
    return {"sentences": n, "cold_sentences_per_s": n / cold, "cached_sentences_per_s": n / warm,
            "cold_s": cold, "cached_s": warm, "cache_speedup": cold / warm}


def _status_mb(field: str) -> float:
    """A memory field of /proc/self/status in MB (NaN where there is no /proc)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _reset_peak_rss() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def scaling_speed(sizes=(1_000, 10_000, 100_000), batch: int = 32, steps: int = 8, seed: int = 0) -> list[dict]:
    """Train throughput and peak memory over memory-mapped files of growing size.

    Each file holds ``n`` windows (500, 3) in a memory-mapped ``.npy``; training draws random
    batches through the real data path (loader → pre-processing → VQShape joint step).
    """
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for n in sizes:
            path = Path(folder) / f"w{n}.npz"
            X = np.lib.format.open_memmap(Path(folder) / f"w{n}.X.npy", mode="w+", dtype=np.float32, shape=(n, 500, 3))
            rng = np.random.default_rng(seed)
            for start in range(0, n, 10_000):
                stop = min(n, start + 10_000)
                X[start:stop] = rng.normal(size=(stop - start, 500, 3)).astype(np.float32)
            X.flush()
            del X
            np.savez(path, y=np.arange(n) % 4, labels=np.array(["a", "b", "c", "d"]))
            _reset_peak_rss()
            windows = load_windows(path, seed=seed)
            dataset = WindowDataset(windows, "train", length=512)
            loader = DataLoader(dataset, batch_size=batch, sampler=RandomSampler(dataset, num_samples=batch * (steps + 1),
                                generator=torch.Generator().manual_seed(seed)))
            torch.manual_seed(seed)
            task = build_task("vqshape", {"channels": "joint", "objective": "classify"}, n_channels=3, length=512, n_classes=4).train()
            optimizer = torch.optim.AdamW(task.parameters(), lr=1e-4)
            batches = iter(loader)
            first = next(batches)
            optimizer.zero_grad()
            task(first)["loss"].backward()
            optimizer.step()
            start = time.perf_counter()
            seen = 0
            for item in batches:
                optimizer.zero_grad(set_to_none=True)
                task(item)["loss"].backward()
                optimizer.step()
                seen += len(item["label"])
            elapsed = time.perf_counter() - start
            # peak RSS counts the file's pages that were read (the kernel can drop them again);
            # anonymous memory is what the process itself holds
            rows.append({"windows": n, "file_mb": n * 500 * 3 * 4 / 2**20, "train_windows_per_s": seen / elapsed,
                         "peak_rss_mb": _status_mb("VmHWM"), "anon_rss_mb": _status_mb("RssAnon")})
            del windows, dataset, loader, batches
    return rows


def run_bench_speed(out: str | Path, *, quick: bool = False, seed: int = 0, sizes=None) -> dict:
    """All speed measurements into ``out`` (speed.json, speed.md)."""
    torch.manual_seed(seed)
    steps = 2 if quick else 5
    result = {"machine": machine(), "quick": quick}
    result["vqshape_decode"] = vqshape_decode_speed(batch=8 if quick else 16, steps=steps, seed=seed)
    result["tasks"] = task_speed(batch=8 if quick else 16, steps=steps, seed=seed)
    result["text"] = text_speed()
    result["hapt_epoch"] = hapt_epoch_speed(steps=3 if quick else 6, seed=seed)
    result["scaling"] = scaling_speed(sizes or ((1_000, 10_000) if quick else (1_000, 10_000, 100_000)),
                                      steps=3 if quick else 8, seed=seed)
    # last: a projection must not run before the other rows (it could slow them if the fix broke)
    result["training_around_umap"] = training_around_umap_speed(steps=8 if quick else 20, seed=seed)
    with atomic_dir(out) as tmp:
        (tmp / "speed.json").write_text(json.dumps({"kind": "bench_speed", **result}, indent=2) + "\n")
        (tmp / "speed.md").write_text(speed_markdown(result))
    return result


def _named(entry: dict) -> str:
    """"MMVQShape (<architecture>)": the design a row timed (older results: not recorded)."""
    return f"MMVQShape ({entry.get('architecture') or 'architecture not recorded'})"


def _frozen_row(name: str, value: float | None, unit: str) -> list[str]:
    return [f"| {name} frozen features, computed once and cached | {value:.1f} {unit} |"] if value else []


def speed_markdown(r: dict) -> str:
    """The Markdown table (docs/benchmarks.md) of :func:`run_bench_speed`'s result."""
    m, d, t, x, h, u = r["machine"], r["vqshape_decode"], r["tasks"], r["text"], r["hapt_epoch"], r["training_around_umap"]
    mm = _named(t["mmvqshape"])
    cached = " on cached frozen features" if t["mmvqshape"].get("frozen_features_windows_per_s") else ""
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} threads)"
        + (f", GPU {m['cuda']}" if m["cuda"] else ", CPU only"),
        "",
        "| measurement | value |",
        "|---|---|",
        f"| VQShape train, fixture config, per-token decoding (reference) | {d['per_token']['train_windows_per_s']:.1f} windows/s |",
        f"| VQShape train, fixture config, per-code decoding (ours) | {d['per_code']['train_windows_per_s']:.1f} windows/s |",
        f"| **train speed-up per-code / per-token** | **{d['train_speedup']:.2f}×** |",
        f"| VQShape tokenize per-token / per-code | {d['per_token']['tokenize_windows_per_s']:.1f} / {d['per_code']['tokenize_windows_per_s']:.1f} windows/s ({d['tokenize_speedup']:.2f}×) |",
        f"| VQShape (joint, 3 ch) train | {t['vqshape_joint']['train_windows_per_s']:.1f} windows/s |",
        f"| {mm} (3 ch, K=10 text) train{cached} | {t['mmvqshape']['train_windows_per_s']:.1f} windows/s |",
        *_frozen_row(mm, t["mmvqshape"].get("frozen_features_windows_per_s"), "windows/s"),
        f"| **{mm} step cost / VQShape step** | **{t['mm_step_cost_ratio']:.2f}×** |",
        f"| inference latency VQShape / {mm} (batch 1, signal only) | {t['vqshape_joint']['inference_ms_per_window']:.1f} / {t['mmvqshape']['inference_ms_per_window']:.1f} ms |",
        f"| **{_named(h)} epoch over HAPT's {h['train_windows']} training windows (+ {h['val_windows']} validation), "
        f"batch {h['batch_size']}, length {h['length']}** | **{h['epoch_s']:.1f} s** ({h['train_windows_per_s']:.1f} windows/s) |",
        *_frozen_row(_named(h), h.get("frozen_features_s"), "s once per run over those windows"),
        f"| {_named(u)} training on HAPT ({u['steps']} steps, batch {u['batch_size']}) after / before a UMAP projection "
        f"in the same process: user, system, wall (numba threading layer: {u['numba_threading_layer']}) | "
        f"{u['ratios']['user']:.2f}× / {u['ratios']['system']:.2f}× / {u['ratios']['wall']:.2f}× "
        f"({u['before']['system_s']:.2f} → {u['after']['system_s']:.2f} s system) |",
        f"| text encoding MiniLM, no cache / cached ({x['sentences']} sentences) | {x['cold_sentences_per_s']:.0f} / {x['cached_sentences_per_s']:.0f} sentences/s ({x['cache_speedup']:.0f}×) |",
        "",
        "| memory-mapped windows | file | train windows/s | peak RSS (incl. file pages read) | anonymous memory |",
        "|---|---|---|---|---|",
    ]
    for row in r["scaling"]:
        lines.append(f"| {row['windows']:,} | {row['file_mb']:.0f} MB | {row['train_windows_per_s']:.1f} | "
                     f"{row['peak_rss_mb']:.0f} MB | {row['anon_rss_mb']:.0f} MB |")
    return "\n".join(lines) + "\n"
