"""The notebooks, run as users run them: the smoke parameters injected by papermill, every notebook
executed once by nbval; and the committed, rendered notebooks read as a reader sees them."""

from __future__ import annotations

import json
import re
import subprocess

import nbformat
import numpy as np
import pandas as pd
import papermill
import pytest

from digitlib import config, parameters
from digitlib.pictures import number_tables, predict, rule
from digitlib.pictures import reader as reader_module
from digitlib.research import pipeline, sweep

SMOKE = parameters.read_params(config.PARAMS_DIR / "smoke.yaml")


@pytest.fixture(scope="module")
def smoke_run(notebooks_in_background):
    """Every notebook executed once, as users run them (started with the session by the conftest's
    `notebooks_in_background`): the run folder, the prepared notebooks and nbval's finished process."""
    assert notebooks_in_background is not None, "the session did not start the notebooks' smoke run"
    out_dir, prepared, process, log = notebooks_in_background
    returncode = process.wait(timeout=1800)
    return out_dir, prepared, subprocess.CompletedProcess(process.args, returncode, log.read_text(), "")


def _outputs(notebook) -> list[dict]:
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]


@pytest.mark.slow
def test_every_notebook_runs_once_under_nbval_with_the_smoke_parameters(smoke_run):
    _, prepared, checked = smoke_run
    assert [path.stem for path in prepared] == [path.stem for path in pipeline.notebook_paths()]
    assert checked.returncode == 0, checked.stdout[-6000:]
    assert re.search(r"\d+ passed", checked.stdout) and " failed" not in checked.stdout


@pytest.mark.slow
def test_the_smoke_run_writes_sane_results(smoke_run):
    out_dir, _, checked = smoke_run
    assert checked.returncode == 0, checked.stdout[-3000:]
    metrics = json.loads((out_dir / "reports" / "metrics.json").read_text())
    assert 0.5 < metrics["accuracy"] <= 1.0  # chance is 0.1; one epoch on 4000 images gives about 0.9
    assert metrics["test_images"] == 10000 and sum(map(sum, metrics["confusion_matrix"])) == 10000
    assert 0 <= metrics["expected_calibration_error"] < 0.5
    assert metrics["verdict"] is None or "chance" not in metrics["verdict"]
    record = json.loads((out_dir / "models" / "cnn-run.json").read_text())
    assert record["parameters"]["EPOCHS"] == 1 and record["parameters"]["TRAIN_SIZE"] == 4000
    assert record["parameters"]["EMA_MOMENTUM"] == 0.999  # the default's averaging, adapted to 63 steps
    # the saved model's own accuracy (on training images: nothing is held out), not the last batches'
    assert record["saved_model_metrics"]["accuracy"] > 0.8 and record["versions"]["tensorflow"]
    assert abs(record["saved_model_metrics"]["accuracy"] - metrics["accuracy"]) < 0.1
    assert record["training_images"] == 4000 and record["kept_epochs"] == {"cnn": 1}  # the default path: no hold-out
    assert (out_dir / "models" / "cnn.keras").exists()
    reader = json.loads((out_dir / "reports" / "07_number_reader.json").read_text())  # 07: the number reader
    assert (out_dir / "models" / "number_reader.keras").exists() and reader["reader"]["training_numbers"] == 1000
    assert reader["chosen_unsure_below"] in number_tables.READER_THRESHOLD_GRID
    assert reader["chosen_number_unsure_below"] in number_tables.NUMBER_THRESHOLD_GRID
    assert [row["numbers"] for row in reader["with_the_reader"]] == [SMOKE["VALIDATION_NUMBERS_PER_GAP"]] * 6
    figures = {path.name for path in (out_dir / "reports" / "figures").glob("*.png")}
    assert {
        "01_samples.png",
        "02_comparison.png",
        "03_recipe.png",
        "03_validation_curves.png",
        "03_learning_curves_cnn.png",
        "04_confusion_matrix.png",
        "04_reliability.png",
    } <= figures
    shipped = rule.load_rule()
    on_test = metrics["interface_rule"]  # 04: the finished model and the interface's rule on test pictures
    assert on_test["digit_samples"] == SMOKE["INTERFACE_SAMPLES"] and 0 <= on_test["non_digits_flagged"] <= 1
    assert on_test["thresholds"] == shipped.thresholds  # 04 ran before 06 wrote the run's own rule
    assert metrics["calibration"]["temperature"] == shipped.temperature and metrics["calibration"]["bins"]
    assert [row["numbers"] for row in metrics["numbers"]] == [SMOKE["NUMBERS_PER_GAP"]] * len(number_tables.NUMBER_GAPS)
    by_kind = metrics["numbers_by_kind"]  # touching and apart pooled, with intervals
    assert by_kind["touching"]["numbers"] == 3 * SMOKE["NUMBERS_PER_GAP"] == by_kind["apart"]["numbers"]
    assert all(row["read_exactly low"] <= row["read_exactly"] <= row["read_exactly high"] for row in by_kind.values())
    sources = metrics["pictures_from_elsewhere"]  # 04's sources nothing chose on, the measuring set among them
    assert {"typed digits", "load_digits (8x8 scans)", "drawn non-digits (the measuring set)"} <= set(sources)
    assert sources["MNIST test digits as files"]["pictures"] == SMOKE["MEASURING_PICTURES"]
    assert metrics["throughput"]["picture_p50_ms"] > 0
    # 06 chose the rule again from the committed held-out outputs (whatever the run's own model) and
    # wrote it beside the run's model: the shipped rule is what they choose, and the predictor reads it
    interface = json.loads((out_dir / "reports" / "06_interface.json").read_text())
    written = rule.load_rule(out_dir / "models" / "cnn-rule.json")
    assert (written.temperature, written.thresholds) == (interface["temperature"]["fitted"], interface["chosen"])
    assert written.shape_checks_in_numbers == interface["number_checks"]["chosen"]
    # the digit detector's threshold, chosen on validation pictures, is the one the rule file names
    found = interface["detector"]
    assert written.detector == {key: found[key] for key in ("model", "not_digit_above", "replaces")}
    assert set(found["validation_pictures"].values()) == {SMOKE["DETECTOR_PICTURES"]}
    assert (written.temperature, written.thresholds, written.shape_checks_in_numbers) == (
        shipped.temperature,
        shipped.thresholds,
        shipped.shape_checks_in_numbers,
    ), "the committed held-out outputs choose another rule than models/cnn-rule.json: render notebook 06"
    assert predict.Predictor(out_dir / "models" / "cnn.keras").rule == written
    # 07 trained a reader in the run folder and wrote its "?" beside it
    assert reader_module.load_unsure_below(out_dir / "models" / "number_reader.keras") == reader["chosen_unsure_below"]
    beside = reader_module.load_number_unsure_below(out_dir / "models" / "number_reader.keras")
    assert beside == reader["chosen_number_unsure_below"]
    summary = pd.read_csv(out_dir / "reports" / "05_ablation.csv", index_col="variant")  # 05, on the small sweep
    assert sorted(summary.index) == ["default", "no-augmentation"] and (summary["seeds"] == 2).all()
    assert summary.loc["no-augmentation", "paired_seeds"] == 2 and summary["mean"].between(0.3, 1).all()
    assert (out_dir / "reports" / "figures" / "05_ablation.png").exists()
    # 02 read the committed architecture sweep: every variant, compared with the cnn seed by seed
    comparison = pd.read_csv(out_dir / "reports" / "02_architectures.csv", index_col=0)
    variants = sweep.load_sweep(config.PARAMS_DIR / "sweeps" / "architectures.yaml")
    assert sorted(comparison.index) == sorted({run.variant for run in variants})
    assert comparison["mean"].between(0.9, 1.0).all() and comparison.loc["cnn", "relative compute"] == 1
    assert comparison.drop(index="cnn")["paired_seeds"].eq(3).all()


@pytest.mark.slow
def test_a_bad_parameter_fails_in_the_first_cells_with_one_message(tmp_path):
    name, value, message = "ARCHITECTURE", "resnet9000", "ARCHITECTURE = 'resnet9000' is not one of"
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        papermill.execute_notebook(
            str(config.NOTEBOOKS_DIR / "03_training.ipynb"),
            str(tmp_path / "out.ipynb"),
            parameters={name: value, "OUTPUT_DIR": str(tmp_path)},
            progress_bar=False,
        )
    assert caught.value.ename == "ParameterError" and message in caught.value.evalue
    assert caught.value.cell_index <= 4  # title, parameters, injected parameters, setup


@pytest.mark.slow
def test_evaluation_without_a_model_says_to_run_training_first(tmp_path):
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        papermill.execute_notebook(
            str(config.NOTEBOOKS_DIR / "04_evaluation.ipynb"),
            str(tmp_path / "out.ipynb"),
            parameters={"OUTPUT_DIR": str(tmp_path)},
            progress_bar=False,
        )
    assert caught.value.ename == "FileNotFoundError" and "run notebooks/03_training.ipynb first" in caught.value.evalue


def test_unknown_pipeline_parameter_is_refused():
    with pytest.raises(ValueError, match="EPOCH"):
        pipeline.run_notebooks({"EPOCH": 3}, config.RUNS_DIR / "never")


@pytest.mark.audit
@pytest.mark.parametrize("path", sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")), ids=lambda p: p.stem)
def test_committed_notebooks_are_rendered_from_a_default_run(path):
    notebook = nbformat.read(path, as_version=4)
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    tagged = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1 and re.search(r"^[A-Z_]+ = ", tagged[0].source, re.M)
    run = notebook.metadata.get("papermill", {})
    assert run, "not executed by papermill: run `make run`"
    assert run.get("exception") in (None, False)
    assert run["parameters"] == {}, "rendered with non-default parameters"
    assert run["output_path"] == f"notebooks/{path.name}"  # not the scratch file it was executed into
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.get("execution_count") for cell in code_cells), "some cells were not executed"
    assert not [o for o in _outputs(notebook) if o["output_type"] == "error"]
    serialized = nbformat.writes(notebook)
    assert not re.search(r"(/work/|/root/|/home/|/tmp/|/Users/)", serialized), "absolute paths of a machine"
    assert "widgets" not in notebook.metadata  # no stray widget state
    # diffs cleanly: no per-cell timestamps or durations, no injected cell repeating the defaults
    assert not [cell for cell in notebook.cells if {"execution", "papermill"} & set(cell.metadata)]
    assert not {"start_time", "end_time", "duration"} & set(run)
    assert not [cell for cell in notebook.cells if "injected-parameters" in cell.metadata.get("tags", [])]


@pytest.mark.audit
def test_committed_reports_agree_with_themselves_and_with_the_rule_files():
    """What 04 and 06 measured, read from the files they wrote (the README quotes these), and the
    rule files 06 wrote beside the shipped model."""
    metrics = json.loads((config.REPORTS_DIR / "metrics.json").read_text())
    confusion = np.array(metrics["confusion_matrix"])
    assert confusion.sum() == metrics["test_images"] == 10000
    assert np.trace(confusion) == metrics["test_images"] - metrics["mistakes"]
    assert metrics["accuracy"] == pytest.approx(1 - metrics["mistakes"] / metrics["test_images"])
    assert metrics["verdict"] is None and metrics["accuracy"] > 0.99
    shipped = rule.load_rule()
    on_test = metrics["interface_rule"]
    assert on_test["digit_samples"] == 2000 and on_test["digit_accuracy"] > 0.95
    assert on_test["thresholds"] == shipped.thresholds
    assert 0 <= on_test["non_digits_flagged"] <= 1 and 0 <= on_test["digits_flagged"] <= 1
    interface = json.loads((config.REPORTS_DIR / "06_interface.json").read_text())
    assert interface["chosen"] == shipped.thresholds and interface["held_out_digits"] == 15000
    assert interface["held_out_outcomes"]["correct_flagged"] <= interface["max_correct_flagged"]
    assert interface["temperature"]["fitted"] == metrics["calibration"]["temperature"] == shipped.temperature
    numbers = interface["number_checks"]
    assert numbers["chosen"] == shipped.shape_checks_in_numbers
    held_out_runs = len(sweep.load_sweep(config.PARAMS_DIR / "sweeps" / "thresholds.yaml"))
    assert (
        numbers["validation_numbers"]
        == held_out_runs * len(number_tables.NUMBER_GAPS) * sweep.VALIDATION_NUMBERS_PER_GAP
    )
    photos = metrics["pictures_from_elsewhere"]["Fashion-MNIST, test part"]
    assert photos["pictures"] == 500 and 0 <= photos["flagged"] <= 1
    detector = interface["detector"]
    assert shipped.detector == {key: detector[key] for key in ("model", "not_digit_above", "replaces")}
    parts = detector[
        "flagged_by_parts_left_out"
    ]  # the parts left out beside it: the allowed set flagging fewest digits
    assert set(parts) == {"none", "energy", "shape", "energy and shape"}
    tried = {row["not_digit_above"]: row for row in detector["tradeoff"]}
    assert tried[detector["not_digit_above"]]["worst digits flagged"] <= detector["max_digits_flagged"]
    lower = [t for t in tried if t < detector["not_digit_above"]]  # the lowest allowed: any lower flags too many
    assert all(tried[t]["worst digits flagged"] > detector["max_digits_flagged"] for t in lower)


@pytest.mark.audit
def test_the_readmes_results_are_written_from_reports(tmp_path):
    from digitlib.research import results

    assert results.update_readme(check=True), "README.md's results are stale: run `python -m digitlib results`"
    table = results.table()
    assert len(table.splitlines()) - 2 <= 8  # a newcomer's table: the rest lives in the notebooks
    metrics = json.loads((config.REPORTS_DIR / "metrics.json").read_text())
    assert f"{100 * metrics['accuracy']:.2f} % with test-time augmentation" in table
    assert f"({metrics['mistakes']} mistakes in 10,000)" in table
    bench = json.loads((config.REPORTS_DIR / "benchmarks.json").read_text())
    default = [run["test_accuracy"] for run in bench["runs"] if run["preset"] == "default"]
    assert f"{100 * np.mean(default):.2f} ± {100 * np.std(default, ddof=1):.2f} % read once" in results.headline()
    stale = tmp_path / "README.md"
    block = f"{results.START_MARK}table -->\n| made up | 99.99 % | nowhere |\n{results.END}"
    stale.write_text(f"# title\n\n{block}\n\nafter\n")
    assert not results.update_readme(stale, check=True) and "99.99" in stale.read_text()
    assert not results.update_readme(stale) and results.update_readme(stale, check=True)
    assert stale.read_text() == f"# title\n\n{results.START_MARK}table -->\n{table}\n{results.END}\n\nafter\n"
    stale.write_text("no markers")
    with pytest.raises(ValueError, match="results blocks"):
        results.update_readme(stale)
