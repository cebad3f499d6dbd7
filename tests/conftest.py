"""Shared fixtures: the real MNIST arrays, loaded once per test session, and a small CNN trained
for real through the project's recipe."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def mnist():
    from digitlib.data import load_mnist

    return load_mnist()


@pytest.fixture(scope="session")
def trained_model_path(tmp_path_factory):
    """A small CNN trained by `training.train` on 20,000 images for 3 epochs (about half a minute):
    good enough to judge preprocessing and the interface by."""
    from digitlib import config, training

    recipe = training.TrainConfig(
        seed=0,
        model_name="small",
        cnn_width=16,
        train_size=20000,
        epochs=3,
        batch_size=128,
        learning_rate=3e-3,
        tensorboard=False,
    )
    result = training.train(recipe, config.run_paths(tmp_path_factory.mktemp("model")), verbose=False)
    assert result.saved_metrics["accuracy"] > 0.95, result.record  # on its training images
    return result.model_path


@pytest.fixture(scope="session")
def predictor(trained_model_path):
    from digitlib.predict import Predictor

    return Predictor(trained_model_path)
