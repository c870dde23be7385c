"""Section 2, explanations: how good the chosen sentences are over every test window (each
column under what computed it), then test windows one per activity, each with its figure,
the sub-actions the model chose and, where they carry start / end, a timeline of them."""

from __future__ import annotations

from .facts import (
    Measured,
    bench_explanation_columns,
    explanation_columns,
    explanations_in_label_order,
    prediction_verdict,
    timeline_extent,
    timeline_spans,
)
from .folder import Explanation, bench_explanation, scalar
from .html import esc, figure, fold, label_html, table
from .part import Part
from .timeline import timeline_png

#: Plain words for the explanation metrics (metrics.json ``explanation``).
EXPLANATION_WORDS = {
    "precision": "share of chosen sentences that belong to the window's true activity",
    "precision_chance": "the precision of a uniform choice among the sentences this column's chooser can choose",
    "diversity": "distinct sentences per window ÷ sentence slots",
    "repeat_rate": "share of slots that repeat a sentence already chosen for the same window",
    "specificity": "how much windows of one activity differ in the sentences they get",
    "faithfulness": "drop in the predicted class's score when a chosen sentence is swapped for a random one",
}
#: Keys of an explanation entry that are not measures of their own row.
NOT_MEASURES = ("faithfulness_random",)
#: Explained windows shown open; the rest of one-per-activity (HAPT has six) are folded.
OPEN_EXPLANATIONS = 4


def _measure_keys(columns: list[Measured]) -> list[str]:
    """The documented measures any column has, then any other number they carry (counts left out)."""
    keys = [k for k in EXPLANATION_WORDS if any(scalar(c.values.get(k)) is not None for c in columns)]
    keys += [k for c in columns for k, v in c.values.items() if k not in EXPLANATION_WORDS and scalar(v) is not None
             and not k.startswith(("n_", "k")) and k not in NOT_MEASURES]
    return list(dict.fromkeys(keys))


def explanation_metrics(part: Part) -> str:
    """How good the chosen sentences are over all test windows: the model's own measures under
    its name, the sentence reader's under "sentence reader (baseline)" (never one column)."""
    columns = explanation_columns(part.classifier_runs)
    bench = bench_explanation(part.documents)
    if bench:
        columns += bench_explanation_columns(bench[0])
    if not columns:
        return ""
    rows = [[k.replace("_", " "), EXPLANATION_WORDS.get(k, ""), *[scalar(c.values.get(k)) for c in columns]]
            for k in _measure_keys(columns)]
    raw = f" Raw: {part.link(bench[1], bench[1].name)}." if bench else ""
    who = ("" if all(c.scorer.is_model for c in columns) else
           " The sentence reader is a baseline: a ridge map from the signal's summary features to sentences, which never "
           "sees the model; its numbers sit in columns of their own.")
    return (f"<p>How good the chosen sentences are, over every test window; each column is what computed its numbers."
            f"{who} Each column's precision by chance is its own: its chooser's candidate sentences differ.{raw}</p>"
            + table(["measure", "what it measures", *[c.scorer.name for c in columns]], rows,
                    numeric=[False, False] + [True] * len(columns), text_columns=[1], dense=True))


def _sentences(e: Explanation, part: Part) -> str:
    words = e.data.get("sub_actions") or []
    if not words:
        return ""
    true = e.data.get("true_label", "?")
    items = []
    for s in words:
        source = s.get("source_label", "")
        mark = "" if not source else (" <span class='tag'>(from " + label_html(source, part.colors) + ")</span>")
        items.append(f"<li>{esc(s.get('sentence', ''))}{mark}</li>")
    own = sum(1 for s in words if s.get("source_label") == true)
    return (f"<p>Sub-actions chosen from the signal alone ({own} of {len(words)} are sentences written for "
            f"{label_html(true, part.colors)}):</p><ol class='sentences'>{''.join(items)}</ol>")


def _timeline(e: Explanation, part: Part) -> str:
    spans = timeline_spans(e.data)
    if not spans:
        return ""
    png = timeline_png(spans, timeline_extent(e.data, spans), part.colors)
    return figure(png, "Where in the window each chosen sentence sits (samples, as loaded), numbered as in the list "
                       "below and coloured by the activity it was written for.",
                  alt=f"Timeline of the sub-actions chosen for test window {e.index}")


def _window_block(e: Explanation, part: Part) -> str:
    d = e.data
    true, pred = d.get("true_label", "?"), d.get("predicted_label")
    proba = d.get("probabilities") or {}
    confidence = f" with probability {proba[pred]:.2f}" if pred in proba else ""
    title = f"Test window {e.index}: a {true} window"
    verdict = "" if pred is None else f"predicted {pred}{confidence} ({prediction_verdict(true, pred)})"
    caption = (f"{esc(title)}, {esc(verdict)}. Per channel: the signal, the model's reconstruction and the shapes it "
               "chose, each drawn where it sits in the window.")
    inner = figure(e.png, "", caption_html=caption, alt=title) if e.png else f"<p>{esc(title)}, {esc(verdict)}.</p>"
    inner += _timeline(e, part) + _sentences(e, part)
    candidates = d.get("zero_shot") or []
    if candidates:
        inner += ("<p class='meta'>Activity texts nearest to the model's description of this window: "
                  + ", ".join(f"{esc(c.get('label'))} ({float(c.get('cosine', 0)):.2f})" for c in candidates[:4]) + ".</p>")
    inner += f"<p class='meta'>Numbers: {part.link(e.json_path, e.json_path.name)}</p>"
    return f"<h3>Test window {e.index}: {esc(true)}</h3>{inner}"


def explanations(part: Part) -> tuple[str, str] | None:
    if not part.explanations and not bench_explanation(part.documents) and not explanation_columns(part.classifier_runs):
        return None
    blocks = [_window_block(e, part) for e in explanations_in_label_order(part.explanations, part.labels)]
    shown, more = blocks[:OPEN_EXPLANATIONS], blocks[OPEN_EXPLANATIONS:]
    body = explanation_metrics(part) + "".join(shown)
    if more:
        body += fold(f"{len(more)} more windows, one per remaining activity", "".join(more))
    if not part.explanations:
        return "What the model explains: its sentences over every test window", body
    return "What the model explains: test windows, one per activity", body
