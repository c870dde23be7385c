"""``mmvq corpus generate`` as a function: labels from a file or a dataset, then an LLM corpus.

Example (a notebook calls the same code the command does)::

    from mmvqshape.pipelines.generate import generate
    result = generate("corpora/geneactiv14_gpt.json", data="geneactiv-mat:/data/windows",
                      n=10, style="split", model="gpt-4o-mini")
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from ..errors import UserError
from ..labels import normalize_label
from ..signals import load_windows
from ..text.generate import GenerationResult, GenerationSettings, generate_corpus

#: Same names and class order as ``mmvqshape.signals.BASICMOTIONS_LABELS``.
BASICMOTIONS_LABELS = ["standing", "walking", "running", "badminton"]
BASICMOTIONS_DESCRIPTION = (
    "BasicMotions: a smartwatch worn on the wrist; 3-axis accelerometer sampled at 10 Hz; 10-second windows."
)
HAPT_DESCRIPTION = (
    "UCI HAPT: a smartphone worn at the waist (on a belt); 3-axis accelerometer and gyroscope at 50 Hz. "
    "The sensor feels the pelvis and trunk, not the wrist: the bounce of the hips with each step, the tilt "
    "of the trunk, and which way gravity points through the waist."
)
SHOULDER_WATCH_DESCRIPTION = (
    "Shoulder-watch: a smartwatch on the wrist of the exercised arm; 3-axis accelerometer and gyroscope at 50 Hz; "
    "shoulder physiotherapy exercises. The sensor feels the forearm: the hand's path, which way gravity points "
    "through the wrist, the rhythm of repetitions, holds and effort."
)
#: The device description put into the prompt when ``--data`` names a source with a known device.
DEVICE_DESCRIPTIONS = {"basicmotions": BASICMOTIONS_DESCRIPTION, "hapt": HAPT_DESCRIPTION, "hapt-transitions": HAPT_DESCRIPTION,
                       "hapt-boundary": HAPT_DESCRIPTION, "hapt-splice": HAPT_DESCRIPTION,
                       "shoulder-watch": SHOULDER_WATCH_DESCRIPTION}


def read_label_file(path: str | Path) -> list[str]:
    """Labels from a text file (one per line; blank lines and ``#`` comments skipped) or a JSON list."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(path, f"cannot read the label file ({getattr(err, 'strerror', None) or err})") from None
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise UserError(path, f"not a JSON list of labels ({err.msg} at line {err.lineno})") from None
        if not all(isinstance(x, str) and x.strip() for x in data):
            raise UserError(path, "every label in the JSON list must be a non-empty string")
        labels = [x.strip() for x in data]
    else:
        labels = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not labels:
        raise UserError(path, "no labels in the file")
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            raise UserError(path, f'label "{label}" is listed twice')
        seen.add(label)
    return labels


def labels_of_data(data: str) -> list[str]:
    """Label names of a DATA argument (``basicmotions``, ``hapt``, a ``.npz``, ``geneactiv-mat:DIR``), in class order."""
    if data.strip().lower() == "basicmotions":
        return list(BASICMOTIONS_LABELS)  # no need to import torch/aeon and load windows for 4 names
    return list(load_windows(data).labels)


def generate(
    out: str | Path,
    *,
    labels_file: str | Path | None = None,
    data: str | None = None,
    labels: list[str] | None = None,
    n: int = 10,
    style: str = "split",
    shared: int = 0,
    holdout_labels: list[str] | None = None,
    api_base: str | None = None,
    model: str | None = None,
    temperature: float = 0.5,
    seed: int | None = None,
    prompt: str | Path | None = None,
    description: str | None = None,
    max_retries: int = 3,
    timeout: float = 120.0,
    backoff: float = 2.0,
    json_mode: bool = True,
    overwrite: bool = False,
    use_cache: bool = True,
    api_key: str | None = None,
    progress: bool = False,
    on_label_done: Callable[[str], None] | None = None,
) -> GenerationResult:
    """Generate (or continue) the sub-action corpus ``out`` for the labels of exactly one source.

    The labels come from ``labels_file``, ``data`` or ``labels``. With ``data`` naming a source
    in :data:`DEVICE_DESCRIPTIONS` (basicmotions, hapt) and no ``description``, that device's
    description is put into the prompt. ``holdout_labels`` (a zero-shot fold's unseen labels)
    are never named in another label's prompt, so the seen labels' sentences cannot be written
    against them; their own sentences are still generated (they are the test-time candidates).
    See :func:`mmvqshape.text.generate.generate_corpus` for what is written and how failures
    are reported.
    """
    sources = [x for x in (labels_file, data, labels) if x is not None]
    if len(sources) != 1:
        raise UserError("--labels/--data", "give exactly one of --labels FILE or --data DATA")
    if labels_file is not None:
        names = read_label_file(labels_file)
    elif data is not None:
        names = labels_of_data(data)
        if description is None:
            description = DEVICE_DESCRIPTIONS.get(data.strip().partition(":")[0].lower())
    else:
        names = list(labels or [])
    settings = GenerationSettings(
        n=n,
        style=style,
        shared=shared,
        api_base=api_base or _env("OPENAI_BASE_URL") or GenerationSettings.api_base,
        model=model or GenerationSettings.model,
        temperature=temperature,
        seed=seed,
        description=description,
        max_retries=max_retries,
        timeout=timeout,
        backoff=backoff,
        json_mode=json_mode,
        holdout_labels=tuple(holdout_labels or ()),
    )
    known = {normalize_label(x) for x in names}
    unknown = [x for x in settings.holdout_labels if normalize_label(x) not in known]
    if unknown:
        raise UserError("--holdout-labels", f"unknown labels {', '.join(unknown)} (labels: {', '.join(names)})")
    return generate_corpus(
        names, out, settings, prompt=prompt, api_key=api_key, overwrite=overwrite,
        use_cache=use_cache, progress=progress, on_label_done=on_label_done,
    )


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def summary(result: GenerationResult) -> dict[str, Any]:
    """A small dict describing a run (what the CLI prints)."""
    return {
        "out": str(result.out),
        "labels": len(result.labels),
        "generated": len(result.generated),
        "already_there": len(result.skipped),
        "from_cache": result.cached,
        "requests": result.requests,
        "invalid_replies": result.invalid_replies,
        "network_retries": result.network_retries,
    }
