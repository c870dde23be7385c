"""Section 5, data and method: the data and its split, a bench's setup, and how each model was trained."""

from __future__ import annotations

from pathlib import Path

from .facts import first_of_each_model
from .folder import Run, document_data
from .html import Raw, esc, label_html, table
from .part import Part
from .projection_view import VIEW_WORDS


def _data_paragraph(part: Part) -> list[str]:
    summary = document_data(part.root / "data" / "summary.json", "data_summary")
    if not summary:
        return []
    split = summary.get("split") or {}
    body = [f"<p>Data <b>{esc(summary.get('data'))}</b>: {len(summary.get('labels', []))} activities, channels "
            f"{esc(', '.join(summary.get('channels', [])))}, windows resampled to {esc(summary.get('length'))} samples. "
            f"Split {esc(split.get('method', '?'))}"
            + (f", {summary['subjects']} subjects" if summary.get("subjects") else "")
            + ": the test windows are fixed, and the validation windows that chose checkpoints are carved from the "
              "training part only.</p>"]
    splits = summary.get("splits") or {}
    labels = summary.get("labels") or []
    if splits and labels:
        rows = [[Raw(label_html(label, part.colors)), *[splits[s]["per_class"].get(label) for s in splits]] for label in labels]
        rows.append(["all", *[splits[s].get("n") for s in splits]])
        body.append(table(["activity", *[f"{s} windows" for s in splits]], rows, numeric=[False] + [True] * len(splits)))
    return body


def _bench_setups(part: Part) -> list[str]:
    body = []
    if part.bench and part.bench[1]:
        setup = part.bench[1]
        budget = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in (setup.get("budget") or {}).items())
        body.append(f"<p>Benchmark on <b>{esc(setup.get('data', '?'))}</b> ({esc(setup.get('channels', ''))} channels) with the "
                    f"{esc(setup.get('corpus', '?'))} corpus: {esc(setup.get('seeds', '?'))} seeds, training windows "
                    f"{esc(setup.get('shots', 'all'))}" + (f"; training budget {esc(budget)}" if budget else "") + ".</p>")
    if part.zero_shot_bench:
        setup = part.zero_shot_bench[0]
        body.append(f"<p>Zero-shot benchmark on <b>{esc(setup.get('data', '?'))}</b> with the {esc(setup.get('corpus', '?'))} "
                    f"corpus ({esc(setup.get('encoder', '?'))} encoder, {esc(VIEW_WORDS.get(setup.get('view'), setup.get('view')))} "
                    f"view): {len(setup.get('folds') or [])} folds of held-out activities, {esc(setup.get('seeds', '?'))} seed(s). "
                    f"Signal representation: {esc(setup.get('signal_representation', '?'))}. Held-out activities' windows and "
                    "sentences reach no training step; they are only candidates at test time.</p>")
    return body


def data_and_method(part: Part) -> tuple[str, str] | None:
    body = _data_paragraph(part) + _bench_setups(part)
    configs = first_of_each_model([r for r in part.classifier_runs if r.config])
    if configs:
        rows = [[r.name, _method_line(r, part.root)] for r in configs]
        body.append("<h3>Models</h3>" + table(["model", "how it was trained"], rows, text_columns=[1]))
        body.append("<p class='meta'>Full settings: " + " · ".join(part.link(r.path / "config.yaml", f"{r.name}") for r in configs) + "</p>")
    if not body:
        return None
    return "Data and method", "".join(body)


def _method_line(run: Run, root: Path) -> str:
    c, m = run.config, run.config.get("model") or {}
    if run.model == "minirocket":
        return (f"aeon MiniRocket, {m.get('n_kernels', 10_000):,} random convolution kernels; {m.get('classifier', 'ridge')} "
                "classifier, its regularisation chosen by leave-one-out on the training windows")
    if run.model == "summary-lr":
        return (f"per-window summary features (statistics, band energies, gravity direction), standardised on the "
                f"training windows; logistic regression with fixed C = {m.get('C', 1.0)}, nothing tuned")
    if run.model == "shape-tokens":
        return ("shape tokens cut from the signal on a multi-scale grid, a spherical k-means shape codebook, "
                "a linear classifier on the window's bag of tokens")
    parts = []
    if c.get("max_epochs"):
        parts.append(f"{c['max_epochs']} epochs, batch {c.get('batch_size')}, learning rate {c.get('lr')}")
    if m.get("num_code"):
        parts.append(f"{m.get('num_token', '?')} shape tokens per window from {m['num_code']} codes")
    if m.get("channels"):
        parts.append(f"channels {m['channels']}")
    if c.get("corpus"):
        corpus = Path(str(c["corpus"]))
        if corpus.is_absolute() and corpus.is_relative_to(root):
            corpus = corpus.relative_to(root)
        parts.append(f"sub-action sentences from {corpus} ({VIEW_WORDS.get(c.get('view') or 'armleg', c.get('view'))} view, "
                     f"{c.get('encoder')} encoder)")
    if run.holdout:
        parts.append(f"held out: {', '.join(run.holdout)}")
    epoch = run.metrics.get("checkpoint_epoch")
    selection = run.metrics.get("selection") if isinstance(run.metrics.get("selection"), dict) else None
    if selection and selection.get("epochs") is not None:  # the refit protocol (training/refit.py)
        parts.append(f"{selection['epochs']} epochs chosen on validation subjects, then refitted on training + validation")
    elif epoch is not None:
        parts.append(f"checkpoint of epoch {epoch} chosen on validation")
    return "; ".join(parts)
