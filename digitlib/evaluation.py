"""Evaluation on held-out digits: metrics, confusions, calibration, speed."""

from __future__ import annotations

import time

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


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> dict:
    """Calibration: per confidence bin, the mean confidence, the accuracy and the count, and the
    expected calibration error (the count-weighted mean gap between confidence and accuracy)."""
    confidence = probabilities.max(1)
    correct = probabilities.argmax(1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, weights=confidence, minlength=bins) / counts
        accuracy = np.bincount(which, weights=correct, minlength=bins) / counts
    gaps = np.nan_to_num(np.abs(mean_confidence - accuracy))
    return {
        "edges": edges,
        "confidence": mean_confidence,
        "accuracy": accuracy,
        "counts": counts,
        "ece": float((counts * gaps).sum() / counts.sum()),
    }


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
