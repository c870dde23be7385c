"""Section 3, the shapes: reconstruction quality beside its PCA yardstick, code usage, and
each model's reconstruction and code-usage figures."""

from __future__ import annotations

from .facts import first_of_each_model
from .folder import Run, scalar
from .html import esc, figure, fold, table
from .part import Part

#: Figures every neural run writes, captioned by name below (others in figures/ get their file name in words).
RUN_FIGURES = {"confusion.png", "reconstruction.png", "code_usage.png"}


def _codes_used(books: dict, name: str) -> str:
    book = books.get(name) or {}
    if "used_codes" in book and "num_codes" in book:
        return f"{book['used_codes']} of {book['num_codes']}"
    return "—"


def _quality_row(run: Run) -> list:
    m = run.metrics
    books = m.get("codebooks") or {}
    rec = m.get("reconstruction") or {}
    shp = m.get("shapes") or {}
    perplexity = scalar((books.get("shape") or {}).get("perplexity"))
    return [run.name, scalar(rec.get("r2")), scalar(rec.get("pca_r2")), scalar(shp.get("fit_r2")),
            scalar(shp.get("sigma_ratio")), _codes_used(books, "shape"), None if perplexity is None else f"{perplexity:.1f}",
            _codes_used(books, "action")]


def _quality_table(runs: list[Run]) -> str:
    """Reconstruction, shape fit and code usage per model; columns no run records are left out."""
    rows = [_quality_row(run) for run in runs]
    components = next((r.metrics["reconstruction"].get("pca_components") for r in runs
                       if isinstance(r.metrics.get("reconstruction"), dict) and r.metrics["reconstruction"].get("pca_components")), None)
    pca = f"PCA R² ({components} components)" if components else "PCA R² (as many components)"
    head = ["model", "reconstruction R²", pca, "shape fit R² (median)", "shape σ ÷ window std (median)",
            "shape codes used", "shape-code perplexity", "sentence codes used"]
    keep = [0] + [i for i in range(1, len(head)) if any(row[i] not in (None, "—") for row in rows)]
    body = table([head[i] for i in keep], [[row[i] for i in keep] for row in rows], numeric=[i > 0 for i in keep], dense=True)
    if any(row[1] is not None for row in rows):
        body += ("<p class='meta'>Reconstruction R² is 1 − error ÷ the window's own variance, on test windows (0: no better "
                 "than the window's mean); PCA R² is the same for a plain linear code with as many components, the yardstick.</p>")
    else:
        body += "<p class='meta'>These runs record no reconstruction R²: judge the reconstruction by eye below.</p>"
    return body + ("<p class='meta'>Codes used and perplexity (the effective number of codes) say how much of each codebook "
                   "the test windows draw on.</p>")


def _run_figures(run: Run) -> list[str]:
    figs = []
    path = run.figure("reconstruction.png")
    if path:
        figs.append(figure(path, f"{run.name}: one test window per activity (rows) and channel (columns): the signal, "
                                 "its reconstruction and the decoded shapes where they sit."))
    path = run.figure("code_usage.png")
    if path:
        figs.append(figure(path, f"{run.name}: how often each code is used on the test windows."))
    for extra in sorted((run.path / "figures").glob("*.png")) if (run.path / "figures").is_dir() else []:
        if extra.name not in RUN_FIGURES:
            figs.append(figure(extra, f"{run.name}: {extra.stem.replace('_', ' ')}."))
    return figs


def shapes(part: Part) -> tuple[str, str] | None:
    runs = first_of_each_model([r for r in part.classifier_runs if r.metrics.get("codebooks") or r.figure("reconstruction.png")
                                or r.metrics.get("reconstruction") or r.metrics.get("shapes")])
    if not runs:
        return None
    body = _quality_table(runs) + _reconstruction_details(runs)
    runs = sorted(runs, key=lambda r: not r.metrics.get("codebooks", {}).get("action"))  # the model with sentences first
    for position, run in enumerate(runs):
        figs = _run_figures(run)
        if figs and position == 0:
            body += f"<h3>{esc(run.name)}: reconstruction and code usage</h3>" + "".join(figs)
        elif figs:
            body += fold(f"{run.name}: the same figures", "".join(figs))
    return "The shapes: how well the shape tokens follow the signal", body


def _reconstruction_details(runs: list[Run]) -> str:
    """Per-class / per-channel R² tables when the runs carry them (folded)."""
    out = []
    for run in runs:
        rec = run.metrics.get("reconstruction") or {}
        for key, words in (("per_class", "activity"), ("per_channel", "channel")):
            values = rec.get(key)
            if isinstance(values, dict) and values:
                rows = []
                for name, value in values.items():
                    if isinstance(value, dict):
                        rows.append([name, *[scalar(v) for v in value.values()]])
                        head = [words, *[{"r2": "R²", "pca_r2": "PCA R²"}.get(k, k.replace("_", " ")) for k in value]]
                    else:
                        rows.append([name, scalar(value)])
                        head = [words, "R²"]
                out.append(fold(f"{run.name}: reconstruction R² per {words}",
                                table(head, rows, numeric=[False] + [True] * (len(head) - 1))))
    return "".join(out)
