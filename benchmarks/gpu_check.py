"""GPU check: the Keras "Simple MNIST convnet" recipe and the project's default recipe, trained one
after the other in one process on one GPU, with Keras 3 on the JAX backend (a borrowed GPU machine
has JAX but no TensorFlow). Prints the device, each run's training time and test accuracy (read
once), and the ratio default / Keras; writes $OUT/gpu_check.json when OUT is set.

    python benchmarks/gpu_check.py --pack        # here, once: MNIST into .gpu/ as gzipped IDX (11 MB)
    KERAS_BACKEND=jax python3 benchmarks/gpu_check.py            # there, on the GPU (well under a minute)
    KERAS_BACKEND=jax python benchmarks/gpu_check.py --smoke     # anywhere with JAX: 2,000 images, 2 epochs

The device has JAX but no Keras: `pip download` the wheels of keras, namex and optree (the versions
of requirements.lock, for its Python) into .whl/ here, carry .whl and .gpu, and there install them
with `pip install --no-index --no-deps --target /tmp/site .whl/*.whl` and PYTHONPATH=/tmp/site:$PWD.

The data is read from .gpu/ by `data.load_local`, which checks each file's SHA-256 as it does for
dataset/ (the IDX files gzipped are a format it reads; its .npz must be Keras's own file, byte for
byte, so a packed .npz would not pass).

The Keras recipe is `train_benchmark.py`'s baseline, line for line: `models.simple_convnet()`,
categorical cross-entropy on one-hot labels, Adam with Keras's defaults, batch 128, 15 epochs,
`validation_split=0.1`, NumPy arrays straight into `fit`.

The default recipe is `TrainConfig()`'s, built from digitlib's pieces (`models.build_model`,
`training.make_optimizer` with its cosine schedule and adapted weight averaging,
`training.compile_model`, `training.recalibrate_batch_norm`) on all 60,000 images, its epochs
(18) and batch 256. What differs from
`training.train`, which needs TensorFlow:
- augmentation: `random_affine`, the transform of `augment.make_augmentation` (one random
  rotation, zoom and shift per image, ROTATION, SHIFT and ZOOM of `TrainConfig()`, one bilinear
  resampling, black fill) written in Keras ops instead of TensorFlow's
  ImageProjectiveTransformV3, in a wrapper model in front of the CNN that `fit` trains, so it
  runs on the GPU and only in training;
- input: NumPy arrays into `fit(shuffle=True)` instead of `data.make_dataset`'s tf.data pipeline;
- the split: `split_data`'s two lines on the arrays from .gpu/ (it loads from dataset/);
- nothing of `train`'s bookkeeping: no distribution strategy, callbacks (backup, CSV, TensorBoard,
  epoch log), saved model, run record or ensemble.

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
import time
import traceback
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digitlib import augment, config, data, evaluation, models, runtime, training  # noqa: E402

GPU_DIR = ROOT / ".gpu"
SMOKE_IMAGES, SMOKE_EPOCHS = 2000, 2


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


def random_affine(rotation_degrees: float, shift: float, zoom: float):
    """`augment.make_augmentation`'s transform (`augment.inverse_transforms`) in Keras ops: one
    random rotation, zoom and shift per image, one bilinear resampling, black fill; active in
    training only. (Keras's RandomRotation,
    RandomTranslation and RandomZoom layers took 85 s an epoch on the H200 under JAX.)"""
    keras = runtime.keras()
    ops = keras.ops
    max_angle = float(np.deg2rad(rotation_degrees))

    class RandomAffine(keras.layers.Layer):  # type: ignore[name-defined]  # Keras is imported at run time
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seeds = keras.random.SeedGenerator(config.SEED)

        def call(self, images, training=False):
            if not training:
                return images
            count, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
            angle = keras.random.uniform((count,), -max_angle, max_angle, seed=self.seeds)
            scale = keras.random.uniform((count,), 1.0 - zoom, 1.0 + zoom, seed=self.seeds)
            shift_y = keras.random.uniform((count,), -shift, shift, seed=self.seeds) * height
            shift_x = keras.random.uniform((count,), -shift, shift, seed=self.seeds) * width
            transforms = augment.inverse_transforms(ops, angle, scale, shift_y, shift_x, height, width)
            return ops.image.affine_transform(
                images, transforms, interpolation="bilinear", fill_mode="constant", fill_value=0
            )

    return RandomAffine(name="augmentation")


SLOW_EPOCH_SECONDS = 15  # after the first (compiling) epoch: stop there, the lease is short


def fit_timed(model, x, y, **fit_args) -> dict:
    """`model.fit(x, y, **fit_args)`, timed: in all, per epoch, and without the first epoch's compile."""
    keras = runtime.keras()
    marks: list[float] = []

    class Clock(keras.callbacks.Callback):  # type: ignore[name-defined]  # Keras is imported at run time
        def on_epoch_end(self, epoch, logs=None):
            loss = float(logs["loss"])  # waits for the epoch's last step
            marks.append(time.perf_counter())
            took = marks[-1] - (marks[-2] if epoch else started)
            say(f"    epoch {epoch + 1}: {took:.2f} s, loss {loss:.4f}")
            if epoch and took > SLOW_EPOCH_SECONDS:
                say(f"    stopping: an epoch took over {SLOW_EPOCH_SECONDS} s")
                self.model.stop_training = True

    started = time.perf_counter()
    model.fit(x, y, verbose=0, callbacks=[Clock()], **fit_args)
    seconds = time.perf_counter() - started
    epochs = np.diff([started, *marks])
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


def keras_recipe(x_all, y_all, x_test, y_test, smoke: bool) -> dict:
    """train_benchmark.py's baseline: the Keras example's model and `fit`."""
    runtime.set_seeds(config.SEED)
    model = models.simple_convnet()
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    x_train, y_train = data.prepare(x_all, y_all, one_hot_labels=True)
    timing = fit_timed(
        model, x_train, y_train, batch_size=128, epochs=SMOKE_EPOCHS if smoke else 15, validation_split=0.1
    )
    return {**timing, "training_images": int(len(x_train) * 0.9), "test_accuracy": test_accuracy(model, x_test, y_test)}


def default_recipe(x_all, y_all, x_test, y_test, smoke: bool) -> dict:
    """`TrainConfig()`'s recipe from digitlib's pieces, augmented by Keras's random layers (see above)."""
    keras = runtime.keras()
    recipe = training.TrainConfig()
    if smoke:
        recipe = recipe.replace(train_size=SMOKE_IMAGES, epochs=SMOKE_EPOCHS)
    (x_train, y_train), (x_val, y_val) = data.train_val_split(x_all, y_all, recipe.validation_size, seed=recipe.seed)
    x_train, y_train = data.subset(x_train, y_train, recipe.train_size or None, seed=recipe.seed)
    split = training.TrainingData(x_train, y_train, x_val, y_val, recipe.seed)
    runtime.set_seeds(recipe.seed)
    model = training.model_for(recipe)
    augmentation = random_affine(recipe.rotation, recipe.shift, recipe.zoom)
    trained = keras.Sequential([keras.Input(models.INPUT_SHAPE), augmentation, model], name="augmented")
    total_steps = recipe.epochs * training.steps_per_epoch(len(split.x_train), recipe.batch_size)
    optimizer = training.make_optimizer(
        recipe.optimizer, recipe.learning_rate, recipe.schedule, total_steps, ema_momentum=recipe.ema_momentum
    )
    training.compile_model(trained, optimizer)
    timing = fit_timed(
        trained, *data.prepare(split.x_train, split.y_train), batch_size=recipe.batch_size, epochs=recipe.epochs
    )
    averages = optimizer._model_variables_moving_average if recipe.ema_momentum else []
    found = {
        **timing,
        "training_images": len(split.x_train),
        "ema_weights_in_model": bool(
            averages and all(np.allclose(w, a) for w, a in zip(model.trainable_weights, averages) if a is not None)
        ),
        "test_accuracy_before_bn_recalibration": test_accuracy(model, x_test, y_test),
    }
    if recipe.bn_recalibration:
        started = time.perf_counter()
        training.recalibrate_batch_norm(model, split.reference[0])
        found["bn_recalibration_seconds"] = time.perf_counter() - started
    found["test_accuracy"] = test_accuracy(model, x_test, y_test)
    return found


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
    arrays = data.load_local(GPU_DIR)
    if arrays is None:
        say(f"no MNIST in {GPU_DIR}: run `python benchmarks/gpu_check.py --pack` first")
        return 1
    (x_all, y_all), (x_test, y_test) = arrays
    if args.smoke:
        x_all, y_all = data.subset(x_all, y_all, SMOKE_IMAGES)
    result: dict = {
        "device": device.device_kind,
        "platform": jax.default_backend(),
        "versions": {"jax": jax.__version__, "keras": keras.__version__, "python": sys.version.split()[0]},
        "smoke": args.smoke,
    }
    for name, run in (("keras_recipe", keras_recipe), ("default_recipe", default_recipe)):
        say(f"{name} …")
        try:
            result[name] = run(x_all, y_all, x_test, y_test, args.smoke)
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
            f"{result['ratio_fit_seconds_excluding_compile']:.2f}x excluding compile; "
            f"weight average in the model: {ours['ema_weights_in_model']}; test accuracy "
            f"{100 * ours['test_accuracy_before_bn_recalibration']:.2f} % before batch-norm recalibration"
        )
    if os.environ.get("OUT"):
        path = Path(os.environ["OUT"]) / "gpu_check.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        say(f"wrote {path}")
    return 0 if "error" not in base and "error" not in ours else 1


if __name__ == "__main__":
    sys.exit(main())
