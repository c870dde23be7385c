"""Reference VQShape checkpoints -> our checkpoint file, and reading/writing that file.

Our VQShape checkpoint is one ``.safetensors`` file: the tensors are :class:`VQShape`'s
``state_dict`` (our key names) and the metadata holds ``format`` (``mmvqshape.vqshape/1``)
and ``config`` (the :class:`VQShapeConfig` as JSON).

``convert_vqshape`` reads either
- a reference Lightning checkpoint (``.ckpt``): ``state_dict`` with ``model.``-prefixed keys
  and ``hyper_parameters`` (the reference training script's arguments), or a plain torch
  file holding a reference ``state_dict``; loaded with ``torch.load(weights_only=True)``, or,
  when the only other classes in it are Lightning's ``AttributeDict`` / ``argparse.Namespace``
  (checked before unpickling), fully. Any other class is refused unless ``trust_pickle=True``
  (unpickling can run code: only for files you trust);
- a ``.safetensors`` reference ``state_dict`` plus its constructor arguments as JSON
  (``config``, or ``config.json`` beside the file).
"""

from __future__ import annotations

import argparse
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save

from ..atomic import atomic_file
from ..errors import UserError
from ..models.reference import load_reference, state_dict_prefix_stripped
from ..models.vqshape import VQShape, VQShapeConfig

FORMAT = "mmvqshape.vqshape/1"


def save_vqshape(model: VQShape, path: str | Path) -> Path:
    """Write ``model`` as our checkpoint (safetensors: weights + config in the metadata)."""
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    data = save(tensors, metadata={"format": FORMAT, "config": json.dumps(model.cfg.to_dict())})
    with atomic_file(path, "wb") as handle:
        handle.write(data)
    return path


def load_vqshape(path: str | Path, **overrides: Any) -> VQShape:
    """Read our checkpoint written by :func:`save_vqshape`; ``overrides`` set config fields."""
    path = Path(path)
    if not path.is_file():
        raise UserError(path, "no such file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    except Exception as err:  # safetensors raises its own error types
        raise UserError(path, f"not a safetensors file ({err})") from None
    if meta.get("format") != FORMAT:
        raise UserError(path, f"not an mmvqshape VQShape checkpoint (format {meta.get('format')!r})")
    try:
        cfg = VQShapeConfig.from_dict({**json.loads(meta["config"]), **overrides})
        model = VQShape(cfg)
        model.load_state_dict(tensors)
    except (KeyError, ValueError, TypeError, RuntimeError) as err:
        raise UserError(path, f"broken VQShape checkpoint ({err})") from None
    return model


def _unpickling_reason(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:
        if "Unsupported global" in line or "WeightsUnpickler error" in line:
            return line[:200]
    return lines[0][:200] if lines else type(err).__name__


# Classes a Lightning checkpoint of the reference holds besides tensors and plain containers:
# its hyper-parameters (a dict subclass, or an argparse Namespace). Building them runs no
# code from the file, so a checkpoint needing only these is loaded without --trust-pickle.
HARMLESS_GLOBALS = {
    "argparse.Namespace",
    "lightning.fabric.utilities.data.AttributeDict",
    "lightning_fabric.utilities.data.AttributeDict",
    "pytorch_lightning.utilities.parsing.AttributeDict",
}


def _torch_load(path: Path, trust_pickle: bool) -> Any:
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic != b"PK" and magic[:1] != b"\x80":  # torch.save: a zip archive, or a legacy pickle
        raise UserError(path, "not a PyTorch checkpoint or .safetensors file")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = _unpickling_reason(err)
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as err:
        raise UserError(path, f"not a PyTorch checkpoint ({_unpickling_reason(err)})") from None
    # weights_only refuses dict subclasses such as Lightning's AttributeDict: look at which
    # classes the file would build before unpickling it fully
    try:
        needed = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # a legacy (non-zip) file cannot be inspected
        needed = None
    if not trust_pickle and (needed is None or not needed <= HARMLESS_GLOBALS):
        listed = ", ".join(sorted(needed - HARMLESS_GLOBALS)) if needed else reason
        raise UserError(
            path,
            f"holds Python objects beyond tensors ({listed}), so it cannot be loaded safely; "
            "pass --trust-pickle if you trust this file",
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # arbitrary unpickling failures
        raise UserError(path, f"cannot be unpickled ({_unpickling_reason(err)})") from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise UserError(path, f"not a readable JSON file ({err})") from None
    if not isinstance(value, dict):
        raise UserError(path, "must hold a JSON object of VQShape constructor arguments")
    return value


def read_reference_checkpoint(
    ckpt: str | Path, config: str | Path | None = None, *, trust_pickle: bool = False
) -> tuple[dict[str, Any], dict[str, torch.Tensor], Path]:
    """(reference config, reference state_dict, where the config came from) from a reference file."""
    ckpt = Path(ckpt)
    if not ckpt.is_file():
        raise UserError(ckpt, "no such file")
    cfg_path = Path(config) if config is not None else None
    if cfg_path is not None and not cfg_path.is_file():
        raise UserError(cfg_path, "no such file")
    if ckpt.suffix == ".safetensors":
        try:
            state_dict = load_file(str(ckpt))
        except Exception as err:
            raise UserError(ckpt, f"not a safetensors file ({err})") from None
        cfg_path = cfg_path or ckpt.with_name("config.json")
        if not cfg_path.is_file():
            raise UserError(ckpt, "a .safetensors state_dict needs its config: pass --config CONFIG.json")
        return _read_json(cfg_path), state_dict, cfg_path
    obj = _torch_load(ckpt, trust_pickle)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        state_dict = state_dict_prefix_stripped(obj["state_dict"])
        hparams = obj.get("hyper_parameters")
        if cfg_path is not None:
            return _read_json(cfg_path), state_dict, cfg_path
        if hparams is None:
            raise UserError(ckpt, "holds no hyper_parameters: pass --config CONFIG.json")
        return dict(vars(hparams) if isinstance(hparams, argparse.Namespace) else hparams), state_dict, ckpt
    if isinstance(obj, dict) and obj and all(torch.is_tensor(v) for v in obj.values()):
        if cfg_path is None:
            raise UserError(ckpt, "a bare state_dict needs its config: pass --config CONFIG.json")
        return _read_json(cfg_path), state_dict_prefix_stripped(obj), cfg_path
    raise UserError(ckpt, "not a VQShape checkpoint (expected a Lightning checkpoint or a state_dict)")


def convert_vqshape(
    ckpt: str | Path, out: str | Path, *, config: str | Path | None = None, trust_pickle: bool = False
) -> dict[str, Any]:
    """Convert a reference VQShape checkpoint into our checkpoint file ``out``.

    Returns ``{"out", "config", "n_parameters"}``.
    """
    ref_config, state_dict, cfg_source = read_reference_checkpoint(ckpt, config, trust_pickle=trust_pickle)
    try:
        model = load_reference(ref_config, state_dict)
    except (ValueError, TypeError) as err:
        raise UserError(ckpt if cfg_source == Path(ckpt) else f"{ckpt} (config {cfg_source})", str(err)) from None
    path = save_vqshape(model, out)
    return {
        "out": str(path),
        "config": model.cfg.to_dict(),
        "n_parameters": sum(p.numel() for p in model.parameters()),
    }
