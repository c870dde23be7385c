"""One colour per activity label, the same in every figure and on the report page.

Colour-blind-safe: the first eight colours are Okabe & Ito's palette (distinguishable with
the common colour-vision deficiencies), with yellow last because it is faint on white; the
next six are Paul Tol's darker "muted" colours, so up to 14 labels (GENEActiv's list) get a
colour of their own. A label's colour is its position in the label list in class-index
order (the data's ``labels``, which the corpora and embeddings share), so "walking" has
the same colour in a projection, a coverage bar chart and the report's tables.

Everything that draws labels imports from here: ``analysis/figures.py``,
``training/figures.py`` and the report.
"""

from __future__ import annotations

import colorsys
from typing import Sequence

#: Okabe-Ito (blue, orange, bluish green, reddish purple, sky blue, vermillion, black, yellow),
#: then Paul Tol's muted indigo, wine, teal, olive, rose, grey.
LABEL_COLORS: tuple[str, ...] = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442",
    "#332288", "#882255", "#44AA99", "#999933", "#CC6677", "#888888",
)
#: Lines that are not labels: the signal, the model's reconstruction, a reference line.
SIGNAL_COLOR = "#000000"
RECONSTRUCTION_COLOR = "#0072B2"
REFERENCE_COLOR = "#888888"
#: Sequential colour map for heat maps (perceptually uniform, readable with colour-vision deficiencies).
HEATMAP = "viridis"


def label_color(index: int, n_labels: int | None = None) -> str:
    """Hex colour of the label at ``index`` (0-based) in a list of ``n_labels`` labels."""
    n = n_labels if n_labels is not None else len(LABEL_COLORS)
    if n <= len(LABEL_COLORS):
        return LABEL_COLORS[index]
    # more labels than distinct safe colours: evenly spaced hues (no palette stays safe past ~14)
    red, green, blue = colorsys.hsv_to_rgb((index / n) % 1.0, 0.75, 0.8)
    return "#{:02x}{:02x}{:02x}".format(round(255 * red), round(255 * green), round(255 * blue))


def label_colors(labels: Sequence[str] | int) -> list[str]:
    """Hex colours of ``labels`` (a label list, or how many labels) in order."""
    n = labels if isinstance(labels, int) else len(labels)
    return [label_color(i, n) for i in range(n)]


def label_color_map(labels: Sequence[str]) -> dict[str, str]:
    """``{label: hex colour}`` for a label list in class-index order."""
    return dict(zip(labels, label_colors(labels)))


def series_colors(n: int) -> list[str]:
    """Colours for ``n`` series that are not labels (models, protocols): the same safe list."""
    return label_colors(n)
