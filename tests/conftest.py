"""Shared fixtures, each made once per test session: the real MNIST arrays, a small CNN trained
for real through the project's recipe, the predictor around it, and a small sweep run on Dask."""

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
    from digitlib.pictures.predict import Predictor

    return Predictor(trained_model_path)


SWEEP_BASE = {"TRAIN_SIZE": 1000, "VALIDATION_SIZE": 500, "EPOCHS": 1, "BATCH_SIZE": 64, "CNN_WIDTH": 8}


@pytest.fixture(scope="session")
def small_sweep(tmp_path_factory):
    """A sweep of two variants and one that fails (EPOCHS -1), two seeds each, run on a two-worker
    LocalCluster: its file, its table, its runs folder and what it printed. Notebook 05 reads its
    table in the smoke run of the notebooks; the sweep tests read the rest."""
    import contextlib
    import io

    import yaml

    from digitlib.research import sweep

    folder = tmp_path_factory.mktemp("sweep")
    variants = {"default": {}, "no-augmentation": {"ROTATION": 0, "SHIFT": 0, "ZOOM": 0}, "broken": {"EPOCHS": -1}}
    path = folder / "small.yaml"
    path.write_text(yaml.safe_dump({"base": SWEEP_BASE, "variants": variants, "seeds": [0, 1]}))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        table = sweep.sweep(path, workers=2, table=folder / "small.csv", runs_dir=folder / "runs")
    return path, table, folder / "runs", printed.getvalue()
