"""Parameter sweeps: a grid of training configurations x seeds, run as Dask tasks, collected in
one tidy table.

    python -m digitlib sweep params/sweeps/NAME.yaml                      # a LocalCluster on this machine
    python -m digitlib sweep params/sweeps/NAME.yaml --scheduler tcp://HOST:8786   # an existing cluster

A sweep file names what every run shares (`base`), what varies (`variants`, named changes made
one at a time, each with its own `seeds` if it says so; `grid`, every combination of the values
listed) and the `seeds`. Every run trains
through `training.train` in a fresh Python process, so one run's TensorFlow state cannot leak into
the next, and adds one row to `reports/sweeps/NAME.csv` as soon as it finishes: the parameters,
the seed, validation metrics, test metrics only when the file says `test_metrics: true` (final
figures of finished recipes, never for choosing), the training time, library versions and the
status. Each run's per-epoch history (training and validation loss and accuracy) is kept in
`reports/sweeps/NAME/histories/RUN.csv`. A file that says `interface_outputs: true` also keeps,
per run, what the interface's uncertainty rule reads of the run's validation digits
(`reports/sweeps/NAME/RUN.csv`), the data its thresholds are chosen on. Rerunning the command
skips the runs already in the table; a failed run is recorded with its error and the others go on.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitlib import config, evaluation
from digitlib.parameters import ParameterError, read_params
from digitlib.pictures import number_tables, predict, rule, synthetic

TABLES_DIR = config.REPORTS_DIR / "sweeps"
RUNS_DIR = config.RUNS_DIR / "sweeps"
FILE_KEYS = {"description", "base", "variants", "grid", "seeds", "test_metrics", "interface_outputs"}
LEADING_COLUMNS = [
    "run",
    "variant",
    "seed",
    "status",
    "val_accuracy",
    "val_loss",
    "test_accuracy",
    "test_loss",
    "train_seconds",
    "epochs_trained",
    "training_images",
    "validation_images",
]


@dataclass(frozen=True)
class Run:
    """One training of a sweep: a variant's parameters with one seed."""

    name: str
    variant: str
    seed: int
    params: dict[str, Any] = field(hash=False)
    test_metrics: bool = False
    interface_outputs: bool = False

    @property
    def fingerprint(self) -> str:
        """A short hash of the run's whole recipe, the sweep file's parameters over the current
        defaults: a run whose file entry changed, or whose defaults changed, is not "finished"."""
        from digitlib.training import TrainConfig

        try:
            recipe = TrainConfig.from_params(self.params).as_params()
        except ParameterError:  # a bad parameter set: its run fails and is recorded as failed
            recipe = dict(self.params)
        recipe = {name: value for name, value in recipe.items() if name not in ("MODEL_NAME", "TENSORBOARD")}
        outputs = {"TEST_METRICS": self.test_metrics, "INTERFACE_OUTPUTS": self.interface_outputs}
        text = json.dumps({**recipe, **outputs}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]


def load_sweep(path: str | os.PathLike) -> list[Run]:
    """The runs a sweep file asks for, in order: variants x grid combinations x seeds."""
    spec = read_params(path)
    unknown = sorted(set(spec) - FILE_KEYS)
    if unknown:
        raise ParameterError(
            f"{path}: unknown key(s) {', '.join(unknown)}; a sweep file has {', '.join(sorted(FILE_KEYS))}"
        )
    base = dict(spec.get("base") or {})
    variants = dict(spec.get("variants") or {"base": {}})
    grid = dict(spec.get("grid") or {})
    seeds = spec.get("seeds", [config.SEED])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise ParameterError(f"{path}: seeds must be a list of whole numbers, got {seeds!r}")
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ParameterError(f"{path}: grid {name} must be a list of values, got {values!r}")
    test_metrics = bool(spec.get("test_metrics", False))
    interface_outputs = bool(spec.get("interface_outputs", False))
    runs = []
    for variant, changes in variants.items():
        changes = dict(changes or {})
        variant_seeds = changes.pop("seeds", seeds)  # a variant may name its own seeds
        if not isinstance(variant_seeds, list) or not all(isinstance(s, int) for s in variant_seeds):
            raise ParameterError(f"{path}: {variant}'s seeds must be a list of whole numbers, got {variant_seeds!r}")
        for combination in itertools.product(*grid.values()):
            chosen = dict(zip(grid, combination))
            label = "-".join([str(variant)] + [f"{k.lower()}{v}" for k, v in chosen.items()])
            for seed in variant_seeds:
                params = {**base, **changes, **chosen, "SEED": seed}
                runs.append(Run(f"{label}-seed{seed}", label, seed, params, test_metrics, interface_outputs))
    if not test_metrics:
        held_out = [run.name for run in runs if not run.params.get("VALIDATION_SIZE")]
        if held_out:  # the protocol: without test metrics, validation is all a sweep can be scored on
            raise ParameterError(
                f"{path}: runs {', '.join(held_out[:3])} hold out no validation images; "
                f"set VALIDATION_SIZE in base (choices are made on validation, not on the test set)"
            )
    return runs


def run_in_fresh_process(run: Run, threads: int, runs_dir: str, outputs_dir: str = "") -> dict[str, Any]:
    """Train one run in a new Python process and return its row (status "failed" with the error
    when it fails). This is the task each Dask worker executes. Runs of a sweep that asks for
    `interface_outputs` also write their `rule.rule_table` to `outputs_dir/RUN.csv`; every run writes
    its history to `outputs_dir/histories/RUN.csv`."""
    started = time.perf_counter()
    command = [
        sys.executable,
        "-m",
        "digitlib.research.sweep",
        "--one",
        json.dumps(run.params),
        "--threads",
        str(threads),
        "--run-dir",
        str(Path(runs_dir) / f"{run.name}-{run.fingerprint}"),
        "--history",
        str(history_path(Path(outputs_dir), run.name)),
    ]  # resumes a killed run's backup
    if run.test_metrics:
        command.append("--test-metrics")
    if run.interface_outputs:
        command += ["--interface-outputs", str(Path(outputs_dir) / f"{run.name}.csv")]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=config.PROJ_ROOT)
    row: dict[str, Any] = {"run": run.name, "variant": run.variant, "seed": run.seed, "fingerprint": run.fingerprint}
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines:
        row.update(json.loads(lines[-1]), status="ok", error="")
    else:
        error = (done.stderr.strip().splitlines() or ["no output"])[-1]
        row.update(status="failed", error=error[:500], train_seconds=round(time.perf_counter() - started, 1))
    return {**row, **{name: _cell(value) for name, value in run.params.items()}}


def _cell(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool)) or value is None else json.dumps(value)


def train_one(
    params: dict[str, Any],
    run_dir: Path,
    test_metrics: bool,
    interface_outputs: Path | None = None,
    history: Path | None = None,
) -> dict[str, Any]:
    """One run, in this process: train through the recipe, score on validation (and, when the sweep
    allows it, on the test set); with `interface_outputs`, write there what the interface's
    uncertainty rule reads of the run's validation digits and of generated non-digits."""
    from digitlib import data, records, training

    recipe = training.TrainConfig.from_params(params).replace(tensorboard=False, model_name="model")
    result = training.train(recipe, config.run_paths(run_dir), verbose=False)
    if history:
        history.parent.mkdir(parents=True, exist_ok=True)
        result.histories["model"].to_csv(history, index=False)
    row: dict[str, Any] = {
        "train_seconds": round(result.seconds, 1),
        "epochs_trained": result.record["epochs_trained"],
        "training_images": result.record["training_images"],
        "validation_images": result.record["validation_images"],
    }
    # the split and the saved model once, for every score below (the interface's outputs read the
    # model through the predictor, with the model's own probabilities)
    split = training.split_data(recipe)
    predictor = predict.Predictor(result.model_path, temperature=1.0) if interface_outputs else None
    model = predictor.model if predictor else result.load_model()
    if len(split.x_val):
        row.update({f"val_{key}": value for key, value in result.saved_metrics.items()})
        for shifts in evaluation.TTA_SHIFT_CHOICES[1:]:  # the same model read with test-time augmentation
            probabilities = evaluation.predict_probabilities(model, split.x_val, tta_shifts=shifts)
            row[f"val_tta{shifts}_accuracy"] = round(
                evaluation.accuracy_and_loss(probabilities, split.y_val)["accuracy"], 5
            )
    if test_metrics:
        _, (x_test, y_test) = data.load_mnist(fetch=False)
        scores = evaluation.accuracy_and_loss(evaluation.predict_probabilities(model, x_test), y_test)
        row.update({f"test_{key}": round(value, 5) for key, value in scores.items()})
    if interface_outputs and predictor:
        write_interface_outputs(split, predictor, interface_outputs, seed=recipe.seed)
    versions = records.library_versions()
    row.update({f"version_{name}": versions[name] for name in ("tensorflow", "keras", "numpy", "python")})
    return row


VALIDATION_NUMBERS_PER_GAP = 150  # numbers composed of a run's validation digits, per gap


def write_interface_outputs(split: Any, predictor: Any, table_path: Path, seed: int) -> None:
    """What the interface reads of a run's validation digits, for choosing its calibration and
    thresholds without the model: `table_path` (a CSV) holds `rule_table_on_validation`,
    `numbers_path(table_path)` the `number_tables.number_pieces` of numbers composed of the same
    digits, and `probabilities_path(table_path)` the probabilities of `predictor` (a
    `predict.Predictor` at temperature 1: the model's own) for each row of both tables
    (`pictures`, `number_pieces`) and for the plain validation images, with their labels."""
    import numpy as np

    table, pictures = rule_table_on_validation(split, predictor, seed=seed)
    pieces, piece_probabilities = number_tables.number_pieces(
        predictor, split.x_val, split.y_val, numbers=VALIDATION_NUMBERS_PER_GAP, seed=seed
    )
    numbers_path(table_path).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(table_path, index=False)
    pieces.to_csv(numbers_path(table_path), index=False)
    np.savez_compressed(
        probabilities_path(table_path),
        pictures=pictures.astype(np.float32),
        number_pieces=piece_probabilities,
        validation=evaluation.predict_probabilities(predictor.model, split.x_val).astype(np.float32),
        validation_labels=split.y_val.astype(np.int8),
    )


def history_path(outputs_dir: Path, run: str) -> Path:
    """Where a run's per-epoch history goes: `outputs_dir/histories/RUN.csv`."""
    return outputs_dir / "histories" / f"{run}.csv"


def probabilities_path(table_path: Path) -> Path:
    return table_path.with_name(f"{table_path.stem}-probabilities.npz")


def numbers_path(table_path: Path) -> Path:
    """Where a run's validation numbers go: a folder of their own, beside the run's table."""
    return table_path.parent / "numbers" / table_path.name


def rule_table_on_validation(split: Any, predictor: Any, seed: int, non_digits: int = 300) -> tuple[Any, Any]:
    """`rule.rule_table` of `predictor` on the validation digits of `split` (a
    `training.TrainingData`), each delivered as a file in one of `synthetic.VARIATIONS` in turn, and
    on `non_digits` generated non-digits and as many crops of photographs (label -1), seeded by
    `seed`; with the predictor's probabilities, which are returned too, one row per picture."""
    import numpy as np

    if not len(split.x_val):
        raise ParameterError("interface outputs need validation images: set VALIDATION_SIZE")
    files, kinds = synthetic.delivered_in_turn(split.x_val, np.random.default_rng(seed))
    others = synthetic.non_digit_images(non_digits, seed=1000 + seed)  # not the sets 04 and 06 show
    crops = synthetic.photo_crops(non_digits, seed=1000 + seed)
    labels = np.concatenate([split.y_val, np.full(len(others) + len(crops), -1)])
    predictions = predictor.predict_batch(files + others + crops)
    table = rule.rule_table(predictions, labels)
    table.insert(1, "delivered_as", kinds + ["non-digit"] * len(others) + ["photo crop"] * len(crops))
    return table, np.stack([prediction.probabilities for prediction in predictions])


def read_table(path: Path) -> Any:
    """A sweep's table so far (an empty DataFrame when it has no rows yet)."""
    import pandas as pd

    return pd.read_csv(path) if path.exists() and path.stat().st_size else pd.DataFrame()


def write_table(rows: list[dict[str, Any]], path: Path) -> None:
    """Write the table whole, through a temporary file, so a kill never leaves half a table."""
    import pandas as pd

    table = pd.DataFrame(rows)
    # every table has the same leading columns: empty test metrics say "not measured", not "missing"
    columns = LEADING_COLUMNS + sorted(c for c in table if c not in LEADING_COLUMNS)
    table = table.reindex(columns=columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".csv.part")
    table.to_csv(partial, index=False)
    partial.replace(path)


def start_client(scheduler: str | None, workers: int) -> Any:
    """A Dask client: of the cluster at `scheduler`, or of a LocalCluster of `workers` one-thread workers.

    Each run is a subprocess that does the real work, so a worker only needs one thread to wait on it."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler)
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
    )
    return Client(cluster)


def sweep(
    path: str | os.PathLike,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    table: Path | None = None,
    runs_dir: Path | None = None,
) -> Path:
    """Run every unfinished run of the sweep file `path` and return the table's path.

    `workers` runs at a time (default: the LocalCluster default, see `DEFAULT_WORKERS`); each run's
    TensorFlow gets this machine's cores divided among them."""
    path = Path(path)
    runs = load_sweep(path)
    table = table or TABLES_DIR / f"{path.stem}.csv"
    runs_dir = runs_dir or RUNS_DIR / path.stem
    outputs_dir = table.with_suffix("")  # reports/sweeps/NAME/: histories, interface outputs
    existing = read_table(table)
    finished = {}
    if len(existing):
        for row in existing.to_dict("records"):
            if row.get("status") == "ok":
                finished[(row["run"], row.get("fingerprint"))] = row
    rows = [finished[(run.name, run.fingerprint)] for run in runs if (run.name, run.fingerprint) in finished]
    todo = [run for run in runs if (run.name, run.fingerprint) not in finished]
    for row in rows:
        print(f"[skip] {row['run']}: finished earlier ({_scores(row)})", flush=True)
    print(
        f"{path.stem}: {len(runs)} runs, {len(rows)} finished "
        f"earlier, {len(todo)} to run -> {config.display_path(table)}",
        flush=True,
    )
    if not todo:
        write_table(rows, table)
        return table
    workers = workers or DEFAULT_WORKERS
    threads = max(1, (os.cpu_count() or 1) // workers) if not scheduler else 0
    from dask.distributed import as_completed

    client = start_client(scheduler, workers)
    try:
        started = time.perf_counter()
        futures = [
            client.submit(
                run_in_fresh_process,
                run,
                threads,
                str(runs_dir),
                str(outputs_dir),
                key=f"{path.stem}-{run.name}",
                pure=False,
            )
            for run in todo
        ]
        names = {future.key: run.name for future, run in zip(futures, todo)}
        for count, future in enumerate(as_completed(futures), 1):
            try:
                row = future.result()
            except Exception as error:  # the worker itself died: record it, go on
                row = {"run": names[future.key], "status": "failed", "error": f"{type(error).__name__}: {error}"[:500]}
            rows.append(row)
            write_table(rows, table)
            left = len(todo) - count
            elapsed = time.perf_counter() - started
            eta = f", about {elapsed / count * left / 60:.1f} min left" if left else ""
            print(f"[{count}/{len(todo)}] {row['run']}: {_scores(row)}; {left} left{eta}", flush=True)
    finally:
        client.close()
        if not scheduler and client.cluster is not None:
            client.cluster.close()
    return table


LEVEL = 0.95  # every interval's level: a paired difference is a finding when its interval excludes 0


def summarize(table: Any, metric: str = "val_accuracy", baseline: str = "default", level: float = LEVEL) -> Any:
    """Per variant of a sweep's table: the runs, the mean of `metric` with its `level` t-interval,
    and against `baseline` on the same seeds the mean paired difference with its interval, and
    whether that interval holds 0 (the difference is within noise). Failed runs are left out."""
    import pandas as pd

    done = table[table["status"] == "ok"]
    reference = done[done["variant"] == baseline].set_index("seed")[metric]
    rows = []
    for variant, group in done.groupby("variant", sort=False):
        mean, low, high = evaluation.mean_interval(group[metric].to_numpy(), level)
        row: dict[str, Any] = {"variant": variant, "seeds": len(group), "mean": mean, "low": low, "high": high}
        if variant != baseline and len(reference):
            paired = (group.set_index("seed")[metric] - reference).dropna()
            difference, difference_low, difference_high = evaluation.mean_interval(paired.to_numpy(), level)
            row.update(
                paired_seeds=len(paired),
                difference=difference,
                difference_low=difference_low,
                difference_high=difference_high,
                within_noise=bool(difference_low <= 0 <= difference_high) if len(paired) > 1 else None,
            )
        rows.append(row)
    return pd.DataFrame(rows).set_index("variant")


def tta_readings(table: Any) -> Any:
    """A sweep table's finished runs three times over: as scored (`val_accuracy`), and read with
    test-time augmentation of 4 and 8 shifts, as variants named "NAME + TTA 4" and "NAME + TTA 8",
    so that `summarize` compares every reading with a baseline, seed by seed."""
    import pandas as pd

    done = table[table["status"] == "ok"]
    readings = [("", "val_accuracy"), (" + TTA 4", "val_tta4_accuracy"), (" + TTA 8", "val_tta8_accuracy")]
    return pd.concat(
        [done.assign(variant=done["variant"] + suffix, val_accuracy=done[column]) for suffix, column in readings]
    )


def compare(table: Any, pairs: list[tuple[str, str]], metric: str = "val_accuracy", level: float = LEVEL) -> Any:
    """`summarize`'s row of each variant of `pairs` (variant, baseline) against its own baseline, seed
    by seed, with `against` naming the baseline and `time_ratio` the median over seeds of the
    variant's training time over the baseline's; a pair without finished runs of both is left out."""
    import pandas as pd

    done = table[table["status"] == "ok"]
    seconds = done.pivot_table(index="seed", columns="variant", values="train_seconds")
    rows = [
        summarize(done[done["variant"].isin([variant, baseline])], metric, baseline, level)
        .loc[[variant]]
        .assign(against=baseline, time_ratio=(seconds[variant] / seconds[baseline]).median())
        for variant, baseline in pairs
        if variant in seconds and baseline in seconds
    ]
    return pd.concat(rows) if rows else pd.DataFrame()


def findings(summary: Any) -> Any:
    """The rows of a summary whose paired interval excludes 0."""
    return summary[summary["within_noise"] == False]  # noqa: E712 (a column of True, False and NaN)


def points(value: float) -> str:
    """A difference of accuracies in signed points, with a third decimal where two would round an
    interval's end to zero and hide which side of it the end lies."""
    return f"{100 * value:+.2f}" if abs(100 * value) >= 0.005 else f"{100 * value:+.3f}"


def in_words(row: Any) -> str:
    """A paired difference in points with its interval, in bold when it is a finding:
    '+0.08 (-0.10 to +0.26)', '**+0.07** (+0.04 to +0.10)'."""
    shown = points(row["difference"])
    shown = shown if row["within_noise"] else f"**{shown}**"
    return f"{shown} ({points(row['difference_low'])} to {points(row['difference_high'])})"


def tally(summary: Any) -> str:
    """How many comparisons a summary makes and which are findings, beside how many its intervals
    would exclude 0 by chance alone if no variant differed from its baseline."""
    compared = summary.dropna(subset=["difference"]) if "difference" in summary else summary.iloc[:0]
    found = findings(compared)
    named = f" ({', '.join(found.index)})" if len(found) else ""
    return (
        f"{len(compared)} comparison{'' if len(compared) == 1 else 's'}, "
        f"{len(found)} finding{'' if len(found) == 1 else 's'}{named}; "
        f"chance alone would give about {(1 - LEVEL) * len(compared):.1f}"
    )


def read_alike(pairs: list[tuple[str, str]], reading: str = " + TTA 8") -> list[tuple[str, str]]:
    """`compare`'s pairs for `tta_readings`: each (variant, baseline) read once against read once,
    then with `reading` against the baseline with the same reading."""
    return [(variant + suffix, baseline + suffix) for variant, baseline in pairs for suffix in ("", reading)]


def comparison_names(summary: Any) -> Any:
    """A `compare` table with its rows named for a figure: 'A vs B, read once', 'A vs B, TTA 8', or
    'A: TTA 8 vs read once' for a model against itself."""

    def name(variant: str, against: str) -> str:
        base, _, reading = variant.partition(" + ")
        if base == against:
            return f"{base}: {reading} vs read once"
        return f"{base} vs {against.partition(' + ')[0]}, {reading or 'read once'}"

    return summary.set_axis([name(variant, against) for variant, against in zip(summary.index, summary["against"])])


def epochs_of(table: Any, variant: str = "default") -> int:
    """The epochs a variant of a sweep's table trained: its EPOCHS, or, in a table that records
    none (the sweep file left it to the defaults), the epochs its runs trained."""
    rows = table[(table["variant"] == variant) & (table["status"] == "ok")]
    return int(rows.get("EPOCHS", rows["epochs_trained"]).max())


def readable(summary: Any) -> Any:
    """A summary as notebook 05 shows it: percentages, points, each interval in words, and whether
    the paired difference is a finding (its interval excludes 0)."""
    paired = ["difference", "difference_low", "difference_high", "within_noise"]
    summary = summary.reindex(columns=[*summary.columns, *(name for name in paired if name not in summary)])
    level = f"{100 * LEVEL:g} %"

    shown = summary.assign(
        **{
            "mean (%)": 100 * summary["mean"],
            f"{level} interval (%)": [
                f"{100 * low:.2f}-{100 * high:.2f}" for low, high in zip(summary["low"], summary["high"])
            ],
            "paired difference (points)": 100 * summary["difference"].astype(float),
            f"its {level} interval": [
                f"{points(low)} to {points(high)}" if low == low else ""
                for low, high in zip(summary["difference_low"], summary["difference_high"])
            ],
            "finding": summary["within_noise"].map({True: "no", False: "yes"}).fillna(""),
            "time vs baseline": summary.get("time_ratio"),
        }
    )
    columns = ["against"] if "against" in summary else []
    columns += ["seeds", "mean (%)", f"{level} interval (%)", "paired difference (points)", f"its {level} interval"]
    columns += ["finding"] + (["time vs baseline"] if "time_ratio" in summary else [])
    return shown[columns].round(3)


def _scores(row: dict[str, Any]) -> str:
    if row.get("status") != "ok":
        return f"FAILED ({row.get('error', '')})"
    shown = [f"validation {100 * row['val_accuracy']:.2f} %"] if _present(row.get("val_accuracy")) else []
    if _present(row.get("test_accuracy")):
        shown.append(f"test {100 * row['test_accuracy']:.2f} %")
    return ", ".join(shown + [f"{row.get('train_seconds', 0):.0f} s"])


def _present(value: Any) -> bool:
    return value is not None and value == value  # NaN from a CSV is absent


# Runs at a time on a LocalCluster: one per core, each with one thread, the faster layout on 2 cores
# in reports/sweep_benchmark.md (benchmarks/sweep_benchmark.py measures it again).
DEFAULT_WORKERS = os.cpu_count() or 1


def _sweep_command(args: argparse.Namespace) -> int:
    table = sweep(
        args.file, scheduler=args.scheduler, workers=args.workers, table=Path(args.table) if args.table else None
    )
    rows = read_table(table)
    failed = int((rows["status"] != "ok").sum()) if len(rows) else 0
    print(f"table: {config.display_path(table)} ({len(rows)} runs, {failed} failed)")
    return 1 if failed else 0


def add_command(commands: Any) -> None:
    command = commands.add_parser(
        "sweep",
        help="run a grid of training parameters x seeds on Dask",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("file", help="a sweep file, e.g. params/sweeps/smoke.yaml")
    command.add_argument("--scheduler", help="address of an existing Dask scheduler, e.g. tcp://HOST:8786")
    command.add_argument("--workers", type=int, help="runs at a time on the local cluster")
    command.add_argument("--table", help="where the table goes (default reports/sweeps/NAME.csv)")
    command.set_defaults(handler=_sweep_command)


def _main_one(argv: list[str]) -> int:
    """`python -m digitlib.research.sweep --one PARAMS_JSON ...`: one run, its row as the last line of stdout."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", required=True)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--test-metrics", action="store_true")
    parser.add_argument("--interface-outputs")
    parser.add_argument("--history")
    args = parser.parse_args(argv)
    from digitlib import runtime

    tf = runtime.import_tensorflow()
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    outputs = Path(args.interface_outputs) if args.interface_outputs else None
    history = Path(args.history) if args.history else None
    row = train_one(json.loads(args.one), Path(args.run_dir), args.test_metrics, outputs, history)
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(_main_one(sys.argv[1:]))
