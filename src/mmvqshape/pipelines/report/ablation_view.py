"""The ablation section: a ``bench ablation`` folder's table (``ablation.json``, kind
``bench_ablation``), each row a named model config, mean ± std over seeds, with the protocol
and the rule that picks the default on validation subjects."""

from __future__ import annotations

import json
from typing import Any

from .folder import of_kind
from .html import Raw, esc, mean_std, table
from .part import Part

#: Columns a row does not show as a number.
NOT_SHOWN = ("row", "seeds")


def _header(key: str) -> str:
    return key.replace("explanation.", "own explanation: ").replace("grounding.", "grounding: ").replace(
        "zero_shot.", "zero-shot: ").replace("_", " ")


def _cell(value: Any, seeds: int, key: str) -> str:
    if not isinstance(value, dict) or value.get("mean") is None:
        return "—"
    if key == "train_seconds":
        return f"{value['mean']:.0f}"
    return mean_std(value["mean"], value.get("std"), seeds if not key.startswith("zero_shot.") else 2)


def ablation(part: Part) -> tuple[str, str] | None:
    documents = of_kind(part.documents, "bench_ablation")
    if not documents:
        return None
    document = documents[0]
    summary = [e for e in document.data.get("summary") or [] if isinstance(e, dict)]
    setup = document.data.get("setup") or {}
    choice = document.data.get("default") or {}
    if not summary:
        return None
    keys = list(dict.fromkeys(k for e in summary for k in e if k not in NOT_SHOWN and any(x.get(k) for x in summary)))
    body_rows = [[Raw(f"<b>{esc(e['row'])}</b>" if e["row"] == choice.get("row") else esc(e["row"])),
                  *[_cell(e.get(k), int(e.get("seeds") or 1), k) for k in keys]] for e in summary]
    configs = "; ".join(f"{esc(name)} = <code>{esc(json.dumps(cfg))}</code>" for name, cfg in (setup.get("rows") or {}).items())
    meta = (f"Data {esc(setup.get('data'))}, {esc(setup.get('seeds'))} seed(s), protocol {esc(setup.get('protocol'))}; "
            f"grounding on {esc(setup.get('grounding_data') or 'nothing')} test windows; mean ± std over seeds "
            f"(zero-shot: over folds). " + part.link(document.path, document.path.name))
    rule = esc(setup.get("default_rule") or choice.get("rule") or "")
    picked = f" It picks <b>{esc(choice['row'])}</b>." if choice.get("row") else ""
    html = (table(["row", *[_header(k) for k in keys]], body_rows, numeric=[False] + [True] * len(keys), dense=True)
            + f"<p class='meta'>{meta}</p><p class='meta'>Rows: {configs}.</p><p class='lead'>Default: {rule}.{picked}</p>")
    return "Part by part: the ablation table", html
