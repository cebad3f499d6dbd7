"""The one home for paths and defaults, and the setup every notebook calls first."""
from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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


@dataclass(frozen=True)
class RunPaths:
    """Where one run writes its model, metrics and figures."""

    models: Path
    reports: Path
    figures: Path
    logs: Path

    def model_file(self, name: str = DEFAULT_MODEL_NAME) -> Path:
        return self.models / f"{name}.keras"

    def make(self) -> "RunPaths":
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


def quiet_tensorflow_env() -> None:
    """Ask TensorFlow for errors only (set before it is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


@contextlib.contextmanager
def _stderr_silenced():
    """Silence the process's own stderr (file descriptor 2).

    TensorFlow's C++ start-up notices (oneDNN, CUDA) are written before its log level is
    read, so no environment variable hides them; Jupyter kernels forward them to the notebook.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (some embedded interpreters)
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow():
    """Import TensorFlow without its start-up noise, and return the module."""
    quiet_tensorflow_env()
    with _stderr_silenced():
        import tensorflow as tf  # noqa: PLC0415

        # The CUDA probe runs on first device listing: keep it inside the silence too.
        tf.config.list_physical_devices()
    return tf


def set_seeds(seed: int = SEED) -> None:
    """Seed Python, NumPy and (when loaded) TensorFlow/Keras."""
    random.seed(seed)
    np.random.seed(seed)
    import sys

    if "keras" in sys.modules or "tensorflow" in sys.modules:
        import keras

        keras.utils.set_random_seed(seed)


def setup_notebook(seed: int = SEED, tensorflow: bool = True) -> dict[str, str]:
    """Common first step of every notebook: seeds, quiet TensorFlow, plot style.

    Returns the library versions, which notebooks print and runs record."""
    import matplotlib
    import matplotlib.pyplot as plt
    import seaborn as sns

    versions = {"numpy": np.__version__, "matplotlib": matplotlib.__version__}
    if tensorflow:
        tf = import_tensorflow()
        import keras

        tf.get_logger().setLevel("ERROR")
        versions.update(tensorflow=tf.__version__, keras=keras.__version__)
    set_seeds(seed)
    sns.set_theme(context="notebook", style="whitegrid")
    plt.rcParams.update({"figure.dpi": 90, "savefig.dpi": 110, "savefig.bbox": "tight", "image.cmap": "gray"})
    np.set_printoptions(precision=4, suppress=True)
    return versions


class ParameterError(ValueError):
    """A notebook parameter is out of range; the message names it and what is allowed."""


def check_parameter(name: str, value, *, positive: bool = False, at_least: float | None = None,
                    at_most: float | None = None, choices=None, existing_path: bool = False) -> None:
    """Stop a notebook in its first cells with one clear message when a parameter is wrong."""
    if choices is not None and value not in choices:
        raise ParameterError(f"{name} = {value!r} is not one of: {', '.join(map(str, choices))}")
    if positive and not (isinstance(value, (int, float)) and value > 0):
        raise ParameterError(f"{name} must be a positive number, got {value!r}")
    if at_least is not None and not (isinstance(value, (int, float)) and value >= at_least):
        raise ParameterError(f"{name} must be at least {at_least}, got {value!r}")
    if at_most is not None and not (isinstance(value, (int, float)) and value <= at_most):
        raise ParameterError(f"{name} must be at most {at_most}, got {value!r}")
    if existing_path:
        path = Path(value) if Path(value).is_absolute() else PROJ_ROOT / value
        if not path.exists():
            raise ParameterError(f"{name} = {value!r}: no such file or folder ({display_path(path)})")
