"""Evaluation on held-out digits: metrics, confusions, calibration, speed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np

from digitlib import config

# Accuracy below NEAR_CHANCE_BELOW means the model has learned next to nothing (chance is one in
# ten); below UNDERTRAINED_BELOW it has learned something, but far less than even a linear model
# on raw pixels, so its mistakes and calibration describe an unfinished model, not the method.
NEAR_CHANCE_BELOW = 0.20
UNDERTRAINED_BELOW = 0.90


# Test-time augmentation: the picture itself, then copies moved by one pixel (4: up, down, left,
# right; 8: the diagonals too), the model's probabilities averaged over them.
TTA_OFFSETS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))
TTA_SHIFT_CHOICES = (0, 4, 8)


def shifted(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """`images` (N, H, W) moved `dy` rows down and `dx` columns right, the edge filled with zeros."""
    height, width = images.shape[1:3]
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    return padded[:, 1 - dy : 1 - dy + height, 1 - dx : 1 - dx + width]


def predict_probabilities(model, images: np.ndarray, batch_size: int = 1000, tta_shifts: int = 0) -> np.ndarray:
    """Class probabilities (N, 10) for uint8 or float images; with `tta_shifts` 4 or 8, averaged over
    the images and their copies moved by one pixel in 4 or 8 directions (test-time augmentation)."""
    from digitlib.data import to_model_input

    if tta_shifts not in TTA_SHIFT_CHOICES:
        raise ValueError(f"tta_shifts must be one of {TTA_SHIFT_CHOICES}, got {tta_shifts!r}")
    views = [shifted(np.asarray(images), dy, dx) for dy, dx in TTA_OFFSETS[: tta_shifts + 1]]
    return np.mean([model.predict(to_model_input(v), batch_size=batch_size, verbose=0) for v in views], axis=0)


def accuracy_and_loss(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy and mean cross-entropy, computed from the probabilities."""
    labels = np.asarray(labels)
    picked = np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, 1.0)
    return {"accuracy": float((probabilities.argmax(1) == labels).mean()), "loss": float(-np.log(picked).mean())}


def accuracy_verdict(accuracy: float) -> str | None:
    """A plain warning when a test accuracy says the model is not a trained model: near chance
    (below `NEAR_CHANCE_BELOW`), or far below a trained one (below `UNDERTRAINED_BELOW`); None
    when the accuracy looks like a trained model's."""
    chance = 1 / config.NUM_CLASSES
    if accuracy < NEAR_CHANCE_BELOW:
        return (
            f"This model is near chance ({100 * accuracy:.1f} %, chance is {100 * chance:.0f} %): it has not "
            f"learned; train longer or check notebook 03's record"
        )
    if accuracy < UNDERTRAINED_BELOW:
        return (
            f"This model reaches only {100 * accuracy:.1f} %, far below a trained model (see "
            f"reports/benchmarks.md): it is undertrained, so read the analysis below as a check of the "
            f"pipeline, not of the model; train longer for real results"
        )
    return None


def classification_table(labels: np.ndarray, predictions: np.ndarray):
    """Per-class precision, recall, F1 and support, with macro and weighted averages (a DataFrame)."""
    import pandas as pd
    from sklearn.metrics import classification_report

    report = classification_report(labels, predictions, digits=4, output_dict=True, zero_division=0)
    report.pop("accuracy", None)
    table = pd.DataFrame(report).T
    table["support"] = table["support"].astype(int)
    table.index = [str(i) if str(i).isdigit() else i for i in table.index]
    return table


def confusion(labels: np.ndarray, predictions: np.ndarray, normalize: bool = False) -> np.ndarray:
    """The 10x10 confusion matrix (rows: true digit), counts or row-normalized."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(
        labels, predictions, labels=range(config.NUM_CLASSES), normalize="true" if normalize else None
    )


def most_confused_pairs(matrix: np.ndarray, top: int = 5) -> list[tuple[int, int, int]]:
    """The `top` off-diagonal cells of a count matrix as (true, predicted, count), largest first."""
    off_diagonal = matrix.copy()
    np.fill_diagonal(off_diagonal, 0)
    order = np.argsort(off_diagonal, axis=None)[::-1][:top]
    pairs = [(int(i), int(j), int(off_diagonal[i, j])) for i, j in zip(*np.unravel_index(order, matrix.shape))]
    return [pair for pair in pairs if pair[2] > 0]


# Confidence bins for calibration: most predictions of a good model sit above 90 %, so the bins
# are finest there (a plain tenth-wide grid puts 99 % of the images in its last bin).
RELIABILITY_EDGES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1.0)


def reliability(
    probabilities: np.ndarray, labels: np.ndarray, edges: Sequence[float] | int = RELIABILITY_EDGES
) -> dict:
    """Calibration: per confidence bin (`edges`, or that many equal bins when an int), the mean
    confidence, the accuracy and the count, and the expected calibration error (the
    count-weighted mean gap between confidence and accuracy)."""
    bounds = np.linspace(0.0, 1.0, int(edges) + 1) if isinstance(edges, Integral) else np.asarray(edges, float)
    bins = len(bounds) - 1
    confidence = probabilities.max(1)
    correct = probabilities.argmax(1) == np.asarray(labels)
    which = np.clip(np.digitize(confidence, bounds[1:-1], right=True), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, weights=confidence, minlength=bins) / counts
        accuracy = np.bincount(which, weights=correct, minlength=bins) / counts
    gaps = np.nan_to_num(np.abs(mean_confidence - accuracy))
    return {
        "edges": bounds,
        "confidence": mean_confidence,
        "accuracy": accuracy,
        "counts": counts,
        "ece": float((counts * gaps).sum() / counts.sum()),
    }


def with_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities rescaled by a temperature: softmax(log p / T). T > 1 softens them, T < 1
    sharpens them; the top class never changes."""
    logits = np.log(np.clip(np.asarray(probabilities, np.float64), 1e-30, 1.0)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    scaled = np.exp(logits)
    return (scaled / scaled.sum(axis=-1, keepdims=True)).astype(np.float32)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature (between 0.25 and 4) that minimizes the log loss of `probabilities` on
    `labels`: temperature scaling, fitted on held-out data."""
    from scipy.optimize import minimize_scalar

    log_probabilities = np.log(np.clip(np.asarray(probabilities, np.float64), 1e-30, 1.0))
    rows, labels = np.arange(len(labels)), np.asarray(labels)

    def log_loss(log_temperature: float) -> float:
        logits = log_probabilities / np.exp(log_temperature)
        logits -= logits.max(axis=1, keepdims=True)
        return float(-(logits[rows, labels] - np.log(np.exp(logits).sum(axis=1))).mean())

    found = minimize_scalar(log_loss, bounds=(np.log(0.25), np.log(4.0)), method="bounded", options={"xatol": 1e-5})
    return float(np.exp(found.x))


def throughput(model, images: np.ndarray, batch_size: int = 1000, repeats: int = 3) -> dict[str, float]:
    """Inference speed on this machine: images per second in batches (best of `repeats`), and the
    median and 99th-percentile latency of one image through the traced model."""
    from digitlib.data import to_model_input
    from digitlib.models import inference_function

    x = to_model_input(images)
    one_image = inference_function(model)
    model.predict(x[:batch_size], batch_size=batch_size, verbose=0)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict(x, batch_size=batch_size, verbose=0)
        best = min(best, time.perf_counter() - started)
    single = []
    for i in range(min(200, len(x))):
        started = time.perf_counter()
        one_image(x[i : i + 1]).numpy()
        single.append(time.perf_counter() - started)
    return {
        "images_per_second": len(x) / best,
        "latency_p50_ms": 1000 * float(np.percentile(single[10:], 50)),
        "latency_p99_ms": 1000 * float(np.percentile(single[10:], 99)),
    }


def mean_interval(values: Any, level: float = 0.95) -> tuple[float, float, float]:
    """The mean of `values` and the two ends of its `level` confidence interval (Student's t);
    NaN ends for fewer than two values."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    mean = float(values.mean()) if len(values) else float("nan")
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf((1 + level) / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def paired_difference(first: Any, second: Any, level: float = 0.95) -> tuple[float, float, float]:
    """The mean of `first - second` over the same items (one value each: a paired comparison) and
    the two ends of its `level` interval (`mean_interval` of the differences)."""
    return mean_interval(np.asarray(first, float) - np.asarray(second, float), level)


def sampling_halfwidth(share: float, items: int, level: float = 0.95) -> float:
    """Half the width of the binomial `level` interval of a share read on `items` pictures (normal
    approximation): the error of one reading of a test set, which no number of seeds removes."""
    from scipy import stats

    return float(stats.norm.ppf((1 + level) / 2) * np.sqrt(share * (1 - share) / items))


def binomial_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval, at `level`, of the share behind `successes` of `trials`: what a
    sample of that size says about the share on the whole source (a test set's sampling error,
    which retraining does not measure)."""
    from scipy import stats

    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes} of {trials}")
    z = float(stats.norm.ppf((1 + level) / 2))
    share = successes / trials
    scale = 1 + z * z / trials
    centre = (share + z * z / (2 * trials)) / scale
    half = z * np.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / scale
    return float(centre - half), float(centre + half)


def against_seeds(value: float, seeds: Any) -> dict[str, Any]:
    """Where `value` (one run's score) stands among `seeds` (the same score of other runs of a
    recipe): their count, mean, standard deviation (n - 1), lowest and highest; whether `value` lies
    within that range, `outside_by` (0 within it, else the distance to the nearer end: negative
    below the lowest, positive above the highest) and `from_mean` (`value` minus their mean)."""
    seeds = np.asarray(seeds, dtype=float)
    if len(seeds) < 2:
        raise ValueError(f"need at least two seeds to compare with, got {len(seeds)}")
    low, high = float(seeds.min()), float(seeds.max())
    outside_by = min(value - low, 0.0) + max(value - high, 0.0)
    outside_by = 0.0 if abs(outside_by) < 1e-12 else float(outside_by)  # shares of one test set: no float dust
    return {
        "seeds": len(seeds),
        "mean": float(seeds.mean()),
        "sd": float(seeds.std(ddof=1)),
        "low": low,
        "high": high,
        "inside": outside_by == 0.0,
        "outside_by": outside_by,
        "from_mean": float(value - seeds.mean()),
    }
