"""``mmvq corpus check``: validate a sub-action corpus and judge it before training on it.

Without an encoder: labels, counts per label, which views every sub-action supports, what
``mmvq embed`` would write, exact duplicates, and style-rule flags. With an encoder also:
mean within-label and between-label cosine, the closest cross-label pairs (sentences
shown), near duplicates, a label-recoverability score (held-out-sentence retrieval of
the reconstruction probe), and ``nearest_centroid``: how well the sentences separate the labels,
measured on held-out sentences (leave-one-out nearest-label-centroid accuracy, per label and
overall, with chance and the confusion matrix) and on held-out labels (each label in turn
unseen: are its sentences nearer their own centroid than the seen labels'), exactly as
:mod:`mmvqshape.analysis.separation` defines them. With ``out`` the same as ``check.json``
plus figures (``separation_confusion.png`` and ``separation_per_label.png`` among them).

Hooks: style flags come from :func:`mmvqshape.text.style.style_flags` and recoverability
from :func:`mmvqshape.analysis.recon.label_recoverability`; each is skipped (and said so)
when its module is missing or fails.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..analysis.recon import label_recoverability
from ..analysis.separation import separation_report
from ..atomic import _json_default, atomic_dir
from ..palette import HEATMAP, REFERENCE_COLOR, series_colors
from ..text.corpus import VIEWS, Corpus, load_corpus
from ..text.encoders import embed_corpus
from ..text.style import style_flags

NEAR_DUPLICATE = 0.95  # cosine at or above which two different sentences count as near duplicates
TOP_PAIRS = 10
SHOW_FLAGS = 20


def run_corpus_check(
    corpus: Corpus | str | Path,
    *,
    encoder: str | Path | None = None,
    out: str | Path | None = None,
    view: str | None = None,
    pooling: str | None = None,
    device: str = "auto",
    cache: bool = True,
    near: float = NEAR_DUPLICATE,
    recoverability: bool = True,
    verbose: bool = True,
) -> dict[str, Any]:
    """Check ``corpus`` (path, shipped name or :class:`Corpus`); print and return a report dict.

    ``encoder`` (``minilm``, ``bert``, hub id or folder) enables the similarity part;
    ``out`` writes ``check.json`` and PNG figures into that folder (atomically).
    """
    if isinstance(corpus, Corpus):
        corpus = corpus if view is None else corpus.with_view(view)
    else:
        corpus = load_corpus(corpus, view="auto" if view is None else view)
    sentences, owner = corpus.flat()
    report: dict[str, Any] = {
        "corpus": str(corpus.path) if corpus.path is not None else None,
        "shape": corpus.shape,
        "view": corpus.view,
        "labels": list(corpus.labels),
        "counts": corpus.counts(),
        "n_subactions": len(sentences),
        "label_texts": {label: corpus.label_text(label) for label in corpus.labels},
        "views": {v: sum(item.has(v) for items in corpus.items.values() for item in items) for v in VIEWS},
        "available_views": corpus.available_views(),
        "exact_duplicates": _exact_duplicates(sentences, owner, corpus.labels),
        "style_flags": _style_flags(corpus),
    }
    embeddings = None
    if encoder is not None:
        embeddings = embed_corpus(corpus, encoder=encoder, pooling=pooling, device=device, cache=cache)
        report["encoder"] = embeddings.meta.get("encoder")
        report["pooling"] = embeddings.meta.get("pooling")
        report["dim"] = embeddings.dim
        report["similarity"] = similarity_summary(embeddings.subactions, np.asarray(owner), sentences, corpus.labels, near=near)
        report["label_recoverability"] = _recoverability(embeddings) if recoverability else {"skipped": "not asked"}
        report["nearest_centroid"] = separation_report(embeddings.subactions, np.asarray(owner), corpus.labels)
    if verbose:
        print(format_report(report))
    if out is not None:
        _write_outputs(report, embeddings, Path(out))
        if verbose:
            print(f"wrote {out}")
    return _public(report)


# --------------------------------------------------------------------------- measurements


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def similarity_summary(
    vectors: np.ndarray, owner: np.ndarray, sentences: list[str], labels: list[str], *, near: float = NEAR_DUPLICATE
) -> dict[str, Any]:
    """Within/between-label cosine, closest cross-label pairs, near duplicates of (N, D) vectors."""
    unit = _unit(np.asarray(vectors, dtype=np.float64))
    gram = unit @ unit.T  # (N, N)
    upper = np.triu(np.ones_like(gram, dtype=bool), k=1)
    same = owner[:, None] == owner[None, :]
    within = gram[upper & same]
    between = gram[upper & ~same]
    per_label = {}
    for index, label in enumerate(labels):
        rows = owner == index
        block = gram[np.ix_(rows, rows)]
        k = int(rows.sum())
        others = gram[np.ix_(rows, ~rows)]
        per_label[label] = {
            "within": float((block.sum() - np.trace(block)) / (k * (k - 1))) if k > 1 else None,
            "between": float(others.mean()) if others.size else None,
        }
    cross = np.where(upper & ~same, gram, -np.inf)
    order = np.argsort(cross, axis=None)[::-1][:TOP_PAIRS]
    pairs = []
    for flat in order:
        i, j = np.unravel_index(flat, gram.shape)
        if not np.isfinite(cross[i, j]):
            break
        pairs.append(_pair(i, j, gram, owner, sentences, labels))
    near_pairs = [
        _pair(i, j, gram, owner, sentences, labels)
        for i, j in zip(*np.nonzero(upper & (gram >= near)))
        if sentences[i] != sentences[j]
    ]
    near_pairs.sort(key=lambda p: -p["cosine"])
    return {
        "within_mean": float(within.mean()) if within.size else None,
        "between_mean": float(between.mean()) if between.size else None,
        "per_label": per_label,
        "closest_cross_label": pairs,
        "near_threshold": near,
        "near_duplicates": near_pairs,
        "_within": within,
        "_between": between,
        "_gram": gram,
    }


def _pair(i: int, j: int, gram: np.ndarray, owner: np.ndarray, sentences: list[str], labels: list[str]) -> dict[str, Any]:
    return {
        "cosine": float(gram[i, j]),
        "a": {"label": labels[int(owner[i])], "row": int(i), "sentence": sentences[i]},
        "b": {"label": labels[int(owner[j])], "row": int(j), "sentence": sentences[j]},
    }


def _exact_duplicates(sentences: list[str], owner: list[int], labels: list[str]) -> list[dict[str, Any]]:
    """Sentences that occur more than once (case and spacing ignored), with where they occur."""
    where: dict[str, list[int]] = defaultdict(list)
    for row, sentence in enumerate(sentences):
        where[" ".join(sentence.lower().split())].append(row)
    return [
        {"sentence": sentences[rows[0]], "rows": rows, "labels": [labels[owner[r]] for r in rows]}
        for rows in where.values()
        if len(rows) > 1
    ]


def _style_flags(corpus: Corpus) -> dict[str, Any]:
    """:func:`mmvqshape.text.style.style_flags`, or why it was skipped."""
    try:
        flags = style_flags(corpus)
    except Exception as err:  # noqa: BLE001 - a failing optional check must not hide the rest
        return {"skipped": f"style check failed ({type(err).__name__}: {err})"}
    return {"n": len(flags), "flags": [f.to_dict() for f in flags]}


def _recoverability(embeddings: Any) -> dict[str, Any]:
    """:func:`mmvqshape.analysis.recon.label_recoverability`, or why it was skipped."""
    try:
        score = float(label_recoverability(embeddings, seed=0))
    except Exception as err:  # noqa: BLE001
        return {"skipped": f"recoverability failed ({type(err).__name__}: {err})"}
    return {"top1": score, "chance": 1.0 / len(embeddings.labels), "seed": 0}


# --------------------------------------------------------------------------- printing and files


def format_report(report: dict[str, Any]) -> str:
    """The human-readable report printed by ``mmvq corpus check``."""
    counts = report["counts"]
    lines = [
        f"corpus {report['corpus']} (JSON shape {report['shape']}), view {report['view']}",
        f"{len(counts)} labels, {report['n_subactions']} sub-actions ({min(counts.values())} to {max(counts.values())} per label)",
    ]
    width = max(len(label) for label in counts)
    for label, n in counts.items():
        text = report["label_texts"][label]
        lines.append(f"  {label:<{width}}  {n:3d}" + (f"  label text: {text}" if text != label else ""))
    views = ", ".join(f"{v} {n}/{report['n_subactions']}" for v, n in report["views"].items())
    lines.append(f"sub-actions per view: {views}")
    dim = report.get("dim", "D")
    lines.append(
        f"embed would write: subactions.npy ({report['n_subactions']}, {dim}), labels.npy ({len(counts)}, {dim}), "
        f"view {report['view']}"
    )
    dups = report["exact_duplicates"]
    lines.append(f"exact duplicates: {len(dups)}")
    for dup in dups:
        lines.append(f"  x{len(dup['rows'])} [{', '.join(dict.fromkeys(dup['labels']))}] {dup['sentence']}")
    lines.extend(_check_lines("style flags", report["style_flags"], _style_flag_lines))
    if "similarity" in report:
        sim = report["similarity"]
        lines.append(f"encoder {report['encoder']} (pooling {report['pooling']}), dim {report['dim']}")
        lines.append(f"mean cosine: within-label {_fmt(sim['within_mean'])}, between-label {_fmt(sim['between_mean'])}")
        lines.append("closest cross-label pairs:")
        for pair in sim["closest_cross_label"]:
            lines.append(f"  {pair['cosine']:.3f}  [{pair['a']['label']}] {pair['a']['sentence']}")
            lines.append(f"         [{pair['b']['label']}] {pair['b']['sentence']}")
        lines.append(f"near duplicates (cosine >= {sim['near_threshold']}, different text): {len(sim['near_duplicates'])}")
        for pair in sim["near_duplicates"][:TOP_PAIRS]:
            lines.append(f"  {pair['cosine']:.3f}  [{pair['a']['label']}] {pair['a']['sentence']} | [{pair['b']['label']}] {pair['b']['sentence']}")
        lines.extend(_check_lines("label recoverability", report["label_recoverability"], _recoverability_lines))
        lines.extend(_separation_lines(report["nearest_centroid"]))
    return "\n".join(lines)


def _check_lines(title: str, result: dict[str, Any], lines_of_result: Callable[[dict[str, Any]], list[str]]) -> list[str]:
    """``title: skipped (why)`` for a check that did not run, else ``lines_of_result(result)``."""
    if "skipped" in result:
        return [f"{title}: skipped ({result['skipped']})"]
    return lines_of_result(result)


def _style_flag_lines(style: dict[str, Any]) -> list[str]:
    lines = [f"style flags: {style['n']}"]
    for flag in style["flags"][:SHOW_FLAGS]:
        lines.append(f"  {flag['label']} #{flag['index']} {flag['field']}: {flag['rule']} ({flag['detail']}): {flag['text']}")
    if style["n"] > SHOW_FLAGS:
        lines.append(f"  ... {style['n'] - SHOW_FLAGS} more (see check.json with --out)")
    return lines


def _recoverability_lines(recoverability: dict[str, Any]) -> list[str]:
    return [f"label recoverability (held-out sentences, top-1): {recoverability['top1']:.3f} "
            f"(chance {recoverability['chance']:.3f})"]


def _separation_lines(separation: dict[str, Any]) -> list[str]:
    sentences = separation["sentence_folds"]
    lines = [
        f"separation, nearest label centroid (leave-one-out sentences): accuracy {_fmt(sentences['accuracy'])}, "
        f"per-label mean {_fmt(sentences['macro_accuracy'])} (chance {sentences['chance']:.3f}; "
        f"{sentences['n_scored']}/{sentences['n_sentences']} sentences scored)"
    ]
    folds = separation.get("label_folds")
    if folds is not None:
        lines.append(
            f"separation, held-out labels (each label unseen in turn, centred on the seen labels): "
            f"own centroid nearest {_fmt(folds['mean_accuracy'])} (chance {_fmt(folds['chance'])})"
        )
    held = {label: entry["accuracy"] for fold in (folds or {}).get("per_fold", []) for label, entry in fold["held_out"].items()}
    width = max(len(label) for label in sentences["per_label"])
    for label, share in sentences["per_label"].items():
        unseen = f"   held out: {_fmt(held[label])}" if label in held else ""
        lines.append(f"  {label:<{width}}  sentences: {_fmt(share)}{unseen}")
    return lines


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _public(report: dict[str, Any]) -> dict[str, Any]:
    out = dict(report)
    if "similarity" in out:
        out["similarity"] = {k: v for k, v in out["similarity"].items() if not k.startswith("_")}
    return out


def _write_outputs(report: dict[str, Any], embeddings: Any, out: Path) -> None:
    with atomic_dir(out) as tmp:
        (tmp / "check.json").write_text(json.dumps({"kind": "corpus_check", **_public(report)}, indent=2, default=_json_default) + "\n")
        if "similarity" in report:
            _figures(report, embeddings, tmp)


def _figures(report: dict[str, Any], embeddings: Any, folder: Path) -> None:
    _separation_figures(report, folder)
    sim = report["similarity"]
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    bins = np.linspace(-0.2, 1.0, 61)
    ax.hist(sim["_between"], bins=bins, alpha=0.6, density=True, label=f"between labels (mean {_fmt(sim['between_mean'])})")
    ax.hist(sim["_within"], bins=bins, alpha=0.6, density=True, label=f"within a label (mean {_fmt(sim['within_mean'])})")
    ax.set_xlabel("cosine similarity of two sub-actions")
    ax.set_ylabel("density")
    ax.set_title(f"{report['encoder']}, view {report['view']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "similarity_hist.png", dpi=120)

    gram = sim["_gram"]
    owner = embeddings.owner
    labels = report["labels"]
    fig = Figure(figsize=(7, 6))
    ax = fig.subplots()
    image = ax.imshow(gram, vmin=-0.2, vmax=1.0, cmap="viridis", interpolation="nearest")
    starts = [int(np.flatnonzero(owner == k)[0]) for k in range(len(labels))]
    for s in starts[1:]:
        ax.axhline(s - 0.5, color="white", lw=0.5)
        ax.axvline(s - 0.5, color="white", lw=0.5)
    centres = [int(np.flatnonzero(owner == k).mean()) for k in range(len(labels))]
    ax.set_yticks(centres, labels, fontsize=6)
    ax.set_xticks([])
    ax.set_title("sub-action Gram matrix (cosine), label blocks")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(folder / "gram.png", dpi=120)

    n = len(labels)
    means = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            block = gram[np.ix_(owner == a, owner == b)]
            if a == b:
                k = block.shape[0]
                means[a, b] = (block.sum() - np.trace(block)) / (k * (k - 1)) if k > 1 else np.nan
            else:
                means[a, b] = block.mean()
    fig = Figure(figsize=(7, 6))
    ax = fig.subplots()
    image = ax.imshow(means, vmin=0, vmax=1, cmap="magma")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=6)
    ax.set_yticks(range(n), labels, fontsize=6)
    for a in range(n):
        for b in range(n):
            if np.isfinite(means[a, b]):
                ax.text(b, a, f"{means[a, b]:.2f}", ha="center", va="center", fontsize=5, color="white" if means[a, b] < 0.6 else "black")
    ax.set_title("mean cosine between the sub-actions of two labels")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(folder / "label_similarity.png", dpi=120)


def _separation_figures(report: dict[str, Any], folder: Path) -> None:
    """The leave-one-out confusion matrix, and per-label shares of both separation measures."""
    labels = report["labels"]
    sentences = report["nearest_centroid"]["sentence_folds"]
    confusion = np.asarray(sentences["confusion"], dtype=float)
    totals = confusion.sum(axis=1, keepdims=True)
    shares = np.divide(confusion, totals, out=np.full_like(confusion, np.nan), where=totals > 0)
    n = len(labels)
    fig = Figure(figsize=(max(4.5, 0.45 * n + 2.5), max(4.0, 0.45 * n + 1.8)), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(shares, vmin=0, vmax=1, cmap=HEATMAP)
    for a in range(n):
        for b in range(n):
            if confusion[a, b]:
                ax.text(b, a, f"{int(confusion[a, b])}", ha="center", va="center", fontsize=7,
                        color="white" if shares[a, b] < 0.6 else "black")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels, fontsize=7)
    ax.set_xlabel("nearest label centroid (sentence left out of its own)")
    ax.set_ylabel("the sentence's own label")
    ax.set_title(f"{report['encoder']}, view {report['view']}: accuracy {_fmt(sentences['accuracy'])} "
                 f"(chance {sentences['chance']:.2f})", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the label's sentences")
    fig.savefig(folder / "separation_confusion.png", dpi=120)

    folds = report["nearest_centroid"].get("label_folds")
    held = {label: e["accuracy"] for fold in (folds or {}).get("per_fold", []) for label, e in fold["held_out"].items()}
    series = [("held-out sentences (leave-one-out)", [sentences["per_label"][x] for x in labels])]
    if folds is not None:
        series.append(("held-out label (centred on seen labels)", [held.get(x) for x in labels]))
    fig = Figure(figsize=(max(5.0, 0.5 * n + 2.0), 4.2), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(series)
    for k, ((name, values), color) in enumerate(zip(series, series_colors(len(series)))):
        heights = [np.nan if v is None else v for v in values]
        ax.bar(np.arange(n) + (k - (len(series) - 1) / 2) * width, heights, width, color=color, label=name)
    ax.axhline(sentences["chance"], color=REFERENCE_COLOR, ls="--", lw=1, label=f"chance 1/{n}")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share nearest to its own label's centroid")
    ax.legend(fontsize=7)
    fig.savefig(folder / "separation_per_label.png", dpi=120)
