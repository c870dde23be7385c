"""The one-page report: an argument in a fixed order, every section only when its files are
there, self-contained, and readable in a real browser at desktop and phone width."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from mmvqshape.cli import main  # noqa: E402
from mmvqshape.palette import LABEL_COLORS, label_color_map  # noqa: E402
from mmvqshape.pipelines.report import build_report  # noqa: E402

LABELS = ["standing", "walking", "running", "badminton"]
SECTION_TITLES = ["Headline", "What the model explains", "The shapes", "The sub-action sentences", "Data and method", "Provenance"]


def _png(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    fig.savefig(path)
    plt.close(fig)


def _metrics(model, accuracy, **extra):
    per_class = {label: {"precision": 1.0, "recall": accuracy, "f1": accuracy, "support": 10} for label in LABELS}
    return {"model": model, "accuracy": accuracy, "macro_f1": accuracy - 0.01, "n_test": 40, "seed": 0, "per_class": per_class,
            "split": {"method": "official/val-random", "sizes": {"train": 32, "val": 8, "test": 40}, "data": "basicmotions[acc]"},
            **extra}


def _run(root, name, metrics, figures=("confusion.png",)):
    run = root / "runs" / name
    (run / "figures").mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "config.yaml").write_text(f"model_name: {metrics['model']}\nseed: 0\nmax_epochs: 3\nbatch_size: 8\nlr: 0.001\n")
    for figure in figures:
        _png(run / "figures" / figure)
    return run


def _fake_demo(root, *, zero_shot=True, with_new_keys=True):
    """A demo-like folder: data summary, three runs, explanations, a 3-D and a 2-D projection."""
    (root / "data").mkdir(parents=True)
    splits = {s: {"n": n, "per_class": {label: n // 4 for label in LABELS}} for s, n in (("train", 32), ("val", 8), ("test", 40))}
    (root / "data" / "summary.json").write_text(json.dumps({
        "data": "basicmotions[acc]", "labels": LABELS, "channels": ["acc_x", "acc_y", "acc_z"], "length": 512,
        "split": {"method": "official/val-random", "seed": 0}, "splits": splits, "subjects": None}))
    extra = {"zero_shot": {"candidates": 4, "chance": 0.25, "accuracy": 0.775},
             "codebooks": {"shape": {"num_codes": 64, "used_codes": 28, "perplexity": 26.1},
                           "action": {"num_codes": 24, "used_codes": 11, "perplexity": 9.4}}}
    if with_new_keys:
        extra["explanation"] = {"precision": 0.81, "diversity": 0.9, "repeat_rate": 0.05, "specificity": 0.4, "faithfulness": 0.12}
        extra["reconstruction"] = {"r2": 0.61, "pca_r2": 0.66, "per_class": {label: 0.6 for label in LABELS}}
        extra["shapes"] = {"fit_r2": {"median": 0.5, "q1": 0.3, "q3": 0.7}, "sigma_ratio": 0.4}
    _run(root, "mmvqshape", _metrics("mmvqshape", 0.95, **extra), ("confusion.png", "reconstruction.png", "code_usage.png"))
    _run(root, "vqshape", _metrics("vqshape", 0.9), ("confusion.png", "reconstruction.png"))
    _run(root, "minirocket", _metrics("minirocket", 0.875))
    if zero_shot:
        held = _metrics("mmvqshape", 0.7, zero_shot={"unseen_labels": ["running", "walking"], "unseen_accuracy": 0.8,
                                                     "seen_accuracy": 0.9, "unseen_gzsl_accuracy": 0.55, "harmonic_mean": 0.68,
                                                     "candidates": 4})
        _run(root / "zero-shot", "fold0-seed0", held)
    explain = root / "explain"
    for index, label in ((0, "standing"), (10, "running")):
        _png(explain / f"explain_{index}.png")
        (explain / f"explain_{index}.json").write_text(json.dumps({
            "index": index, "true_label": label, "predicted_label": label, "probabilities": {label: 0.9},
            "channels": [{"channel": 0, "shapes": [{"code": 3, "t": 0.1, "l": 0.2}]}],
            "sub_actions": [{"slot": 0, "sentence": f"Arm: swings like {label}. Leg: steps.", "source_label": label},
                            {"slot": 1, "sentence": "Arm: still. Leg: still.", "source_label": "standing"}],
            "zero_shot": [{"label": label, "cosine": 0.9}]}))
    for method, dims in (("umap", 3), ("tsne", 2)):
        folder = root / "analysis" / f"projection_{method}_{dims}d"
        folder.mkdir(parents=True)
        (folder / "projection.json").write_text(json.dumps({"method": method, "dims": dims, "panels": [{"view": "armleg"}, {"view": "arm"}]}))
        rows = ["view,row,label,sentence,x,y,z"] + [f"{view},{i},{LABELS[i % 4]},sentence {i},{i},{i % 3},{i % 5}"
                                                    for view in ("armleg", "arm") for i in range(8)]
        (folder / "coordinates.csv").write_text("\n".join(rows) + "\n")
        _png(folder / "projection.png")
    (root / "timing.json").write_text(json.dumps({"data summary": 0.4, "train mmvqshape": 57.7}))
    return root


def _looks_like_a_file(text):
    """A file or folder name (``metrics.json``, ``analysis/gram``, ``projection_tsne_2d``), not words."""
    text = text.strip()
    return bool(re.search(r"\.(json|csv|png|yaml|html|pt|npy)\b", text) or re.fullmatch(r"[\w.-]+(/[\w.-]+)+", text)
                or re.fullmatch(r"\w+_[\w.]+", text))


def _headings(page):
    return [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<h[1-4][^>]*>(.*?)</h[1-4]>", page)]


def test_report_tells_the_story_in_order(tmp_path):
    page = build_report(_fake_demo(tmp_path / "demo")).read_text()
    h2 = [h for h in re.findall(r"<h2>(.*?)</h2>", page)]
    positions = [next(i for i, h in enumerate(h2) if h.startswith(t)) for t in SECTION_TITLES]
    assert positions == sorted(positions), h2
    for heading in _headings(page):  # headings are words, not file names
        assert not _looks_like_a_file(heading), heading
    assert page.count("<figure>") == page.count("<figcaption>") > 0
    assert all(caption.strip() for caption in re.findall(r"<figcaption>(.*?)</figcaption>", page, flags=re.S))
    assert "src=\"http" not in page and "src='http" not in page  # nothing fetched from the network
    assert "href='runs/mmvqshape/metrics.json'" in page  # raw files linked ...
    assert '"macro_f1"' not in page  # ... not inlined


def test_headline_answers_the_three_questions_in_words(tmp_path):
    page = build_report(_fake_demo(tmp_path / "demo")).read_text()
    headline = page.split("<h2>")[1]
    assert "<b>MMVQShape</b> wins with test accuracy 0.950 (38 of 40 windows)" in headline
    assert "For a <b>standing</b> test window the model predicted <b>standing</b>" in headline
    assert "Yes, above chance" in headline and "80 %" in headline and "chance 50 %" in headline
    # the held-out run's zero_shot names no method and the file no owner: not credited to the model
    zero_shot_card = headline.split("Were unseen activities recognised?")[1].split("</div>")[0]
    assert "the model," not in zero_shot_card and "not credited to the model" in zero_shot_card
    assert "<td>not recorded (the file does not say which model computed it)</td>" in headline
    assert "label_text_retrieval" not in page
    assert "78 %" in headline and "0.775" in headline  # retrieval in words, the number kept in the fold
    assert "unseen windows named right, among unseen activities" in page  # the zero-shot table
    # the held-out run is not a contestant in the accuracy table
    assert headline.count("<td>MMVQShape</td><td class='text wide'>") == 1


def test_report_without_zero_shot_says_it_was_not_tested(tmp_path):
    page = build_report(_fake_demo(tmp_path / "demo", zero_shot=False, with_new_keys=False)).read_text()
    assert "Not tested here" in page
    assert "Reconstruction R²" not in page.split("The shapes")[1].split("</table>")[0]  # absent keys: no empty column
    assert "precision" not in page.split("What the model explains")[1].split("<h3>")[0]


def test_later_metrics_appear_in_words(tmp_path):
    page = build_report(_fake_demo(tmp_path / "demo")).read_text()
    assert "share of chosen sentences that belong to the window" in page and "0.810" in page
    assert "reconstruction R²" in page and "0.610" in page and "0.660" in page  # r2 beside its PCA yardstick
    assert "reconstruction R² per activity" in page


def test_one_colour_per_label_everywhere(tmp_path):
    page = build_report(_fake_demo(tmp_path / "demo")).read_text()
    colors = label_color_map(LABELS)
    assert list(colors.values()) == list(LABEL_COLORS[:4])
    for label, color in colors.items():  # the chips beside label names
        assert f"background:{color}'" in page, label
    spec = json.loads(re.search(r"var spec=(\{.*?\});\n", page).group(1))  # the interactive view
    assert spec["colors"] == [colors[label] for label in spec["labels"]]


def test_one_interactive_view_with_a_switch(tmp_path):
    page = build_report(_fake_demo(tmp_path / "demo")).read_text()
    assert page.count("class='plot3d'") == 1
    assert "data-view='armleg'" in page and "data-view='arm'" in page and "data-method='UMAP'" in page
    assert page.count("Plotly.react") == 1 and "Plotly.newPlot" not in page


def test_a_second_data_set_is_a_part_of_its_own(tmp_path):
    root = _fake_demo(tmp_path / "demo", zero_shot=False)
    second = _fake_demo(root / "hapt", zero_shot=False)
    summary = json.loads((second / "data" / "summary.json").read_text())
    (second / "data" / "summary.json").write_text(json.dumps({**summary, "data": "hapt[acc, window 500, step 250]"}))
    page = build_report(root).read_text()
    titles = re.findall(r"<h2>(.*?)</h2>", page)
    assert titles[0].startswith("Headline") and any(t.startswith("UCI HAPT · Headline") for t in titles)
    assert [t for t in titles if "Provenance" in t] == titles[-2:]  # provenance of both parts at the end
    first_headline = page.split("<h2>")[1]
    assert "href='runs/mmvqshape/metrics.json'" in page and "href='hapt/runs/mmvqshape/metrics.json'" in page
    assert first_headline.count("<td>MMVQShape</td><td class='text wide'>") == 1  # each part scores its own runs
    assert "<a href='#part0-headline'>UCI HAPT</a>" in first_headline  # the second data set's result named up top
    assert page.count("class='plot3d'") == 2 and len(set(re.findall(r"id='(view3d-[\w-]+)'", page))) == 2


def test_single_run_folder_gets_only_its_sections(tmp_path):
    run = _run(tmp_path, "vqshape", _metrics("vqshape", 0.9), ("confusion.png", "reconstruction.png"))
    page = build_report(run).read_text()
    assert "Only one model here: <b>VQShape</b>" in page
    assert "What the model explains" not in page and "sub-action sentences" not in page
    assert "<script>" not in page  # no interactive view: no plotly.js either


def test_bench_accuracy_folder(tmp_path):
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "accuracy.csv").write_text("model,shots,seed,accuracy\n")
    summary = [
        {"model": "minirocket", "shots": "all", "seeds": 2, "accuracy_mean": 1.0, "accuracy_std": 0.0, "macro_f1_mean": 1.0, "macro_f1_std": 0.0},
        {"model": "vqshape-probe", "shots": "all", "seeds": 2, "accuracy_mean": 0.8, "accuracy_std": 0.1, "macro_f1_mean": 0.8, "macro_f1_std": 0.1},
        {"model": "mmvqshape zero-shot", "shots": "held out: walking", "seeds": 2, "accuracy_mean": 0.0, "accuracy_std": 0.0}]
    (bench / "summary.json").write_text(json.dumps({"setup": {"data": "basicmotions", "seeds": 2, "labels": LABELS,
                                                              "wall_seconds": 600.0, "cpu_count": 2}, "summary": summary}))
    for seed, accuracy in ((0, 0.7), (1, 0.9)):
        _run(bench, f"vqshape-probe-seed{seed}-all", _metrics("vqshape", accuracy))
    _run(bench, "zeroshot-walking-seed0", _metrics("mmvqshape", 0.7, zero_shot={  # one held out, as bench accuracy writes it
        "candidates": 4, "chance": 0.25, "accuracy": 0.7, "holdout_labels": ["walking"], "holdout_accuracy": 0.0}))
    page = build_report(bench).read_text()
    assert "No, not above chance</span>: trained without them" in page and "0 % of their test windows when choosing among all" in page
    assert "(chance 25 %; mean of 1 fold)" in page
    headline = page.split("<h2>")[1]
    assert "The benchmark's own tables" in headline and "VQShape, pre-trained + linear probe" in headline
    assert "<b>MiniRocket</b> wins with test accuracy 1.000 ± 0.000 (mean ± std over 2 seeds)" in headline
    assert headline.count("<td>VQShape, pre-trained + linear probe</td>") == 1  # the bench's own rows, not the runs again
    assert "zero-shot</td>" not in page
    assert "10.0 minutes on 2 cores" in page


def test_zero_shot_bench_folder(tmp_path):
    """As ``mmvq bench zero-shot`` writes it: per_fold entries with their baselines, an explanation check."""
    bench = tmp_path / "zs"
    bench.mkdir()
    fold = {"unseen_labels": ["running", "walking"], "candidates": LABELS, "unseen_accuracy": 0.75, "chance_unseen": 0.5,
            "seen_accuracy": 0.9, "unseen_gzsl_accuracy": 0.5, "harmonic_mean": 0.643, "seed": 0, "method": "sentences",
            "baselines": {"name_only": {"unseen_accuracy": 0.5, "unseen_gzsl_accuracy": 0.0}}}
    per_fold = [fold, {**fold, "unseen_labels": ["standing", "badminton"], "unseen_accuracy": 0.85}]
    (bench / "zero_shot.json").write_text(json.dumps({
        "data": "basicmotions", "folds": [f["unseen_labels"] for f in per_fold], "per_fold": per_fold,
        "explanation": {"precision": 0.95, "precision_chance": 0.25, "diversity": 1.0, "shuffled_control": {"precision": 0.24}}}))
    page = build_report(bench).read_text()
    assert "Yes, above chance</span>" in page and "80 % of their test windows when choosing among the 2 held-out" in page
    assert "(chance 50 %; mean of 2 folds)" in page and "Harmonic mean of seen and unseen accuracy: 0.64" in page
    assert "<td>baseline: label names only</td>" in page and "sentences: mean" in page  # baselines in rows of their own
    assert "href='zero_shot.json'" in page and "basicmotions zero-shot benchmark" in page
    assert "corpus shuffled across labels (control)" in page and "0.240" in page
    chance_row = page.split("<td>precision chance</td>")[1].split("</tr>")[0]
    assert re.findall(r"<td class='num'>(.*?)</td>", chance_row) == ["0.250", "0.250"]  # the reader's, its control's


def test_report_command_and_bad_folder(tmp_path, capsys):
    root = _fake_demo(tmp_path / "demo")
    assert main(["report", str(root)]) == 0
    assert (root / "report.html").is_file()
    assert main(["report", str(tmp_path / "missing")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert not (tmp_path / "empty" / "report.html").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "missing" in err[0] and "empty" in err[1]


# ------------------------------------------------------------------ in a real browser

PROBE = """<script>window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message||e));});
window.addEventListener('load',function(){setTimeout(function(){
var imgs=Array.from(document.images);
var broken=imgs.filter(function(i){return !(i.complete&&i.naturalWidth>0);}).length;
var figures=Array.from(document.querySelectorAll('figure'));
var uncaptioned=figures.filter(function(f){var c=f.querySelector('figcaption');return !c||!c.textContent.trim();}).length;
var fileHeadings=Array.from(document.querySelectorAll('h1,h2,h3,h4')).map(function(h){return h.textContent.trim();})
 .filter(function(t){return /\\.(json|csv|png|yaml|html|pt|npy)\\b/.test(t)||/^[\\w.-]+(\\/[\\w.-]+)+$/.test(t)||/^\\w+_[\\w.]+$/.test(t);});
var plots=document.querySelectorAll('.plot3d .main-svg, .plot3d canvas').length;
document.title='PROBE'+JSON.stringify({images:imgs.length,broken:broken,errors:window.__errors,plots:plots,figures:figures.length,
 uncaptioned:uncaptioned,fileHeadings:fileHeadings,scrollWidth:document.documentElement.scrollWidth,viewport:window.innerWidth});
if(window.parent!==window){window.parent.postMessage(document.title,'*');}},2000);});</script>"""
#: Chromium's window is at least 500 px wide, so a phone-width screen is an iframe of that width.
HOST = """<!DOCTYPE html><html><head><title>WAIT</title></head><body style='margin:0'>
<iframe src='{page}' style='border:0;width:{width}px;height:900px'></iframe>
<script>window.addEventListener('message',function(e){{document.title=e.data;}});</script></body></html>"""


def render_in_browser(page_path, tmp_path, width: int = 1280) -> dict:
    """Open the page in headless Chromium at ``width`` CSS pixels; return what the probe saw
    (images / broken / errors / plots / figures / uncaptioned / fileHeadings / scrollWidth / viewport)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    probed = tmp_path / f"probed-{width}.html"
    probed.write_text(page_path.read_text().replace("<head>", "<head>" + PROBE, 1))
    host = tmp_path / f"host-{width}.html"
    host.write_text(HOST.format(page=probed.name, width=width))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--hide-scrollbars",
             "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,900",
             f"--user-data-dir={tmp_path / f'profile-{width}'}", "--virtual-time-budget=10000", "--dump-dom"]
    done = subprocess.run([browser, *flags, host.as_uri()], capture_output=True, text=True, timeout=180)
    match = re.search(r"<title>PROBE(.*?)</title>", done.stdout)
    assert match, f"the page never finished loading: {done.stderr[-500:]}"
    return json.loads(html.unescape(match.group(1)))


def browser_available() -> bool:
    return bool(shutil.which("chromium") or shutil.which("chromium-browser"))


def check_page_in_browser(page_path, tmp_path, *, min_images: int, min_plots: int) -> None:
    """The issue's page checks at desktop (1280 px) and phone (390 px) width."""
    for width in (1280, 390):
        seen = render_in_browser(page_path, tmp_path, width)
        assert seen["viewport"] == width, seen
        assert seen["scrollWidth"] <= seen["viewport"], f"horizontal overflow at {width} px: {seen}"
        assert seen["images"] >= min_images and seen["broken"] == 0, seen
        assert seen["errors"] == [], seen
        assert seen["uncaptioned"] == 0 and seen["figures"] > 0, seen
        assert seen["fileHeadings"] == [], seen
        assert seen["plots"] >= min_plots, seen


@pytest.mark.skipif(not browser_available(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_report_renders_in_a_real_browser(tmp_path):
    page = build_report(_fake_demo(tmp_path / "demo"))
    check_page_in_browser(page, tmp_path, min_images=8, min_plots=1)


def test_explanation_numbers_sit_under_what_computed_them(tmp_path):
    """Today's metrics.json: ``explanation`` is the sentence reader's, ``explanation.action_codes`` the model's own."""
    root = _fake_demo(tmp_path / "demo", zero_shot=False)
    metrics_path = root / "runs" / "mmvqshape" / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    metrics["explanation"]["action_codes"] = {"precision": 0.42, "diversity": 0.5}
    metrics_path.write_text(json.dumps(metrics))
    section = build_report(root).read_text().split("<h2>What the model explains")[1].split("Test window")[0]
    head = re.findall(r"<th[^>]*>(.*?)</th>", section)
    assert head[2:] == ["MMVQShape", "sentence reader (baseline)"]
    assert "<td class='num'>0.420</td><td class='num'>0.810</td>" in section  # precision: the model's, then the reader's


def test_each_explanation_column_shows_its_own_chance(tmp_path):
    """The model chooses among its 6 classes' sentences (chance 1/6), the reader among 4 labels' (1/4): two values, not one."""
    root = _fake_demo(tmp_path / "demo", zero_shot=False)
    metrics_path = root / "runs" / "mmvqshape" / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    reader = {"explanation": {"precision": 0.66, "precision_chance": 0.25, "shuffled_control": {"precision": 0.3}}}
    metrics_path.write_text(json.dumps({**metrics, "explanation": {"precision": 0.81, "precision_chance": 1 / 6},
                                        "baselines": {"sentence_reader": reader}}))
    section = build_report(root).read_text().split("<h2>What the model explains")[1].split("Test window")[0]
    chance_row = section.split("<td>precision chance</td>")[1].split("</tr>")[0]
    assert re.findall(r"<td class='num'>(.*?)</td>", chance_row) == ["0.167", "0.250", "0.250"]
    assert "Precision by chance:" not in section  # no single value for every column


def test_the_layout_with_a_sentence_reader_baseline(tmp_path):
    """metrics.json with ``baselines.sentence_reader``: ``explanation`` and ``zero_shot`` are the model's own."""
    root = _fake_demo(tmp_path / "demo", zero_shot=False)
    metrics_path = root / "runs" / "mmvqshape" / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    reader = {"explanation": {"precision": 0.66, "shuffled_control": {"precision": 0.3}}}
    metrics_path.write_text(json.dumps({**metrics, "explanation": {"precision": 0.81}, "baselines": {"sentence_reader": reader}}))
    held = _metrics("mmvqshape", 0.7, zero_shot={"unseen_labels": ["running", "walking"], "unseen_accuracy": 0.6, "candidates": 4},
                    baselines={"sentence_reader": {"zero_shot": {"unseen_labels": ["running", "walking"], "unseen_accuracy": 0.9}}})
    _run(root / "zero-shot", "fold0-seed0", held)
    page = build_report(root).read_text()
    section = page.split("<h2>What the model explains")[1].split("Test window")[0]
    head = re.findall(r"<th[^>]*>(.*?)</th>", section)
    assert head[2:] == ["MMVQShape", "sentence reader (baseline)", "sentence reader (baseline), corpus shuffled across labels (control)"]
    card = page.split("Were unseen activities recognised?")[1].split("</div>")[0]
    assert "the model, MMVQShape (fold0), named" in card and "60 %" in card  # the model's own, not the reader's 90 %
    assert "<td>sentence reader (baseline)</td><td>running, walking</td>" in page


def test_a_json_of_unknown_kind_is_listed_not_parsed(tmp_path):
    root = _fake_demo(tmp_path / "demo", zero_shot=False)
    fold = {"unseen_labels": ["running", "walking"], "unseen_accuracy": 0.99, "method": "mystery"}
    (root / "extra").mkdir()
    (root / "extra" / "notes.json").write_text(json.dumps({"per_fold": [fold]}))  # no kind, no documented name
    (root / "extra" / "later.json").write_text(json.dumps({"kind": "something_new", "per_fold": [fold]}))
    (root / "extra" / "zero_shot.json").write_text(json.dumps({"kind": "not_a_bench", "per_fold": [fold]}))  # kind wins over name
    page = build_report(root).read_text()
    assert "Not tested here" in page and "mystery" not in page and "0.990" not in page
    for name in ("notes.json", "later.json", "zero_shot.json"):
        assert f"href='extra/{name}'>extra/{name}</a> <span class='tag'>(not read by this page" in page


def test_a_timeline_of_the_chosen_sentences_where_they_carry_start_and_end(tmp_path):
    root = _fake_demo(tmp_path / "demo", zero_shot=False)
    path = root / "explain" / "explain_0.json"
    explanation = json.loads(path.read_text())
    for position, entry in enumerate(explanation["sub_actions"]):
        entry.update(start=100 * position, end=100 * position + 150)
    path.write_text(json.dumps({"kind": "explanation", **explanation, "length": 512}))
    page = build_report(root).read_text()
    assert page.count("Where in the window each chosen sentence sits") == 1  # window 10 has no start / end: no timeline
    assert "alt='Timeline of the sub-actions chosen for test window 0'" in page
