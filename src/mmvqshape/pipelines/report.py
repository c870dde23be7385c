"""One self-contained HTML page from any run or demo folder (``mmvq report``).

Every PNG is embedded as a data URI, interactive 3-D figures (``*.plotly.json``, written
beside their HTML by the projection analysis) are drawn by one inlined copy of plotly.js,
``metrics.json`` files become a comparison table with the split and seed named, and small
CSV / JSON tables are shown as tables. Nothing on the page is fetched from the network.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import platform
from datetime import datetime, timezone
from pathlib import Path

from ..atomic import atomic_file
from ..errors import UserError

#: Sections of a demo folder in reading order; other sub-folders follow alphabetically.
SECTION_ORDER = ["data", "text", "analysis", "runs", "explain", "bench"]
SECTION_TITLES = {
    "data": "Data",
    "text": "Sub-action embeddings",
    "analysis": "Text analyses",
    "runs": "Models",
    "explain": "Explanations of test windows",
    "bench": "Benchmarks",
}
#: Sub-folders in reading order within a section (prefix match); others follow alphabetically.
SUBSECTION_ORDER = ["projection", "gram", "recon", "codebook", "minirocket", "vqshape", "mmvqshape"]
#: Files at the root shown at the end of the page rather than as a section of their own.
FOOTER_FILES = {"timing.json": "Time per step (seconds)"}
METRIC_COLUMNS = ["model", "accuracy", "macro_f1", "label_text_retrieval", "n_test", "split", "seed"]
MAX_TABLE_ROWS = 40

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} h2{border-bottom:2px solid #ddd;padding-bottom:.3rem;margin-top:2.5rem}
h3{margin-top:1.5rem;color:#444} .meta{color:#666;font-size:.9rem}
table{border-collapse:collapse;margin:.8rem 0;font-size:.9rem} th,td{border:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{display:inline-block;margin:.5rem;vertical-align:top;max-width:100%} figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.8rem;color:#555;text-align:center} .plot3d{width:100%;max-width:560px;height:460px;display:inline-block}
pre{background:#f7f7f7;padding:.6rem;overflow-x:auto;font-size:.8rem}
"""


def build_report(folder: str | Path, out: str | Path | None = None, title: str | None = None) -> Path:
    """Write ``report.html`` for ``folder`` (a run folder or a demo folder); return its path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(folder, "is not a folder (expected a run or demo folder)")
    out = Path(out) if out is not None else folder / "report.html"
    body: list[str] = []
    metrics = sorted(folder.rglob("metrics.json"))
    if metrics:
        body.append("<h2>Results</h2>" + _metrics_table(folder, metrics))
    summary = folder / "data" / "summary.json"
    for name, path in _sections(folder):
        content = _section(folder, path)
        if content:
            body.append(f"<h2>{html.escape(SECTION_TITLES.get(name, name.replace('_', ' ').title()))}</h2>{content}")
    for name, caption in FOOTER_FILES.items():
        if (folder / name).is_file():
            body.append(f"<h2>{html.escape(caption)}</h2>{_render_item(folder / name)}")
    needs_plotly = "class=\"plot3d\"" in "".join(body)
    head_script = f"<script>{_plotly_js()}</script>" if needs_plotly else ""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()} · {platform.system()} · Python {platform.python_version()}"
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title or 'MMVQShape report')}</title><style>{STYLE}</style>{head_script}</head><body>"
        f"<h1>{html.escape(title or 'MMVQShape report')}</h1>"
        f"<p class='meta'>{html.escape(str(folder))} · {stamp} · {html.escape(machine)}</p>"
        + (_summary_block(summary) if summary.is_file() else "")
        + "".join(body)
        + "</body></html>"
    )
    with atomic_file(out) as handle:
        handle.write(page)
    return out


def _sections(folder: Path) -> list[tuple[str, Path]]:
    subdirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != "checkpoints"]
    rank = {name: i for i, name in enumerate(SECTION_ORDER)}
    subdirs.sort(key=lambda p: (rank.get(p.name, len(rank)), p.name))
    sections = [(p.name, p) for p in subdirs]
    if any(_items(folder)):
        sections.insert(0, ("files", folder))  # a single run folder: its own figures first
    return sections


def _items(path: Path) -> list[Path]:
    return sorted(
        p for p in path.iterdir()
        if p.is_file() and p.suffix in {".png", ".json", ".csv"} and p.name != "metrics.json" and p.name not in FOOTER_FILES
    )


def _subsection_key(path: Path) -> tuple[int, str]:
    ranks = [i for i, prefix in enumerate(SUBSECTION_ORDER) if path.name.startswith(prefix)]
    return (ranks[0] if ranks else len(SUBSECTION_ORDER), path.name)


def _section(root: Path, path: Path) -> str:
    """Items of ``path``, then (below the root only) its sub-folders as sub-sections."""
    parts = [_render_item(item) for item in _items(path)]
    if path != root:  # the root's sub-folders are sections of their own
        subs = [p for p in path.iterdir() if p.is_dir() and p.name not in {"checkpoints", "logs"} and not p.name.startswith(".")]
        for sub in sorted(subs, key=_subsection_key):
            inner = _section(root, sub)
            if inner:
                parts.append(f"<h3>{html.escape(str(sub.relative_to(root)))}</h3>{inner}")
    return "".join(p for p in parts if p)


def _render_item(item: Path) -> str:
    if item.suffix == ".png":
        data = base64.b64encode(item.read_bytes()).decode()
        return f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(item.stem)}'><figcaption>{html.escape(item.stem)}</figcaption></figure>"
    if item.name.endswith(".plotly.json"):
        div = "plot-" + base64.urlsafe_b64encode(str(item).encode()).decode().strip("=")[-24:]
        spec = item.read_text()
        return (
            f"<figure><div id='{div}' class=\"plot3d\"></div><figcaption>{html.escape(item.name[:-12])} (drag to rotate)</figcaption></figure>"
            f"<script>(function(){{var f={spec};Plotly.newPlot('{div}',f.data,f.layout,{{responsive:true}});}})();</script>"
        )
    if item.suffix == ".csv":
        return _csv_table(item)
    if item.suffix == ".json" and item.stat().st_size < 20_000:
        return _json_block(item)
    return ""


def _csv_table(path: Path) -> str:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows or len(rows) > MAX_TABLE_ROWS + 1 or len(rows[0]) > 20:
        return f"<p class='meta'>{html.escape(path.name)}: {max(len(rows) - 1, 0)} rows (see the file)</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows[1:])
    return f"<p class='meta'>{html.escape(path.name)}</p><table><tr>{head}</tr>{body}</table>"


def _cell(value) -> str:
    text = str(value)
    try:
        number = float(text)
        shown = text if number.is_integer() else f"{number:.4g}"
        return f"<td class='num'>{html.escape(shown)}</td>"
    except ValueError:
        return f"<td>{html.escape(text)}</td>"


def _read_json(path: Path):
    """The file's JSON, or None when it is not valid JSON (the report then leaves it out)."""
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def _json_block(path: Path) -> str:
    data = _read_json(path)
    if data is None:
        return ""
    if isinstance(data, dict) and data and all(not isinstance(v, (dict, list)) for v in data.values()):
        rows = "".join(f"<tr><th>{html.escape(str(k))}</th>{_cell(v)}</tr>" for k, v in data.items())
        return f"<p class='meta'>{html.escape(path.name)}</p><table>{rows}</table>"
    text = json.dumps(data, indent=1)
    if len(text) > 4000:
        text = text[:4000] + "\n…"
    return f"<details><summary>{html.escape(path.name)}</summary><pre>{html.escape(text)}</pre></details>"


def _metrics_table(root: Path, files: list[Path]) -> str:
    rows = []
    for file in files:
        m = _read_json(file)
        if not isinstance(m, dict):
            continue
        split = m.get("split", "")
        if isinstance(split, dict):
            split = f"{split.get('method', '')} (train {split.get('sizes', {}).get('train', '?')}, val {split.get('sizes', {}).get('val', '?')}, test {split.get('sizes', {}).get('test', '?')})"
        run = html.escape(str(file.parent.relative_to(root)))
        zero_shot = m.get("zero_shot") or {}
        retrieval = zero_shot.get("holdout_accuracy", zero_shot.get("accuracy"))
        values = [split if key == "split" else retrieval if key == "label_text_retrieval" else m.get(key) for key in METRIC_COLUMNS]
        rows.append(f"<tr><td>{run}</td>" + "".join(_cell("" if v is None else v) for v in values) + "</tr>")
    head = "<tr><th>run</th>" + "".join(f"<th>{c}</th>" for c in METRIC_COLUMNS) + "</tr>"
    note = (
        "<p class='meta'>Every number is on the test split, which selected nothing; models were chosen on a validation "
        "split carved from training data. label_text_retrieval: how often the predicted label embedding is nearest to the "
        "window's own label text among all labels (held-out labels only, when the run held some out).</p>"
    )
    return f"<table>{head}{''.join(rows)}</table>{note}"


def _summary_block(path: Path) -> str:
    s = _read_json(path)
    if not isinstance(s, dict):
        return ""
    return f"<p class='meta'>data {html.escape(str(s.get('data')))} · classes {html.escape(', '.join(s.get('labels', [])))} · split {html.escape(str(s.get('split', {}).get('method')))}</p>"


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()
