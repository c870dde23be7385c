"""``mmvq analyze``: the plan's experiments on sub-action embeddings, each into one output folder.

- :func:`run_projection` — t-SNE / UMAP / PCA scatter (PNG; 3-D also interactive HTML);
- :func:`run_gram` — cosine Gram matrix, within/between-label statistics, closest cross-label pairs;
- :func:`run_recon` — the reconstruction probe (label embedding from its sub-actions), optionally
  through an action codebook (quantized side by side with unquantized);
- :func:`run_codebook` — action-codebook selection and its coverage.

Each takes an embedding folder (or an :class:`EmbeddingSet`), writes its folder atomically
(nothing partial on error) and returns a small dict of results, so a notebook calls the same
code as the command.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..analysis.codebook import (
    DEFAULT_METHOD,
    ActionCodebook,
    check_codebook_dim,
    codebook_coverage,
    load_codebook,
    quantize,
    select_codebook,
    write_codebook_files,
)
from ..analysis.figures import plot_coverage, plot_gram, plot_projection, plot_recon, projection_html
from ..analysis.gram import gram_statistics, ordered_gram, top_cross_label_pairs
from ..analysis.projection import project
from ..analysis.recon import PROTOCOLS, ProbeConfig, baseline_scores, make_split, train_probe
from ..analysis.similarity import cosine_matrix, nearest_rows
from ..analysis.threads import limited_threads as _threads
from ..atomic import atomic_dir, write_json
from ..errors import UserError
from ..text.corpus import load_corpus
from ..text.embeddings import EmbeddingSet, load_embeddings
from ..text.encoders import embed_corpus, load_encoder

VIEW_NAMES = ("armleg", "arm", "leg", "text")


def _load(source: str | Path | EmbeddingSet) -> EmbeddingSet:
    return source if isinstance(source, EmbeddingSet) else load_embeddings(source)


def _write_csv(path: Path, rows: list[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    columns = list(columns or (rows[0].keys() if rows else []))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue())


# ----------------------------------------------------------------------------- projection


def run_projection(
    source: str | Path | EmbeddingSet | Sequence[str | Path | EmbeddingSet],
    out: str | Path,
    *,
    method: str = "tsne",
    dims: int = 2,
    seed: int = 0,
    n_neighbors: int = 70,
    perplexity: float = 30.0,
    views: Sequence[str] | None = None,
    encoder: str = "minilm",
    pooling: str | None = None,
    threads: int | None = 1,
) -> dict[str, Any]:
    """Project sub-action embeddings to 2-D / 3-D and draw them coloured by label.

    ``source`` is an embedding folder, an :class:`EmbeddingSet`, or a list of them (drawn side
    by side, e.g. one per view). With ``views`` (e.g. ``["arm", "leg", "armleg"]``) ``source`` is
    a corpus (path or shipped name) embedded once per view with ``encoder`` (the embedding
    cache makes re-runs cheap). Writes ``projection.png``, ``coordinates.csv``,
    ``projection.json`` and, for 3-D, ``projection.html`` (self-contained, rotatable) and
    ``projection.plotly.json`` (for ``mmvq report``). Returns the parameters used and paths.
    """
    panels_input = _projection_inputs(source, views, encoder, pooling)
    labels = panels_input[0][1].labels
    for title, embeddings in panels_input[1:]:
        if embeddings.labels != labels:
            raise UserError(title, "has different labels from the first embedding set; panels must share labels")
    panels, params, sentences, rows = [], [], [], []
    for title, embeddings in panels_input:
        with _threads(threads):
            coords, used = project(embeddings.subactions, method, dims, seed, n_neighbors, perplexity)
        panels.append({"title": f"{title} ({method.upper() if method != 'tsne' else 't-SNE'}, {dims}-D)", "coords": coords, "owner": embeddings.owner})
        params.append({"view": title, **used})
        sentences.append(list(embeddings.sentences))
        for row, (point, owner) in enumerate(zip(coords, embeddings.owner)):
            rows.append({"view": title, "row": row, "label": labels[owner], "sentence": embeddings.sentences[row],
                         **{axis: float(v) for axis, v in zip("xyz", point)}})
    out = Path(out)
    with atomic_dir(out) as tmp:
        plot_projection(panels, labels, tmp / "projection.png", dims)
        _write_csv(tmp / "coordinates.csv", rows, ["view", "row", "label", "sentence", *"xyz"[:dims]])
        files = ["projection.png", "coordinates.csv", "projection.json"]
        if dims == 3:
            projection_html(panels, labels, sentences, tmp / "projection.html",
                            f"{method} 3-D projection of sub-actions", tmp / "projection.plotly.json")
            files += ["projection.html", "projection.plotly.json"]
        result = {"method": method, "dims": dims, "seed": seed, "panels": params, "labels": labels, "files": files}
        write_json(tmp / "projection.json", {"kind": "projection", **result})
    return {**result, "out": str(out)}


def _projection_inputs(source, views, encoder, pooling) -> list[tuple[str, EmbeddingSet]]:
    if views:
        views = [v.strip() for v in views if v.strip()]
        unknown = [v for v in views if v not in VIEW_NAMES]
        if unknown:
            raise UserError("--views", f"unknown view '{unknown[0]}' (choose from {', '.join(VIEW_NAMES)})")
        if isinstance(source, (list, tuple, EmbeddingSet)) or (Path(source) / "index.json").is_file():
            raise UserError(source if not isinstance(source, (list, tuple, EmbeddingSet)) else "--views",
                            "--views needs a corpus (path or shipped name), not an embedding folder")
        corpus = load_corpus(source, view="auto")
        text_encoder = load_encoder(encoder, pooling=pooling)
        return [(view, embed_corpus(corpus, encoder=text_encoder, view=view)) for view in views]
    sources = list(source) if isinstance(source, (list, tuple)) else [source]
    if not sources:
        raise UserError("source", "no embedding folder given")
    inputs = []
    for item in sources:
        embeddings = _load(item)
        title = str(embeddings.meta.get("view") or (Path(item).name if not isinstance(item, EmbeddingSet) else "embeddings"))
        inputs.append((title, embeddings))
    return inputs


# ----------------------------------------------------------------------------- gram


def run_gram(source: str | Path | EmbeddingSet, out: str | Path, *, top: int = 20) -> dict[str, Any]:
    """Cosine Gram matrix of all sub-actions and what it says about label separation.

    Writes ``gram.csv`` (rows/columns grouped by label, named ``label #k``), ``items.csv``
    (name, row, label, sentence), ``gram.png`` (heatmap with label boundaries),
    ``gram_stats.json`` (within/between-label statistics, per label, label-mean matrix),
    ``label_similarity.csv`` and ``top_pairs.csv`` / ``top_pairs.json`` (the ``top`` most similar
    cross-label pairs with their sentences). Returns the overall statistics.
    """
    if top < 0:
        raise UserError("--top", f"must be at least 0, got {top}")
    embeddings = _load(source)
    if len(embeddings.subactions) < 2:
        raise UserError(source if not isinstance(source, EmbeddingSet) else "embeddings", "needs at least two sub-actions for a Gram matrix")
    full = cosine_matrix(embeddings.subactions)
    gram, order = ordered_gram(embeddings)
    stats = gram_statistics(embeddings, full)
    pairs = top_cross_label_pairs(embeddings, top, full)
    position = {}
    names = []
    for row in order:
        label = embeddings.labels[embeddings.owner[row]]
        position[label] = position.get(label, 0) + 1
        names.append(f"{label} #{position[label]}")
    out = Path(out)
    with atomic_dir(out) as tmp:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["item", *names])
        for name, values in zip(names, gram):
            writer.writerow([name, *(f"{v:.6f}" for v in values)])
        (tmp / "gram.csv").write_text(buffer.getvalue())
        _write_csv(tmp / "items.csv", [{"item": n, "row": int(r), "label": embeddings.labels[embeddings.owner[r]], "sentence": embeddings.sentences[r]}
                                       for n, r in zip(names, order)])
        _write_csv(tmp / "label_similarity.csv", [{"label": label, **{other: v for other, v in zip(embeddings.labels, row)}}
                                                  for label, row in zip(embeddings.labels, stats["label_mean_similarity"])],
                   ["label", *embeddings.labels])
        plot_gram(gram, embeddings.owner[order], embeddings.labels, tmp / "gram.png")
        write_json(tmp / "gram_stats.json", {"kind": "gram_stats", **stats})
        write_json(tmp / "top_pairs.json", pairs)
        _write_csv(tmp / "top_pairs.csv", pairs, ["cosine", "label_a", "sentence_a", "label_b", "sentence_b", "row_a", "row_b"])
    return {"within": stats["within"], "between": stats["between"], "separation": stats["separation"],
            "top_pair": pairs[0] if pairs else None, "out": str(out)}


# ----------------------------------------------------------------------------- recon


def run_recon(
    source: str | Path | EmbeddingSet,
    out: str | Path,
    *,
    hidden: Sequence[int] = (64, 128, 256, 512, 1024, 2048),
    seeds: int | Sequence[int] = 5,
    seed: int = 0,
    protocols: Sequence[str] = ("sentences", "labels"),
    codebook: str | Path | Any | None = None,
    config: Any | None = None,
    threads: int | None = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Reconstruction probe: train the ProjectionModel per protocol, hidden size and seed.

    ``seeds`` is a count (seeds ``seed .. seed+seeds-1``) or an explicit list. With ``codebook``
    (a codebook folder or :class:`ActionCodebook`) every sub-action embedding is also replaced
    by its nearest code and the probe re-run on the same splits: ``summary.csv`` then shows
    quantized next to unquantized numbers and the drop. ``threads`` torch threads (default 1:
    these matrices are small, and one thread is fastest on a shared machine).

    Writes ``runs.csv`` (one row per protocol, input, model, hidden size, seed), ``summary.csv``
    (mean ± std over seeds), ``recon.json`` (config, K, chance, summary) and ``recon.png``.
    Returns ``{"summary": [...], "k": {...}, "chance_top1": ..., "out": ...}``.
    """
    embeddings = _load(source)
    config = config or ProbeConfig()
    config.validate()
    hidden, seed_list, protocols = _recon_options(hidden, seeds, seed, protocols)
    action_codebook = None
    if codebook is not None:
        action_codebook = codebook if isinstance(codebook, ActionCodebook) else load_codebook(codebook)
        check_codebook_dim(action_codebook, embeddings.dim, codebook if not isinstance(codebook, ActionCodebook) else "--codebook")
    tables = {"embeddings": embeddings.subactions}
    if action_codebook is not None:
        tables["quantized"] = quantize(embeddings.subactions, action_codebook)

    splits = {(p, s): make_split(embeddings, p, s, config) for p in protocols for s in seed_list}  # validates before training
    runs = _recon_runs(embeddings, tables, splits, hidden, config, threads, progress)

    chance = 1.0 / len(embeddings.labels)
    summary = _summarise(runs, chance)
    wide = _side_by_side(summary, quantized=action_codebook is not None)
    ks = {p: splits[(p, seed_list[0])].k for p in protocols}
    result = {
        "protocols": protocols,
        "hidden": hidden,
        "seeds": seed_list,
        "k": ks,
        "chance_top1": chance,
        "loss": "cosine (1 - cos(prediction, label embedding))",
        "config": {k: v for k, v in vars(config).items()},
        "codebook": None if action_codebook is None else {"size": action_codebook.size, "method": action_codebook.method,
                                                          "path": None if isinstance(codebook, ActionCodebook) else str(codebook)},
        "heldout_labels": {f"{p}/seed{s}": [embeddings.labels[i] for i in sp.heldout_labels] for (p, s), sp in splits.items() if p == "labels"},
        "summary": summary,
        "table": wide,
    }
    out = Path(out)
    with atomic_dir(out) as tmp:
        _write_csv(tmp / "runs.csv", runs, ["protocol", "input", "model", "hidden", "seed", "k", "n_train", "n_test",
                                            "train_cosine", "train_top1", "test_cosine", "test_top1"])
        _write_csv(tmp / "summary.csv", wide)
        write_json(tmp / "recon.json", {"kind": "recon_probe", **result})
        plot_recon(summary, tmp / "recon.png")
    return {"summary": wide, "k": ks, "chance_top1": chance, "out": str(out)}


def _recon_options(hidden: Sequence[int], seeds: int | Sequence[int], seed: int,
                   protocols: Sequence[str]) -> tuple[list[int], list[int], list[str]]:
    """``run_recon``'s hidden sizes, seed list and protocols, checked (a :class:`UserError` naming the flag)."""
    hidden = [int(h) for h in hidden]
    if not hidden or min(hidden) < 1:
        raise UserError("--hidden", "needs one or more positive hidden sizes")
    seed_list = list(range(seed, seed + seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise UserError("--seeds", "needs at least one seed")
    protocols = list(protocols)
    for protocol in protocols:
        if protocol not in PROTOCOLS:
            raise UserError("--protocols", f"unknown protocol '{protocol}' (choose from {', '.join(PROTOCOLS)})")
    return hidden, seed_list, protocols


def _recon_runs(embeddings: EmbeddingSet, tables: dict[str, np.ndarray], splits: dict, hidden: list[int], config: Any,
                threads: int | None, progress: bool) -> list[dict[str, Any]]:
    """One row per split (protocol, seed), input table and model: the baseline, then the probe at each hidden size."""
    runs: list[dict[str, Any]] = []
    total = len(splits) * len(tables) * len(hidden)
    with _threads(threads), tqdm(total=total, desc="recon probe", disable=not progress, leave=False) as bar:
        for (protocol, run_seed), split in splits.items():
            common = {"protocol": protocol, "seed": run_seed, "k": split.k, "n_train": len(split.train_rows), "n_test": len(split.test_rows)}
            for input_name, table in tables.items():
                base = baseline_scores(table, embeddings.label_vectors, split)
                runs.append({**common, "input": input_name, "model": "baseline", "hidden": "", "train_cosine": "", "train_top1": "",
                             "test_cosine": base["test_cosine"], "test_top1": base["test_top1"]})
                for size in hidden:
                    _, scores = train_probe(table, embeddings.label_vectors, split, size, run_seed, config)
                    runs.append({**common, "input": input_name, "model": "probe", "hidden": size, **scores})
                    bar.update(1)
    return runs


def _summarise(runs: list[dict[str, Any]], chance: float) -> list[dict[str, Any]]:
    """Mean and (population) std over seeds per protocol, input, model and hidden size."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["protocol"], run["input"], run["model"], run["hidden"]), []).append(run)
    summary = []
    for (protocol, input_name, model, hidden), members in groups.items():
        cosine = np.array([m["test_cosine"] for m in members], dtype=np.float64)
        top1 = np.array([m["test_top1"] for m in members], dtype=np.float64)
        summary.append({
            "protocol": protocol, "input": input_name, "model": model, "hidden": hidden, "k": members[0]["k"],
            "n_seeds": len(members), "cosine_mean": float(cosine.mean()), "cosine_std": float(cosine.std()),
            "top1_mean": float(top1.mean()), "top1_std": float(top1.std()), "chance_top1": chance,
        })
    return summary


def _side_by_side(summary: list[dict[str, Any]], quantized: bool) -> list[dict[str, Any]]:
    """One row per protocol / model / hidden size; with a codebook, quantized columns and the drop."""
    by_key = {(r["protocol"], r["input"], r["model"], r["hidden"]): r for r in summary}
    rows = []
    for r in summary:
        if r["input"] != "embeddings":
            continue
        row = {"protocol": r["protocol"], "model": r["model"], "hidden": r["hidden"], "k": r["k"], "n_seeds": r["n_seeds"],
               "cosine_mean": round(r["cosine_mean"], 6), "cosine_std": round(r["cosine_std"], 6),
               "top1_mean": round(r["top1_mean"], 6), "top1_std": round(r["top1_std"], 6)}
        if quantized:
            q = by_key[(r["protocol"], "quantized", r["model"], r["hidden"])]
            row.update({"quantized_cosine_mean": round(q["cosine_mean"], 6), "quantized_cosine_std": round(q["cosine_std"], 6),
                        "quantized_top1_mean": round(q["top1_mean"], 6), "quantized_top1_std": round(q["top1_std"], 6),
                        "cosine_drop": round(r["cosine_mean"] - q["cosine_mean"], 6), "top1_drop": round(r["top1_mean"] - q["top1_mean"], 6)})
        row["chance_top1"] = round(r["chance_top1"], 6)
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- codebook


def run_codebook(
    source: str | Path | EmbeddingSet,
    out: str | Path,
    *,
    method: str | None = None,
    size: int | None = None,
    threshold: float | None = None,
    seed: int = 0,
    threads: int | None = 1,
) -> dict[str, Any]:
    """Select an action codebook and describe its coverage of the labels.

    Writes ``codebook.json`` + ``codebook.pt`` (readable by :func:`load_codebook`, usable as
    ``--codebook``), ``codes.csv`` (each code's sentence, source label and the labels it serves),
    ``coverage.json`` and ``coverage.png``. ``method`` None = :data:`DEFAULT_METHOD`.
    Returns size, method, threshold (prune / community) and the coverage gaps.
    """
    embeddings = _load(source)
    with _threads(threads):
        codebook = select_codebook(embeddings, method or DEFAULT_METHOD, size=size, threshold=threshold, seed=seed)
    if not isinstance(source, EmbeddingSet):
        codebook.meta["embeddings"] = str(source)
    coverage = codebook_coverage(codebook, embeddings)
    nearest = nearest_rows(embeddings.subactions, codebook.vectors)
    serves = [sorted({embeddings.labels[embeddings.owner[r]] for r in np.flatnonzero(nearest == i)}) for i in range(codebook.size)]
    codes = [{"code": i, "row": int(r), "source_label": l, "sentence": s, "serves": "; ".join(serves[i])}
             for i, (r, l, s) in enumerate(zip(codebook.rows, codebook.source_labels, codebook.sentences))]
    out = Path(out)
    with atomic_dir(out) as tmp:
        write_codebook_files(codebook, tmp)
        _write_csv(tmp / "codes.csv", codes)
        write_json(tmp / "coverage.json", {"kind": "codebook_coverage", **coverage})
        plot_coverage(coverage, embeddings.labels, tmp / "coverage.png")
    return {
        "method": codebook.method,
        "size": codebook.size,
        "n_subactions": len(embeddings.subactions),
        "threshold": codebook.meta.get("threshold"),
        "labels_without_own_code": coverage["labels_without_own_code"],
        "n_shared_codes": len(coverage["shared_codes"]),
        "mean_cosine_to_code": coverage["mean_cosine_to_code"],
        "out": str(out),
    }
