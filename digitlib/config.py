"""The one home for paths and project-wide constants (no imports beyond the standard library)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJ_ROOT = Path(__file__).resolve().parents[1]
DATASET_DIR = PROJ_ROOT / "dataset"
MODELS_DIR = PROJ_ROOT / "models"
REPORTS_DIR = PROJ_ROOT / "reports"
FIGURES_DIR = REPORTS_DIR / "figures"
NOTEBOOKS_DIR = PROJ_ROOT / "notebooks"
RUNS_DIR = PROJ_ROOT / "runs"
PARAMS_DIR = PROJ_ROOT / "params"

SEED = 42
NUM_CLASSES = 10
IMAGE_SIZE = 28
VALIDATION_SIZE = 5000
DEFAULT_MODEL_NAME = "cnn"
# Test-time augmentation for reported accuracies (evaluation.predict_probabilities): the picture
# and this many one-pixel shifts of it, averaged. Chosen on validation (params/sweeps/budget.yaml,
# notebook 05); 0 reads each picture once.
TTA_SHIFTS = 8


@dataclass(frozen=True)
class RunPaths:
    """Where one run writes its model, metrics and figures."""

    models: Path
    reports: Path
    figures: Path
    logs: Path

    def model_file(self, name: str = DEFAULT_MODEL_NAME) -> Path:
        return self.models / f"{name}.keras"

    def make(self) -> RunPaths:
        for folder in (self.models, self.reports, self.figures, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def run_paths(output_dir: str | os.PathLike | None = None) -> RunPaths:
    """Paths for a run: the project's `models/` and `reports/` when `output_dir` is empty,
    else `models/`, `reports/` and `logs/` inside `output_dir` (relative to the project root)."""
    if not output_dir:
        return RunPaths(MODELS_DIR, REPORTS_DIR, FIGURES_DIR, MODELS_DIR / "logs")
    root = Path(output_dir)
    if not root.is_absolute():
        root = PROJ_ROOT / root
    return RunPaths(root / "models", root / "reports", root / "reports" / "figures", root / "models" / "logs")


def display_path(path: str | os.PathLike) -> str:
    """A path as readers should see it: relative to the project root when inside it."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(PROJ_ROOT))
    except ValueError:
        return str(path)
