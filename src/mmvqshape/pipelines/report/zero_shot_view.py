"""The zero-shot table under the headline: every held-out-activity fold, one row per fold
and per scorer (the model, the sentence reader, the bench's baselines), each row naming
what computed it, with a mean per scorer."""

from __future__ import annotations

from typing import Any

import numpy as np

from .facts import ZeroShotFold, candidates_count, chance_among_all, chance_among_held_out
from .folder import scalar
from .html import Raw, esc, fold, mean_std, table
from .part import Part

#: Plain words for the zero-shot metrics (metrics.json ``zero_shot``).
ZERO_SHOT_COLUMNS = [
    ("unseen_accuracy", "unseen windows named right, among unseen activities"),
    ("unseen_gzsl_accuracy", "unseen windows named right, among all activities"),
    ("seen_accuracy", "seen windows named right, among all activities"),
    ("harmonic_mean", "harmonic mean of seen and unseen (all activities)"),
]
#: Rows shown open; a longer table is folded under a summary of means.
OPEN_ROWS = 8


def _mean(values: list[Any]) -> float | None:
    numbers = [v for v in values if isinstance(v, (int, float)) and not np.isnan(v)]
    return float(np.mean(numbers)) if numbers else None


def _scorers(folds: list[ZeroShotFold]) -> list[str]:
    return list(dict.fromkeys(f.scorer.name for f in folds))


def _cell(values: dict[str, Any], key: str) -> Any:
    """A fold's figure; ``unseen_accuracy`` with one unseen candidate is no result (1 by construction)."""
    if key == "unseen_accuracy" and values.get("unseen_accuracy_by_construction"):
        return "1 by construction"
    return scalar(values.get(key))


def _fold_rows(folds: list[ZeroShotFold], present: list[tuple[str, str]], among_held_out: bool) -> list[list[Any]]:
    """One row per fold, then one mean row per scorer with several folds."""
    rows = []
    for one in folds:
        chance = chance_among_held_out(one) if among_held_out else chance_among_all(one)
        rows.append([one.scorer.name, ", ".join(one.held_out), one.seed, *[_cell(one.values, k) for k, _ in present],
                     chance, candidates_count(one.values)])
    for name in _scorers(folds):
        mine = [row for row, f in zip(rows, folds) if f.scorer.name == name]
        if len(mine) > 1:
            rows.append([f"{name}: mean", "", "", *[_mean([row[3 + i] for row in mine]) for i in range(len(present))], "", ""])
    return rows


def _summary(folds: list[ZeroShotFold], present: list[tuple[str, str]]) -> str:
    """Mean ± std over folds of each measure, one row per scorer."""
    rows = []
    for name in _scorers(folds):
        mine = [f.values for f in folds if f.scorer.name == name]
        cells: list[Any] = [name, len(mine)]
        for key, _ in present:
            numbers = [x for x in (scalar(v.get(key)) for v in mine) if x is not None]
            cells.append(Raw(esc(mean_std(float(np.mean(numbers)), float(np.std(numbers)), len(numbers)))) if numbers else None)
        rows.append(cells)
    return table(["computed by", "folds", *[words for _, words in present]], rows,
                 numeric=[False, True] + [True] * len(present), text_columns=[0], dense=True)


def zero_shot_table(part: Part) -> str:
    """Every held-out-activity fold (and any baseline scored beside it), with means."""
    folds = part.zero_shot
    if not folds:
        return ""
    present = [(key, words) for key, words in ZERO_SHOT_COLUMNS if any(scalar(f.values.get(key)) is not None for f in folds)]
    among_held_out = any(key == "unseen_accuracy" for key, _ in present)
    rows = _fold_rows(folds, present, among_held_out)
    head = ["computed by", "held-out activities", "seed", *[words for _, words in present],
            "chance among unseen" if among_held_out else "chance among all", "candidates"]
    sources = sorted({f.source for f in folds if f.source and f.source.name != "metrics.json"})
    raw = ("<p class='meta'>Raw: " + " · ".join(part.link(p, p.name) for p in sources) + "</p>") if sources else ""
    text = ("<h3>Zero-shot: activities never seen in training</h3><p>Each row trains without the named activities (their "
            "windows and their sentences) and asks whether their test windows are matched to their own text. "
            "“computed by” names what produced the row's numbers: the model itself, or a baseline beside it.</p>")
    if any(f.values.get("unseen_accuracy_by_construction") for f in folds):
        text += ("<p>With one held-out activity, choosing among the held-out activities is trivial: that accuracy is 1 "
                 "by construction and is not a result; the measure is the accuracy among all activities.</p>")
    table_html = table(head, rows, numeric=[False, False] + [True] * (len(head) - 2), dense=True)
    if len(rows) <= OPEN_ROWS:
        return text + table_html + raw
    return text + _summary(folds, present) + fold(f"Every fold ({len(rows)} rows)", table_html) + raw
