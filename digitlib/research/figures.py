"""Figures of sweep tables: paired differences, seeds, accuracy against cost, validation curves by
variant (notebooks 02 and 05). The core's `plots` keeps the figures of one model."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure


def paired_differences(
    summary: Any, title: str = "each change against the default, same seeds", baseline: str = "the default's"
):
    """A sweep summary's paired differences (percentage points, with their intervals) as horizontal
    error bars around zero: bars that cross zero are within noise. `baseline` names what each
    difference is taken from, in the axis label."""
    rows = summary.dropna(subset=["difference"]).sort_values("difference")
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
    centres = 100 * rows["difference"].to_numpy()
    spans = np.vstack(
        [centres - 100 * rows["difference_low"].to_numpy(), 100 * rows["difference_high"].to_numpy() - centres]
    )
    colours = [
        "tab:gray" if within else ("tab:green" if centre > 0 else "tab:red")
        for within, centre in zip(rows["within_noise"], centres)
    ]
    for row, colour in enumerate(colours):  # one colour per bar: grey within noise, green better, red worse
        ax.errorbar(
            centres[row], row, xerr=np.nan_to_num(spans[:, row : row + 1]), fmt="none", ecolor=colour, capsize=3
        )
    ax.scatter(centres, range(len(rows)), c=colours, zorder=3)
    ax.axvline(0, color="black", linewidth=1)
    ax.set_yticks(range(len(rows)), [f"{name} ({int(n)} seeds)" for name, n in zip(rows.index, rows["paired_seeds"])])
    ax.set(xlabel=f"validation accuracy minus {baseline} (percentage points, 95 % interval)", title=title)
    fig.tight_layout()
    return fig


def seed_spread(
    accuracies: Any, interval: tuple[float, float, float], sampling_error: float, title: str, xlabel: str
) -> Figure:
    """One recipe's accuracy per seed (`accuracies`, a Series by seed, in [0, 1]), one row each; below
    them the mean of the seeds with its interval (`interval`: mean, low, high), and one reading's
    sampling error around that mean: how far seeds move a run, beside how far the images alone
    would move a single reading."""
    ordered = accuracies.sort_values()
    mean, low, high = interval
    rows = [f"seed {seed}" for seed in ordered.index] + ["mean of the seeds", "one reading's sampling error"]
    fig, ax = plt.subplots(figsize=(8, 0.38 * len(rows) + 1.4))
    ax.scatter(100 * ordered.to_numpy(), range(len(ordered)), color="tab:blue", zorder=3)
    spans = np.nan_to_num([[100 * (mean - low)], [100 * (high - mean)]])
    ax.errorbar(100 * mean, len(ordered), xerr=spans, fmt="o", color="black", capsize=4)
    ax.errorbar(100 * mean, len(ordered) + 1, xerr=100 * sampling_error, fmt="o", color="tab:gray", capsize=4)
    ax.set_yticks(range(len(rows)), rows)
    ax.invert_yaxis()
    ax.set(xlabel=xlabel, title=title)
    fig.tight_layout()
    return fig


def cost_accuracy_by_reading(points: Any, title: str = "accuracy against training time") -> Figure:
    """Accuracy (%) against training time (x the Keras recipe's): each recipe's readings (read once,
    with TTA) side by side, with their range over seeds, the recipe named once beside them, and the
    frontier of the points no other beats on both. `points` has columns recipe, reading,
    time_ratio, accuracy, low and high (accuracy in [0, 1])."""
    fig, ax = plt.subplots(figsize=(8.5, 4.8))
    readings = list(dict.fromkeys(points["reading"]))
    # side by side: the readings of one recipe share its training time
    nudge = {reading: 1.05 ** (k - (len(readings) - 1) / 2) for k, reading in enumerate(readings)}
    points = points.assign(x=points["time_ratio"] * points["reading"].map(nudge))
    for reading, marker in zip(readings, "o^sD", strict=False):
        rows = points[points["reading"] == reading]
        ax.errorbar(
            rows["x"],
            100 * rows["accuracy"],
            yerr=[100 * (rows["accuracy"] - rows["low"]), 100 * (rows["high"] - rows["accuracy"])],
            fmt=marker,
            capsize=3,
            label=reading,
        )
    ordered = points.sort_values(["time_ratio", "accuracy"], ascending=[True, False])
    frontier = ordered[ordered["accuracy"] > ordered["accuracy"].cummax().shift(fill_value=-1.0)]
    ax.plot(frontier["x"], 100 * frontier["accuracy"], "--", color="tab:gray", label="frontier")
    for recipe, rows in points.groupby("recipe", sort=False):
        where = (rows["x"].max(), 100 * rows["accuracy"].mean())
        ax.annotate(recipe, where, xytext=(10, 0), textcoords="offset points", va="center")
    slowest = points["time_ratio"].max()
    ax.set_xlim(points["time_ratio"].min() / 1.4, slowest * 2.4)  # room for the slowest recipe's name
    ax.set(
        xscale="log",
        xlabel="training time (x the Keras recipe's, same machine and run)",
        ylabel="accuracy (%)",
        title=title,
    )
    ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20) if points["time_ratio"].min() / 1.5 <= t <= slowest * 1.5]
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}x"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def validation_by_variant(histories: dict[str, list[Any]], summary: Any, title: str, last: int = 6) -> Figure:
    """Left: each variant's validation accuracy per epoch, the mean of its seeds' histories
    (`histories`: variant -> DataFrames with `val_accuracy`); middle: the same over the last `last`
    epochs, on an axis that shows their differences; right: each variant's saved model on
    validation (`summary`: mean, low, high in [0, 1], and `relative compute`) against the compute of
    its run, with the 95 % interval of the mean."""
    fig, (curves, zoom, cost) = plt.subplots(1, 3, figsize=(15, 4.2))
    for variant, runs in histories.items():
        accuracy = 100 * np.mean([run["val_accuracy"].to_numpy() for run in runs], axis=0)
        epochs = np.arange(1, len(accuracy) + 1)
        (line,) = curves.plot(epochs, accuracy, marker="o", ms=3, label=variant)
        zoom.plot(epochs[-last:], accuracy[-last:], marker="o", ms=4, color=line.get_color(), label=variant)
    curves.set(xlabel="epoch", ylabel="validation accuracy (%)", title=title)
    zoom.set(xlabel="epoch", ylabel="validation accuracy (%)", title=f"the last {last} epochs of each")
    zoom.legend(loc="center", fontsize=9)  # between the short run and the long ones: it hides no curve
    for variant, row in summary.iterrows():
        cost.errorbar(
            row["relative compute"],
            100 * row["mean"],
            yerr=[[100 * (row["mean"] - row["low"])], [100 * (row["high"] - row["mean"])]],
            fmt="o",
            capsize=3,
        )
        cost.annotate(
            variant, (row["relative compute"], 100 * row["mean"]), textcoords="offset points", xytext=(6, 4), fontsize=9
        )
    cost.set(
        xscale="log",
        xlabel="compute of a run (multiply-adds x images x epochs, x the cnn's)",
        ylabel="saved model, validation accuracy (%)",
        title="accuracy against compute (95 % intervals)",
    )
    fig.tight_layout()
    return fig


def paired_comparisons(summary: Any, title: str, xlabel: str) -> Figure:
    """A `sweep.compare` table's paired differences (percentage points, with their intervals) as
    horizontal error bars around zero, in the table's order from the top (so a variant's readings
    stay together), grey within noise, green or red beyond it; the figure as wide as its row names."""
    rows = summary.dropna(subset=["difference"])
    names = [f"{name} ({int(n)} seeds)" for name, n in zip(rows.index, rows["paired_seeds"])]
    width = 4.5 + 0.085 * max(map(len, names))  # inches: the plot keeps its room beside long names
    fig, ax = plt.subplots(figsize=(width, 0.42 * len(rows) + 1.3))
    centres = 100 * rows["difference"].to_numpy()
    for row, (centre, low, high, within) in enumerate(
        zip(centres, 100 * rows["difference_low"], 100 * rows["difference_high"], rows["within_noise"])
    ):
        colour = "tab:gray" if within else ("tab:green" if centre > 0 else "tab:red")
        ax.errorbar(centre, row, xerr=[[centre - low], [high - centre]], fmt="o", color=colour, capsize=3)
    ax.axvline(0, color="black", linewidth=1)
    ax.set_yticks(range(len(rows)), names)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=6))  # tick labels that do not touch
    ax.invert_yaxis()
    ax.set(xlabel=xlabel, title=title)
    fig.tight_layout()
    return fig
