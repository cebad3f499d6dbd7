"""Accuracy per CPU minute: the Keras "Simple MNIST convnet" recipe against our quick and default
presets, trained side by side on this machine, over several seeds. Also: dataset load time and
inference latency/throughput. Writes reports/benchmarks.md.

    python benchmarks/train_benchmark.py                 # everything, 3 seeds (about 50 min on 2 cores)
    python benchmarks/train_benchmark.py --seeds 1 --presets quick baseline

Our presets train through `digitlib.training.train`, the function notebook 03 calls, with the
defaults of `TrainConfig` (or params/quick.yaml); the baseline is the Keras example's own `fit`.
Each training run is a separate process, so its peak memory is its own. Wall time counts the time
in `fit` only: the per-epoch test evaluation used to find "time to 99.0 %" is timed and subtracted,
and the saving and bookkeeping after `fit` are left out.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digitlib import config, data, runtime, training  # noqa: E402

PRESETS = ("baseline", "quick", "default")
PROBABILITIES_DIR = config.RUNS_DIR / "bench"  # each run's test-set probabilities, for the ensemble row


def preset_config(name: str, seed: int) -> training.TrainConfig:
    """The recipe notebook 03 trains: its defaults ("default"), or a preset's file (params/NAME.yaml)."""
    recipe = (
        training.TrainConfig()
        if name == "default"
        else training.TrainConfig.from_yaml(config.PARAMS_DIR / f"{name}.yaml")
    )
    return recipe.replace(seed=seed, model_name=name, tensorboard=False)


def train_once(preset: str, seed: int) -> dict:
    """Train one preset with one seed; report time to 99 %, final test accuracy, speed."""
    tf = runtime.import_tensorflow()
    keras = runtime.keras()

    from digitlib import models

    runtime.set_seeds(seed)
    (x_all, y_all), (x_test, y_test) = data.load_mnist(fetch=False)
    x_eval = data.to_model_input(x_test)
    timeline: list[tuple[float, float]] = []

    class TestAccuracy(keras.callbacks.Callback):
        """After each epoch: test accuracy, with the time spent measuring it excluded."""

        def on_train_begin(self, logs=None):
            self.started, self.excluded = time.perf_counter(), 0.0

        def on_epoch_end(self, epoch, logs=None):
            paused = time.perf_counter()
            accuracy = float((self.model.predict(x_eval, batch_size=1000, verbose=0).argmax(1) == y_test).mean())
            self.excluded += time.perf_counter() - paused
            timeline.append((paused - self.started - self.excluded + 0.0, accuracy))

    if preset == "baseline":  # the Keras example, as described: NumPy arrays straight into fit
        epochs, batch_size = 15, 128
        model = models.simple_convnet()
        model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        x_train, y_train = data.prepare(x_all, y_all, one_hot_labels=True)
        train_images = int(len(x_train) * 0.9)
        model.fit(
            x_train,
            y_train,
            batch_size=batch_size,
            epochs=epochs,
            validation_split=0.1,
            verbose=0,
            callbacks=[TestAccuracy()],
        )
        probabilities = model.predict(x_eval, batch_size=1000, verbose=0)
    else:  # the project's recipe, through the one function that trains it
        recipe = preset_config(preset, seed)
        epochs = recipe.epochs
        # a fresh folder: a leftover backup of a killed run would otherwise be resumed
        run_dir = PROBABILITIES_DIR / f"{preset}-{seed}"
        shutil.rmtree(run_dir, ignore_errors=True)
        result = training.train(recipe, config.run_paths(run_dir), callbacks=[TestAccuracy()], verbose=False)
        train_images = result.record["training_images"]
        # the saved model: averaged weights and recalibrated batch norm, as notebook 04 scores it
        probabilities = result.load_model().predict(x_eval, batch_size=1000, verbose=0)
    PROBABILITIES_DIR.mkdir(parents=True, exist_ok=True)
    np.save(PROBABILITIES_DIR / f"{preset}-{seed}.npy", probabilities)
    wall = timeline[-1][0]
    reached = next((t for t, accuracy in timeline if accuracy >= 0.99), None)
    return {
        "preset": preset,
        "seed": seed,
        "epochs": epochs,
        "train_seconds": wall,
        "seconds_to_99": reached,
        "test_accuracy": float((probabilities.argmax(1) == y_test).mean()),
        "images_per_second": epochs * train_images / wall,
        "seconds_per_epoch": wall / epochs,
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "tensorflow": tf.__version__,
    }


def inference_figures(model_path: Path) -> dict:
    """Dataset load time; one picture (PNG bytes) through preprocess + predict; batch throughput."""
    from digitlib import evaluation, preprocess
    from digitlib.predict import Predictor

    loads = []
    for _ in range(5):
        started = time.perf_counter()
        data.load_mnist(fetch=False)
        loads.append(time.perf_counter() - started)
    _, (x_test, _) = data.load_mnist(fetch=False)
    predictor = Predictor(model_path)
    files = [preprocess.encode_image(x_test[i]) for i in range(300)]
    latencies = []
    for picture in files:
        started = time.perf_counter()
        predictor.predict(picture)
        latencies.append(1000 * (time.perf_counter() - started))
    speed = evaluation.throughput(predictor.model, x_test, batch_size=1000)
    return {
        "load_seconds_median": float(np.median(loads)),
        "picture_p50_ms": float(np.percentile(latencies[20:], 50)),
        "picture_p99_ms": float(np.percentile(latencies[20:], 99)),
        "batch_images_per_second": speed["images_per_second"],
        "model": config.display_path(model_path),
    }


def _median(rows: list[dict], key: str):
    values = [row[key] for row in rows if row[key] is not None]
    return float(np.median(values)) if values else None


def _spread(rows: list[dict], key: str, scale: float = 1.0, digits: int = 1) -> str:
    values = [row[key] * scale for row in rows if row[key] is not None]
    if not values:
        return "not reached"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def report(results: list[dict], inference: dict | None, seeds: int) -> str:
    by_preset = {
        name: [r for r in results if r["preset"] == name]
        for name in PRESETS
        if any(r["preset"] == name for r in results)
    }
    base = by_preset.get("baseline")
    lines = [
        "# Benchmarks: accuracy per CPU minute",
        "",
        f"Measured by `make bench` (`python benchmarks/train_benchmark.py`) on {platform.machine()}, "
        f"{__import__('os').cpu_count()} CPU cores, TensorFlow {results[0]['tensorflow']}, {seeds} seed(s) per preset, "
        "each run in its own process. Medians, with (min–max) over the seeds. Wall time is training only "
        "(the per-epoch test evaluation that finds the time to 99.0 % is excluded).",
        "",
        "| preset | epochs | train time (s) | time to 99.0 % test (s) | test accuracy "
        "(%) | mean / min accuracy (%) | train images/s | s/epoch | peak memory (MB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, rows in by_preset.items():
        accuracies = [100 * r["test_accuracy"] for r in rows]
        lines.append(
            f"| {name} | {rows[0]['epochs']} | {_spread(rows, 'train_seconds', digits=0)} "
            f"| {_spread(rows, 'seconds_to_99', digits=0)} | "
            f"{_spread(rows, 'test_accuracy', 100, 2)} | {np.mean(accuracies):.2f} / {min(accuracies):.2f} | "
            f"{_spread(rows, 'images_per_second', digits=0)} | "
            f"{_spread(rows, 'seconds_per_epoch')} | {_spread(rows, 'peak_memory_mb', digits=0)} |"
        )
    defaults = by_preset.get("default", [])
    if len(defaults) > 1:
        _, (_, y_test) = data.load_mnist(fetch=False)
        averaged = np.mean([np.load(PROBABILITIES_DIR / f"default-{r['seed']}.npy") for r in defaults], axis=0)
        accuracy = 100 * float((averaged.argmax(1) == y_test).mean())
        seconds = sum(r["train_seconds"] for r in defaults)
        lines.append(
            f"| ensemble of the {len(defaults)} default runs (`ENSEMBLE={len(defaults)}`) "
            f"| {len(defaults)} x {defaults[0]['epochs']} | "
            f"{seconds:.0f} | | {accuracy:.2f} | | | | |"
        )
    if base:
        lines += [
            "",
            "Ratios against the baseline (medians, same machine, same run):",
            "",
            "| preset | time to 99.0 % | train time | test error | images/s |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for name, rows in by_preset.items():
            if name == "baseline":
                continue

            def ratio(key, transform=lambda v: v, rows=rows):
                ours, theirs = _median(rows, key), _median(base, key)
                return f"{transform(ours) / transform(theirs):.2f}x" if ours is not None and theirs else "n/a"

            lines.append(
                f"| {name} | {ratio('seconds_to_99')} | {ratio('train_seconds')} | "
                f"{ratio('test_accuracy', lambda v: 1 - v)} | {ratio('images_per_second')} |"
            )
    if inference:
        lines += [
            "",
            f"## Inference ({inference['model']})",
            "",
            f"- Loading the full dataset from `dataset/` (IDX, SHA-256 checked): "
            f"{1000 * inference['load_seconds_median']:.0f} ms (median of 5)",
            f"- One picture (PNG bytes) through preprocess + predict: p50 "
            f"{inference['picture_p50_ms']:.1f} ms, p99 {inference['picture_p99_ms']:.1f} ms",
            f"- Batch inference on the 10,000 test images: {inference['batch_images_per_second']:,.0f} images/s",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    parser.add_argument("--out", default=str(config.REPORTS_DIR / "benchmarks.md"))
    parser.add_argument("--model", default=str(config.MODELS_DIR / "cnn.keras"), help="model for the inference figures")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep runs already recorded under runs/bench/ (to finish an interrupted benchmark)",
    )
    parser.add_argument("--one", nargs=2, metavar=("PRESET", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(train_once(args.one[0], int(args.one[1]))))
        return 0
    results = []
    for seed in range(args.seeds):
        for preset in args.presets:
            record = PROBABILITIES_DIR / f"{preset}-{seed}.json"
            if args.reuse and record.exists():
                results.append(json.loads(record.read_text()))
                print(f"[seed {seed}] {preset}: reusing {config.display_path(record)}", flush=True)
                continue
            print(f"[seed {seed}] {preset} …", flush=True)
            run = subprocess.run([sys.executable, __file__, "--one", preset, str(seed)], capture_output=True, text=True)
            if run.returncode != 0:
                print(run.stderr[-3000:], file=sys.stderr)
                print("Runs finished so far are kept; rerun with --reuse to continue.", file=sys.stderr)
                return 1
            results.append(json.loads(run.stdout.strip().splitlines()[-1]))
            record.write_text(json.dumps(results[-1], indent=2) + "\n")
            r = results[-1]
            print(
                f"    {100 * r['test_accuracy']:.2f} % in {r['train_seconds']:.0f} s "
                f"(99.0 % after {r['seconds_to_99'] or float('nan'):.0f} s)",
                flush=True,
            )
    inference = inference_figures(Path(args.model)) if Path(args.model).exists() else None
    text = report(results, inference, args.seeds)
    Path(args.out).write_text(text)
    (Path(args.out).with_suffix(".json")).write_text(
        json.dumps({"runs": results, "inference": inference}, indent=2) + "\n"
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
