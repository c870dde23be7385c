"""The one check that a plain config dict holds only keys its config classes know.

Every model config is a dataclass built from a flat dict (``config.yaml``, the CLI); a key no
class knows is a typo or a key of another model, and is an error (``ValueError``) naming it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

ConfigT = TypeVar("ConfigT")


def field_names(*config_classes: type) -> set[str]:
    """The field names of the dataclasses ``config_classes``, together."""
    return {field.name for config_class in config_classes for field in dataclasses.fields(config_class)}


def reject_unknown_keys(values: Mapping[str, Any], known: Iterable[str], what: str) -> None:
    """Raise ``ValueError("unknown <what>: a, b")`` naming (sorted) every key of ``values`` not in ``known``."""
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown {what}: {', '.join(unknown)}")


def config_from_dict(config_class: type[ConfigT], values: Mapping[str, Any], what: str) -> ConfigT:
    """``config_class(**values)`` once every key is one of its fields (else ``ValueError``, see :func:`reject_unknown_keys`)."""
    reject_unknown_keys(values, field_names(config_class), what)
    return config_class(**values)
