"""Shared fixtures, each made once per test session: the real MNIST arrays, a small CNN trained
for real through the project's recipe, the predictor around it, a small sweep run on Dask, and the
notebooks' smoke run, started with the session beside the other tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

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


NOTEBOOK_TESTS = {  # in tests/test_notebooks.py: the tests that read the notebooks' smoke run
    "test_every_notebook_runs_once_under_nbval_with_the_smoke_parameters",
    "test_the_smoke_run_writes_sane_results",
}


@pytest.fixture(scope="session", autouse=True)
def notebooks_in_background(request, tmp_path_factory):
    """Every notebook executed once, as users run them: the smoke parameters injected by papermill
    (notebook 05 reading the session's small sweep), executed in order by nbval, which checks the
    cells marked NBVAL_CHECK_OUTPUT against the rendered outputs they were prepared from. It starts
    with the session, in a process of its own, when a test that reads it is selected: most other
    tests leave the second core idle, and the notebooks are the longest part of the suite. Yields
    the run folder, the prepared notebooks, the process and the file it writes to (None when no
    test reads it)."""
    if not any(getattr(item, "originalname", "") in NOTEBOOK_TESTS for item in request.session.items):
        yield None
        return
    from digitlib import config, parameters
    from digitlib.research import pipeline

    _, table, _, _ = request.getfixturevalue("small_sweep")
    out_dir = tmp_path_factory.mktemp("smoke")
    params = {**parameters.read_params(config.PARAMS_DIR / "smoke.yaml"), "ABLATION_TABLE": str(table)}
    prepared = pipeline.run_notebooks({**params, "FULL_BUDGET_TABLE": str(table)}, out_dir, execute=False)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--nbval-lax",
        "--nbval-current-env",
        "--nbval-cell-timeout=1200",
        "--nbval-sanitize-with",
        str(config.PROJ_ROOT / "tests" / "nbval_sanitize.cfg"),
        *map(str, prepared),
    ]
    log = out_dir / "nbval.log"
    with log.open("w") as written:  # a file, not a pipe: nothing blocks while no one reads it
        process = subprocess.Popen(
            command, stdout=written, stderr=subprocess.STDOUT, cwd=config.PROJ_ROOT, start_new_session=True
        )
    yield out_dir, prepared, process, log
    if process.poll() is None:  # the session ended early: leave no kernel behind
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
