"""Section 6, provenance: versions, seeds, split, timing and every raw file, linked."""

from __future__ import annotations

import platform
from datetime import datetime, timezone
from importlib import metadata

from .folder import document_data
from .html import fold, table
from .part import Part

#: Steps of a timing.json shown before the total.
STEP_CAP = 40


def _facts(part: Part, include_machine: bool) -> list[list[str]]:
    seeds = sorted({r.metrics.get("seed") for r in part.runs if r.metrics.get("seed") is not None})
    splits = sorted({str((r.metrics.get("split") or {}).get("method")) for r in part.runs if isinstance(r.metrics.get("split"), dict)})
    facts = []
    if seeds:
        facts.append(["seed" + ("s" if len(seeds) > 1 else ""), ", ".join(str(s) for s in seeds)])
    if splits:
        facts.append(["split", ", ".join(splits)])
    if include_machine:
        facts.append(["page built", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")])
        facts.append(["machine", f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}"])
        facts.append(["packages (when the page was built)", _versions()])
    setup = part.bench[1] if part.bench else {}
    if isinstance(setup.get("wall_seconds"), (int, float)):
        facts.append(["benchmark wall time", f"{setup['wall_seconds'] / 60:.1f} minutes on {setup.get('cpu_count', '?')} cores"])
    zero_shot = part.zero_shot_bench[0] if part.zero_shot_bench else {}
    if isinstance(zero_shot.get("wall_seconds"), (int, float)):
        facts.append(["zero-shot bench wall time", f"{zero_shot['wall_seconds'] / 60:.1f} minutes ({zero_shot.get('machine', '')})"])
    facts.append(["folder", str(part.root)])
    return facts


def _timing(part: Part) -> str:
    """The folder's time per step (a demo's timing.json), else each run's training time."""
    timing = document_data(part.root / "timing.json", "timing")
    if timing:
        steps = [(k, v) for k, v in timing.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        total = sum(v for _, v in steps)
        rows = [[k, v] for k, v in steps[:STEP_CAP]] + [["total", round(total, 1)]]
        return fold(f"Time per step: {total / 60:.1f} minutes in all", table(["step", "seconds"], rows, numeric=[False, True]))
    train_times = [(r.name, (document_data(r.path / "timing.json", "timing") or {}).get("train_seconds")) for r in part.runs]
    train_times = [(n, t) for n, t in train_times if isinstance(t, (int, float))]
    return fold("Training time per run", table(["run", "seconds"], train_times, numeric=[False, True])) if train_times else ""


def provenance(part: Part, *, include_machine: bool = True) -> tuple[str, str] | None:
    body = [table(["", ""], _facts(part, include_machine)), _timing(part), _file_list(part)]
    return "Provenance: versions, seeds, split, timing and raw files", "".join(b for b in body if b)


def _versions() -> str:
    names = ["mmvqshape", "torch", "lightning", "numpy", "scikit-learn", "aeon", "sentence-transformers", "umap-learn"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def _file_list(part: Part) -> str:
    """Every raw file, linked; JSON of a kind the page does not read is marked so."""
    shown = [p for p in part.files if p.suffix in {".json", ".csv", ".yaml", ".md", ".txt", ".html"} and p.name != "report.html"]
    if not shown:
        return ""
    unread = set(part.unread_json)
    mark = " <span class='tag'>(not read by this page: no kind it knows)</span>"
    items = "".join(f"<li>{part.link(p, str(p.relative_to(part.root)))}{mark if p in unread else ''}</li>" for p in shown)
    return fold(f"Raw files ({len(shown)}, linked, not copied into this page)", f"<ul class='files'>{items}</ul>")
