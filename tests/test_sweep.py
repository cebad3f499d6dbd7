"""Sweeps: a grid run as Dask tasks on a two-worker LocalCluster, a failing parameter set recorded
and not fatal, and a sweep killed midway finished by a rerun without redoing what was done."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from digitlib import config, evaluation
from digitlib.parameters import ParameterError
from digitlib.research import sweep

TINY = {"TRAIN_SIZE": 1000, "VALIDATION_SIZE": 500, "EPOCHS": 1, "BATCH_SIZE": 64, "CNN_WIDTH": 8}


def write_sweep(path, variants, seeds=(0, 1), **extra):
    import yaml

    path.write_text(yaml.safe_dump({"base": TINY, "variants": variants, "seeds": list(seeds), **extra}))
    return path


def test_a_sweep_file_expands_to_variants_grid_and_seeds(tmp_path):
    path = tmp_path / "grid.yaml"
    write_sweep(path, {"default": {}, "wide": {"CNN_WIDTH": 16}}, seeds=[0, 1, 2], grid={"EPOCHS": [1, 2]})
    runs = sweep.load_sweep(path)
    assert len(runs) == 2 * 2 * 3
    assert runs[0].name == "default-epochs1-seed0" and runs[0].params == {**TINY, "EPOCHS": 1, "SEED": 0}
    assert {run.params["CNN_WIDTH"] for run in runs if run.variant.startswith("wide")} == {16}
    assert len({run.fingerprint for run in runs}) == len(runs)


def test_a_runs_fingerprint_is_its_whole_recipe_defaults_included():
    from digitlib.training import TrainConfig

    def run(**params):
        return sweep.Run("r", "v", 0, {"VALIDATION_SIZE": 500, "SEED": 0, **params})

    default_epochs = TrainConfig().epochs
    # naming a default changes nothing; another value does (as would a change of the default itself)
    assert run().fingerprint == run(EPOCHS=default_epochs).fingerprint
    assert run().fingerprint != run(EPOCHS=default_epochs + 1).fingerprint
    assert run().fingerprint != sweep.Run("r", "v", 0, run().params, interface_outputs=True).fingerprint
    assert run(EPOCHS=-1).fingerprint  # a bad parameter set still gets one: its run fails and is recorded


def test_a_sweep_that_would_score_on_nothing_but_the_test_set_is_refused(tmp_path):
    path = tmp_path / "no-validation.yaml"
    path.write_text("base: {EPOCHS: 1}\nseeds: [0]\n")
    with pytest.raises(ParameterError, match="VALIDATION_SIZE"):
        sweep.load_sweep(path)
    path.write_text("base: {EPOCHS: 1}\nseeds: [0]\ntypo: 3\n")
    with pytest.raises(ParameterError, match="unknown key"):
        sweep.load_sweep(path)


@pytest.mark.slow
def test_a_grid_on_two_workers_records_failures_and_skips_finished_runs_when_rerun(small_sweep, capsys):
    path, table, runs_dir, progress = small_sweep
    rows = pd.read_csv(table).set_index("run")
    assert len(rows) == 6 and set(rows["variant"]) == {"default", "no-augmentation", "broken"}
    ok, failed = rows[rows["status"] == "ok"], rows[rows["status"] == "failed"]
    assert sorted(failed.index) == ["broken-seed0", "broken-seed1"]
    assert ok["val_accuracy"].between(0.3, 1.0).all() and (ok["validation_images"] == 500).all()
    assert ok["test_accuracy"].isna().all()  # the protocol: no test metrics unless the file asks
    assert failed["error"].str.contains("EPOCHS must be a positive number").all()
    assert {"SEED", "EPOCHS", "CNN_WIDTH", "version_tensorflow", "train_seconds"} <= set(rows.columns)
    assert "[6/6]" in progress and "left" in progress
    sweep.sweep(path, workers=2, table=table, runs_dir=runs_dir)  # only the failed runs again
    again = capsys.readouterr().out
    assert "[skip] default-seed0" in again and "[skip] no-augmentation-seed1" in again and "2 to run" in again
    rerun = pd.read_csv(table).set_index("run")
    assert rerun.loc["default-seed0", "train_seconds"] == ok.loc["default-seed0", "train_seconds"]  # not redone


@pytest.mark.slow
def test_a_sweep_killed_midway_finishes_on_rerun_without_redoing_runs(tmp_path):
    path = write_sweep(tmp_path / "killed.yaml", {"default": {}}, seeds=[0, 1])
    table = tmp_path / "killed.csv"
    command = [sys.executable, "-m", "digitlib", "sweep", str(path), "--workers", "1", "--table", str(table)]
    first = subprocess.Popen(
        command, cwd=config.PROJ_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.time() + 300
    while time.time() < deadline and not (table.exists() and len(pd.read_csv(table)) >= 1):
        time.sleep(0.5)
    import os

    os.killpg(first.pid, signal.SIGKILL)  # the whole session: the runner, its scheduler, workers and runs
    first.wait()
    done_before = pd.read_csv(table)
    assert len(done_before) == 1
    second = subprocess.run(command, cwd=config.PROJ_ROOT, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    for name in done_before["run"]:
        assert f"[skip] {name}" in second.stdout
    after = pd.read_csv(table).set_index("run")
    assert sorted(after.index) == ["default-seed0", "default-seed1"] and (after["status"] == "ok").all()
    for row in done_before.to_dict("records"):
        assert after.loc[row["run"], "train_seconds"] == row["train_seconds"]


def test_a_summary_pairs_each_variant_with_the_default_seed_by_seed():
    rows = [
        ("default", 0, 0.990),
        ("default", 1, 0.992),
        ("default", 2, 0.991),
        ("worse", 0, 0.985),
        ("worse", 1, 0.987),
        ("worse", 2, 0.986),  # 0.005 below on every seed
        ("same", 0, 0.991),
        ("same", 1, 0.991),
        ("same", 2, 0.991),
        ("broken", 0, float("nan")),
    ]
    table = pd.DataFrame(rows, columns=["variant", "seed", "val_accuracy"]).assign(status="ok")
    table.loc[table["variant"] == "broken", "status"] = "failed"
    summary = sweep.summarize(table)
    assert list(summary.index) == ["default", "worse", "same"]  # failed runs left out
    assert summary.loc["default", "mean"] == pytest.approx(0.991) and summary.loc["default", "seeds"] == 3
    # the default's spread: t(2) = 4.303, standard deviation 0.001, three seeds
    assert summary.loc["default", "high"] - summary.loc["default", "mean"] == pytest.approx(
        4.303 * 0.001 / 3**0.5, rel=1e-3
    )
    assert summary.loc["worse", "difference"] == pytest.approx(-0.005)
    assert summary.loc["worse", "difference_low"] == pytest.approx(-0.005)  # identical differences: no spread
    assert not summary.loc["worse", "within_noise"] and summary.loc["same", "within_noise"]
    assert evaluation.mean_interval([0.5])[1] != evaluation.mean_interval([0.5])[1]  # one value: no interval (NaN)
