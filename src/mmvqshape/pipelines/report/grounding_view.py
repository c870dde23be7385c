"""The report's grounding section: where the chosen sentences sit on windows that hold two
activities, for each run that measured it (``metrics.json`` ``grounding``) beside the sliding
classifier (``baselines.sliding_classifier.grounding``), each in a column under its own name.
The measures are :func:`mmvqshape.training.grounding.grounding_metrics`'."""

from __future__ import annotations

from typing import Any

from .folder import Run, scalar
from .html import esc, table
from .part import Part

#: (key in ``grounding``, row name, what it measures) in reading order.
MEASURES = [
    ("precision", "precision", "share of the sentences' spans whose activity is the sentence's own"),
    ("coverage", "coverage (mean)", "share of each activity's samples inside its own sentences' spans, mean over windows"),
    ("both_located", "both located", "two-activity windows whose two activities are each placed right and covered ≥ half"),
    ("both_placed", "both placed", "the same with placement alone (more than half of each activity's spans right)"),
    ("unlabelled_samples", "samples labelled −1", "transitions and unlabelled samples, counted in no measure"),
    ("n_windows", "windows", "windows scored"),
]
BASELINE = "sliding_classifier"


def grounding_columns(runs: list[Run]) -> list[tuple[str, dict[str, Any]]]:
    """(column name, ``grounding`` dict) for each run that measured grounding, the model's own
    first and then the sliding classifier's scored on the same windows."""
    columns = []
    for run in runs:
        own = run.metrics.get("grounding")
        baseline = ((run.metrics.get("baselines") or {}).get(BASELINE) or {}).get("grounding")
        name = f"{run.model} ({run.path.name})" if len(runs) > 1 else run.model
        if isinstance(own, dict):
            columns.append((name, own))
        if isinstance(baseline, dict):
            columns.append((f"sliding classifier (baseline, {run.path.name})" if len(runs) > 1 else "sliding classifier (baseline)",
                            baseline))
    return columns


def grounding(part: Part) -> tuple[str, str] | None:
    """``(title, html)`` of the grounding table, or ``None`` when no run measured grounding."""
    columns = grounding_columns(part.runs)
    if not columns:
        return None
    activities = sorted({name for _, values in columns for name in (values.get("coverage_per_activity") or {})})
    rows = [[name, words, *[scalar(values.get(key)) for _, values in columns]] for key, name, words in MEASURES]
    rows += [[f"coverage: {activity}", "share of this activity's samples inside its own sentences' spans",
              *[scalar((values.get("coverage_per_activity") or {}).get(activity)) for _, values in columns]]
             for activity in activities]
    intro = ("<p>Windows that hold two activities, each sample labelled: are the sentences placed where their activity "
             "happens (precision), and do they cover it (coverage)? An activity is <em>located</em> when its sentences are "
             "mostly on it <em>and</em> cover at least half of it; <em>placed</em> asks the first only. Each column is what "
             f"computed its numbers.</p>")
    return "Grounding: sentences on windows of two activities", intro + table(
        ["measure", "what it measures", *[esc(name) for name, _ in columns]], rows,
        numeric=[False, False] + [True] * len(columns), text_columns=[1], dense=True)
