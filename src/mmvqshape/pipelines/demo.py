"""The main job (``mmvq demo``): the whole plan on bundled BasicMotions data, one report."""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import write_json
from .data import format_summary, summarize_data
from .report import build_report


def run_demo(out: str | Path = "runs/demo", *, quick: bool = False, seed: int = 0) -> dict:
    """Run every step of the plan on BasicMotions into ``out`` and write ``out/report.html``."""
    out = Path(out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    summary = summarize_data("basicmotions", seed=seed)
    write_json(out / "data" / "summary.json", summary)
    print(format_summary(summary))
    report = build_report(out, title="MMVQShape demo: BasicMotions")
    return {"report": report, "summary": json.loads((out / "data" / "summary.json").read_text())}
