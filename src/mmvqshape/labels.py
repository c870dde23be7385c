"""Label names compared the one way every layer uses: case and repeated whitespace do not count.

``"Walking  Upstairs"`` and ``"walking upstairs"`` name the same activity; a corpus, a
windows file, ``--holdout-labels`` and a run's saved labels are matched with
:func:`normalize_label`.
"""

from __future__ import annotations

from typing import Iterable


def normalize_label(name: object) -> str:
    """The comparison key of a label name: single spaces, case-folded."""
    return " ".join(str(name).split()).casefold()


def same_labels(a: Iterable[object], b: Iterable[object]) -> bool:
    """True when the two label lists name the same classes in the same order."""
    return [normalize_label(n) for n in a] == [normalize_label(n) for n in b]
