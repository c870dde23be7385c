"""Style rules of the sub-action prompt, as checks on a finished corpus.

The generation prompt (``mmvqshape/prompts/*.txt``) asks for short, concrete, present-tense
descriptions of motion, without purposes or vague words, with both an Arm and a Leg field in
the split style. :func:`style_flags` finds the sentences of a corpus that break those rules,
so a researcher can read (or regenerate) them before training. The word limits used by the
prompt come from here, so prompt and check never disagree.

Rules (``StyleFlag.rule``):

* ``too_long`` -- more words than :data:`MAX_WORDS_FIELD` (an Arm or Leg field) or
  :data:`MAX_WORDS_SENTENCE` (a plain sentence);
* ``purpose_clause`` -- the sentence says *why* ("in order to", "so that", "to keep balance",
  "for stability") instead of *what* moves;
* ``vague`` -- vague words ("somehow", "various", "etc.", "some", "things", ...);
* ``missing_arm`` / ``missing_leg`` -- a split sub-action whose Arm or Leg is absent, empty or a
  placeholder ("N/A", "none", "-"), or a merged ``"Arm: ... Leg: ..."`` sentence with one part
  missing;
* ``no_observable`` -- only for a corpus of the ``observable`` style (its generator ``meta``
  says so, or ``style="observable"`` is passed): a plain sentence that names none of the
  things a worn accelerometer records (orientation to gravity, rhythm or cadence, vertical
  motion, intensity, stillness, transitions), found by the cue words of
  :data:`OBSERVABLE_CUES`. A sentence about the limbs' look alone ("Fingers curl around the
  handle.") is flagged; the list is generous, so a flag is worth reading, a pass proves little.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

MAX_WORDS_FIELD = 12
"""Most words the prompt allows in one Arm or Leg field."""

MAX_WORDS_SENTENCE = 20
"""Most words the prompt allows in one unsplit sentence."""

RULES = ("too_long", "purpose_clause", "vague", "missing_arm", "missing_leg", "no_observable")

OBSERVABLE_STYLE = "observable"
"""The generation style whose sentences must name an observable (rule ``no_observable``)."""

#: Cue words (regular expressions, matched at a word start) of each observable the
#: observable-style prompt asks for.
OBSERVABLE_CUES = {
    "orientation": r"gravit|orient|tilt|upright|vertical|horizontal|flat|inclin|angle|axis|axes|face[sd]? (?:up|down)|"
                   r"facing|pitch|roll|posture|lying|level",
    "rhythm": r"rhythm|cadence|periodic|cycl|regular|irregular|repetit|repeat|oscillat|frequen|hz\b|per second|"
              r"beat|pulse|tempo|alternat|each step|every step|stride",
    "vertical motion": r"bounc|bob|ris(?:e|es|ing)\b|fall|drop|lift|lower|upward|downward|up and down|vertical",
    "intensity": r"intens|magnitude|amplitude|accelerat|decelerat|jerk|impact|spike|peak|sharp|strong|vigorous|"
                 r"gentle|mild|forceful|energetic|abrupt|sudden|smooth|large|small|low|high|brisk|slow|fast|rapid",
    "stillness": r"still|stationary|motionless|static|quiet|constant|steady|unchanging|at rest|rests?\b|"
                 r"no motion|no movement|little motion|little movement|minimal",
    "transitions": r"transition|chang|shift|switch|rotat|reorient|turn",
}

_PURPOSE_PHRASES = (
    r"in order to",
    r"in order for",
    r"so as to",
    r"so that",
    r"for the purpose of",
    r"with the (?:aim|goal|intention|purpose) of",
    r"aim(?:s|ing)? to",
    r"intend(?:s|ed|ing)? to",
    r"meant to",
    r"designed to",
    r"for (?:better |more |added |greater )?(?:balance|stability|support|momentum|propulsion|"
    r"control|leverage|efficiency|comfort|safety)",
)

# "to" + one of these verbs is a purpose ("Knee bends to lift the foot"); "to" + a noun is a
# direction ("Forearm returns to neutral") and is not flagged.
_PURPOSE_VERBS = (
    "maintain keep balance counterbalance stabilize stabilise steady brace support prepare "
    "propel push pull generate produce create gain build absorb cushion reduce increase avoid "
    "prevent allow enable help ensure provide achieve reach control adjust correct compensate "
    "counter counteract initiate start begin continue complete finish facilitate improve "
    "optimize optimise conserve save preserve make get let hold grip grab catch secure protect "
    "accommodate match follow assist aid lift clear lower raise drive power transfer shift"
).split()

_VAGUE_WORDS = (
    r"somehow",
    r"somewhat",
    r"something",
    r"various",
    r"variously",
    r"etc\.?",
    r"and so on",
    r"and so forth",
    r"some",
    r"things?",
    r"stuff",
    r"kind of",
    r"sort of",
    r"maybe",
    r"perhaps",
    r"possibly",
    r"certain",
    r"as needed",
    r"as necessary",
    r"appropriately",
    r"accordingly",
    r"whatever",
)

_PURPOSE_RE = re.compile(
    r"\b(?:" + "|".join(_PURPOSE_PHRASES) + r")\b"
    r"|\bto (?:" + "|".join(_PURPOSE_VERBS) + r")\b",
    re.IGNORECASE,
)
_VAGUE_RE = re.compile(r"\b(?:" + "|".join(_VAGUE_WORDS) + r")(?=\W|$)", re.IGNORECASE)
_PLACEHOLDER_RE = re.compile(r"^\W*(?:n/?a|none|null|nil|nothing|tbd|unknown|-+|\.+|…)?\W*$", re.IGNORECASE)
_MERGED_RE = re.compile(r"^\s*arm\s*:(?P<arm>.*?)(?:\bleg\s*:(?P<leg>.*))?$", re.IGNORECASE | re.DOTALL)
_LEG_ONLY_RE = re.compile(r"^\s*leg\s*:(?P<leg>.*)$", re.IGNORECASE | re.DOTALL)
_OBSERVABLE_RE = re.compile(r"\b(?:" + "|".join(OBSERVABLE_CUES.values()) + r")", re.IGNORECASE)


@dataclass(frozen=True)
class StyleFlag:
    """One sentence (or one field of a sub-action) that breaks a style rule."""

    label: str  # the activity label the sub-action belongs to
    index: int  # position of the sub-action within its label (0-based)
    field: str  # "arm", "leg" or "text"
    rule: str  # one of RULES
    text: str  # the offending text (the field, or the whole sentence)
    detail: str  # what triggered the rule, for a human

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, for JSON reports."""
        return asdict(self)


@dataclass(frozen=True)
class _Entry:
    label: str
    index: int
    arm: str | None  # None: the sub-action has no Arm field at all (plain sentence)
    leg: str | None
    text: str | None  # plain sentence (unsplit style); None for split sub-actions
    split: bool  # True when the sub-action is meant to have Arm and Leg


def style_flags(
    corpus: Any,
    *,
    max_words_field: int = MAX_WORDS_FIELD,
    max_words_sentence: int = MAX_WORDS_SENTENCE,
    style: str | None = None,
) -> list[StyleFlag]:
    """Return the sentences of ``corpus`` that break the prompt's style rules.

    ``corpus`` is any of: a path to a corpus JSON file, the parsed JSON (one of the three
    shapes of design.md, or what ``mmvq corpus generate`` writes), or an object from
    :func:`mmvqshape.text.corpus.load_corpus` (anything with ``labels`` and per-label
    sub-actions). Flags come in corpus order; a clean corpus gives ``[]``. ``style`` is the
    generation style the corpus was asked in (``split``, ``unsplit``, ``observable``); None
    reads it from the corpus's generator ``meta`` (no meta: the rules common to all styles).
    """
    if isinstance(corpus, (str, Path)):
        with open(corpus, encoding="utf-8") as handle:
            corpus = json.load(handle)
    observable = (style if style is not None else _meta_style(corpus)) == OBSERVABLE_STYLE
    flags: list[StyleFlag] = []
    for entry in _entries(corpus):
        flags.extend(_check_entry(entry, max_words_field, max_words_sentence))
        if observable and entry.text is not None and not _OBSERVABLE_RE.search(entry.text):
            flags.append(StyleFlag(entry.label, entry.index, "text", "no_observable", entry.text,
                                   "names no orientation, rhythm, vertical motion, intensity, stillness or transition"))
    return flags


def _meta_style(corpus: Any) -> str | None:
    """The ``style`` a generated corpus records in its ``meta`` block, if any."""
    meta = corpus.get("meta") if isinstance(corpus, dict) else getattr(corpus, "meta", None)
    style = meta.get("style") if isinstance(meta, dict) else None
    return style if isinstance(style, str) else None


def _check_entry(entry: _Entry, max_field: int, max_sentence: int) -> Iterator[StyleFlag]:
    if entry.split:
        for field, value in (("arm", entry.arm), ("leg", entry.leg)):
            if value is None or _PLACEHOLDER_RE.match(value):
                shown = "" if value is None else value
                yield StyleFlag(entry.label, entry.index, field, f"missing_{field}", shown,
                                f"the {field.capitalize()} description is missing")
                continue
            yield from _check_text(entry, field, value, max_field)
    elif entry.text is not None:
        yield from _check_text(entry, "text", entry.text, max_sentence)


def _check_text(entry: _Entry, field: str, text: str, max_words: int) -> Iterator[StyleFlag]:
    n_words = len(re.findall(r"[A-Za-z0-9][\w'’/%-]*", text))
    if n_words > max_words:
        yield StyleFlag(entry.label, entry.index, field, "too_long", text,
                        f"{n_words} words (at most {max_words})")
    purpose = _PURPOSE_RE.search(text)
    if purpose:
        yield StyleFlag(entry.label, entry.index, field, "purpose_clause", text,
                        f'purpose clause "{purpose.group(0)}"')
    vague = sorted({m.group(0).lower() for m in _VAGUE_RE.finditer(text)})
    if vague:
        yield StyleFlag(entry.label, entry.index, field, "vague", text,
                        "vague " + ", ".join(f'"{w}"' for w in vague))


# ---------------------------------------------------------------------------- corpus reading


def _entries(corpus: Any) -> Iterator[_Entry]:
    if isinstance(corpus, dict):
        yield from _entries_from_json(corpus)
        return
    yield from _entries_from_object(corpus)


def _entries_from_json(data: dict) -> Iterator[_Entry]:
    if isinstance(data.get("activities"), list):
        for activity in data["activities"]:
            if isinstance(activity, dict):
                yield from _entries_of(str(activity.get("action_label", "")), activity.get("sub_actions") or [])
        return
    for label, items in data.items():
        if isinstance(items, dict):  # {"label_text": ..., "sub_actions": [...]}
            items = items.get("sub_actions") or []
        if isinstance(items, list):
            yield from _entries_of(str(label), items)


def _entries_of(label: str, items: Iterable[Any]) -> Iterator[_Entry]:
    for index, item in enumerate(items):
        yield _entry(label, index, item)


def _entry(label: str, index: int, item: Any) -> _Entry:
    if isinstance(item, dict):
        lowered = {str(k).lower(): v for k, v in item.items()}
        if "arm" in lowered or "leg" in lowered:
            return _Entry(label, index, _str_or_none(lowered.get("arm")), _str_or_none(lowered.get("leg")), None, True)
        for key in ("text", "sentence", "sub_action"):
            if key in lowered:
                return _text_entry(label, index, str(lowered[key]))
        return _Entry(label, index, None, None, None, True)  # an object with neither: both missing
    return _text_entry(label, index, str(item))


def _text_entry(label: str, index: int, text: str) -> _Entry:
    """A plain sentence; a merged ``"Arm: ... Leg: ..."`` sentence is checked field by field."""
    merged = _MERGED_RE.match(text)
    if merged:
        leg = merged.group("leg")
        return _Entry(label, index, _clean_field(merged.group("arm")), None if leg is None else _clean_field(leg), None, True)
    leg_only = _LEG_ONLY_RE.match(text)
    if leg_only:
        return _Entry(label, index, None, _clean_field(leg_only.group("leg")), None, True)
    return _Entry(label, index, None, None, text, False)


def _clean_field(text: str) -> str:
    return text.strip().rstrip(".").strip()


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _entries_from_object(corpus: Any) -> Iterator[_Entry]:
    """Duck-typed reading of a loaded corpus object (``labels`` + per-label sub-actions)."""
    labels = list(getattr(corpus, "labels"))
    for attr in ("sub_actions", "subactions", "items", "entries"):
        table = getattr(corpus, attr, None)
        if isinstance(table, dict):
            for label in labels:
                yield from _entries_of(label, [_as_item(x) for x in table.get(label, [])])
            return
    raise TypeError(f"style_flags: cannot read sub-actions from {type(corpus).__name__}")


def _as_item(obj: Any) -> Any:
    if isinstance(obj, (str, dict)):
        return obj
    arm, leg, text = (getattr(obj, name, None) for name in ("arm", "leg", "text"))
    if arm is not None or leg is not None:
        return {"Arm": arm, "Leg": leg}
    return str(text if text is not None else obj)
