"""A small timeline of the model's sub-action explanation: which chosen sentence sits where
in the window (samples), one bar per sentence, coloured by the activity it was written for.

Drawn under the explained window's figure when the explanation JSON gives each sentence a
``start`` and ``end``; the colours are :mod:`mmvqshape.palette`'s, as everywhere on the page.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ...palette import REFERENCE_COLOR
from .facts import TimelineSpan

#: Characters of a sentence shown beside its bar (the full sentence is in the list below the figure).
SHORT_SENTENCE = 48


def _short(sentence: str) -> str:
    return sentence if len(sentence) <= SHORT_SENTENCE else sentence[: SHORT_SENTENCE - 1].rstrip() + "…"


def timeline_png(spans: list[TimelineSpan], length: float, colors: dict[str, str]) -> bytes:
    """PNG bytes: one row per chosen sentence (numbered as in the page's list), its bar from
    ``start`` to ``end`` samples, coloured by its source label, on an axis from 0 to ``length``
    samples of the window as loaded (:func:`~.facts.timeline_extent`)."""
    figure = Figure(figsize=(8, 0.9 + 0.32 * len(spans)), dpi=110, layout="constrained")
    axes = figure.add_subplot()
    for row, span in enumerate(spans):
        axes.barh(row, max(span.end - span.start, 1.0), left=span.start, height=0.6,
                  color=colors.get(span.source_label, REFERENCE_COLOR))
    axes.set_yticks(range(len(spans)), [f"{row + 1}. {_short(span.sentence)}" for row, span in enumerate(spans)], fontsize=8)
    axes.invert_yaxis()  # sentence 1 on top, as in the list
    axes.set_xlim(0, length)
    axes.set_xlabel("sample of the window as loaded")
    sources = list(dict.fromkeys(span.source_label for span in spans))
    axes.legend(handles=[Patch(color=colors.get(s, REFERENCE_COLOR), label=s or "unknown") for s in sources],
                title="written for", fontsize=7, title_fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
