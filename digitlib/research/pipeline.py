"""Run the numbered notebooks headless with papermill, in order, with parameters.

`python -m digitlib run` renders the default run into notebooks/ (what `make run` does).
With `--params FILE.yaml` or `-p NAME VALUE`, the executed notebooks, the model and the reports
go to a run folder (`runs/<name>/`) and the rendered notebooks are left alone, unless `--out
notebooks` asks for them. `--only 03 04` runs those notebooks alone.

Each notebook executes into a scratch file (`runs/partial/` for the rendered ones) and replaces
its target only once it has run to the end, so an interrupted run leaves every notebook either as
it was or finished.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from digitlib import config
from digitlib.parameters import read_params


class NotebookFailed(RuntimeError):
    """A notebook raised an error; the message names the notebook, the cell and the error."""


NOTEBOOKS = (
    "01_exploration",
    "02_cnn_building",
    "03_training",
    "04_evaluation",
    "05_experiments",
    "06_interface",
    "07_number_reader",
)


PARTIAL_DIR = config.RUNS_DIR / "partial"  # rendered notebooks while they execute, and those that failed


def notebook_paths(only: list[str] | None = None) -> list[Path]:
    """The pipeline's notebooks in order, optionally only those named in `only`, by number
    ("03", "07") or whole name ("03_training")."""
    found = [
        config.NOTEBOOKS_DIR / f"{name}.ipynb"
        for name in NOTEBOOKS
        if (config.NOTEBOOKS_DIR / f"{name}.ipynb").exists()
    ]
    if only:
        unknown = [name for name in only if not any(name in (path.stem, path.stem.split("_")[0]) for path in found)]
        if unknown:
            raise ValueError(f"no notebook is called {', '.join(unknown)}; the notebooks are {', '.join(NOTEBOOKS)}")
        found = [path for path in found if {path.stem, path.stem.split("_")[0]} & set(only)]
    return found


def run_notebooks(params: dict, out_dir: Path, only: list[str] | None = None, execute: bool = True) -> list[Path]:
    """Execute the notebooks in order into `out_dir`, passing each the parameters it declares.

    Runs that do not write into notebooks/ also send the model and reports to `out_dir`. With
    `execute=False` the notebooks are only prepared (papermill's injected parameters, their
    rendered outputs kept), for a runner that executes them itself (nbval, in the tests)."""
    import papermill

    os.chdir(config.PROJ_ROOT)  # papermill records the paths it is given: keep them relative
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    rendering = out_dir == config.NOTEBOOKS_DIR.resolve()
    # A rendered run passes no OUTPUT_DIR (its default is the project's folders), so papermill adds
    # no injected-parameters cell to the committed notebooks unless a parameter was really changed.
    params = dict(params) if rendering else {"OUTPUT_DIR": config.display_path(out_dir), **params}
    notebooks = notebook_paths(only)
    if only:
        print(f"running {', '.join(path.stem for path in notebooks)}", flush=True)
    declared_by = {path: set(papermill.inspect_notebook(str(path))) for path in notebook_paths()}
    unknown = sorted(set(params) - set().union(*declared_by.values()))
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)}: no notebook declares them")
    executed, seconds = [], {}
    for index, source in enumerate(notebooks, 1):
        declared = declared_by[source]
        passed = {name: value for name, value in params.items() if name in declared}
        target = out_dir / source.name
        if not execute:
            papermill.execute_notebook(str(source), str(target), parameters=passed, prepare_only=True)
            executed.append(target)
            continue
        shown = ", ".join(f"{k}={v!r}" for k, v in passed.items() if k != "OUTPUT_DIR") or "defaults"
        # one line per notebook: its name while it runs, then how it went
        print(f"[{index}/{len(notebooks)}] {source.stem} ({shown}) … ", end="", flush=True)
        started = time.perf_counter()
        if rendering:
            drop_injected_parameters(source)  # a leftover of an earlier parameterized render
        # papermill writes the output after every cell: into a scratch file, moved into place when complete
        partial = (PARTIAL_DIR if rendering else out_dir / ".partial") / source.name
        partial.parent.mkdir(parents=True, exist_ok=True)
        try:
            papermill.execute_notebook(
                config.display_path(source),
                config.display_path(partial),
                parameters=passed,
                cwd=str(config.NOTEBOOKS_DIR),
                progress_bar=False,
                log_output=False,
                # the kernel's own start-up warnings (plain-TCP transport on localhost) are noise here
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
        except papermill.PapermillExecutionError as error:
            print("failed", flush=True)
            raise NotebookFailed(
                f"{source.name} failed in cell {error.cell_index} (execution count {error.exec_count}): "
                f"{error.ename}: {error.evalue}\n  the partly executed notebook is {config.display_path(partial)}"
            ) from None
        tidy_notebook(partial, parameters=passed, target=target)
        os.replace(partial, target)
        seconds[source.stem] = round(time.perf_counter() - started, 1)
        print(f"done in {seconds[source.stem]:.0f} s -> {config.display_path(target)}", flush=True)
        executed.append(target)
    if rendering and execute and not only:  # the README quotes how long a full render takes
        from digitlib import records

        records.write_json(
            TIMES_FILE, {"notebooks": seconds, "total_seconds": round(sum(seconds.values()), 1), "cpus": os.cpu_count()}
        )
    return executed


TIMES_FILE = config.REPORTS_DIR / "pipeline.json"  # what each notebook of the last full render took


WIDGET_PLACEHOLDER = (
    "[interactive widget: open this notebook in JupyterLab (make lab) and run it; make app serves the same pad]"
)


def drop_injected_parameters(path: Path) -> None:
    """Remove the cell papermill injects after `parameters` (it would run again with stale values)."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    kept = [cell for cell in notebook.cells if "injected-parameters" not in cell.metadata.get("tags", [])]
    if len(kept) != len(notebook.cells):
        notebook.cells = kept
        nbformat.write(notebook, path)


RUN_TIMINGS = ("start_time", "end_time", "duration")


def tidy_notebook(path: Path, parameters: dict | None = None, target: Path | None = None) -> None:
    """Make an executed notebook diff cleanly: drop per-cell execution timestamps and durations
    (papermill's and Jupyter's) and the run's start, end and duration, keeping cell tags and
    papermill's record of the parameters; drop saved widget state, stale without a live kernel
    (widget outputs keep a plain-text note saying how to get the live interface). `parameters`,
    when given, is what the run was passed; `target`, where the notebook goes when it was executed
    into a scratch file."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    notebook.metadata.pop("widgets", None)
    if target is not None and "papermill" in notebook.metadata:
        notebook.metadata["papermill"]["output_path"] = config.display_path(target)
    for key in RUN_TIMINGS:
        notebook.metadata.get("papermill", {}).pop(key, None)
    if parameters is not None and "papermill" in notebook.metadata:
        # papermill leaves an earlier run's record in place when it is given no parameters
        notebook.metadata["papermill"]["parameters"] = parameters
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        for output in cell.get("outputs", []):
            if "application/vnd.jupyter.widget-view+json" in output.get("data", {}):
                output["data"] = {"text/plain": WIDGET_PLACEHOLDER}
    nbformat.write(notebook, path)


def _run(args: argparse.Namespace) -> int:
    params = read_params(args.params, args.parameter or [])
    if args.out:
        out_dir = Path(args.out)
    elif args.params:
        out_dir = config.RUNS_DIR / Path(args.params).stem
    elif params:
        out_dir = config.RUNS_DIR / "custom"
    else:
        out_dir = config.NOTEBOOKS_DIR
    if not out_dir.is_absolute():
        out_dir = config.PROJ_ROOT / out_dir
    started = time.perf_counter()
    run_notebooks(params, out_dir, args.only)
    print(
        f"Pipeline finished in {(time.perf_counter() - started) / 60:.1f} "
        f"min; notebooks in {config.display_path(out_dir)}/"
    )
    return 0


def add_command(commands) -> None:
    run = commands.add_parser(
        "run",
        help="run the notebooks headless with papermill",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--params", help="a YAML file of parameters (see params/)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"), help="set one parameter")
    run.add_argument("--out", help="where executed notebooks (and, outside notebooks/, models and reports) go")
    run.add_argument("--only", nargs="+", metavar="PREFIX", help="run only these notebooks, e.g. --only 03 04")
    run.set_defaults(handler=_run)
