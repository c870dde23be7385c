"""Sub-action corpora: the sentences that describe each activity label, and their views.

A corpus is a JSON file in one of three shapes (design.md):

1. ``{"<label>": ["sentence", ...], ...}`` -- the plan's ``processed_data`` (plain sentences);
2. ``{"<label>": [{"arm": "...", "leg": "..."}, ...], ...}`` -- Arm/Leg split;
3. ``{"activities": [{"action_label": "...", "sub_actions": [{"Arm": "...", "Leg": "..."}]}]}``
   -- what the LLM prompt returns.

Details the loader settles:

* A sub-action item is either a string (a plain sentence) or an object with ``arm`` and/or
  ``leg`` (key case ignored: ``Arm``/``arm``) and optionally ``text`` (a plain sentence).
  Any other per-item key (e.g. ``"shared": true`` written by ``mmvq corpus generate``) is
  kept in :attr:`SubAction.extra` and otherwise ignored. Shapes 1 and 2 may be mixed.
* Label text (what is embedded for the label itself; default: the label name): a
  top-level ``"label_text": {"<label>": "text"}`` map in any shape, a per-activity
  ``"label_text"`` in shape 3, or, in shapes 1/2, a label given as an object
  ``{"<label>": {"label_text": "...", "sub_actions": [...]}}``. In shapes 1/2 the top-level keys ``label_text`` and ``meta``
  are therefore reserved (not labels). A top-level ``"meta"`` object (what the generator
  records) becomes :attr:`Corpus.meta`; in shape 3 other top-level and per-activity keys
  are ignored.
* Views: ``armleg`` = exactly ``f"Arm: {arm}. Leg: {leg}."`` (one trailing period of each part
  is dropped first, so the plan's sentences come back unchanged); ``arm``; ``leg``;
  ``text`` = the item's plain sentence, or, for an Arm/Leg item without one, its ``armleg``
  text. ``auto`` picks ``armleg`` when every item has both parts, else ``text``.
* Labels keep file order; counts may differ between labels.

Bad input (not JSON, unknown shape, no labels, an empty label, an empty or non-string
sentence, a part missing for the view, duplicate labels or keys) raises
:class:`~mmvqshape.errors.UserError` naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import UserError

VIEWS = ("armleg", "arm", "leg", "text")
SHIPPED = ("basicmotions", "geneactiv14", "hapt", "basicmotions_unsplit", "geneactiv14_unsplit", "hapt_unsplit",
           "shoulder-watch", "hapt_observable")
_RESERVED_TOP = ("label_text", "meta")
_PART_KEYS = ("arm", "leg", "text")


@dataclass(frozen=True)
class SubAction:
    """One sub-action of one label: Arm/Leg parts and/or a plain sentence, plus extra keys."""

    arm: str | None = None
    leg: str | None = None
    text: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def has(self, view: str) -> bool:
        """Whether this item can be rendered in ``view``."""
        if view == "armleg":
            return self.arm is not None and self.leg is not None
        if view == "arm":
            return self.arm is not None
        if view == "leg":
            return self.leg is not None
        if view == "text":
            return self.text is not None or (self.arm is not None and self.leg is not None)
        raise ValueError(f"unknown view {view!r}")

    def render(self, view: str) -> str:
        """The sentence of this item in ``view`` (assumes :meth:`has`)."""
        if view == "armleg" or (view == "text" and self.text is None):
            return armleg_text(self.arm or "", self.leg or "")
        if view == "arm":
            return self.arm or ""
        if view == "leg":
            return self.leg or ""
        return self.text or ""


def armleg_text(arm: str, leg: str) -> str:
    """The plan's merged text: ``"Arm: {arm}. Leg: {leg}."`` with one trailing '.' of each part dropped."""
    return f"Arm: {_drop_period(arm)}. Leg: {_drop_period(leg)}."


def _drop_period(part: str) -> str:
    part = part.strip()
    return part[:-1] if part.endswith(".") else part


@dataclass
class Corpus:
    """Sub-actions per label, in file order, seen through one view."""

    labels: list[str]
    items: dict[str, list[SubAction]]
    view: str = "armleg"
    path: Path | None = None
    shape: int = 2  # 1 plain sentences, 2 label -> Arm/Leg objects, 3 LLM reply
    label_texts: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def sentences(self, label: str, view: str | None = None) -> list[str]:
        """The label's sub-action sentences in ``view`` (default: the corpus view)."""
        view = self.view if view is None else _check_view(view, self.path)
        return [item.render(view) for item in self.items[label]]

    def label_text(self, label: str) -> str:
        """Text embedded for the label itself: its ``label_text`` if given, else its name."""
        return self.label_texts.get(label, label)

    def sub_actions(self, label: str) -> list[SubAction]:
        """Raw items of one label (arm, leg, text, extra keys such as ``shared``)."""
        return list(self.items[label])

    def counts(self) -> dict[str, int]:
        """{label: number of sub-actions}."""
        return {label: len(self.items[label]) for label in self.labels}

    def flat(self, view: str | None = None) -> tuple[list[str], list[int]]:
        """All sentences in corpus order and the label index of each (the embedding rows)."""
        sentences: list[str] = []
        owner: list[int] = []
        for index, label in enumerate(self.labels):
            rows = self.sentences(label, view)
            sentences += rows
            owner += [index] * len(rows)
        return sentences, owner

    def available_views(self) -> list[str]:
        """Views in which every sub-action can be rendered."""
        return [v for v in VIEWS if all(item.has(v) for items in self.items.values() for item in items)]

    def with_view(self, view: str) -> "Corpus":
        """The same corpus seen through another view (validated)."""
        corpus = replace(self, view=_resolve_view(self, view))
        return corpus

    def __len__(self) -> int:
        return sum(len(v) for v in self.items.values())


def shipped_corpus_path(name: str) -> Path:
    """Path of a corpus shipped with the package (``basicmotions``, ``geneactiv14``, ``*_unsplit``,
    ``shoulder-watch``, ``hapt_observable``)."""
    if name not in SHIPPED:
        raise UserError(name, f"is not a shipped corpus (known: {', '.join(SHIPPED)})")
    return Path(__file__).resolve().parent.parent / "corpora" / f"{name}.json"


def load_corpus(path_or_name: str | Path, view: str | None = "auto") -> Corpus:
    """Read and validate a corpus file (or a shipped corpus by name) and fix its view.

    ``view`` is one of ``armleg``, ``arm``, ``leg``, ``text`` or ``auto``/``None`` (armleg
    when every item has Arm and Leg, else text). A view that some item cannot provide is a
    :class:`UserError` naming the label and item.
    """
    path = _locate(path_or_name)
    corpus = parse_corpus(_read_json(path), path)
    return corpus.with_view("auto" if view is None else view)


def _locate(path_or_name: str | Path) -> Path:
    text = str(path_or_name)
    path = Path(path_or_name)
    if path.is_file():
        return path
    if text in SHIPPED:
        return shipped_corpus_path(text)
    if path.exists():
        raise UserError(path, "is not a file (expected a corpus .json)")
    raise UserError(path, f"no such corpus file (nor a shipped corpus: {', '.join(SHIPPED)})")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _read_json(path: Path) -> Any:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(path, f"cannot be read ({err})") from None
    try:
        return json.loads(raw, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as dup:
        raise UserError(path, f"duplicate key {dup.key!r} (a label or field given twice)") from None
    except json.JSONDecodeError as err:
        raise UserError(path, f"is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from None


_SHAPE_HELP = (
    'unknown corpus shape (expected {"label": ["sentence", ...]}, {"label": [{"arm": ..., "leg": ...}]} '
    'or {"activities": [{"action_label": ..., "sub_actions": [...]}]})'
)


def parse_corpus(data: Any, path: Path | str | None = None) -> Corpus:
    """Validate parsed JSON of any of the three shapes into a :class:`Corpus` (view ``auto``)."""
    where = path if path is not None else "corpus"
    if not isinstance(data, dict):
        raise UserError(where, _SHAPE_HELP)
    label_texts = _label_text_map(data.get("label_text"), where)
    if "activities" in data:
        shape = 3
        activities = data["activities"]
        if not isinstance(activities, list):
            raise UserError(where, "'activities' must be a list of {action_label, sub_actions}")
        raw: list[tuple[str, Any]] = []
        for position, activity in enumerate(activities):
            if not isinstance(activity, dict) or "action_label" not in activity or "sub_actions" not in activity:
                raise UserError(where, f"activity {position} must be an object with 'action_label' and 'sub_actions'")
            label = activity["action_label"]
            if not isinstance(label, str) or not label.strip():
                raise UserError(where, f"activity {position}: 'action_label' must be a non-empty string")
            if any(label == seen for seen, _ in raw):
                raise UserError(where, f"duplicate label {label!r}")
            if "label_text" in activity:
                label_texts[label] = _nonempty_string(activity["label_text"], where, f"label {label!r}: label_text")
            raw.append((label, activity["sub_actions"]))
    else:
        raw = []
        for label, value in data.items():
            if label in _RESERVED_TOP:
                continue
            if isinstance(value, dict) and "sub_actions" in value:  # {"label_text": ..., "sub_actions": [...]}
                if "label_text" in value:
                    label_texts[label] = _nonempty_string(value["label_text"], where, f"label {label!r}: label_text")
                value = value["sub_actions"]
            raw.append((label, value))
        if any(not isinstance(v, list) for _, v in raw):
            bad = next(k for k, v in raw if not isinstance(v, list))
            raise UserError(where, f"label {bad!r}: {_SHAPE_HELP}")
        items_are_objects = any(isinstance(i, dict) for _, v in raw for i in v)
        shape = 2 if items_are_objects else 1
    if not raw:
        raise UserError(where, "has no labels")
    meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
    items: dict[str, list[SubAction]] = {}
    for label, entries in raw:
        if not label.strip():
            raise UserError(where, "a label name is empty")
        if not isinstance(entries, list):
            raise UserError(where, f"label {label!r}: sub-actions must be a list")
        if not entries:
            raise UserError(where, f"label {label!r} has no sub-actions")
        items[label] = [_parse_item(entry, where, label, i) for i, entry in enumerate(entries)]
    unknown = [name for name in label_texts if name not in items]
    if unknown:
        raise UserError(where, f"label_text names a label that is not in the corpus: {unknown[0]!r}")
    return Corpus(
        labels=[label for label, _ in raw],
        items=items,
        view="auto",
        path=Path(path) if path is not None else None,
        shape=shape,
        label_texts=label_texts,
        meta=meta,
    )


def _label_text_map(value: Any, where: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(where, "'label_text' must be an object {label: text}")
    return {label: _nonempty_string(text, where, f"label_text of {label!r}") for label, text in value.items()}


def _nonempty_string(value: Any, where: Any, what: str) -> str:
    if not isinstance(value, str):
        raise UserError(where, f"{what} is not a string ({type(value).__name__})")
    if not value.strip():
        raise UserError(where, f"{what} is empty")
    return value.strip()


def _parse_item(entry: Any, where: Any, label: str, index: int) -> SubAction:
    what = f"label {label!r}, sub-action {index}"
    if isinstance(entry, str) or not isinstance(entry, dict):
        return SubAction(text=_nonempty_string(entry, where, what))
    parts: dict[str, str] = {}
    extra: dict[str, Any] = {}
    for key, value in entry.items():
        lowered = key.lower()
        if lowered in _PART_KEYS:
            if lowered in parts:
                raise UserError(where, f"{what}: '{lowered}' given twice")
            parts[lowered] = _nonempty_string(value, where, f"{what}: {key}")
        else:
            extra[key] = value
    if not parts:
        raise UserError(where, f"{what} has neither Arm/Leg nor text")
    return SubAction(arm=parts.get("arm"), leg=parts.get("leg"), text=parts.get("text"), extra=extra)


def _check_view(view: str, where: Any) -> str:
    if view not in VIEWS:
        raise UserError(where if where is not None else "--view", f"unknown view {view!r} (choose {', '.join(VIEWS)} or auto)")
    return view


def _resolve_view(corpus: Corpus, view: str) -> str:
    if view == "auto":
        return "armleg" if corpus.shape != 1 and all(i.has("armleg") for v in corpus.items.values() for i in v) else "text"
    view = _check_view(view, corpus.path)
    for label in corpus.labels:
        for index, item in enumerate(corpus.items[label]):
            if not item.has(view):
                need = {"armleg": "Arm and Leg", "arm": "Arm", "leg": "Leg", "text": "a sentence or Arm and Leg"}[view]
                raise UserError(
                    corpus.path or "corpus",
                    f"label {label!r}, sub-action {index} lacks {need}, which view '{view}' needs",
                )
    return view
