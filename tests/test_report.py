"""The one-page report: self-contained, every figure embedded, renders in a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from mmvqshape.cli import main  # noqa: E402
from mmvqshape.pipelines.report import build_report  # noqa: E402


def _fake_run_folder(root):
    import plotly.graph_objects as go

    (root / "runs" / "vqshape").mkdir(parents=True)
    (root / "analysis" / "projection").mkdir(parents=True)
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    fig.savefig(root / "runs" / "vqshape" / "confusion.png")
    fig.savefig(root / "analysis" / "projection" / "tsne_2d.png")
    plt.close(fig)
    figure = go.Figure(go.Scatter3d(x=[0, 1], y=[1, 0], z=[0, 1], mode="markers"))
    (root / "analysis" / "projection" / "umap_3d.plotly.json").write_text(figure.to_json())
    metrics = {"model": "vqshape", "accuracy": 0.875, "macro_f1": 0.86, "n_test": 40, "seed": 0,
               "split": {"method": "official/val-random", "sizes": {"train": 32, "val": 8, "test": 40}}}
    (root / "runs" / "vqshape" / "metrics.json").write_text(json.dumps(metrics))
    (root / "runs" / "vqshape" / "table.csv").write_text("a,b\n1,2.5\n")
    return root


def test_report_embeds_every_figure_and_metric(tmp_path):
    root = _fake_run_folder(tmp_path / "demo")
    page = build_report(root).read_text()
    assert page.count("<img src='data:image/png;base64,") == 2
    assert "src=\"http" not in page and "src='http" not in page  # nothing fetched from the network
    assert "0.875" in page and "official/val-random" in page
    assert "Plotly.newPlot" in page and "umap_3d" in page


def test_report_command_and_bad_folder(tmp_path, capsys):
    root = _fake_run_folder(tmp_path / "demo")
    assert main(["report", str(root)]) == 0
    assert (root / "report.html").is_file()
    assert main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing" in err[0]


PROBE = """<script>window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message||e));});
window.addEventListener('load',function(){setTimeout(function(){var imgs=Array.from(document.images);
var bad=imgs.filter(function(i){return !(i.complete&&i.naturalWidth>0);}).length;
var plots=document.querySelectorAll('.plot3d .main-svg, .plot3d canvas').length;
document.title='PROBE'+JSON.stringify({images:imgs.length,broken:bad,errors:window.__errors,plots:plots});},500);});</script>"""


def render_in_browser(page_path, tmp_path) -> dict:
    """Open the page in headless Chromium; return images / broken / errors / plots seen."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    probed = tmp_path / "probed.html"
    probed.write_text(page_path.read_text().replace("<head>", "<head>" + PROBE, 1))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom"]
    done = subprocess.run([browser, *flags, probed.as_uri()], capture_output=True, text=True, timeout=120)
    match = re.search(r"<title>PROBE(.*?)</title>", done.stdout)
    assert match, f"the page never finished loading: {done.stderr[-500:]}"
    import html

    return json.loads(html.unescape(match.group(1)))


def browser_available() -> bool:
    return bool(shutil.which("chromium") or shutil.which("chromium-browser"))


@pytest.mark.skipif(not browser_available(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_report_renders_in_a_real_browser(tmp_path):
    root = _fake_run_folder(tmp_path / "demo")
    seen = render_in_browser(build_report(root), tmp_path)
    assert seen["images"] == 2 and seen["broken"] == 0
    assert seen["errors"] == []
    assert seen["plots"] >= 1
