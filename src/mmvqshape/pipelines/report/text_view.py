"""Section 4, the sub-action text: the corpus, one interactive 3-D view, t-SNE, the Gram
matrix, the reconstruction probe and the action codebook, with their tables folded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .folder import document_data, of_kind, read_csv
from .html import Raw, esc, figure, fold, label_html, table
from .part import Part
from .projection_view import METHOD_WORDS, VIEW_WORDS, projection_view


def _interactive_view(part: Part) -> str:
    view = projection_view(f"view3d-{part.anchor or 'main'}", part.projections, part.labels, part.colors)
    if not view:
        return ""
    order = list(METHOD_WORDS)
    methods = ", ".join(METHOD_WORDS.get(m, m) for m in sorted({p.method for p in part.projections if p.dims == 3},
                                                                key=lambda m: order.index(m) if m in order else len(order)))
    raw = " · ".join(part.link(p.folder / "coordinates.csv", f"{p.method} coordinates") for p in part.projections if p.dims == 3)
    return (f"<figure>{view}<figcaption>Every sub-action sentence as a point ({esc(methods)} to 3-D, cosine geometry), "
            "coloured by the activity it was written for. Drag to rotate, hover to read a sentence; the buttons "
            f"switch the method and the text view (arm and leg halves together or apart). Raw: {raw}.</figcaption></figure>")


def _flat_projections(part: Part) -> list[str]:
    found = []
    for projection in part.projections:
        png = projection.folder / "projection.png"
        if projection.dims == 2 and png.is_file():
            views = ", ".join(VIEW_WORDS.get(p.get("view", ""), p.get("view", "")) for p in projection.params.get("panels", []))
            found.append(figure(png, f"{projection.method.replace('tsne', 't-SNE')} in 2-D, one panel per text view ({views}): "
                                     "sentences of one activity should sit together, and apart from the others."))
    return found


def _gram(part: Part, gram: Path) -> list[str]:
    stats = document_data(gram.parent / "gram_stats.json", "gram_stats") or {}
    within, between = (stats.get("within") or {}).get("mean"), (stats.get("between") or {}).get("mean")
    numbers = (f" Mean cosine within an activity {within:.2f}, between activities {between:.2f}."
               if isinstance(within, float) and isinstance(between, float) else "")
    return [figure(gram, f"Cosine similarity of every pair of sentences, grouped by activity: bright blocks on the "
                         f"diagonal mean an activity's sentences resemble each other more than the rest.{numbers}"),
            _csv_fold(part, gram.parent / "label_similarity.csv", "Mean similarity between activities"),
            _csv_fold(part, gram.parent / "top_pairs.csv", "The most similar sentences of different activities",
                      columns=["cosine", "label_a", "sentence_a", "label_b", "sentence_b"], limit=15)]


def _recon(part: Part, recon: Path) -> list[str]:
    return [figure(recon, "Can an activity's name be rebuilt from its sub-actions? A small network maps a set of "
                          "sentences to the label's embedding; higher than the dashed mean baseline means the "
                          "sentences carry the activity, and the quantised lines show what the action codebook keeps."),
            _csv_fold(part, recon.parent / "summary.csv", "Reconstruction probe: mean ± std over seeds",
                      columns=["protocol", "model", "hidden", "cosine_mean", "cosine_std", "top1_mean", "top1_std",
                               "quantized_top1_mean", "chance_top1"])]


def _coverage(part: Part, coverage: Path) -> list[str]:
    return [figure(coverage, "The action codebook: the sentences the model may choose from. How many codes serve each "
                             "activity, and how many come from its own sentences."),
            _csv_fold(part, coverage.parent / "codes.csv", "The codebook's sentences", columns=["code", "source_label", "sentence", "serves"])]


def text(part: Part) -> tuple[str, str] | None:
    index = _embedding_index(part)
    body = [_corpus_paragraph(part, index) if index else "", _interactive_view(part), *_flat_projections(part)]
    for name, draw in (("gram.png", _gram), ("recon.png", _recon), ("coverage.png", _coverage)):
        path = part.file(name)
        if path:
            body += draw(part, path)
    if index:
        body.append(_sentences_fold(part, index))
    body = [b for b in body if b]
    if not body:
        return None
    return "The sub-action sentences: do they tell the activities apart?", "".join(body)


def _embedding_index(part: Part) -> tuple[Path, dict] | None:
    """The arm+leg embedding's index.json (else any)."""
    candidates = sorted(of_kind(part.documents, "embedding_index"), key=lambda d: (d.data.get("view") != "armleg", str(d.path)))
    return (candidates[0].path, candidates[0].data) if candidates else None


def _corpus_paragraph(part: Part, index: tuple[Path, dict]) -> str:
    path, data = index
    counts = data.get("counts") or {}
    n = len(data.get("sentences") or [])
    labels = data.get("labels") or []
    per = f"{min(counts.values())}–{max(counts.values())}" if counts and min(counts.values()) != max(counts.values()) else (
        str(next(iter(counts.values()))) if counts else "")
    return (f"<p>{n} sentences for {len(labels)} activities{f' ({per} each)' if per else ''}, each an arm half and a leg half, "
            f"embedded with {esc(data.get('encoder', '?'))} ({esc(data.get('dim', '?'))} numbers per sentence). "
            "A good corpus puts each activity's sentences together and apart from the other activities'.</p>")


def _sentences_fold(part: Part, index: tuple[Path, dict]) -> str:
    path, data = index
    labels, owner, sentences = data.get("labels") or [], data.get("owner") or [], data.get("sentences") or []
    if not sentences or len(owner) != len(sentences):
        return ""
    rows = [[Raw(label_html(labels[o], part.colors) if o < len(labels) else esc(o)), s] for o, s in zip(owner, sentences)]
    return fold(f"All {len(sentences)} sentences", table(["activity", "sentence"], rows, text_columns=[1])
                + f"<p class='meta'>Raw: {part.link(path, 'index.json')}</p>")


def _csv_fold(part: Part, path: Path, summary: str, *, columns: list[str] | None = None, limit: int = 60) -> str:
    rows = read_csv(path)
    if not rows:
        return ""
    columns = [c for c in (columns or list(rows[0])) if c in rows[0]]
    numeric = []
    for c in columns:
        numeric.append(all(_is_number(r.get(c)) for r in rows if r.get(c) not in ("", None)))
    shown = [[_typed(r.get(c)) if numeric[i] else (Raw(label_html(r[c], part.colors)) if r.get(c) in part.colors else r.get(c))
              for i, c in enumerate(columns)] for r in rows[:limit]]
    more = f" (first {limit} of {len(rows)})" if len(rows) > limit else ""
    text_cols = [i for i, c in enumerate(columns) if "sentence" in c]
    return fold(summary + more, table([c.replace("_", " ") for c in columns], shown, numeric=numeric, text_columns=text_cols)
                + f"<p class='meta'>Raw: {part.link(path, path.name)}</p>")


def _is_number(value: Any) -> bool:
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def _typed(value: Any) -> Any:
    if value in ("", None):
        return None
    number_value = float(value)
    return int(number_value) if number_value.is_integer() and "." not in str(value) else number_value
