"""One self-contained HTML page from any run, demo or bench folder (``mmvq report``).

The page argues in the order a colleague reads: the headline (which model won, what the
model explains, whether unseen activities were recognised), explanations of test windows,
the shapes, the sub-action text, data and method, and provenance last. Each section is
drawn from what the folder holds and left out when it holds nothing for it, so a single
run folder, a demo, a ``bench accuracy`` or a zero-shot bench folder each get the sections
that apply. A sub-folder that is itself a demo (its own ``data/summary.json``, e.g. a second
data set) becomes a part of its own after the first.

Figures are embedded PNGs with captions; the 3-D projections are one interactive view
(one inlined copy of plotly.js) with a method / view switch; raw files are linked, not
copied in; long tables are folded. Nothing on the page is fetched from the network.
Notebook use::

    from mmvqshape.pipelines.report import build_report
    build_report("runs/demo")          # → runs/demo/report.html
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from plotly.offline import get_plotlyjs

from ...atomic import atomic_file
from ...errors import UserError
from .folder import bench_summary, document_data, nested_parts
from .headline import part_note
from .html import esc, label_html, page
from .part import Part, read_part
from .sections import render_part

__all__ = ["build_report", "read_part"]


#: Data sources in words (the part of a DATA name before its options).
DATA_WORDS = {"basicmotions": "BasicMotions", "hapt": "UCI HAPT", "hapt-transitions": "UCI HAPT with transitions",
              "hapt-boundary": "UCI HAPT two-activity windows", "hapt-splice": "UCI HAPT spliced two-activity windows",
              "shoulder-watch": "Shoulder-watch"}


def _data_name(root: Path) -> str:
    summary = document_data(root / "data" / "summary.json", "data_summary")
    if summary and summary.get("data"):
        data = str(summary["data"])
        return DATA_WORDS.get(data.split("[")[0].split(":")[0].lower(), data)
    bench = bench_summary(root)
    if bench and bench[1].get("data"):
        return f"{bench[1]['data']} benchmark"
    zero_shot = document_data(root / "zero_shot.json", "zero_shot_bench")
    if zero_shot and zero_shot.get("data"):
        return f"{zero_shot['data']} zero-shot benchmark"
    return root.name


def build_report(folder: str | Path, out: str | Path | None = None, title: str | None = None) -> Path:
    """Write ``report.html`` for ``folder`` (a run, demo or bench folder); return its path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(folder, "is not a folder (expected a run, demo or bench folder)")
    out = Path(out) if out is not None else folder / "report.html"
    page_dir = out.resolve().parent
    main = read_part(folder.resolve(), page_dir, anchor="main")
    further = []  # a second data set (a demo inside the demo): its sections after the first's
    for index, sub in enumerate(nested_parts(folder.resolve())):
        name = _data_name(sub)
        sub_sections = render_part(read_part(sub, page_dir, anchor=f"part{index}"), prefix=f"part{index}-",
                                   title_prefix=f"{name} · ", include_machine=False)
        if sub_sections:
            further.append((name, sub_sections))
            note = part_note(read_part(sub, page_dir), name, sub_sections[0][0])
            if note:
                main.headline_notes.append(note)
    sections = render_part(main)
    toc = [(anchor, short) for anchor, short, _ in sections if not anchor.endswith("provenance")]
    for name, sub_sections in further:
        toc.append((sub_sections[0][0], name))
        sections += sub_sections
    if all(anchor.endswith("provenance") for anchor, _, _ in sections):
        raise UserError(folder, "holds nothing to report (no metrics.json, explanations, analyses or data summary)")
    # provenance of every part comes last
    last = [s for s in sections if s[0].endswith("provenance")]
    toc += [(anchor, short) for anchor, short, _ in last[:1]]
    body = "".join(html_text for anchor, _, html_text in sections if not anchor.endswith("provenance"))
    body += "".join(html_text for _, _, html_text in last)
    head_script = ""
    if "class='plot3d'" in body:
        head_script = f"<script>{_plotly_js()}</script>"
    title = title or f"MMVQShape report: {_data_name(folder)}"
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta = " · ".join([*_facts(main), f"page built {stamp}"])
    document = page(title, meta, toc, body, head_script=head_script)
    with atomic_file(out) as handle:
        handle.write(document)
    return out


def _facts(part: Part) -> list[str]:
    """The line under the title: data, activities, test windows."""
    facts = []
    summary = document_data(part.root / "data" / "summary.json", "data_summary")
    if summary:
        facts.append(esc(summary.get("data")))
        test = ((summary.get("splits") or {}).get("test") or {}).get("n")
        if test:
            facts.append(f"{test} test windows")
    labels = summary.get("labels") if isinstance(summary, dict) and summary.get("labels") else part.labels
    if labels:
        facts.append(f"{len(labels)} activities: " + ", ".join(label_html(label, part.colors) for label in labels))
    return facts


def _plotly_js() -> str:
    return get_plotlyjs()  # large: called only when the page has an interactive view
