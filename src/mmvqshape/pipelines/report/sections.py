"""The report's six sections, in reading order, each drawn from what the folder holds.

1. headline: which model won (accuracy ± std), what the model explains, zero-shot results;
2. explanations of test windows (one per class where the demo chose them);
3. the shapes: reconstruction quality, code usage, any codebook figures;
4. the sub-action text: one interactive 3-D view, t-SNE, Gram matrix, reconstruction probe,
   action codebook;
5. data and method;
6. provenance: versions, seeds, split, timing, raw files.

Each builder returns ``(title, html)`` or ``None`` when the folder holds nothing for it.
"""

from __future__ import annotations

import math
import platform
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ...palette import label_color_map
from .folder import (
    Explanation,
    Projection,
    Run,
    ZeroShotFold,
    bench_explanation,
    bench_summary,
    first,
    model_words,
    read_csv,
    read_json,
    scalar,
    zero_shot_bench,
)
from .html import Raw, esc, figure, fold, label_html, link, mean_std, percent, section, table
from .projection_view import METHOD_WORDS, VIEW_WORDS, projection_view

#: Plain words for the explanation metrics (metrics.json ``explanation``).
EXPLANATION_WORDS = {
    "precision": "share of chosen sentences that belong to the window's true activity",
    "diversity": "distinct sentences per window ÷ sentence slots",
    "repeat_rate": "share of slots that repeat a sentence already chosen for the same window",
    "specificity": "how much windows of one activity differ in the sentences they get",
    "faithfulness": "drop in the predicted class's score when a chosen sentence is swapped for a random one",
}
#: Plain words for the zero-shot metrics (metrics.json ``zero_shot``).
ZERO_SHOT_COLUMNS = [
    ("unseen_accuracy", "unseen windows named right, among unseen activities"),
    ("unseen_gzsl_accuracy", "unseen windows named right, among all activities"),
    ("seen_accuracy", "seen windows named right, among all activities"),
    ("harmonic_mean", "harmonic mean of seen and unseen (all activities)"),
]
#: Figures every neural run writes, captioned by name below (others in figures/ get their file name in words).
RUN_FIGURES = {"confusion.png", "reconstruction.png", "code_usage.png"}
STEP_CAP = 40
#: Explained windows shown open; the rest of one-per-activity (HAPT has six) are folded.
OPEN_EXPLANATIONS = 4


@dataclass
class Part:
    """What one data set's folder holds, read once for all sections."""

    root: Path
    page_dir: Path
    files: list[Path]
    runs: list[Run]
    explanations: list[Explanation]
    projections: list[Projection]
    labels: list[str]
    zero_shot: list[ZeroShotFold] = field(default_factory=list)
    headline_notes: list[str] = field(default_factory=list)  # trusted HTML under the headline's answers
    colors: dict[str, str] = field(default_factory=dict)
    anchor: str = ""

    def __post_init__(self) -> None:
        self.colors = label_color_map(self.labels)

    def file(self, name: str, under: str | None = None) -> Path | None:
        return first(self.files, name, under=under)

    def link(self, path: Path, text: str | None = None) -> str:
        return link(path, self.page_dir, text)

    @property
    def classifier_runs(self) -> list[Run]:
        """Runs that classify every label (not held-out-label runs) and scored something."""
        return [r for r in self.runs if not r.holdout and scalar(r.metrics.get("accuracy")) is not None]



# ---------------------------------------------------------------- 1. headline


@dataclass
class ModelRow:
    """One model's line in the headline: accuracy mean ± std over its seeds."""

    name: str
    description: str
    mean: float
    std: float
    seeds: int
    macro_f1: str
    n_test: int | None
    runs: list[Run] = field(default_factory=list)


def model_rows(part: Part) -> list[ModelRow]:
    """One row per model, best first: a bench's own summary when the folder is a bench,
    else the runs grouped by model (runs that differ only by seed are one row, mean ± std)."""
    bench = bench_summary(part.root)
    if bench:
        rows = []
        for e in bench[0]:
            if "zero-shot" in str(e.get("model")) or e.get("accuracy_mean") is None:
                continue
            key = str(e.get("model"))
            if e.get("shots") not in (None, "all"):
                key = f"{key}-{e['shots']}"
            name, description = model_words(key)
            n = int(e.get("seeds") or 1)
            rows.append(ModelRow(name, description, float(e["accuracy_mean"]), float(e.get("accuracy_std") or 0.0), n,
                                 mean_std(e.get("macro_f1_mean"), e.get("macro_f1_std"), n), None))
        return sorted(rows, key=lambda r: (-r.mean, r.name))
    groups: dict[str, list[Run]] = {}
    for run in part.classifier_runs:
        key = run.key if len({r.data for r in part.classifier_runs}) <= 1 else f"{run.data}/{run.key}"
        groups.setdefault(key, []).append(run)
    rows = []
    for runs in groups.values():
        accuracy = [a for a in (scalar(r.metrics.get("accuracy")) for r in runs) if a is not None]
        macro = [m for m in (scalar(r.metrics.get("macro_f1")) for r in runs) if m is not None]
        n_test = runs[0].metrics.get("n_test")
        rows.append(ModelRow(runs[0].name, runs[0].description, float(np.mean(accuracy)), float(np.std(accuracy)), len(accuracy),
                             mean_std(float(np.mean(macro)), float(np.std(macro)), len(macro)) if macro else "—",
                             n_test if isinstance(n_test, int) else None, runs))
    return sorted(rows, key=lambda r: (-r.mean, r.name))


def _count(accuracy: float, n_test: int | None) -> str:
    return f" ({round(accuracy * n_test)} of {n_test} windows)" if n_test else ""


def part_note(part: Part, name: str, anchor: str) -> str:
    """One line for the first part's headline about a further data set's result, linked to its sections."""
    rows = model_rows(part)
    if not rows:
        return ""
    return f"Second data set, <a href='#{esc(anchor)}'>{esc(name)}</a> (its own sections follow): {_winner_sentence(rows)}"


def _winner_sentence(rows: list[ModelRow]) -> str:
    if not rows:
        return "No model was scored in this folder."
    seeds = max(r.seeds for r in rows)
    best = rows[0]
    if len(rows) == 1:
        return f"Only one model here: <b>{esc(best.name)}</b>, test accuracy {mean_std(best.mean, best.std, best.seeds)}{_count(best.mean, best.n_test) if seeds == 1 else ''}."
    tied = [r for r in rows if abs(r.mean - best.mean) < 1e-9]
    rest = [r for r in rows if r not in tied]
    names = " and ".join(f"<b>{esc(r.name)}</b>" for r in tied)
    verb = "tie at" if len(tied) > 1 else "wins with"
    text = f"{names} {verb} test accuracy {mean_std(best.mean, best.std, seeds)}"
    text += _count(best.mean, best.n_test) if seeds == 1 else f" (mean ± std over {seeds} seeds)"
    if rest:
        text += "; then " + ", ".join(f"{esc(r.name)} {mean_std(r.mean, r.std, r.seeds)}" for r in rest[:3])
    text += "."
    if seeds == 1 and best.n_test:
        text += f" One seed: one window is {1 / best.n_test:.3f} of accuracy, so small gaps are noise."
    return text


def _explain_sentence(part: Part) -> str:
    order = {label: i for i, label in enumerate(part.labels)}
    with_words = sorted((e for e in part.explanations if e.data.get("sub_actions")),
                        key=lambda e: (order.get(e.data.get("true_label"), len(order)), e.index))
    if with_words:
        e = with_words[0]
        true, pred = e.data.get("true_label"), e.data.get("predicted_label")
        sentences = [s.get("sentence", "") for s in e.data["sub_actions"]]
        shown = f"“{esc(sentences[0])}”"
        more = f" and {len(sentences) - 1} more" if len(sentences) > 1 else ""
        verdict = "correct" if true == pred else "wrong"
        return (f"For a <b>{esc(true)}</b> test window the model predicted <b>{esc(pred)}</b> ({verdict}) and, reading "
                f"the signal alone, chose the sub-actions {shown}{more}. Section 2 draws the shapes it used per channel "
                "so the sentences can be checked against the signal.")
    if part.explanations:
        e = part.explanations[0]
        n = sum(len(c.get("shapes", [])) for c in e.data.get("channels", []))
        return f"Each window is described by {n} shapes from the shape codebook (section 2); this model chooses no sentences."
    return "No window was explained in this folder (<code>mmvq explain RUN --index I</code> does it)."


def _values(fold: ZeroShotFold) -> dict[str, Any]:
    """A fold's numbers, older runs' ``holdout_accuracy`` read as ``unseen_gzsl_accuracy``."""
    values = dict(fold.values)
    if "unseen_gzsl_accuracy" not in values and "holdout_accuracy" in values:
        values["unseen_gzsl_accuracy"] = values["holdout_accuracy"]
    return values


def _n_candidates(values: dict[str, Any]) -> int | None:
    candidates = values.get("candidates")
    return len(candidates) if isinstance(candidates, list) else candidates if isinstance(candidates, int) else None


def _main_folds(part: Part) -> list[ZeroShotFold]:
    """The folds the headline answers from: the model's own (no named method), else the first method listed."""
    own = [f for f in part.zero_shot if f.method is None]
    if own or not part.zero_shot:
        return own
    return [f for f in part.zero_shot if f.method == part.zero_shot[0].method]


def _zero_shot_sentence(part: Part) -> str:
    """The answer to "were unseen activities recognised?" from the held-out-activity folds.

    With two or more held out, the measure is ``unseen_accuracy`` (choosing among the unseen
    activities, chance 1 / their number); with one, that choice is trivial, so it is the
    generalised ``unseen_gzsl_accuracy`` (choosing among all activities).
    """
    folds = _main_folds(part)
    if not folds:
        return ("Not tested here: every activity was seen in training. A held-out-activity run (<code>mmvq train "
                "--holdout-labels</code>, or the zero-shot bench) answers it.")
    values = [_values(f) for f in folds]
    count = f"mean of {len(folds)} fold{'s' if len(folds) > 1 else ''}"
    unseen = [u for u in (scalar(v.get("unseen_accuracy")) for v in values) if u is not None]
    gzsl = [g for g in (scalar(v.get("unseen_gzsl_accuracy")) for v in values) if g is not None]
    held = float(np.mean([len(f.held_out) for f in folds]))
    harmonic = [h for h in (scalar(v.get("harmonic_mean")) for v in values) if h is not None]
    if unseen and held >= 2:
        mean, chance = float(np.mean(unseen)), 1 / held
        how = f"when choosing among the {held:.0f} held-out activities"
    elif gzsl:
        n = _n_candidates(values[0])
        mean, chance = float(np.mean(gzsl)), values[0].get("chance") or (1 / n if n else None)
        how = "when choosing among all activities"
    else:
        return "Held-out-activity runs are here but report no zero-shot accuracy."
    verdict = "Yes, above chance" if chance is not None and mean > chance else "No, not above chance"
    who = f"the zero-shot reader ({esc(folds[0].method)})" if folds[0].method else "the model"
    text = (f"<span class='verdict'>{verdict}</span>: trained without them (windows and sentences), {who} named "
            f"held-out activities right in {percent(mean)} of their test windows {how} (chance {percent(chance)}; {count}).")
    if gzsl and how.endswith("held-out activities"):
        text += f" Among all activities: {percent(float(np.mean(gzsl)))}."
    if harmonic:
        text += f" Harmonic mean of seen and unseen accuracy: {float(np.mean(harmonic)):.2f}."
    return text


def _text_match_sentence(part: Part) -> str:
    """All-labels-seen runs: how often the predicted label description is nearest the right label's text."""
    lines = []
    for run in part.classifier_runs:
        zs = run.metrics.get("label_text_retrieval") or run.metrics.get("zero_shot") or {}  # older runs: zero_shot
        value = scalar(zs.get("accuracy"))
        if value is None:
            continue
        chance = zs.get("chance") or (1 / zs["candidates"] if zs.get("candidates") else None)
        lines.append((run, value, chance))
    if not lines:
        return ""
    rows = [(r.name, v, c, r.metrics.get("n_test")) for r, v, c in lines]
    run, value, chance = lines[0]
    text = (f"<p>Besides the class, {esc(run.name)} predicts a description of the activity from the signal; it lies nearest "
            f"the right activity's text for {percent(value)} of test windows (chance {percent(chance)}). Every activity was seen "
            "in training, so this is a consistency check, not zero-shot recognition.</p>")
    detail = table(["model", "label-text retrieval accuracy (every label seen)", "chance", "test windows"], rows,
                   numeric=[False, True, True, True])
    return text + fold("The number behind it", detail)


def headline(part: Part) -> tuple[str, str] | None:
    rows = model_rows(part)
    if not rows and not part.explanations and not part.zero_shot and not bench_summary(part.root):
        return None
    questions = []  # the three a reader asks first; a folder without models or explanations skips those
    if rows:
        questions.append(("Which model recognises the activities best?", _winner_sentence(rows)))
    if rows or part.explanations:
        questions.append(("What does the model explain for a window?", _explain_sentence(part)))
    questions.append(("Were unseen activities recognised?", _zero_shot_sentence(part)))
    body = "<div class='cards'>" + "".join(f"<div class='card'><p class='q'>{esc(q)}</p><p class='a'>{a}</p></div>"
                                           for q, a in questions) + "</div>"
    if rows:
        seeds = max(r.seeds for r in rows)
        table_rows = [[r.name, r.description, Raw(esc(mean_std(r.mean, r.std, r.seeds))), Raw(esc(r.macro_f1)), r.n_test, r.seeds]
                      for r in rows]
        head = ["model", "what it is", "test accuracy", "macro-F1", "test windows", "seeds"]
        keep = [i for i in range(len(head)) if i != 4 or any(r.n_test for r in rows)]
        best = ["best" if abs(r.mean - rows[0].mean) < 1e-9 else "" for r in rows]
        body += table([head[i] for i in keep], [[row[i] for i in keep] for row in table_rows],
                      numeric=[i >= 2 for i in keep], row_classes=best, text_columns=[1],
                      wide_only=[keep.index(i) for i in (1, 4, 5) if i in keep])
        body += ("<p class='meta'>Every number is measured once on the test split, which chose nothing: checkpoints and "
                 "settings were chosen on a validation split carved from the training data."
                 + (" ± is the standard deviation over seeds." if seeds > 1 else "") + "</p>")
        body += bench_raw(part)
        body += _text_match_sentence(part)
        body += _per_class(part, rows)
        confusions = [(r, r.figure("confusion.png")) for row in rows for r in row.runs[:1]]
        figs = "".join(figure(path, f"{r.name}: test windows by true activity (rows) and prediction (columns).")
                       for r, path in confusions if path)
        if figs:
            body += fold("Confusion matrices", f"<div class='pair'>{figs}</div>")
    body += zero_shot_table(part)
    body += "".join(f"<p class='lead'>{note}</p>" for note in part.headline_notes)
    return "Headline: which model wins, what it explains, and zero-shot", body


def _per_class(part: Part, rows: list[ModelRow]) -> str:
    """Recall per class and model (first seed), folded."""
    labels = part.labels
    columns = []
    for row in rows:
        if not row.runs:
            continue
        per_class = row.runs[0].metrics.get("per_class")
        if isinstance(per_class, dict):
            columns.append((row.name, per_class))
    if not columns or not labels:
        return ""
    body = []
    for label in labels:
        cells: list[Any] = [Raw(label_html(label, part.colors))]
        for _, per_class in columns:
            entry = per_class.get(label)
            cells.append(scalar(entry.get("recall")) if isinstance(entry, dict) else None)
        body.append(cells)
    return fold("Accuracy per activity (recall: share of its test windows recognised)",
                table(["activity", *[name for name, _ in columns]], body, numeric=[False] + [True] * len(columns)))


def zero_shot_table(part: Part) -> str:
    """Every held-out-activity fold (and any baseline the bench scored beside it), with means."""
    folds = part.zero_shot
    if not folds:
        return ""
    values = [_values(f) for f in folds]
    present = [(key, words) for key, words in ZERO_SHOT_COLUMNS if any(scalar(v.get(key)) is not None for v in values)]
    among_unseen = any(key == "unseen_accuracy" for key, _ in present)
    methods = any(f.method for f in folds)
    rows = []
    for one, v in zip(folds, values):
        n_candidates = _n_candidates(v)
        if among_unseen:
            chance = v.get("chance_unseen") or (1 / len(one.held_out) if one.held_out else None)
        else:
            chance = v.get("chance") or (1 / n_candidates if n_candidates else None)
        rows.append([*([one.method or "MMVQShape"] if methods else []), ", ".join(one.held_out), one.seed,
                     *[scalar(v.get(k)) for k, _ in present], chance, n_candidates])
    lead = 3 if methods else 2
    for method in dict.fromkeys(f.method for f in folds):  # one mean row per method
        mine = [row for row, f in zip(rows, folds) if f.method == method]
        if len(mine) > 1:
            rows.append([*([f"{method or 'MMVQShape'}: mean"] if methods else ["mean"]), *([""] if methods else []), "",
                         *[_mean([row[lead + i] for row in mine]) for i in range(len(present))], "", ""])
    chance_words = "chance among unseen" if among_unseen else "chance among all"
    head = [*(["scoring"] if methods else []), "held-out activities", "seed", *[words for _, words in present],
            chance_words, "candidates"]
    sources = sorted({f.source for f in folds if f.source and f.source.name != "metrics.json"})
    raw = ("<p class='meta'>Raw: " + " · ".join(part.link(p, p.name) for p in sources) + "</p>") if sources else ""
    text = ("<h3>Zero-shot: activities never seen in training</h3><p>Each row trains without the named activities (their "
            "windows and their sentences) and asks whether their test windows are matched to their own text.</p>")
    table_html = table(head, rows, numeric=[False] * (lead - 1) + [True] * (len(head) - lead + 1), dense=True)
    if len(rows) <= 8:
        return text + table_html + raw
    return text + _zero_shot_summary(folds, values, present) + fold(f"Every fold ({len(rows)} rows)", table_html) + raw


def _zero_shot_summary(folds: list[ZeroShotFold], values: list[dict[str, Any]], present: list[tuple[str, str]]) -> str:
    """Mean ± std over folds of each measure, one row per scoring method."""
    rows = []
    for method in dict.fromkeys(f.method for f in folds):
        mine = [v for f, v in zip(folds, values) if f.method == method]
        cells: list[Any] = [method or "MMVQShape", len(mine)]
        for key, _ in present:
            numbers = [x for x in (scalar(v.get(key)) for v in mine) if x is not None]
            cells.append(Raw(esc(mean_std(float(np.mean(numbers)), float(np.std(numbers)), len(numbers)))) if numbers else None)
        rows.append(cells)
    return table(["scoring", "folds", *[words for _, words in present]], rows,
                 numeric=[False, True] + [True] * len(present), text_columns=[0], dense=True)


def _mean(values: list[Any]) -> float | None:
    numbers = [v for v in values if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(numbers)) if numbers else None


def bench_raw(part: Part) -> str:
    """A bench folder's own tables, linked."""
    raw = [p for p in (part.root / "accuracy.md", part.root / "accuracy.csv", part.root / "per_class.csv",
                       part.root / "summary.json") if p.is_file()]
    if not bench_summary(part.root) or not raw:
        return ""
    return "<p class='meta'>The benchmark's own tables: " + " · ".join(part.link(p, p.name) for p in raw) + "</p>"


# ---------------------------------------------------------------- 2. explanations


def explanations(part: Part) -> tuple[str, str] | None:
    if not part.explanations and not bench_explanation(part.files) and not _explaining_runs(part):
        return None
    blocks = []
    order = {label: i for i, label in enumerate(part.labels)}
    for e in sorted(part.explanations, key=lambda e: (order.get(e.data.get("true_label"), len(order)), e.index)):
        d = e.data
        true, pred = d.get("true_label", "?"), d.get("predicted_label")
        proba = d.get("probabilities") or {}
        confidence = f" with probability {proba[pred]:.2f}" if pred in proba else ""
        title = f"Test window {e.index}: a {true} window"
        verdict = "" if pred is None else (f"predicted {pred}{confidence}" + (" (correct)" if pred == true else " (wrong)"))
        caption = (f"{esc(title)}, {esc(verdict)}. Per channel: the signal, the model's reconstruction and the shapes it "
                   "chose, each drawn where it sits in the window.")
        inner = figure(e.png, "", caption_html=caption, alt=title) if e.png else f"<p>{esc(title)}, {esc(verdict)}.</p>"
        words = d.get("sub_actions") or []
        if words:
            items = []
            for s in words:
                source = s.get("source_label", "")
                mark = "" if not source else (" <span class='tag'>(from " + label_html(source, part.colors) + ")</span>")
                items.append(f"<li>{esc(s.get('sentence', ''))}{mark}</li>")
            own = sum(1 for s in words if s.get("source_label") == true)
            inner += (f"<p>Sub-actions chosen from the signal alone ({own} of {len(words)} are sentences written for "
                      f"{label_html(true, part.colors)}):</p><ol class='sentences'>{''.join(items)}</ol>")
        candidates = d.get("zero_shot") or []
        if candidates:
            inner += ("<p class='meta'>Activity texts nearest to the model's description of this window: "
                      + ", ".join(f"{esc(c.get('label'))} ({float(c.get('cosine', 0)):.2f})" for c in candidates[:4]) + ".</p>")
        inner += f"<p class='meta'>Numbers: {part.link(e.json_path, e.json_path.name)}</p>"
        blocks.append(f"<h3>Test window {e.index}: {esc(true)}</h3>{inner}")
    shown, more = blocks[:OPEN_EXPLANATIONS], blocks[OPEN_EXPLANATIONS:]
    body = explanation_metrics(part) + "".join(shown)
    if more:
        body += fold(f"{len(more)} more windows, one per remaining activity", "".join(more))
    if not part.explanations:
        return "What the model explains: its sentences over every test window", body
    return "What the model explains: test windows, one per activity", body


def _explaining_runs(part: Part) -> list[tuple[str, dict]]:
    """(model name, ``explanation`` entry) of every run that measured its explanations (first seed of each)."""
    seen: set[str] = set()
    found = []
    for run in part.classifier_runs:
        if isinstance(run.metrics.get("explanation"), dict) and run.key not in seen:
            seen.add(run.key)
            found.append((run.name, run.metrics["explanation"]))
    return found


def explanation_metrics(part: Part) -> str:
    """How good the chosen sentences are over all test windows: the runs' ``explanation`` entries
    and a zero-shot bench's explanation check (with its shuffled-corpus control)."""
    columns = _explaining_runs(part)
    bench = bench_explanation(part.files)
    if bench:
        columns.append(("zero-shot bench's reader", bench[0]))
        control = bench[0].get("shuffled_control")
        if isinstance(control, dict):
            columns.append(("the same, corpus shuffled across labels (control)", control))
    if not columns:
        return ""
    keys = [k for k in EXPLANATION_WORDS if any(scalar(ex.get(k)) is not None for _, ex in columns)]
    keys += [k for _, ex in columns for k in ex if k not in keys and k not in EXPLANATION_WORDS and scalar(ex.get(k)) is not None
             and not k.startswith(("n_", "k")) and k not in ("precision_chance", "faithfulness_random")]
    rows = [[k.replace("_", " "), EXPLANATION_WORDS.get(k, ""), *[scalar(ex.get(k)) for _, ex in columns]] for k in dict.fromkeys(keys)]
    chance = next((scalar(ex.get("precision_chance")) for _, ex in columns if scalar(ex.get("precision_chance")) is not None), None)
    note = f" Precision by chance: {chance:.2f}." if chance is not None else ""
    raw = f" Raw: {part.link(bench[1], bench[1].name)}." if bench else ""
    return (f"<p>How good the chosen sentences are, over every test window.{note}{raw}</p>"
            + table(["measure", "what it measures", *[name for name, _ in columns]], rows,
                    numeric=[False, False] + [True] * len(columns), text_columns=[1], dense=True))


# ---------------------------------------------------------------- 3. shapes


def shapes(part: Part) -> tuple[str, str] | None:
    runs = [r for r in part.classifier_runs if r.metrics.get("codebooks") or r.figure("reconstruction.png")
            or r.metrics.get("reconstruction") or r.metrics.get("shapes")]
    seen: set[str] = set()
    runs = [r for r in runs if not (r.key in seen or seen.add(r.key))]  # first seed of each model
    if not runs:
        return None
    rows = []
    for run in runs:
        m = run.metrics
        books = m.get("codebooks") or {}
        rec = m.get("reconstruction") or {}
        shp = m.get("shapes") or {}

        def used(name: str) -> str:
            book = books.get(name) or {}
            if "used_codes" in book and "num_codes" in book:
                return f"{book['used_codes']} of {book['num_codes']}"
            return "—"

        perplexity = scalar((books.get("shape") or {}).get("perplexity"))
        rows.append([run.name, scalar(rec.get("r2")), scalar(rec.get("pca_r2")), scalar(shp.get("fit_r2")),
                     scalar(shp.get("sigma_ratio")), used("shape"), None if perplexity is None else f"{perplexity:.1f}",
                     used("action")])
    components = next((r.metrics["reconstruction"].get("pca_components") for r in runs
                       if isinstance(r.metrics.get("reconstruction"), dict) and r.metrics["reconstruction"].get("pca_components")), None)
    pca = f"PCA R² ({components} components)" if components else "PCA R² (as many components)"
    head = ["model", "reconstruction R²", pca, "shape fit R² (median)", "shape σ ÷ window std (median)",
            "shape codes used", "shape-code perplexity", "sentence codes used"]
    keep = [0] + [i for i in range(1, len(head)) if any(row[i] not in (None, "—") for row in rows)]
    body = table([head[i] for i in keep], [[row[i] for i in keep] for row in rows], numeric=[i > 0 for i in keep], dense=True)
    if any(row[1] is not None for row in rows):
        body += ("<p class='meta'>Reconstruction R² is 1 − error ÷ the window's own variance, on test windows (0: no better "
                 "than the window's mean); PCA R² is the same for a plain linear code with as many components, the yardstick.</p>")
    else:
        body += "<p class='meta'>These runs record no reconstruction R²: judge the reconstruction by eye below.</p>"
    body += ("<p class='meta'>Codes used and perplexity (the effective number of codes) say how much of each codebook "
             "the test windows draw on.</p>")
    body += _reconstruction_details(runs)
    runs = sorted(runs, key=lambda r: not r.metrics.get("codebooks", {}).get("action"))  # the model with sentences first
    for position, run in enumerate(runs):
        figs = []
        path = run.figure("reconstruction.png")
        if path:
            figs.append(figure(path, f"{run.name}: one test window per activity (rows) and channel (columns): the signal, "
                                     "its reconstruction and the decoded shapes where they sit."))
        path = run.figure("code_usage.png")
        if path:
            figs.append(figure(path, f"{run.name}: how often each code is used on the test windows."))
        for extra in sorted((run.path / "figures").glob("*.png")) if (run.path / "figures").is_dir() else []:
            if extra.name not in RUN_FIGURES:
                figs.append(figure(extra, f"{run.name}: {extra.stem.replace('_', ' ')}."))
        if figs and position == 0:
            body += f"<h3>{esc(run.name)}: reconstruction and code usage</h3>" + "".join(figs)
        elif figs:
            body += fold(f"{run.name}: the same figures", "".join(figs))
    return "The shapes: how well the shape tokens follow the signal", body


def _reconstruction_details(runs: list[Run]) -> str:
    """Per-class / per-channel R² tables when the runs carry them (folded)."""
    out = []
    for run in runs:
        rec = run.metrics.get("reconstruction") or {}
        for key, words in (("per_class", "activity"), ("per_channel", "channel")):
            values = rec.get(key)
            if isinstance(values, dict) and values:
                rows = []
                for name, value in values.items():
                    if isinstance(value, dict):
                        rows.append([name, *[scalar(v) for v in value.values()]])
                        head = [words, *[{"r2": "R²", "pca_r2": "PCA R²"}.get(k, k.replace("_", " ")) for k in value]]
                    else:
                        rows.append([name, scalar(value)])
                        head = [words, "R²"]
                out.append(fold(f"{run.name}: reconstruction R² per {words}",
                                table(head, rows, numeric=[False] + [True] * (len(head) - 1))))
    return "".join(out)


# ---------------------------------------------------------------- 4. text


def text(part: Part) -> tuple[str, str] | None:
    body = []
    index = _embedding_index(part)
    if index:
        body.append(_corpus_paragraph(part, index))
    view = projection_view(f"view3d-{part.anchor or 'main'}", part.projections, part.labels, part.colors)
    if view:
        order = list(METHOD_WORDS)
        methods = ", ".join(METHOD_WORDS.get(m, m) for m in sorted({p.method for p in part.projections if p.dims == 3},
                                                                    key=lambda m: order.index(m) if m in order else len(order)))
        raw = " · ".join(part.link(p.folder / "coordinates.csv", f"{p.method} coordinates") for p in part.projections if p.dims == 3)
        body.append(f"<figure>{view}<figcaption>Every sub-action sentence as a point ({esc(methods)} to 3-D, cosine geometry), "
                    "coloured by the activity it was written for. Drag to rotate, hover to read a sentence; the buttons "
                    f"switch the method and the text view (arm and leg halves together or apart). Raw: {raw}.</figcaption></figure>")
    for projection in part.projections:
        png = projection.folder / "projection.png"
        if projection.dims == 2 and png.is_file():
            views = ", ".join(VIEW_WORDS.get(p.get("view", ""), p.get("view", "")) for p in projection.params.get("panels", []))
            body.append(figure(png, f"{projection.method.replace('tsne', 't-SNE')} in 2-D, one panel per text view ({views}): "
                                    "sentences of one activity should sit together, and apart from the others."))
    gram = part.file("gram.png")
    if gram:
        stats = read_json(gram.parent / "gram_stats.json") or {}
        within, between = (stats.get("within") or {}).get("mean"), (stats.get("between") or {}).get("mean")
        numbers = (f" Mean cosine within an activity {within:.2f}, between activities {between:.2f}."
                   if isinstance(within, float) and isinstance(between, float) else "")
        body.append(figure(gram, f"Cosine similarity of every pair of sentences, grouped by activity: bright blocks on the "
                                 f"diagonal mean an activity's sentences resemble each other more than the rest.{numbers}"))
        body.append(_csv_fold(part, gram.parent / "label_similarity.csv", "Mean similarity between activities"))
        body.append(_csv_fold(part, gram.parent / "top_pairs.csv", "The most similar sentences of different activities",
                              columns=["cosine", "label_a", "sentence_a", "label_b", "sentence_b"], limit=15))
    recon = part.file("recon.png")
    if recon:
        body.append(figure(recon, "Can an activity's name be rebuilt from its sub-actions? A small network maps a set of "
                                  "sentences to the label's embedding; higher than the dashed mean baseline means the "
                                  "sentences carry the activity, and the quantised lines show what the action codebook keeps."))
        body.append(_csv_fold(part, recon.parent / "summary.csv", "Reconstruction probe: mean ± std over seeds",
                              columns=["protocol", "model", "hidden", "cosine_mean", "cosine_std", "top1_mean", "top1_std",
                                       "quantized_top1_mean", "chance_top1"]))
    coverage = part.file("coverage.png")
    if coverage:
        body.append(figure(coverage, "The action codebook: the sentences the model may choose from. How many codes serve each "
                                     "activity, and how many come from its own sentences."))
        body.append(_csv_fold(part, coverage.parent / "codes.csv", "The codebook's sentences",
                              columns=["code", "source_label", "sentence", "serves"]))
    if index:
        body.append(_sentences_fold(part, index))
    body = [b for b in body if b]
    if not body:
        return None
    return "The sub-action sentences: do they tell the activities apart?", "".join(body)


def _embedding_index(part: Part) -> tuple[Path, dict] | None:
    """The arm+leg embedding's index.json (else any)."""
    candidates = [p for p in part.files if p.name == "index.json" and isinstance(read_json(p), dict)]
    candidates.sort(key=lambda p: (read_json(p).get("view") != "armleg", str(p)))
    if not candidates:
        return None
    return candidates[0], read_json(candidates[0])


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


# ---------------------------------------------------------------- 5. data and method


def data_and_method(part: Part) -> tuple[str, str] | None:
    body = []
    summary = read_json(part.root / "data" / "summary.json")
    if isinstance(summary, dict):
        split = summary.get("split") or {}
        body.append(f"<p>Data <b>{esc(summary.get('data'))}</b>: {len(summary.get('labels', []))} activities, channels "
                    f"{esc(', '.join(summary.get('channels', [])))}, windows resampled to {esc(summary.get('length'))} samples. "
                    f"Split {esc(split.get('method', '?'))}"
                    + (f", {summary['subjects']} subjects" if summary.get("subjects") else "")
                    + ": the test windows are fixed, and the validation windows that chose checkpoints are carved from the "
                      "training part only.</p>")
        splits = summary.get("splits") or {}
        labels = summary.get("labels") or []
        if splits and labels:
            rows = [[Raw(label_html(label, part.colors)), *[splits[s]["per_class"].get(label) for s in splits]] for label in labels]
            rows.append(["all", *[splits[s].get("n") for s in splits]])
            body.append(table(["activity", *[f"{s} windows" for s in splits]], rows, numeric=[False] + [True] * len(splits)))
    bench = bench_summary(part.root)
    if bench and bench[1]:
        setup = bench[1]
        budget = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in (setup.get("budget") or {}).items())
        body.append(f"<p>Benchmark on <b>{esc(setup.get('data', '?'))}</b> ({esc(setup.get('channels', ''))} channels) with the "
                    f"{esc(setup.get('corpus', '?'))} corpus: {esc(setup.get('seeds', '?'))} seeds, training windows "
                    f"{esc(setup.get('shots', 'all'))}" + (f"; training budget {esc(budget)}" if budget else "") + ".</p>")
    zero_shot = zero_shot_bench(part.files)
    if zero_shot:
        setup = zero_shot[0]
        body.append(f"<p>Zero-shot benchmark on <b>{esc(setup.get('data', '?'))}</b> with the {esc(setup.get('corpus', '?'))} "
                    f"corpus ({esc(setup.get('encoder', '?'))} encoder, {esc(VIEW_WORDS.get(setup.get('view'), setup.get('view')))} "
                    f"view): {len(setup.get('folds') or [])} folds of held-out activities, {esc(setup.get('seeds', '?'))} seed(s). "
                    f"Signal representation: {esc(setup.get('signal_representation', '?'))}. Held-out activities' windows and "
                    "sentences reach no training step; they are only candidates at test time.</p>")
    configs = [r for r in part.classifier_runs if r.config]
    seen: set[str] = set()
    configs = [r for r in configs if not (r.key in seen or seen.add(r.key))]
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
    if epoch is not None:
        parts.append(f"checkpoint of epoch {epoch} chosen on validation")
    return "; ".join(parts)


# ---------------------------------------------------------------- 6. provenance


def provenance(part: Part, *, include_machine: bool = True) -> tuple[str, str] | None:
    body = []
    seeds = sorted({r.metrics.get("seed") for r in part.runs if r.metrics.get("seed") is not None})
    splits = sorted({str((r.metrics.get("split") or {}).get("method")) for r in part.runs if isinstance(r.metrics.get("split"), dict)})
    facts = []
    if seeds:
        facts.append(["seed" + ("s" if len(seeds) > 1 else ""), ", ".join(str(s) for s in seeds)])
    if splits:
        facts.append(["split", ", ".join(splits)])
    if include_machine:
        facts.append(["page built", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")])
        facts.append(["machine", f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}"])
        facts.append(["packages (when the page was built)", _versions()])
    bench = bench_summary(part.root)
    if bench and isinstance(bench[1].get("wall_seconds"), (int, float)):
        facts.append(["benchmark wall time", f"{bench[1]['wall_seconds'] / 60:.1f} minutes on {bench[1].get('cpu_count', '?')} cores"])
    zero_shot = zero_shot_bench(part.files)
    if zero_shot and isinstance(zero_shot[0].get("wall_seconds"), (int, float)):
        facts.append(["zero-shot bench wall time", f"{zero_shot[0]['wall_seconds'] / 60:.1f} minutes ({zero_shot[0].get('machine', '')})"])
    facts.append(["folder", str(part.root)])
    body.append(table(["", ""], facts) if facts else "")
    timing = read_json(part.root / "timing.json")
    if isinstance(timing, dict) and timing:
        steps = [(k, v) for k, v in timing.items() if isinstance(v, (int, float))]
        total = sum(v for _, v in steps)
        rows = [[k, v] for k, v in steps[:STEP_CAP]]
        rows.append(["total", round(total, 1)])
        body.append(fold(f"Time per step: {total / 60:.1f} minutes in all", table(["step", "seconds"], rows, numeric=[False, True])))
    train_times = [(r.name, (read_json(r.path / "timing.json") or {}).get("train_seconds")) for r in part.runs]
    train_times = [(n, t) for n, t in train_times if isinstance(t, (int, float))]
    if train_times and not isinstance(timing, dict):
        body.append(fold("Training time per run", table(["run", "seconds"], train_times, numeric=[False, True])))
    body.append(_file_list(part))
    return "Provenance: versions, seeds, split, timing and raw files", "".join(b for b in body if b)


def _versions() -> str:
    names = ["mmvqshape", "torch", "lightning", "numpy", "scikit-learn", "aeon", "sentence-transformers", "umap-learn"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def _file_list(part: Part) -> str:
    shown = [p for p in part.files if p.suffix in {".json", ".csv", ".yaml", ".md", ".txt", ".html"} and p.name != "report.html"]
    if not shown:
        return ""
    items = "".join(f"<li>{part.link(p, str(p.relative_to(part.root)))}</li>" for p in shown)
    return fold(f"Raw files ({len(shown)}, linked, not copied into this page)", f"<ul class='files'>{items}</ul>")


# ---------------------------------------------------------------- order

#: (anchor, builder, what to look at) in reading order.
BUILDERS = [
    ("headline", headline, "Three questions a reader asks first, answered from this folder's numbers; the table below "
                           "them holds the numbers."),
    ("explanations", explanations, "For each window, check the chosen sentences against the signal: do the shapes sit on "
                                   "the motion, and do the sentences describe this activity rather than another?"),
    ("shapes", shapes, "An explanation is only as good as the shapes under it: look at whether the reconstruction follows "
                       "the signal and how many codes are in use."),
    ("text", text, "The sentences are the model's vocabulary for explanations. Look for each activity's sentences forming "
                   "their own group; overlap between activities is where explanations can be confused."),
    ("data", data_and_method, ""),
    ("provenance", provenance, "What is needed to reproduce or audit these numbers."),
]


def render_part(part: Part, *, prefix: str = "", title_prefix: str = "",
                include_machine: bool = True) -> list[tuple[str, str, str]]:
    """Every section that applies to ``part``, in reading order: (anchor, short title, HTML)."""
    sections = []
    for name, builder, intro in BUILDERS:
        result = builder(part, include_machine=include_machine) if builder is provenance else builder(part)
        if not result:
            continue
        title, body = result
        anchor = f"{prefix}{name}"
        sections.append((anchor, _short(title), section(anchor, title_prefix + title, esc(intro), body)))
    return sections


def _short(title: str) -> str:
    return re.split(r"[:,]", title)[0]
