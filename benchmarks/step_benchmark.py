"""Where training time goes on this machine: one training step per architecture; an epoch of the
default recipe split into the input pipeline, the augmentation and the model; and the pause at
the start of an epoch with and without tf.data's autotuning. Prints tables and writes
reports/step_benchmark.md.

    python benchmarks/step_benchmark.py        # about 3 minutes on 2 cores (also run by `make bench`)

The figures behind two choices in digitlib: the cnn pools before batch norm (`models.cnn`), and
`data.make_dataset` switches autotuning off.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digitlib import augment, config, data, models, runtime, training  # noqa: E402

BATCH = 256


def step_times(model, images, labels, steps: int) -> np.ndarray:
    """Milliseconds per training step on one fixed batch (the model alone, no input pipeline)."""
    tf = runtime.import_tensorflow()
    training.compile_model(model, training.make_optimizer("adam", 1e-3, "constant", 1))
    model.fit(images, labels, batch_size=BATCH, epochs=1, verbose=0)  # trace and build
    train_step = model.make_train_function()
    batches = iter(tf.data.Dataset.from_tensors((images, labels)).repeat())
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        train_step(batches)
        times.append(1000 * (time.perf_counter() - started))
    return np.array(times)


def epoch_start_pauses(autotune: bool, images, labels, epochs: int) -> list[float]:
    """Seconds from the start of each epoch to the end of its first step, through `make_dataset`
    (augmentation on), with tf.data's autotuning on or off."""
    tf = runtime.import_tensorflow()
    keras = runtime.keras()

    dataset = data.make_dataset(images, labels, BATCH, augment=augment.make_augmentation())
    options = tf.data.Options()
    options.autotune.enabled = autotune
    dataset = dataset.with_options(options)
    pauses = []

    class FirstStep(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                pauses.append(time.perf_counter() - self.started)

    model = models.cnn()
    training.compile_model(model, training.make_optimizer("adam", 1e-3, "constant", 1))
    model.fit(dataset, epochs=epochs + 1, verbose=0, callbacks=[FirstStep()])
    return pauses[1:]  # the first epoch also traces the step


def epoch_shares(images, labels, repeats: int = 2) -> dict[str, float]:
    """Seconds for one epoch over `images`: the input pipeline alone (gather and batch), the pipeline
    with the default augmentation, and a whole training epoch of the default cnn through it. The
    medians of `repeats` epochs after a first that traces."""
    dataset_plain = data.make_dataset(images, labels, BATCH)
    dataset_augmented = data.make_dataset(images, labels, BATCH, augment=augment.make_augmentation())

    def drain(dataset) -> float:
        times = []
        for _ in range(repeats + 1):
            started = time.perf_counter()
            for _batch in dataset:
                pass
            times.append(time.perf_counter() - started)
        return float(np.median(times[1:]))

    model = models.cnn()
    training.compile_model(model, training.make_optimizer("adam", 1e-3, "constant", 1))
    epochs = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        model.fit(dataset_augmented, epochs=1, verbose=0)
        epochs.append(time.perf_counter() - started)
    epoch = float(np.median(epochs[1:]))
    return {"pipeline": drain(dataset_plain), "augmented": drain(dataset_augmented), "epoch": epoch}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--out", default=str(config.REPORTS_DIR / "step_benchmark.md"))
    args = parser.parse_args()
    tf = runtime.import_tensorflow()
    (x, y), _ = data.load_mnist(fetch=False)
    images, labels = data.prepare(x[:BATCH], y[:BATCH])
    builders = {
        "cnn (pool, then batch norm)": models.cnn,
        "cnn, batch norm before pooling (`pool_first=False`)": lambda: models.cnn(pool_first=False),
        "simple_convnet (Keras example)": models.simple_convnet,
    }
    lines = [
        "# Where training time goes",
        "",
        f"Measured by `python benchmarks/step_benchmark.py` on {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"TensorFlow {tf.__version__}. One training step on a batch of {BATCH}, {args.steps} steps after tracing.",
        "",
        "| model | multiply-adds per image | ms per step: p10 | p50 | p90 | images/s (p50) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, build in builders.items():
        runtime.set_seeds(0)
        model = build()
        times = step_times(model, images, labels, args.steps)
        p10, p50, p90 = np.percentile(times, [10, 50, 90])
        lines.append(
            f"| {name} | {models.multiply_adds(model) / 1e6:.2f} M | "
            f"{p10:.0f} | {p50:.0f} | {p90:.0f} | {1000 * BATCH / p50:,.0f} |"
        )
        print(lines[-1], flush=True)
    shares = epoch_shares(x[:20000], y[:20000])
    augmentation = shares["augmented"] - shares["pipeline"]
    model_part = shares["epoch"] - shares["augmented"]
    lines += [
        "",
        "One epoch of the default recipe on 20,000 images, taken apart (medians of 2 epochs after a first; "
        "the pipeline prepares the next batch while the model trains, so the model's share is the whole "
        "epoch less the pipeline's time alone, a lower bound):",
        "",
        "| part | seconds | share of the epoch |",
        "| --- | ---: | ---: |",
        f"| input pipeline (shuffle, gather, batch) | {shares['pipeline']:.2f} | "
        f"{100 * shares['pipeline'] / shares['epoch']:.0f} % |",
        f"| augmentation (rotation, shift, zoom) | {augmentation:.2f} | {100 * augmentation / shares['epoch']:.0f} % |",
        f"| the model: forward, backward, update | {model_part:.2f} | {100 * model_part / shares['epoch']:.0f} % |",
        f"| the whole training epoch | {shares['epoch']:.2f} | 100 % |",
    ]
    print("\n".join(lines[-6:]), flush=True)
    sample_x, sample_y = x[: 60 * BATCH], y[: 60 * BATCH]
    lines += [
        "",
        f"Pause before the first step of an epoch ({len(sample_x):,} images, 60 batches, augmentation on; "
        f"{args.epochs} epochs after the first):",
        "",
        "| tf.data autotuning | median (s) | max (s) | epochs pausing > 1 s |",
        "| --- | ---: | ---: | ---: |",
    ]
    for autotune in (True, False):
        pauses = epoch_start_pauses(autotune, sample_x, sample_y, args.epochs)
        lines.append(
            f"| {'on' if autotune else 'off (make_dataset)'} | {np.median(pauses):.2f} | {max(pauses):.2f} | "
            f"{sum(p > 1 for p in pauses)} of {len(pauses)} |"
        )
        print(lines[-1], flush=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {config.display_path(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
