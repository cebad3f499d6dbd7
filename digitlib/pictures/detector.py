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

from digitlib import config, data, evaluation, models, runtime, training
from digitlib.pictures import outliers, preprocess, rule, synthetic

FILE_NAME = "digit_detector.keras"  # saved beside the digit model
SHIPPED_DETECTOR = config.MODELS_DIR / FILE_NAME


@dataclasses.dataclass(frozen=True)
class DetectorConfig:
    """How the detector is trained. Digits come from MNIST's training part, after the validation
    images (`validation_size`, the digit model's split) are set aside."""

    digits: int = 30_000  # MNIST digits, a third of them inked as the pad draws (`outliers.as_pen_strokes`)
    font_digits: int = 6_000  # digits of the fonts, drawn as the letters are
    pen_digits: int = 8_000  # digits drawn with the pad's pen (`outliers.PEN_DIGITS`)
    low_resolution: int = 4_000  # MNIST digits shrunk and enlarged again (`outliers.low_resolution`)
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
    drawn, _ = outliers.training_pen_digits(settings.pen_digits, seed=settings.seed + 2)
    rng = np.random.default_rng(settings.seed + 3)
    coarse = [
        outliers.low_resolution(d, rng) for d in data.subset(x_train, y_train, settings.low_resolution, seed=1)[0]
    ]
    positives = list(digits[inked:]) + [outliers.as_pen_strokes(d) for d in digits[:inked]] + fonts + drawn + coarse
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
        "pen_digits": len(drawn),
        "low_resolution": len(coarse),
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
    return models.save_trained(
        model,
        paths.models / FILE_NAME,
        settings,
        history,
        time.perf_counter() - started,
        training_inputs=counts,
        make_seconds=round(made, 1),
    )


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


# ------------------------------------------------------------------ measuring it (notebooks 06, 04)

Source = tuple[list[np.ndarray], np.ndarray]  # pictures and their labels (-1: not a digit)


def fashion_unseen(settings: DetectorConfig = DetectorConfig()) -> np.ndarray:
    """Indices of Fashion-MNIST's training part that `training_set` leaves out."""
    seen = np.random.default_rng(settings.seed).choice(60_000, settings.fashion, replace=False)
    return np.setdiff1d(np.arange(60_000), seen)


def validation_sources(
    settings: DetectorConfig = DetectorConfig(), mnist: data.Arrays | None = None, size: int = 1000
) -> dict[str, Source]:
    """Pictures the detector did not train on, to choose its threshold on (notebook 06): kinds of
    digit (MNIST's validation digits as files, as canvas pictures and coarsely scanned; digits drawn
    with the pad's pen and of the fonts, on other seeds) and of non-digit (stroke outliers,
    Fashion-MNIST training pictures and photo crops, on other seeds); `size` of each."""
    (x_all, y_all), _ = mnist or data.load_mnist()
    _, (x_val, y_val) = data.train_val_split(x_all, y_all, settings.validation_size, seed=settings.seed)
    rng = np.random.default_rng(settings.seed + 50)
    pen, pen_labels = outliers.training_pen_digits(size, seed=settings.seed + 51)
    fonts, font_labels = outliers.training_digits(size, seed=settings.seed + 52)
    photos, _ = synthetic.load_fashion_mnist()
    fashion = rng.choice(fashion_unseen(settings), size, replace=False)
    no = np.full(size, -1)
    return {
        "MNIST validation digits as files": (list(x_val[:size]), y_val[:size]),
        "MNIST validation digits as canvas pictures": (
            [outliers.as_pen_strokes(x) for x in x_val[size : 2 * size]],
            y_val[size : 2 * size],
        ),
        "MNIST validation digits, coarsely scanned": (
            [outliers.low_resolution(x, rng) for x in x_val[2 * size : 3 * size]],
            y_val[2 * size : 3 * size],
        ),
        "digits drawn with the pad's pen": (pen, pen_labels),
        "digits of the fonts": (fonts, font_labels),
        "letters, symbols and shapes as pen strokes": (
            outliers.training_outliers(size, seed=settings.seed + 99)[0],
            no,
        ),
        "Fashion-MNIST training pictures": ([photos[i] for i in fashion], no),
        "photo crops": (synthetic.photo_crops(size, seed=settings.seed + 200), no),
    }


def source_table(predictions: dict[str, list[Any]], labels: dict[str, np.ndarray]) -> Any:
    """How a predictor answered each source's pictures (source name -> its `predict.Prediction`s and
    their labels, -1 for not a digit): n, the share read right (digits), flagged "not sure" (any
    reason), flagged as not a digit by the detector, and answered wrong without a flag (a digit
    misread, or a non-digit given as a digit), with 95 % intervals."""
    import pandas as pd

    rows = []
    for name, read in predictions.items():
        truth = labels[name]
        flagged = np.array([p.status != "ok" for p in read])
        by_detector = np.array([p.why == rule.NOT_A_DIGIT for p in read])
        right = np.array([p.digit == label for p, label in zip(read, truth, strict=True)])
        row: dict[str, Any] = {"source": name, "kind": "digits" if truth[0] >= 0 else "not digits", "n": len(read)}
        row["read right"] = float(right.mean()) if truth[0] >= 0 else np.nan
        for column, mask in (
            ("flagged", flagged),
            ("not a digit", by_detector),
            ("wrong without a flag", ~flagged & ~right),
        ):
            low, high = evaluation.binomial_interval(int(mask.sum()), len(read))
            row |= {column: float(mask.mean()), f"{column} low": low, f"{column} high": high}
        rows.append(row)
    return pd.DataFrame(rows).set_index("source")


def measuring_sources(x_test: np.ndarray, y_test: np.ndarray, size: int = 1000, seed: int = 0) -> dict[str, Source]:
    """Sources nothing trains or chooses on (notebook 04): the drawn non-digits kept for measuring,
    digits drawn from the browser test's strokes, MNIST test digits as files and as canvas pictures,
    photo crops, Fashion-MNIST's test part, typed digits and `load_digits`; up to `size` of each."""
    drawn, names = outliers.drawn_non_digits()
    drawn_digits, drawn_labels = outliers.drawn_digits()
    photos, _ = synthetic.load_fashion_mnist()
    typed, typed_labels = synthetic.typed_digits(min(size, 500), seed=seed)
    scanned, scanned_labels = synthetic.other_handwriting()
    crops = synthetic.photo_crops(min(size, 300), seed=seed)
    return {
        "drawn non-digits (the measuring set)": (drawn, np.full(len(drawn), -1)),
        "drawn digits (the browser test's strokes)": (drawn_digits, drawn_labels),
        "MNIST test digits as files": (list(x_test[:size]), y_test[:size]),
        "MNIST test digits as canvas pictures": (
            [outliers.as_pen_strokes(x) for x in x_test[size : 2 * size]],
            y_test[size : 2 * size],
        ),
        "photo crops": (crops, np.full(len(crops), -1)),
        "Fashion-MNIST, test part": (list(photos[60_000 : 60_000 + size]), np.full(size, -1)),
        "typed digits": (typed, typed_labels),
        "load_digits (8x8 scans)": (scanned[:size], scanned_labels[:size]),
    }
