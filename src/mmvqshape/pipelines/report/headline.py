"""Section 1, the headline: which model won (accuracy ± std), what the model explains, and
whether unseen activities were recognised, each answer naming what computed its number."""

from __future__ import annotations

from typing import Any

from .facts import (
    NOT_RECORDED,
    ModelRow,
    ZeroShotAnswer,
    explanations_in_label_order,
    label_text_retrieval,
    model_rows,
    prediction_verdict,
    tied_best,
    zero_shot_answer,
)
from ...training.refit import protocol_sentence
from .folder import model_words, scalar
from .html import Raw, esc, figure, fold, label_html, mean_std, percent, table
from .part import Part
from .zero_shot_view import zero_shot_table


def rows_of(part: Part) -> list[ModelRow]:
    return model_rows(part.bench[0] if part.bench else None, part.classifier_runs)


def _count(accuracy: float, n_test: int | None) -> str:
    return f" ({round(accuracy * n_test)} of {n_test} windows)" if n_test else ""


def part_note(part: Part, name: str, anchor: str) -> str:
    """One line for the first part's headline about a further data set's result, linked to its sections."""
    rows = rows_of(part)
    if not rows:
        return ""
    return f"Second data set, <a href='#{esc(anchor)}'>{esc(name)}</a> (its own sections follow): {_winner_sentence(rows)}"


def _winner_sentence(rows: list[ModelRow]) -> str:
    if not rows:
        return "No model was scored in this folder."
    seeds = max(r.seeds for r in rows)
    best = rows[0]
    if len(rows) == 1:
        return (f"Only one model here: <b>{esc(best.name)}</b>, test accuracy {mean_std(best.mean, best.std, best.seeds)}"
                f"{_count(best.mean, best.n_test) if seeds == 1 else ''}.")
    tied = tied_best(rows)
    rest = [r for r in rows if r not in tied]
    names = " and ".join(f"<b>{esc(r.name)}</b>" for r in tied)
    verb = "tie at" if len(tied) > 1 else "wins with"
    text = f"{names} {verb} test accuracy {mean_std(best.mean, best.std, seeds)}"
    text += _count(best.mean, best.n_test) if seeds == 1 else f" (mean ± std over {seeds} seeds)"
    if rest:
        text += "; then " + ", ".join(f"{esc(r.name)} {mean_std(r.mean, r.std, r.seeds)}" for r in rest[:3])
    text += "."
    if seeds == 1 and best.n_test:
        text += f" One seed: one window is {1 / best.n_test:.3f} of accuracy, so small gaps are noise."
    return text


def _explain_sentence(part: Part) -> str:
    with_words = [e for e in explanations_in_label_order(part.explanations, part.labels) if e.data.get("sub_actions")]
    if with_words:
        e = with_words[0]
        true, pred = e.data.get("true_label"), e.data.get("predicted_label")
        sentences = [s.get("sentence", "") for s in e.data["sub_actions"]]
        more = f" and {len(sentences) - 1} more" if len(sentences) > 1 else ""
        model = e.data.get("model")
        who = f"the model ({esc(model_words(str(model))[0])})" if model else "the model"
        return (f"For a <b>{esc(true)}</b> test window {who} predicted <b>{esc(pred)}</b> ({prediction_verdict(true, pred)}) "
                f"and, reading the signal alone, chose the sub-actions “{esc(sentences[0])}”{more}. Section 2 draws the shapes "
                "it used per channel so the sentences can be checked against the signal.")
    if part.explanations:
        n = sum(len(c.get("shapes", [])) for c in part.explanations[0].data.get("channels", []))
        return f"Each window is described by {n} shapes from the shape codebook (section 2); this model chooses no sentences."
    return "No window was explained in this folder (<code>mmvq explain RUN --index I</code> does it)."


def _who(answer: ZeroShotAnswer) -> str:
    """What computed the headline's zero-shot number, in words."""
    if answer.scorer.is_model:
        return f"the model, {esc(answer.scorer.name)},"
    if answer.scorer.name == NOT_RECORDED:
        return "a scorer the files do not name (so not credited to the model)"
    return f"{esc(answer.scorer.name)}, not the model,"


def _zero_shot_sentence(part: Part) -> str:
    """The answer to "were unseen activities recognised?", naming what computed it."""
    answer = zero_shot_answer(part.zero_shot)
    if answer is None:
        return ("Not tested here: every activity was seen in training. A held-out-activity run (<code>mmvq train "
                "--holdout-labels</code>, or the zero-shot bench) answers it.")
    if answer.accuracy is None:
        return "Held-out-activity runs are here but report no zero-shot accuracy."
    verdict = ("Yes, above chance" if answer.above_chance else
               "Not beyond noise: above chance on average, but chance lies inside the 95 % interval" if answer.within_noise
               else "No, not above chance")
    how = (f"when choosing among the {answer.held_out:.0f} held-out activities" if answer.among_held_out
           else "when choosing among all activities")
    count = f"mean of {answer.n_folds} fold{'s' if answer.n_folds > 1 else ''}"
    text = (f"<span class='verdict'>{verdict}</span>: trained without them (windows and sentences), {_who(answer)} named "
            f"held-out activities right in {percent(answer.accuracy)} of their test windows {how} "
            f"(chance {percent(answer.chance)}; {count}).")
    if answer.among_held_out and answer.all_activities_accuracy is not None:
        text += f" Among all activities: {percent(answer.all_activities_accuracy)}."
    if answer.harmonic_mean is not None:
        text += f" Harmonic mean of seen and unseen accuracy: {answer.harmonic_mean:.2f}."
    return text


def _text_match_sentence(part: Part) -> str:
    """All-labels-seen runs: how often the predicted label description is nearest the right label's text."""
    found = label_text_retrieval(part.classifier_runs)
    if not found:
        return ""
    first = found[0]
    text = (f"<p>Besides the class, {esc(first.run.name)} predicts a description of the activity from the signal; it lies "
            f"nearest the right activity's text for {percent(first.accuracy)} of test windows (chance {percent(first.chance)}). "
            "Every activity was seen in training, so this is a consistency check, not zero-shot recognition.</p>")
    rows = [(r.run.name, r.accuracy, r.chance, r.run.metrics.get("n_test")) for r in found]
    detail = table(["model", "label-text retrieval accuracy (every label seen)", "chance", "test windows"], rows,
                   numeric=[False, True, True, True])
    return text + fold("The number behind it", detail)


def _model_table(rows: list[ModelRow]) -> str:
    seeds = max(r.seeds for r in rows)
    table_rows = [[r.name, r.description, Raw(esc(mean_std(r.mean, r.std, r.seeds))),
                   Raw(esc(mean_std(r.macro_f1_mean, r.macro_f1_std, r.seeds))), r.n_test, r.seeds] for r in rows]
    head = ["model", "what it is", "test accuracy", "macro-F1", "test windows", "seeds"]
    keep = [i for i in range(len(head)) if i != 4 or any(r.n_test for r in rows)]
    best = tied_best(rows)
    return (table([head[i] for i in keep], [[row[i] for i in keep] for row in table_rows],
                  numeric=[i >= 2 for i in keep], row_classes=["best" if r in best else "" for r in rows], text_columns=[1],
                  wide_only=[keep.index(i) for i in (1, 4, 5) if i in keep])
            + "<p class='meta'>Every number is measured once on the test split, which chose nothing: checkpoints and "
              "settings were chosen on a validation split carved from the training data."
            + (" ± is the standard deviation over seeds." if seeds > 1 else "") + "</p>")


def _per_class(part: Part, rows: list[ModelRow]) -> str:
    """Recall per class and model (first seed), folded."""
    columns = [(row.name, row.runs[0].metrics["per_class"]) for row in rows
               if row.runs and isinstance(row.runs[0].metrics.get("per_class"), dict)]
    if not columns or not part.labels:
        return ""
    body = []
    for label in part.labels:
        cells: list[Any] = [Raw(label_html(label, part.colors))]
        for _, per_class in columns:
            entry = per_class.get(label)
            cells.append(scalar(entry.get("recall")) if isinstance(entry, dict) else None)
        body.append(cells)
    return fold("Accuracy per activity (recall: share of its test windows recognised)",
                table(["activity", *[name for name, _ in columns]], body, numeric=[False] + [True] * len(columns)))


def _protocol_line(part: Part) -> str:
    """Which labelled windows the models were fitted on: the bench's setup, else the runs' own
    ``protocol`` and training-split size when every classifier run agrees on both."""
    setup = part.bench[1] if part.bench and isinstance(part.bench[1], dict) else {}
    if not setup.get("protocol"):
        runs = part.classifier_runs
        protocols = {r.metrics.get("protocol") for r in runs}
        sizes = {((r.metrics.get("split") or {}).get("sizes") or {}).get("train") for r in runs}
        if len(protocols) != 1 or len(sizes) != 1 or None in protocols | sizes:
            return ""
        setup = {"protocol": protocols.pop(), "fitted_windows": {"all": sizes.pop()}}
    return f"<p class='meta'>{esc(protocol_sentence(setup))}</p>"


def _bench_raw(part: Part) -> str:
    """A bench folder's own tables, linked."""
    raw = [part.root / name for name in ("accuracy.md", "accuracy.csv", "per_class.csv", "summary.json")]
    raw = [p for p in raw if p.is_file()]
    if not part.bench or not raw:
        return ""
    return "<p class='meta'>The benchmark's own tables: " + " · ".join(part.link(p, p.name) for p in raw) + "</p>"


def _confusions(rows: list[ModelRow]) -> str:
    first_runs = [row.runs[0] for row in rows if row.runs]
    figs = "".join(figure(path, f"{run.name}: test windows by true activity (rows) and prediction (columns).")
                   for run in first_runs if (path := run.figure("confusion.png")))
    return fold("Confusion matrices", f"<div class='pair'>{figs}</div>") if figs else ""


def headline(part: Part) -> tuple[str, str] | None:
    rows = rows_of(part)
    if not rows and not part.explanations and not part.zero_shot and not part.bench:
        return None
    questions = []  # the three a reader asks first; a folder without models or explanations skips those
    if rows:
        questions.append(("Which model recognises the activities best?", _winner_sentence(rows)))
    if rows or part.explanations:
        questions.append(("What does the model explain for a window?", _explain_sentence(part)))
    questions.append(("Were unseen activities recognised?", _zero_shot_sentence(part)))
    body = "<div class='cards'>" + "".join(f"<div class='card'><p class='q'>{esc(q)}</p><p class='a'>{a}</p></div>"
                                           for q, a in questions) + "</div>"
    if rows:
        body += _model_table(rows) + _protocol_line(part) + _bench_raw(part) + _text_match_sentence(part) + _per_class(part, rows) + _confusions(rows)
    body += zero_shot_table(part)
    body += "".join(f"<p class='lead'>{note}</p>" for note in part.headline_notes)
    return "Headline: which model wins, what it explains, and zero-shot", body
