"""Run records: JSON files written whole or not at all, and the library versions a run used."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

from digitlib import config


def library_versions() -> dict[str, str]:
    """Python, the numerical stack and the platform, for a run's record."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for package in ("tensorflow", "keras", "numpy", "scikit-learn", "pandas"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def write_json(path: Path, record: dict[str, Any]) -> Path:
    """Write JSON atomically (a temporary file renamed into place), so a kill never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_text(json.dumps(record, indent=2, default=_jsonable) + "\n")
    partial.replace(path)
    return path


def read_json(path: Path) -> dict[str, Any]:
    """A record written by `write_json`."""
    return json.loads(Path(path).read_text())


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return config.display_path(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
