"""GPU check: the Keras "Simple MNIST convnet" recipe (`keras_recipe.py`) and the project's default
recipe (`training.train(TrainConfig())`, the function notebook 03 calls), trained one after the
other in one process on one GPU, with Keras 3 on the JAX backend (a borrowed GPU machine has JAX
but no TensorFlow: `train` then feeds `fit` arrays and augments them in the model's first layer).
Prints the device, each run's training time and test accuracy (read once), and the ratio
default / Keras; writes $OUT/gpu_check.json when OUT is set.

    python benchmarks/gpu_check.py --pack        # here, once: MNIST into .gpu/ as gzipped IDX (11 MB)
    KERAS_BACKEND=jax python3 benchmarks/gpu_check.py            # there, on the GPU (well under a minute)
    KERAS_BACKEND=jax python benchmarks/gpu_check.py --smoke     # anywhere with JAX: 2,000 images, 2 epochs

The device has JAX but no Keras: `pip download` the wheels of keras, namex and optree (the versions
of requirements.lock, for its Python) into .whl/ here, carry .whl and .gpu, and there install them
with `pip install --no-index --no-deps --target /tmp/site .whl/*.whl` and PYTHONPATH=/tmp/site:$PWD.
`train()` also needs what the device may lack: h5py (Keras's saving), pandas (the run's history)
and scikit-learn (the stratified split), with their own dependencies; add their wheels to .whl/.
On JAX the weight average's callback syncs the model's state after every step, which the ratio
below includes. Checked on the CPU with `--smoke` in a virtual environment without TensorFlow.
The data is read from .gpu/ by `data.load_local`, which checks each file's SHA-256 as it does for
dataset/ (the IDX files gzipped are a format it reads).

Times are `fit`'s wall time, compile included; "excluding compile" takes off what the first epoch
(where JAX compiles the steps, and again for the last, smaller batch) took beyond the median of the
other epochs. Each epoch's end waits for the device (JAX dispatches asynchronously).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import keras_recipe  # noqa: E402  (beside this script)

from digitlib import config, data, evaluation, runtime, training  # noqa: E402

GPU_DIR = ROOT / ".gpu"
SMOKE_IMAGES, SMOKE_EPOCHS = 2000, 2
SLOW_EPOCH_SECONDS = 15  # after the first (compiling) epoch: stop there, the lease is short


def say(text: str) -> None:
    print(text, flush=True)


def pack() -> None:
    """Write the verified MNIST arrays into .gpu/ as the four IDX files, gzipped."""
    arrays = data.load_mnist(fetch=False)
    GPU_DIR.mkdir(exist_ok=True)
    for name, array in zip(data.IDX_FILES, [a for pair in arrays for a in pair]):
        header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
        (GPU_DIR / f"{name}.gz").write_bytes(gzip.compress(header + array.tobytes(), 9, mtime=0))
    data.load_local(GPU_DIR)  # the same SHA-256 checks the check itself will run
    say(f"wrote {config.display_path(GPU_DIR)}/*.gz, {sum(f.stat().st_size for f in GPU_DIR.iterdir()) / 1e6:.1f} MB")


class Clock:
    """A Keras callback's factory that times `fit`: in all, per epoch, and without the first epoch's compile."""

    def __init__(self) -> None:
        keras = runtime.keras()
        self.marks: list[float] = []
        clock = self

        class EpochClock(keras.callbacks.Callback):  # type: ignore[name-defined]  # Keras is imported at run time
            def on_train_begin(self, logs=None):
                clock.started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                loss = float(logs["loss"])  # waits for the epoch's last step
                clock.marks.append(time.perf_counter())
                took = clock.marks[-1] - (clock.marks[-2] if epoch else clock.started)
                say(f"    epoch {epoch + 1}: {took:.2f} s, loss {loss:.4f}")
                if epoch and took > SLOW_EPOCH_SECONDS:
                    say(f"    stopping: an epoch took over {SLOW_EPOCH_SECONDS} s")
                    self.model.stop_training = True

            def on_train_end(self, logs=None):
                clock.ended = time.perf_counter()

        self.callback = EpochClock()

    def figures(self) -> dict:
        seconds = self.ended - self.started
        epochs = np.diff([self.started, *self.marks])
        steady = float(np.median(epochs[1:])) if len(epochs) > 1 else float(epochs[0])
        return {
            "fit_seconds": seconds,
            "fit_seconds_excluding_compile": seconds - max(float(epochs[0]) - steady, 0.0),
            "first_epoch_seconds": float(epochs[0]),
            "steady_epoch_seconds": steady,
            "epochs": len(epochs),
        }


def test_accuracy(model, x_test, y_test) -> float:
    return evaluation.accuracy_and_loss(evaluation.predict_probabilities(model, x_test), y_test)["accuracy"]


def keras_run(arrays: data.Arrays, smoke: bool) -> dict:
    (x_all, y_all), (x_test, y_test) = arrays
    runtime.set_seeds(config.SEED)
    clock = Clock()
    epochs = SMOKE_EPOCHS if smoke else keras_recipe.EPOCHS
    model, images = keras_recipe.train_keras_recipe(x_all, y_all, epochs, callbacks=[clock.callback])
    return {**clock.figures(), "training_images": images, "test_accuracy": test_accuracy(model, x_test, y_test)}


def default_run(arrays: data.Arrays, smoke: bool) -> dict:
    _, (x_test, y_test) = arrays
    recipe = training.TrainConfig(tensorboard=False)
    if smoke:
        recipe = recipe.replace(train_size=SMOKE_IMAGES, epochs=SMOKE_EPOCHS)
    clock = Clock()
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as folder:
        result = training.train(recipe, config.run_paths(folder), callbacks=[clock.callback], mnist=arrays)
        model = result.load_model()
        return {
            **clock.figures(),
            "training_images": result.record["training_images"],
            "train_seconds_with_saving": result.seconds,
            "test_accuracy": test_accuracy(model, x_test, y_test),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", action="store_true", help="write MNIST into .gpu/ (here, before the device run)")
    parser.add_argument(
        "--smoke", action="store_true", help=f"{SMOKE_IMAGES} images, {SMOKE_EPOCHS} epochs; CPU allowed"
    )
    args = parser.parse_args()
    if args.pack:
        pack()
        return 0
    import jax

    keras = runtime.keras()
    device = jax.devices()[0]
    say(
        f"device: {device.device_kind} ({jax.default_backend()}); jax {jax.__version__}, keras {keras.__version__} "
        f"on {keras.backend.backend()}, numpy {np.__version__}, python {sys.version.split()[0]}"
    )
    if jax.default_backend() != "gpu" and not args.smoke:
        say("no GPU: JAX runs on the CPU (is the CUDA plugin there?); a full run here would take long, stopping")
        return 1
    arrays = data.load_local(GPU_DIR) or (data.load_local(config.DATASET_DIR) if args.smoke else None)
    if arrays is None:
        say(f"no MNIST in {GPU_DIR}: run `python benchmarks/gpu_check.py --pack` first")
        return 1
    if args.smoke:
        (x_all, y_all), test = arrays
        arrays = (data.subset(x_all, y_all, SMOKE_IMAGES), test)
    result: dict = {
        "device": device.device_kind,
        "platform": jax.default_backend(),
        "versions": {"jax": jax.__version__, "keras": keras.__version__, "python": sys.version.split()[0]},
        "smoke": args.smoke,
    }
    for name, run in (("keras_recipe", keras_run), ("default_recipe", default_run)):
        say(f"{name} …")
        try:
            result[name] = run(arrays, args.smoke)
        except Exception:  # one recipe failing on this backend should not lose the other's figures
            result[name] = {"error": traceback.format_exc()}
            say(result[name]["error"])
            continue
        r = result[name]
        say(
            f"  {r['fit_seconds']:.1f} s in fit ({r['fit_seconds_excluding_compile']:.1f} s excluding compile; "
            f"first epoch {r['first_epoch_seconds']:.1f} s, then {r['steady_epoch_seconds']:.2f} s each), "
            f"test accuracy {100 * r['test_accuracy']:.2f} % read once"
        )
    base, ours = result["keras_recipe"], result["default_recipe"]
    if "error" not in base and "error" not in ours:
        for key in ("fit_seconds", "fit_seconds_excluding_compile"):
            result[f"ratio_{key}"] = ours[key] / base[key]
        say(
            f"default / Keras recipe: {result['ratio_fit_seconds']:.2f}x compile included, "
            f"{result['ratio_fit_seconds_excluding_compile']:.2f}x excluding compile"
        )
    if os.environ.get("OUT"):
        path = Path(os.environ["OUT"]) / "gpu_check.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        say(f"wrote {path}")
    return 0 if "error" not in base and "error" not in ours else 1


if __name__ == "__main__":
    sys.exit(main())
