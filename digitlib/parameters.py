"""Parameters from the outside world: YAML files and `-p NAME VALUE` overrides, and the checks
that stop a run in its first cells with one clear message when a value is wrong."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from digitlib import config


class ParameterError(ValueError):
    """A parameter is out of range; the message names it and what is allowed."""


def check_parameter(
    name: str,
    value: Any,
    *,
    positive: bool = False,
    at_least: float | None = None,
    at_most: float | None = None,
    choices: Iterable[Any] | None = None,
    existing_path: bool = False,
) -> None:
    """Raise ParameterError naming `name`, the bad value and what is allowed."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if choices is not None and value not in list(choices):
        raise ParameterError(f"{name} = {value!r} is not one of: {', '.join(map(str, choices))}")
    if positive and not (number and value > 0):
        raise ParameterError(f"{name} must be a positive number, got {value!r}")
    if at_least is not None and not (number and value >= at_least):
        raise ParameterError(f"{name} must be at least {at_least}, got {value!r}")
    if at_most is not None and not (number and value <= at_most):
        raise ParameterError(f"{name} must be at most {at_most}, got {value!r}")
    if existing_path:
        path = Path(value) if Path(value).is_absolute() else config.PROJ_ROOT / value
        if not path.exists():
            raise ParameterError(f"{name} = {value!r}: no such file or folder ({config.display_path(path)})")


def read_params(path: str | os.PathLike | None, overrides: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
    """Parameters from a YAML file (a flat mapping) plus `-p NAME VALUE` overrides (values read as YAML)."""
    import yaml

    params: dict[str, Any] = {}
    if path:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ParameterError(f"{path}: expected a mapping of NAME: value")
        params.update(loaded)
    for name, value in overrides:
        params[name] = yaml.safe_load(value)
    return params
