"""The training protocols: ``refit`` (the default) and ``holdout``.

``holdout``: train on the training split, choose the epoch on the validation split (best
``val/select``), score that checkpoint on test. ``refit``: the same selection run first, then
the same model trained again from the same seed on training + validation windows for the
number of epochs validation chose (the learning-rate schedule still spans ``max_epochs``, so
the refit's weights at that epoch saw the schedule the chosen checkpoint saw); those final
weights are scored once on test. Fitted baselines (which choose nothing) fit on training +
validation windows under ``refit``. Either way the test split chooses nothing, and every model
of a bench is fitted on the same labelled windows.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from lightning.pytorch.callbacks import Callback

from .config import PROTOCOLS  # noqa: F401 - "refit" | "holdout", checked by TrainConfig.validate

SELECTION = "selection"  # the run folder's sub-folder of the refit protocol's selection run
SELECTION_FILE = "selection.json"  # what validation chose (epochs, validation accuracy)


def refit_windows(windows):
    """``windows`` with the validation split merged into training (test untouched)."""
    split = np.where(windows.split == "val", "train", windows.split)
    return dataclasses.replace(windows, split=split, split_method=f"{windows.split_method}; validation refitted into training")


def labelled_windows(windows) -> int:
    """How many windows a model of either protocol is finally fitted on: training + validation
    under ``refit`` (what :func:`refit_windows` makes), training only under ``holdout``."""
    return int(np.isin(windows.split, ("train", "val")).sum())


class EpochRecorder(Callback):
    """Records ``val/select`` and ``val/acc`` after every validation epoch; its state travels in
    checkpoints, so a resumed selection run knows its earlier epochs."""

    def __init__(self, monitor: str = "val/select"):
        self.monitor = monitor
        self.epochs: list[dict[str, Any]] = []

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        row = {"epoch": int(trainer.current_epoch)}
        for key in (self.monitor, "val/acc", "val/loss"):
            if key in metrics:
                row[key] = float(metrics[key])
        self.epochs = [r for r in self.epochs if r["epoch"] != row["epoch"]] + [row]

    def state_dict(self) -> dict[str, Any]:
        return {"epochs": list(self.epochs)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.epochs = list(state_dict.get("epochs", []))

    def chosen(self) -> dict[str, Any]:
        """The first epoch with the highest monitored value (as ``ModelCheckpoint`` keeps it):
        ``{"best_epoch", "epochs" (= best_epoch + 1), "val_accuracy", "val_select", "history"}``."""
        scored = [r for r in self.epochs if self.monitor in r]
        if not scored:
            raise ValueError("the selection run logged no validation epoch")
        best = max(scored, key=lambda r: (r[self.monitor], -r["epoch"]))
        return {"best_epoch": best["epoch"], "epochs": best["epoch"] + 1, "val_accuracy": best.get("val/acc"),
                "val_select": best[self.monitor], "history": sorted(self.epochs, key=lambda r: r["epoch"])}


def effective_protocol(cfg) -> str:
    """The protocol a run follows: ``cfg.protocol`` for classifiers and fitted baselines;
    pre-training (and the linear probe on it, whose regularisation is chosen on the validation
    windows) stays ``holdout``: it classifies nothing a refit would change. So does a run with
    held-out labels: its generalised zero-shot decision is calibrated on validation windows of the
    seen labels, which a refit would have trained on."""
    if getattr(cfg, "probe", None) or cfg.model.get("objective", "classify") != "classify":
        return "holdout"
    if getattr(cfg, "holdout_labels", None):
        return "holdout"
    return cfg.protocol


def run_windows(cfg, windows):
    """The windows a run is finally fitted and scored on: :func:`refit_windows` under ``refit``."""
    return refit_windows(windows) if effective_protocol(cfg) == "refit" else windows


def protocol_sentence(setup: dict[str, Any]) -> str:
    """The bench's protocol in one sentence (Markdown headers and the report page)."""
    counts = ", ".join(f"{n} ({shots})" if len(setup.get("fitted_windows", {})) > 1 else str(n)
                       for shots, n in setup.get("fitted_windows", {}).items()) or "?"
    if setup.get("protocol", "holdout") == "refit":
        return (f"Protocol refit: every model fitted on the same {counts} labelled windows (training + validation "
                "subjects); trained models first chose their epochs on the validation subjects, then were refitted "
                "on all of them for that many epochs with the same seed; the test split chose nothing.")
    return (f"Protocol holdout: every model fitted on the same {counts} training windows; trained models' "
            "checkpoints chosen on the validation subjects, which the fitted baselines never see; the test split chose nothing.")
