"""TensorFlow and Keras, imported once and quietly, and the seeds every run starts from."""

from __future__ import annotations

import contextlib
import os
import random
import sys
from collections.abc import Iterator
from types import ModuleType

import numpy as np

from digitlib import config


def quiet_tensorflow_env() -> None:
    """Ask TensorFlow for errors only (set before it is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
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


def import_tensorflow() -> ModuleType:
    """Import TensorFlow without its start-up noise, and return the module."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    quiet_tensorflow_env()
    with _stderr_silenced():
        import tensorflow as tf

        # The CUDA probe runs on first device listing: keep it inside the silence too.
        tf.config.list_physical_devices()
        tf.get_logger().setLevel("ERROR")
    return tf


def keras() -> ModuleType:
    """Keras, with TensorFlow imported quietly first (unless `KERAS_BACKEND` names another backend,
    such as jax on a GPU machine without TensorFlow: then Keras alone)."""
    if on_tensorflow():
        import_tensorflow()
    import keras as keras_module

    return keras_module


def on_tensorflow() -> bool:
    """Whether Keras runs on TensorFlow (its default here; `KERAS_BACKEND` may name another)."""
    return (os.environ.get("KERAS_BACKEND") or "tensorflow") == "tensorflow"


def set_seeds(seed: int = config.SEED) -> None:
    """Seed Python, NumPy and (when loaded) TensorFlow/Keras."""
    random.seed(seed)
    np.random.seed(seed)
    if "keras" in sys.modules or "tensorflow" in sys.modules:
        keras().utils.set_random_seed(seed)
