"""Accuracy per CPU minute: the Keras "Simple MNIST convnet" recipe against our quick and default
presets, trained side by side on this machine, over several seeds, and the ensemble of the
default runs (what params/best.yaml trains). Also: dataset load time and inference
latency/throughput. Writes reports/benchmarks.md and reports/benchmarks.json.

Every test accuracy is given twice: the saved model read once per picture, and with test-time
augmentation (the picture and its `config.TTA_SHIFTS` one-pixel shifts averaged, "TTA").

    python benchmarks/train_benchmark.py                 # everything, 5 seeds (about 40 min on 2 cores)
    python benchmarks/train_benchmark.py --seeds 1 --presets quick baseline

Our presets train through `digitlib.training.train`, the function notebook 03 calls, with the
defaults of `TrainConfig` (or params/quick.yaml); the baseline is the Keras example's own `fit`
(`keras_recipe.py`, which the GPU check trains too).
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

import keras_recipe  # noqa: E402  (beside this script)

from digitlib import config, data, runtime, training  # noqa: E402
from digitlib.pictures import predict, preprocess  # noqa: E402

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

    from digitlib import evaluation

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

    if preset == "baseline":  # the Keras example, as described (keras_recipe.py)
        epochs = keras_recipe.EPOCHS
        saved, train_images = keras_recipe.train_keras_recipe(x_all, y_all, callbacks=[TestAccuracy()])
    else:  # the project's recipe, through the one function that trains it
        recipe = preset_config(preset, seed)
        epochs = recipe.epochs
        # a fresh folder: a leftover backup of a killed run would otherwise be resumed
        run_dir = PROBABILITIES_DIR / f"{preset}-{seed}"
        shutil.rmtree(run_dir, ignore_errors=True)
        result = training.train(recipe, config.run_paths(run_dir), callbacks=[TestAccuracy()], verbose=False)
        train_images = result.record["training_images"]
        # the saved model: averaged weights and recalibrated batch norm, as notebook 04 scores it
        saved = result.load_model()
    probabilities = evaluation.predict_probabilities(saved, x_test)
    with_tta = evaluation.predict_probabilities(saved, x_test, tta_shifts=config.TTA_SHIFTS)
    PROBABILITIES_DIR.mkdir(parents=True, exist_ok=True)
    np.save(PROBABILITIES_DIR / f"{preset}-{seed}.npy", probabilities)
    np.save(PROBABILITIES_DIR / f"{preset}-{seed}-tta.npy", with_tta)
    wall = timeline[-1][0]
    reached = next((t for t, accuracy in timeline if accuracy >= 0.99), None)
    return {
        "preset": preset,
        "seed": seed,
        "epochs": epochs,
        "train_seconds": wall,
        "seconds_to_99": reached,
        "test_accuracy": float((probabilities.argmax(1) == y_test).mean()),
        "test_accuracy_tta": float((with_tta.argmax(1) == y_test).mean()),
        "tta_shifts": config.TTA_SHIFTS,
        "images_per_second": epochs * train_images / wall,
        "seconds_per_epoch": wall / epochs,
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "tensorflow": tf.__version__,
    }


def inference_figures(model_path: Path) -> dict:
    """Dataset load time; one picture (PNG bytes) through preprocess + predict; batch throughput."""
    from digitlib import evaluation

    loads = []
    for _ in range(5):
        started = time.perf_counter()
        data.load_mnist(fetch=False)
        loads.append(time.perf_counter() - started)
    _, (x_test, _) = data.load_mnist(fetch=False)
    predictor = predict.Predictor(model_path)
    latency = predict.picture_latency(predictor, [preprocess.encode_image(x_test[i]) for i in range(300)])
    speed = evaluation.throughput(predictor.model, x_test, batch_size=1000)
    return {
        "load_seconds_median": float(np.median(loads)),
        **latency,
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


def ensemble_figures(results: list[dict]) -> dict | None:
    """The default runs' test probabilities averaged (an ensemble of them): its accuracy and cost."""
    defaults = [r for r in results if r["preset"] == "default"]
    if len(defaults) < 2:
        return None
    _, (_, y_test) = data.load_mnist(fetch=False)

    def accuracy(suffix: str) -> float:
        averaged = np.mean([np.load(PROBABILITIES_DIR / f"default-{r['seed']}{suffix}.npy") for r in defaults], 0)
        return float((averaged.argmax(1) == y_test).mean())

    return {
        "members": len(defaults),
        "epochs": defaults[0]["epochs"],
        "test_accuracy": accuracy(""),
        "test_accuracy_tta": accuracy("-tta"),
        "train_seconds": sum(r["train_seconds"] for r in defaults),
    }


def report(results: list[dict], inference: dict | None, seeds: int) -> str:
    by_preset = {
        name: [r for r in results if r["preset"] == name]
        for name in PRESETS
        if any(r["preset"] == name for r in results)
    }
    base = by_preset.get("baseline")
    shifts = results[0].get("tta_shifts", config.TTA_SHIFTS)
    lines = [
        "# Benchmarks: accuracy per CPU minute",
        "",
        f"Measured by `make bench` (`python benchmarks/train_benchmark.py`) on {platform.machine()}, "
        f"{__import__('os').cpu_count()} CPU cores, TensorFlow {results[0]['tensorflow']}, {seeds} seed(s) per preset, "
        "each run in its own process. Times are medians with (min–max) over the seeds; wall time is training "
        "only (the per-epoch test evaluation that finds the time to 99.0 % is excluded). The ratio is to the "
        "Keras recipe's median in this same run. Test accuracy is given for the saved model read once per "
        f"picture and with test-time augmentation (TTA: the picture and its {shifts} one-pixel shifts averaged).",
        "",
        "| preset | epochs | train time (s) | time ratio | time to 99.0 % (s) | test accuracy (%): mean / min / max "
        "| with TTA (%): mean / min / max | train images/s | peak memory (MB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    base_seconds = _median(base, "train_seconds") if base else None

    def accuracies(rows: list[dict], key: str) -> str:
        values = [100 * r[key] for r in rows if r.get(key) is not None]
        return f"{np.mean(values):.2f} / {min(values):.2f} / {max(values):.2f}" if values else "n/a"

    for name, rows in by_preset.items():
        seconds = _median(rows, "train_seconds")
        ratio = f"{seconds / base_seconds:.2f}x" if seconds and base_seconds else "n/a"
        lines.append(
            f"| {name} | {rows[0]['epochs']} | {_spread(rows, 'train_seconds', digits=0)} | {ratio} "
            f"| {_spread(rows, 'seconds_to_99', digits=0)} | {accuracies(rows, 'test_accuracy')} "
            f"| {accuracies(rows, 'test_accuracy_tta')} | {_spread(rows, 'images_per_second', digits=0)} "
            f"| {_spread(rows, 'peak_memory_mb', digits=0)} |"
        )
    ensemble = ensemble_figures(results)
    if ensemble:
        ratio = f"{ensemble['train_seconds'] / base_seconds:.2f}x" if base_seconds else "n/a"
        lines.append(
            f"| ensemble of the {ensemble['members']} default runs "
            f"(params/best.yaml: `ENSEMBLE={ensemble['members']}`) "
            f"| {ensemble['members']} x {ensemble['epochs']} | {ensemble['train_seconds']:.0f} | {ratio} | "
            f"| {100 * ensemble['test_accuracy']:.2f} | {100 * ensemble['test_accuracy_tta']:.2f} | | |"
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
    parser.add_argument("--seeds", type=int, default=5)
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
        json.dumps({"runs": results, "ensemble": ensemble_figures(results), "inference": inference}, indent=2) + "\n"
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
