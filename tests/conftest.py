"""Shared fixtures: the real MNIST arrays, loaded once per test session."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def mnist():
    from digitlib.data import load_mnist

    return load_mnist()


@pytest.fixture(scope="session")
def trained_model_path(mnist, tmp_path_factory):
    """A small CNN trained for real (about half a minute): good enough to judge preprocessing by."""
    from digitlib import config, data, models, training

    (x_train, y_train), _ = mnist
    x, y = data.subset(x_train, y_train, 20000, seed=0)
    runtime.set_seeds(0)
    model = models.cnn(width=16, dense=64)
    training.compile_model(model, training.make_optimizer("adam", 3e-3, "cosine", 3 * training.steps_per_epoch(len(x), 128)))
    model.fit(data.make_dataset(x, y, 128, seed=0, augment=training.make_augmentation()), epochs=3, verbose=0, shuffle=False)
    path = tmp_path_factory.mktemp("model") / "small.keras"
    model.save(path)
    return path


@pytest.fixture(scope="session")
def predictor(trained_model_path):
    from digitlib.predict import Predictor

    return Predictor(trained_model_path)
