"""HTML building blocks of the report: figures with captions, tables, folds, links, the page.

Every function returns a string of HTML with its text escaped. The page carries its own
style sheet and (only when an interactive view is on it) one inlined copy of plotly.js, so
it opens offline and fetches nothing.
"""

from __future__ import annotations

import base64
import html
import math
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

STYLE = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1100px;color:#1d1d1d;
 padding:1.2rem 1rem 3rem;line-height:1.5;overflow-wrap:break-word}
h1{font-size:1.7rem;margin:.2rem 0 .3rem;line-height:1.25} h2{font-size:1.35rem;border-bottom:2px solid #ddd;padding-bottom:.25rem;margin-top:2.6rem}
h3{font-size:1.08rem;margin:1.6rem 0 .4rem;color:#333}
p{margin:.5rem 0} .meta{color:#5a5a5a;font-size:.88rem} .lead{font-size:1.02rem}
nav.toc{font-size:.9rem;margin:.8rem 0 0} nav.toc ol{margin:.2rem 0;padding-left:1.4rem} nav.toc li{display:inline-block;margin-right:1.1rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:.9rem;margin:1rem 0}
.card{border:1px solid #d6d6d6;border-radius:6px;padding:.7rem .9rem;background:#fafafa}
.card .q{font-weight:600;font-size:.95rem;color:#333;margin:0 0 .3rem} .card .a{font-size:1.02rem;margin:0}
.verdict{font-weight:600}
.scroll{max-width:100%;overflow-x:auto;margin:.6rem 0}
table{border-collapse:collapse;font-size:.88rem;margin:0}
th,td{border:1px solid #ddd;padding:.28rem .55rem;text-align:left;vertical-align:top}
th{background:#f2f2f2;font-weight:600} td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap} table.dense th{white-space:normal}
td.text{min-width:14rem} tr.best td{background:#eef6ee}
figure{margin:1rem 0;max-width:100%} figure img{display:block;max-width:100%;max-height:90vh;width:auto;height:auto;border:1px solid #eee;margin:0 auto}
figcaption{font-size:.88rem;color:#444;margin-top:.35rem}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:.8rem}
details{margin:.6rem 0} summary{cursor:pointer;color:#1f4e79;font-size:.92rem}
details>*:not(summary){margin-left:.2rem}
ol.sentences{margin:.3rem 0 .6rem;padding-left:1.6rem} ol.sentences li{margin:.15rem 0}
.chip{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.3em;vertical-align:baseline;border:1px solid #0003}
.tag{font-size:.8rem;color:#555;white-space:nowrap}
.switch{display:flex;flex-wrap:wrap;gap:.35rem;align-items:center;margin:.4rem 0}
.switch span{font-size:.85rem;color:#555;margin-right:.2rem}
.switch button{font:inherit;font-size:.85rem;padding:.2rem .65rem;border:1px solid #888;border-radius:4px;background:#fff;cursor:pointer}
.switch button[aria-pressed=true]{background:#1f4e79;color:#fff;border-color:#1f4e79}
.plot3d{width:100%;height:520px}
ul.files{font-size:.85rem;columns:2 18rem;padding-left:1.2rem} code{font-size:.88em;overflow-wrap:anywhere}
@media (max-width:600px){body{padding:.8rem .7rem 2rem} h1{font-size:1.35rem} h2{font-size:1.2rem} .plot3d{height:400px}
 td.text{min-width:10rem} .wide{display:none}}
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def number(value: Any, digits: int = 3) -> str:
    """A number for a table: fixed decimals for fractions, as-is for integers; '—' for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) >= 2 else f"{value:.{digits}f}"
    return str(value)


def percent(value: float | None) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.0f} %"


def mean_std(mean: float | None, std: float | None, n: int) -> str:
    """'0.975' for one value, '0.975 ± 0.013' for several."""
    if mean is None:
        return "—"
    return f"{mean:.3f}" if n <= 1 or std is None else f"{mean:.3f} ± {std:.3f}"


def image(source: Path | bytes, alt: str) -> str:
    """An embedded PNG from a file or from the PNG's bytes."""
    data = base64.b64encode(source if isinstance(source, bytes) else source.read_bytes()).decode()
    return f"<img src='data:image/png;base64,{data}' alt='{esc(alt)}' loading='eager'>"


def figure(source: Path | bytes, caption: str, *, alt: str | None = None, caption_html: str | None = None) -> str:
    """One embedded PNG (a file or its bytes) with its caption (``caption_html`` is trusted, already-escaped HTML)."""
    text = caption_html if caption_html is not None else esc(caption)
    return f"<figure>{image(source, alt or caption)}<figcaption>{text}</figcaption></figure>"


def table(head: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Sequence[bool] | None = None,
          row_classes: Sequence[str] | None = None, text_columns: Sequence[int] = (), wide_only: Sequence[int] = (),
          dense: bool = False) -> str:
    """A table in a horizontally scrolling box (so a wide table never widens the page).

    Cells are escaped unless they are ``Raw``; ``numeric`` right-aligns columns; ``wide_only``
    columns are hidden on phone-width screens; ``dense`` lets long headers wrap.
    """
    numeric = list(numeric) if numeric is not None else [False] * len(head)

    def classes(i: int, base: str) -> str:
        names = " ".join(n for n in (base, "wide" if i in wide_only else "") if n)
        return f" class='{names}'" if names else ""

    head_html = "".join(f"<th{classes(i, 'num' if numeric[i] else '')}>{esc(h)}</th>" for i, h in enumerate(head))
    body = []
    for r, row in enumerate(rows):
        cells = []
        for i, cell in enumerate(row):
            content = cell.html if isinstance(cell, Raw) else esc(number(cell) if numeric[i] else ("—" if cell is None else cell))
            cls = classes(i, "num" if numeric[i] else "text" if i in text_columns else "")
            cells.append(f"<td{cls}>{content}</td>")
        cls = f" class='{row_classes[r]}'" if row_classes and row_classes[r] else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<div class='scroll'><table{' class=dense' if dense else ''}><thead><tr>{head_html}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"


class Raw:
    """Trusted HTML inside a table cell."""

    def __init__(self, html_text: str):
        self.html = html_text


def fold(summary: str, inner: str, *, open_: bool = False) -> str:
    """A section a reader opens on demand (long tables, secondary figures)."""
    if not inner:
        return ""
    return f"<details{' open' if open_ else ''}><summary>{esc(summary)}</summary>{inner}</details>"


def chip(color: str) -> str:
    return f"<span class='chip' style='background:{esc(color)}' aria-hidden='true'></span>"


def label_html(label: str, colors: dict[str, str]) -> str:
    """A label name with its colour chip (the same colour as in every figure)."""
    color = colors.get(label)
    return (chip(color) if color else "") + esc(label)


def link(target: Path, page_dir: Path, text: str | None = None) -> str:
    """A relative link from the page to a raw file (works when the folder is moved whole)."""
    relative = Path(os.path.relpath(target, page_dir)).as_posix()
    return f"<a href='{esc(relative)}'>{esc(text or relative)}</a>"


def section(anchor: str, title: str, intro: str, body: str) -> str:
    """``<section>`` with a heading in words and one or two sentences saying what to look at."""
    intro_html = f"<p class='lead'>{intro}</p>" if intro else ""
    return f"<section id='{esc(anchor)}'><h2>{esc(title)}</h2>{intro_html}{body}</section>"


def page(title: str, meta: str, toc: list[tuple[str, str]], body: str, *, head_script: str = "") -> str:
    """The whole document: one file, its own style, nothing fetched."""
    toc_html = ""
    if len(toc) > 1:
        items = "".join(f"<li><a href='#{esc(a)}'>{esc(t)}</a></li>" for a, t in toc)
        toc_html = f"<nav class='toc' aria-label='Sections'><ol>{items}</ol></nav>"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{STYLE}</style>{head_script}</head><body>"
        f"<header><h1>{esc(title)}</h1><p class='meta'>{meta}</p>{toc_html}</header>"
        f"<main>{body}</main></body></html>"
    )
