"""Pre-trained VQShape weights a run starts from (``mmvq train --init``)."""

from __future__ import annotations

from pathlib import Path

from ...errors import UserError
from ...training.checkpoint import load_task
from ...training.config import TrainConfig
from ..vqshape_convert import load_vqshape

WEIGHTS_FILE = "vqshape.safetensors"  # what mmvq pretrain writes into its run folder
#: ``--init bundled``: a shape model shipped with the package (``make shapes-weights`` builds it:
#: mmvq pretrain on HAPT's and BasicMotions' training windows, 512 samples, default architecture)
BUNDLED_WEIGHTS = Path(__file__).resolve().parents[2] / "weights" / "vqshape-hapt-basicmotions.safetensors"


def read_init_weights(init: str | Path):
    """The VQShape to start from: our ``.safetensors`` file (``mmvq pretrain`` or
    ``mmvq convert-vqshape``), a run folder holding one, a training checkpoint (``.ckpt``), or
    ``bundled`` (:data:`BUNDLED_WEIGHTS`)."""
    path = BUNDLED_WEIGHTS if str(init) == "bundled" else Path(init)
    if path.is_dir():
        if not (path / WEIGHTS_FILE).is_file():
            raise UserError(path, f"holds no {WEIGHTS_FILE} (a folder written by mmvq pretrain)")
        path = path / WEIGHTS_FILE
    if not path.is_file():
        raise UserError(path, "no such weights file")
    if path.suffix == ".ckpt":
        return load_task(path)[0].shape_model  # every trainer checkpoint holds a VQShape or MMVQShape
    return load_vqshape(path)


def apply_init(cfg: TrainConfig, model) -> None:
    """Make ``cfg`` build the architecture of ``model`` (a VQShape): its window length and
    every architecture field; a field the config sets differently is a :class:`UserError`."""
    arch = model.cfg.architecture()
    if cfg.length != arch["len_input"]:
        raise UserError("--init", f"{cfg.init} expects windows of {arch['len_input']} samples; pass --length {arch['len_input']}")
    clashes = sorted(k for k, v in arch.items() if k in cfg.model and cfg.model[k] != v)
    if clashes:
        raise UserError("--init", f"{cfg.init} was built with other {', '.join(clashes)} than the config sets")
    cfg.model = {**cfg.model, **arch}
