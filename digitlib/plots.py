"""The figures the notebooks show, and `save_fig` to keep them under reports/."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from digitlib import config


def save_fig(fig, name: str, folder: Path = config.FIGURES_DIR) -> Path:
    """Save `fig` as `folder/name.png` (the folder is created), whole or not at all, and return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    partial = folder / f".{name}.partial.png"
    fig.savefig(partial)
    os.replace(partial, path)
    return path


def digit_grid(
    images: np.ndarray, titles: list[str] | None = None, columns: int = 10, size: float = 1.1, title_colors=None
):
    """A grid of 28x28 digits with optional titles (colored, for example red for mistakes)."""
    images = np.asarray(images).squeeze(-1) if np.asarray(images).ndim == 4 else np.asarray(images)
    rows = max(1, int(np.ceil(len(images) / columns)))
    fig, axes = plt.subplots(
        rows, columns, figsize=(columns * size, rows * size * (1.25 if titles else 1.0)), squeeze=False
    )
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < len(images):
            ax.imshow(images[index], cmap="gray", vmin=0, vmax=images.max() if images.max() > 1 else 1)
            if titles:
                ax.set_title(titles[index], fontsize=9, color=(title_colors[index] if title_colors else "black"))
    fig.tight_layout()
    return fig


def learning_curves(history):
    """Loss, accuracy (training and validation) and learning rate per epoch, side by side."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    epochs = history["epoch"] + 1
    for ax, metric in zip(axes[:2], ("loss", "accuracy")):
        ax.plot(epochs, history[metric], marker="o", ms=3, label="training")
        if (
            history.get(f"val_{metric}") is not None and history[f"val_{metric}"].notna().any()
        ):  # empty without a hold-out
            ax.plot(epochs, history[f"val_{metric}"], marker="o", ms=3, label="validation")
        ax.set(title=metric, xlabel="epoch")
        ax.legend()
    if "accuracy" in history:  # every epoch in view, the first one's low accuracy included
        shown = history[[key for key in ("accuracy", "val_accuracy") if key in history]]
        axes[1].set_ylim(shown.min().min() - 0.005, min(1.0, shown.max().max() + 0.005))
    if "learning_rate" in history:
        axes[2].plot(epochs, history["learning_rate"], marker="o", ms=3, color="tab:green")
        axes[2].set(title="learning rate", xlabel="epoch")
    fig.tight_layout()
    return fig


def confusion_heatmaps(counts: np.ndarray, normalized: np.ndarray):
    """The confusion matrix as counts and row-normalized (diagonal masked so mistakes stand out)."""
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(14, 5.6))
    sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", cbar=False, ax=axes[0], square=True)
    off_diagonal = np.where(np.eye(len(normalized), dtype=bool), np.nan, normalized * 100)
    sns.heatmap(
        off_diagonal,
        annot=True,
        fmt=".1f",
        cmap="Reds",
        cbar_kws={"label": "% of the true digit"},
        ax=axes[1],
        square=True,
    )
    axes[0].set(title="counts", xlabel="predicted", ylabel="true")
    axes[1].set(title="row-normalized mistakes (%), diagonal hidden", xlabel="predicted", ylabel="true")
    fig.tight_layout()
    return fig


def reliability_diagram(bins: dict, calibrated: dict | None = None):
    """Calibration per confidence bin (`evaluation.reliability`): accuracy minus mean confidence in
    points, with the binomial standard error of the accuracy, and the images in each bin; with
    `calibrated`, the same after temperature scaling beside it. Bins are categories, so the fine
    ones above 90 % (where nearly every prediction is) get as much room as the wide ones."""
    series = [("the model's own", bins, "tab:blue")]
    if calibrated is not None:
        series.append(("calibrated", calibrated, "tab:orange"))
    edges = bins["edges"]
    names = [f"{100 * low:g}-{100 * high:g}" for low, high in zip(edges[:-1], edges[1:])]
    positions = np.arange(len(names))
    width = 0.8 / len(series)
    fig, (ax, ax_counts) = plt.subplots(2, 1, figsize=(12, 7), sharex=True, height_ratios=[3, 2])
    for k, (name, found, color) in enumerate(series):
        x = positions + (k - (len(series) - 1) / 2) * width
        counts = found["counts"]
        accuracy = np.nan_to_num(found["accuracy"])
        gap = 100 * np.nan_to_num(found["accuracy"] - found["confidence"])
        error = 100 * np.sqrt(accuracy * (1 - accuracy) / np.maximum(counts, 1))
        ax.bar(
            x,
            gap,
            width=width * 0.95,
            color=color,
            yerr=error,
            capsize=2,
            label=f"{name}: ECE {100 * found['ece']:.2f} %",
        )
        ax_counts.bar(x, counts, width=width * 0.95, color=color)
        for xi, count in zip(x, counts):
            ax_counts.annotate(f"{count:,}", (xi, max(count, 1)), ha="center", va="bottom", fontsize=9, rotation=90)
    tallest = max(found["counts"].max() for _, found, _ in series)
    ax_counts.set_ylim(0.8, tallest * 60)  # room for the counts written on the bars
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set(ylabel="accuracy - confidence (points)", title="calibration: above 0, the model is better than it says")
    ax.legend(loc="lower right", fontsize=9)
    ax_counts.set(xlabel="confidence bin (%)", ylabel="images", yscale="log")
    ax_counts.set_xticks(positions, names, rotation=30, fontsize=9)
    fig.tight_layout()
    return fig


def probability_bars(probabilities: np.ndarray, ax=None, highlight: int | None = None):
    """The ten class probabilities as a bar chart."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 2.5))
    colors = ["tab:blue"] * len(probabilities)
    if highlight is not None:
        colors[highlight] = "tab:orange"
    ax.bar(range(len(probabilities)), probabilities, color=colors)
    ax.set(xticks=range(len(probabilities)), ylim=(0, 1), xlabel="digit", ylabel="probability")
    return ax


def embedding_scatter(ax: Axes, points: np.ndarray, labels: np.ndarray, title: str) -> Axes:
    """Points of a 2-D embedding (N, 2) coloured by digit, each class's median labelled on top."""
    for digit in range(config.NUM_CLASSES):
        chosen = labels == digit
        ax.scatter(points[chosen, 0], points[chosen, 1], s=4, alpha=0.6, label=str(digit), color=plt.cm.tab10(digit))
        # the median, not the mean: a few far-flung points would drag a mean off the cluster
        ax.annotate(
            str(digit),
            np.median(points[chosen], axis=0),
            fontsize=15,
            weight="bold",
            ha="center",
            bbox=dict(boxstyle="round", fc="white", alpha=0.8),
        )
    ax.set(title=title, xticks=[], yticks=[])
    return ax


def embedding_panels(panels: Sequence[tuple[np.ndarray, np.ndarray, str]]) -> Figure:
    """One `embedding_scatter` per (points, labels, title), side by side, with one legend."""
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 6), squeeze=False)
    for ax, (points, labels, title) in zip(axes[0], panels, strict=True):
        embedding_scatter(ax, points, labels, title)
    axes[0, -1].legend(markerscale=4, loc="center left", bbox_to_anchor=(1, 0.5))
    return fig


def confused_pairs_grid(
    images: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    pairs: Sequence[tuple[int, int, int]],
    per_pair: int = 6,
) -> Figure:
    """For each (true, predicted, count) pair, one row of up to `per_pair` images of `true`
    read as `predicted`."""
    rows = max(1, len(pairs))
    fig, axes = plt.subplots(rows, per_pair, figsize=(7 / 6 * per_pair, 1.25 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for row, (true, predicted, _) in enumerate(pairs):
        chosen = np.flatnonzero((labels == true) & (predictions == predicted))[:per_pair]
        for ax, index in zip(axes[row], chosen, strict=False):  # a pair may have fewer images
            ax.imshow(images[index], cmap="gray")
        axes[row, 0].set_title(f"{true} read as {predicted}", fontsize=9, loc="left")
    fig.tight_layout()
    return fig


def curves_over_seeds(histories: Sequence[Any], title: str) -> Figure:
    """Loss and accuracy per epoch, training and validation, over several runs of one recipe
    (`histories`: DataFrames with `loss`, `accuracy`, `val_loss`, `val_accuracy`): the mean of the
    runs as a line, their range as a band."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
    epochs = np.arange(1, len(histories[0]) + 1)
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key, label in ((metric, "training batches"), (f"val_{metric}", "validation")):
            values = np.array([history[key].to_numpy() for history in histories])
            scale = 100 if metric == "accuracy" else 1
            ax.plot(epochs, scale * values.mean(0), marker="o", ms=3, label=label)
            ax.fill_between(epochs, scale * values.min(0), scale * values.max(0), alpha=0.2)
        ax.set(
            xlabel="epoch",
            ylabel=metric + (" (%)" if metric == "accuracy" else ""),
            yscale="log" if metric == "loss" else "linear",
        )
        if metric == "loss":  # plain numbers on the log axis, not powers of ten
            ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%.2g"))
            ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.legend(fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
