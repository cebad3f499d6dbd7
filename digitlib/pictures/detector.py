"""Is it a digit at all? A small network beside the digit model that tells digits from what a pad
or an upload brings that is not one: letters and symbols as pen strokes, shapes, scribbles, photos
(`outliers`, Fashion-MNIST's training part, photo crops). It learns from examples of what is not a
digit (outlier exposure: Hendrycks, Mazeika & Dietterich, ICLR 2019) with an explicit output, the
probability that the 28x28 model input is not a digit. The digit model and its ten classes stay as
they are. Trained once and shipped (`python -m digitlib detector`, a few minutes on 2 cores).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from digitlib import config, data, models, records, runtime, training
from digitlib.pictures import outliers, preprocess, synthetic

FILE_NAME = "digit_detector.keras"  # saved beside the digit model
SHIPPED_DETECTOR = config.MODELS_DIR / FILE_NAME
RECORD_FILE = "digit_detector.json"


@dataclasses.dataclass(frozen=True)
class DetectorConfig:
    """How the detector is trained. Digits come from MNIST's training part, after the validation
    images (`validation_size`, the digit model's split) are set aside."""

    digits: int = 30_000  # MNIST digits, a third of them inked as the pad draws (`outliers.as_pen_strokes`)
    font_digits: int = 6_000  # digits of the fonts, drawn as the letters are
    outliers: int = 24_000  # pen-stroke non-digits made by `outliers.training_outliers`
    fashion: int = 6_000  # Fashion-MNIST's first 60,000 pictures are its training part
    photo_crops: int = 1_000
    epochs: int = 6
    batch_size: int = 128
    learning_rate: float = 2e-3
    width: int = 16
    validation_size: int = config.VALIDATION_SIZE
    seed: int = 0


def model_inputs(pictures: list[np.ndarray]) -> np.ndarray:
    """The 28x28 inputs the digit model would see for `pictures` (float32 in [0, 1]); a blank picture
    (no ink found) gives an empty input."""
    return np.stack([preprocess.preprocess_stages(picture).result for picture in pictures]).astype(np.float32)


def build_detector(width: int = 16):
    """A small CNN from a 28x28 input to one logit: positive when the input is not a digit."""
    keras = runtime.keras()
    layers = keras.layers
    inputs = keras.Input((28, 28, 1))
    x = inputs
    for multiple in (1, 2, 4):
        x = layers.Conv2D(width * multiple, 3, padding="same", activation="relu")(x)
        x = layers.Conv2D(width * multiple, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x) if multiple < 4 else layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    return keras.Model(inputs, layers.Dense(1)(x), name="digit_detector")


def training_set(settings: DetectorConfig, mnist: data.Arrays | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """The detector's training inputs (N, 28, 28) and labels (1: not a digit), with their counts by source."""
    (x_all, y_all), _ = mnist or data.load_mnist()
    (x_train, y_train), _ = data.train_val_split(x_all, y_all, settings.validation_size, seed=settings.seed)
    digits, _ = data.subset(x_train, y_train, settings.digits, seed=settings.seed)
    inked = len(digits) // 3
    fonts, _ = outliers.training_digits(settings.font_digits, seed=settings.seed + 1)
    positives = list(digits[inked:]) + [outliers.as_pen_strokes(d) for d in digits[:inked]] + fonts
    strokes, _ = outliers.training_outliers(settings.outliers, seed=settings.seed)
    photos, _ = synthetic.load_fashion_mnist()
    rng = np.random.default_rng(settings.seed)
    fashion = [photos[i] for i in rng.choice(60_000, settings.fashion, replace=False)]
    crops = synthetic.photo_crops(settings.photo_crops, seed=settings.seed + 100)  # not the seeds 04 measures on
    not_digits = model_inputs(strokes + fashion + crops)
    inputs = np.concatenate([model_inputs(positives), not_digits])
    labels = np.concatenate([np.zeros(len(positives)), np.ones(len(not_digits))]).astype(np.float32)
    counts = {
        "digits": len(digits),
        "font_digits": len(fonts),
        "outliers": len(strokes),
        "fashion": len(fashion),
        "photo_crops": len(crops),
    }
    return inputs, labels, counts


def train_detector(
    settings: DetectorConfig = DetectorConfig(), paths: config.RunPaths | None = None, mnist: data.Arrays | None = None
) -> dict[str, Any]:
    """Make the training set, train the detector (Adam, cosine decay, the non-digits weighted to
    balance the digits), and save it as `FILE_NAME` beside the digit model with a run record."""
    paths = paths or config.run_paths()
    paths.make()
    keras = runtime.keras()
    runtime.set_seeds(settings.seed)
    started = time.perf_counter()
    inputs, labels, counts = training_set(settings, mnist)
    made = time.perf_counter() - started
    print(f"made {len(inputs):,} training inputs in {made:.0f} s: {counts}", flush=True)
    model = build_detector(settings.width)
    steps = settings.epochs * training.steps_per_epoch(len(inputs), settings.batch_size)
    model.compile(
        optimizer=training.make_optimizer("adam", settings.learning_rate, "cosine", steps),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    weight = float((labels == 0).sum() / max((labels == 1).sum(), 1))
    started = time.perf_counter()
    history = model.fit(
        inputs[..., np.newaxis],
        labels,
        sample_weight=np.where(labels == 1, weight, 1.0),
        batch_size=settings.batch_size,
        epochs=settings.epochs,
        shuffle=True,
        callbacks=[training.epoch_log(settings.epochs)],
        verbose=0,
    )
    seconds = time.perf_counter() - started
    path = paths.models / FILE_NAME
    models.save_model(models.inference_copy(model), path)
    record = {
        "config": dataclasses.asdict(settings),
        "training_inputs": counts,
        "make_seconds": round(made, 1),
        "train_seconds": round(seconds, 1),
        "loss": [round(float(v), 4) for v in history.history["loss"]],
        "model": config.display_path(path),
        "versions": records.library_versions(),
    }
    records.write_json(paths.models / RECORD_FILE, record)
    return record


def not_digit_probability(model: Any, inputs: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The detector's probability that each 28x28 input is not a digit."""
    from scipy.special import expit

    logits = model.predict(np.asarray(inputs, np.float32)[..., np.newaxis], batch_size=batch_size, verbose=0)
    return expit(logits[:, 0].astype(np.float64))


def _train_command(args: Any) -> int:
    record = train_detector(DetectorConfig())
    print(f"trained the digit detector in {record['train_seconds'] / 60:.1f} min: {record['model']}")
    return 0


def add_command(commands: Any) -> None:
    command = commands.add_parser("detector", help="train the digit detector into models/ (a few minutes on 2 cores)")
    command.set_defaults(handler=_train_command)
