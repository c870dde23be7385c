"""The report's sections in reading order, each from its own module and drawn from what the
folder holds:

1. headline (:mod:`.headline`, with :mod:`.zero_shot_view`): which model won, what the model
   explains, zero-shot results; then a ``bench ablation`` folder's table (:mod:`.ablation_view`);
2. explanations of test windows (:mod:`.explanations`, :mod:`.timeline`), then grounding on
   windows of two activities (:mod:`.grounding_view`);
3. the shapes (:mod:`.shapes`);
4. the sub-action text (:mod:`.text_view`);
5. data and method (:mod:`.data_method`);
6. provenance (:mod:`.provenance`).

What the numbers mean (whose they are, chance, verdicts) is decided in :mod:`.facts`, not here.
Each builder returns ``(title, html)`` or ``None`` when the folder holds nothing for it.
"""

from __future__ import annotations

import re

from .ablation_view import ablation
from .data_method import data_and_method
from .explanations import explanations
from .grounding_view import grounding
from .headline import headline
from .html import esc, section
from .part import Part
from .provenance import provenance
from .shapes import shapes
from .text_view import text

#: (anchor, builder, what to look at) in reading order.
BUILDERS = [
    ("headline", headline, "Three questions a reader asks first, answered from this folder's numbers; the table below "
                           "them holds the numbers."),
    ("ablation", ablation, "Each row switches one part of the plan's model off; compare each row with the full model, "
                           "and read the default's rule under the table: it was decided on validation subjects."),
    ("explanations", explanations, "For each window, check the chosen sentences against the signal: do the shapes sit on "
                                   "the motion, and do the sentences describe this activity rather than another?"),
    ("grounding", grounding, "Where the sentences sit in time: check each activity is covered by its own sentences, "
                             "not merely touched by one short right span."),
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
