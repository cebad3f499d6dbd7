"""The drawing and upload interface (ipywidgets + ipycanvas), built on `predict`, and the figures
notebook 06 shows: what the predictor sees, the numbers it reads, where the thresholds sit.

`DigitPad(predictor).widget` is the whole interface: a canvas to draw on with a mouse, a finger or
a stylus (prediction when the pen lifts), Undo (the last stroke), Clear, an upload control for one
or several image files, and the answer, readable at a glance: the digit large with its confidence,
the runner-up when it is worth a thought, the ten probabilities as labelled bars with their
percentages, and the 28x28 image the model saw (for each digit of a multi-digit picture). The
answer is HTML, so it shows the same in JupyterLab and Voila and tests can read its values.
The strokes are kept in Python and rasterized with Pillow (`preprocess.strokes_to_image`), so
predictions do not wait on the browser sending pixels back, and tests can drive the callbacks directly.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image

from digitlib import plots
from digitlib.pictures import rule
from digitlib.pictures.predict import Prediction, Predictor
from digitlib.pictures.preprocess import (
    CANVAS_SIZE,
    PEN_WIDTH,
    InvalidImageError,
    Stages,
    encode_image,
    strokes_to_image,
)

BLANK_MESSAGE = "Draw a digit in the box (or upload a picture)"
RUNNER_UP_FROM = 0.01  # a second guess this probable is named under the answer: "or perhaps 1 (2 %)"
BAR_WIDTH = 180  # pixels for probability 1: a 2 % bar is about 4 px, and its percentage is printed beside it
SEVERAL_LABEL = "several digits (e.g. 42)"  # the box to tick to read a number
INPUT_SCALE = 4  # the 28x28 model input is shown at 112x112, enlarged in Python so no browser blurs it

# What `DigitPad.predict_image` and the predictor accept: encoded bytes, a path, a PIL image or an array.
ImageInput = bytes | bytearray | memoryview | str | os.PathLike | Image.Image | np.ndarray

_OK_COLOUR, _UNSURE_COLOUR, _RUNNER_UP_COLOUR, _OTHER_COLOUR = "#1a7f37", "#b36b00", "#0969da", "#8c959f"


def runner_up(prediction: Prediction) -> tuple[int, float] | None:
    """The second most probable digit and its probability, when that is at least `RUNNER_UP_FROM`."""
    if prediction.digit is None:
        return None
    order = np.argsort(prediction.probabilities)[::-1]
    second = int(order[1])
    probability = float(prediction.probabilities[second])
    # judged as the chart prints it (one decimal of a percent): a bar labelled "1.0 %" is named, and
    # float32's 0.01 (0.0099999998) is not left out
    return (second, probability) if round(100 * probability, 1) >= 100 * RUNNER_UP_FROM else None


def _percent(probability: float) -> str:
    """A probability as the chart prints it: one decimal, and '<0.1 %' rather than a misleading '0.0 %'."""
    if 0 < probability < 0.0005:
        return "<0.1 %"
    return f"{100 * probability:.1f} %"


def _runner_up_text(prediction: Prediction) -> str:
    second = runner_up(prediction)
    return f"or perhaps {second[0]} ({100 * second[1]:.0f} %)" if second else ""


def answer_html(prediction: Prediction | None, title: str = "") -> str:
    """The answer as HTML: the digit large with its confidence and the runner-up (when at least
    `RUNNER_UP_FROM`); when not sure, why in a few words, then every reason in small print; a "?"
    when the picture does not look like a digit; a friendly message when there is no digit."""
    heading = f"<div class='digit-title' style='color:#666'>{html.escape(title)}</div>" if title else ""
    if prediction is None or prediction.digit is None:
        return f"{heading}<div class='digit-answer' style='font-size:20px;padding:12px 0'>{BLANK_MESSAGE}</div>"
    unsure = prediction.status == "uncertain"
    details = (
        "<div class='digit-reasons' style='font-size:12px;color:#666'>"
        f"{html.escape('; '.join(prediction.reasons))}</div>"
        if unsure
        else ""
    )
    if prediction.why == rule.NOT_A_DIGIT:
        return (
            f"{heading}<div style='display:flex;align-items:center;gap:16px'>"
            f"<div class='digit-answer' style='font-size:72px;line-height:1;color:{_UNSURE_COLOUR}'>?</div>"
            f"<div><div class='digit-why' style='font-size:20px;color:{_UNSURE_COLOUR}'>"
            f"{html.escape(rule.NOT_A_DIGIT.capitalize())}.</div>"
            f"<div class='digit-confidence' style='font-size:14px;color:#666'>the nearest digit is "
            f"{prediction.digit} ({100 * prediction.confidence:.0f} %)</div></div></div>{details}"
        )
    colour = _UNSURE_COLOUR if unsure else _OK_COLOUR
    second = _runner_up_text(prediction)
    note = (
        f"<div class='digit-note digit-why' style='color:{_UNSURE_COLOUR};font-size:16px'>"
        f"Not sure: {html.escape(prediction.why or 'the rule flags it')}</div>{details}"
        if unsure
        else ""
    )
    return (
        f"{heading}<div style='display:flex;align-items:center;gap:16px'>"
        f"<div class='digit-answer' style='font-size:72px;line-height:1;color:{colour}'>{prediction.digit}</div>"
        f"<div><div class='digit-confidence' style='font-size:18px'>{100 * prediction.confidence:.1f} % confident</div>"
        + (
            f"<div class='digit-runner-up' style='font-size:16px;color:{_RUNNER_UP_COLOUR}'>{second}</div>"
            if second
            else ""
        )
        + f"</div></div>{note}"
    )


def probabilities_html(prediction: Prediction) -> str:
    """All ten probabilities as horizontal bars labelled 0-9 with the percentage printed beside each:
    on a plain 0-1 bar chart a 2 % second guess is invisible, here it is a short bar and a number."""
    second = runner_up(prediction)
    rows = []
    for digit, probability in enumerate(np.asarray(prediction.probabilities, float)):
        named = digit == prediction.digit or (second is not None and digit == second[0])
        if digit == prediction.digit:
            colour = _UNSURE_COLOUR if prediction.status == "uncertain" else _OK_COLOUR
        else:
            colour = _RUNNER_UP_COLOUR if named else _OTHER_COLOUR
        # anything printed as non-zero gets at least a sliver of bar, so the bar never contradicts the number
        width = max(BAR_WIDTH * probability, 1.0) if probability >= 0.0005 else 0.0
        # the few values worth reading stand out; the many near-zero ones stay quiet
        text_style = "font-weight:bold" if named else ("" if probability >= RUNNER_UP_FROM else "color:#8c959f")
        rows.append(
            f"<div class='probability-row' data-digit='{digit}' data-probability='{probability:.6f}' "
            "style='display:flex;align-items:center;gap:6px;height:17px;font-size:13px'>"
            f"<span style='width:12px;text-align:right;{'font-weight:bold' if named else ''}'>{digit}</span>"
            f"<span style='display:inline-block;width:{BAR_WIDTH}px;height:12px;background:#eef0f2'>"
            f"<span style='display:block;width:{width:.1f}px;height:12px;background:{colour}'></span></span>"
            f"<span class='probability' style='white-space:nowrap;{text_style}'>"
            f"{html.escape(_percent(probability))}</span></div>"
        )
    return (
        "<figure class='digit-probabilities' style='margin:0'>"
        + "".join(rows)
        + "<figcaption style='font-size:11px;color:#666'>probability of each digit</figcaption></figure>"
    )


def model_input_html(prediction: Prediction) -> str:
    """The 28x28 image the model saw, enlarged `INPUT_SCALE` times, as an inline PNG."""
    enlarged = np.kron(np.clip(prediction.model_input, 0, 1), np.ones((INPUT_SCALE, INPUT_SCALE)))
    data = base64.b64encode(encode_image(enlarged)).decode("ascii")
    side = 28 * INPUT_SCALE
    return (
        "<figure class='digit-model-input' style='margin:0'>"
        f"<img src='data:image/png;base64,{data}' width='{side}' height='{side}' "
        "alt='the 28x28 image the model saw' style='border:1px solid #888;display:block'>"
        "<figcaption style='font-size:11px;color:#666;white-space:nowrap'>what the model saw (28x28)</figcaption>"
        "</figure>"
    )


def _digit_details(prediction: Prediction, caption: str = "", stacked: bool = False) -> str:
    """The 28x28 input beside (or, `stacked`, above) its ten probabilities, under an optional caption."""
    heading = f"<div style='font-size:13px;color:#444'>{html.escape(caption)}</div>" if caption else ""
    # side by side wraps to one above the other where the width runs out (a phone)
    arrangement = "flex-direction:column" if stacked else "flex-wrap:wrap"
    return (
        f"<div class='digit-details'>{heading}<div style='display:flex;{arrangement};gap:8px 12px'>"
        f"{model_input_html(prediction)}{probabilities_html(prediction)}</div></div>"
    )


def reading_html(predictions: list[Prediction], title: str = "") -> str:
    """One picture's whole answer as HTML: the answer at a glance, then the details of each digit read
    (a multi-digit picture's digits side by side); the blank message when there is no digit."""
    readable = [p for p in predictions if p.digit is not None]
    if not readable:
        return f"<div class='digit-card'>{answer_html(None, title)}</div>"
    if len(readable) == 1:
        return (
            f"<div class='digit-card' style='margin-bottom:16px'>{answer_html(readable[0], title)}"
            f"<div style='margin-top:10px'>{_digit_details(readable[0])}</div></div>"
        )
    text = "".join(str(p.digit) if p.status == "ok" else "?" for p in readable)
    heading = f"<div class='digit-title' style='color:#666'>{html.escape(title)}</div>" if title else ""
    captions = [
        f"digit {index}: {p.label}"
        + (f", the nearest digit {p.digit}" if p.why == rule.NOT_A_DIGIT else "")
        + (f", {_runner_up_text(p)}" if runner_up(p) and p.why != rule.NOT_A_DIGIT else "")
        for index, p in enumerate(readable, 1)
    ]
    return (
        f"<div class='digit-card' style='margin-bottom:16px'>{heading}"
        f"<div class='digit-answer' style='font-size:64px;line-height:1'>{text}</div>"
        "<div class='digit-confidence' style='font-size:16px'>"
        + html.escape(", ".join(p.label for p in readable))
        + "</div><div style='display:flex;flex-wrap:wrap;gap:10px 24px;margin-top:10px'>"
        # each digit's input above its chart: narrow columns, so a short number's digits sit side by side
        + "".join(_digit_details(p, caption, stacked=True) for p, caption in zip(readable, captions))
        + "</div></div>"
    )


def error_html(title: str, error: Exception | str) -> str:
    """A picture that could not be read, as one line of text (never a traceback)."""
    return (
        "<div class='digit-card digit-error' style='color:#b00020;font-size:16px;margin-bottom:16px'>"
        f"{html.escape(title)}: {html.escape(str(error))}</div>"
    )


def read_card(predictor: Predictor, image: ImageInput, title: str, several: bool) -> tuple[str, list[Prediction]]:
    """The answer card for one picture and its predictions (each digit of it when `several`); for a
    picture that cannot be read, an error card and no predictions. The pad and the app both answer with it."""
    try:
        predictions = predictor.read_number(image).digits if several else [predictor.predict(image)]
    except InvalidImageError as error:
        return error_html(title, error), []
    except Exception as error:  # a callback's exception would be lost in a log: show it on the card
        return error_html(title, f"could not read this picture ({type(error).__name__}: {error})"), []
    return reading_html(predictions, title), predictions


def prediction_figure(predictions: list[Prediction], titles: list[str] | None = None, columns: int = 7):
    """For each prediction: the 28x28 input the model saw (titled with the answer) above the bar
    chart of its ten probabilities; `columns` pairs per row. For static figures (notebook 06)."""
    import matplotlib.pyplot as plt

    count = max(1, len(predictions))
    columns = min(columns, count)
    rows = -(-count // columns)
    fig, axes = plt.subplots(
        2 * rows,
        columns,
        figsize=(2.3 * columns, 4.2 * rows),
        squeeze=False,
        gridspec_kw={"height_ratios": [1.15, 1] * rows},
    )
    for ax in axes.flat:
        ax.set_visible(False)
    for index, prediction in enumerate(predictions):
        image_ax, bars_ax = (
            axes[2 * (index // columns), index % columns],
            axes[2 * (index // columns) + 1, index % columns],
        )
        image_ax.set_visible(True)
        bars_ax.set_visible(True)
        image_ax.imshow(prediction.model_input, cmap="gray", vmin=0, vmax=1)
        image_ax.set_title(
            (titles[index] + "\n" if titles else "") + prediction.label,
            fontsize=9,
            color="#b36b00" if prediction.status != "ok" else "black",
        )
        image_ax.axis("off")
        plots.probability_bars(prediction.probabilities, ax=bars_ax, highlight=prediction.digit)
        bars_ax.set_xlabel("")
        bars_ax.set_ylabel("")
    fig.tight_layout()
    return fig


def preprocessing_figure(pictures: Mapping[str, Stages]):
    """One row per named picture: its preprocessing stages from the picture as given to the
    28x28 input the model sees (see `preprocess.Stages`)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(pictures), 5, figsize=(12, 2.6 * len(pictures)), squeeze=False)
    for row, (name, stages) in zip(axes, pictures.items(), strict=True):
        panels = [
            (stages.grey, f"{name}: as given"),
            (stages.ink, "ink, white on black" + (" (inverted)" if stages.inverted else "")),
            (stages.cropped, "cropped to the ink"),
            (stages.boxed, "fitted in 20x20"),
            (stages.result, "centred in 28x28"),
        ]
        for ax, (image, title) in zip(row, panels, strict=True):
            ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    return fig


def number_readings_figure(predictor: Predictor, pictures: Mapping[str, np.ndarray]):
    """One panel per named picture of a number, titled with its name and what `predictor` reads in it."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(pictures), figsize=(4 * len(pictures), 2.2), squeeze=False)
    for ax, (name, picture) in zip(axes[0], pictures.items(), strict=True):
        ax.imshow(picture, cmap="gray")
        ax.set_title(f"{name}: read {predictor.read_number(picture).text}", fontsize=11)
        ax.axis("off")
    fig.tight_layout()
    return fig


_KIND_NAMES = {"non-digit": "generated non-digits", "photo crop": "photo crops"}


def not_digit_figure(tradeoff: Any, chosen: float):
    """The digit detector's threshold on validation pictures (a `rule.not_digit_tradeoff`): each
    source's share above each threshold, and non-digits caught against the worst kind of digit
    flagged, the `chosen` threshold marked."""
    import matplotlib.pyplot as plt

    fig, (shares, curve) = plt.subplots(1, 2, figsize=(12, 4.2))
    for column in tradeoff.columns:
        if column.startswith(("flagged: ", "caught: ")):
            style = "-" if column.startswith("caught") else "--"
            shares.plot(tradeoff["not_digit_above"], 100 * tradeoff[column], style, marker=".", label=column)
    shares.axvline(chosen, color="k", lw=0.8)
    shares.set(xlabel="P(not a digit) above", ylabel="share of the pictures (%)", title="by source")
    shares.legend(fontsize=7, loc="center left")
    curve.plot(100 * tradeoff["worst digits flagged"], 100 * tradeoff["non-digits caught"], marker="o")
    at = tradeoff[tradeoff["not_digit_above"] == chosen].iloc[0]
    curve.plot(
        100 * at["worst digits flagged"], 100 * at["non-digits caught"], "r*", ms=14, label=f"chosen: {chosen:g}"
    )
    curve.set(
        xlabel="the worst kind of digit: share flagged (%)",
        ylabel="non-digits caught, mean of the kinds (%)",
        title="the trade-off",
    )
    curve.legend()
    fig.tight_layout()
    return fig


def thresholds_figure(held_out: Any, chosen: dict[str, float], tried: Any):
    """How the `chosen` thresholds sit on the held-out pictures (a pooled `rule.rule_table`): the
    calibrated top probability and the energy of the digits and of each kind of non-digit, and the
    trade-off as `MIN_ENERGY` varies with the other thresholds as chosen (`tried`, from
    `rule.choose_thresholds`). Pictures where no ink was found have neither (the predictor says "no
    digit"), so the histograms leave them out and the legend counts them."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.6))
    read = held_out[held_out["digit"] >= 0]
    groups = [("validation digits as files", held_out["label"] >= 0)] + [
        (kind, held_out["delivered_as"] == kind)
        for kind in sorted(held_out.loc[held_out["label"] < 0, "delivered_as"].unique())
    ]
    energy_bins = np.linspace(np.floor(read["energy"].min()), np.ceil(read["energy"].max()), 61)
    handles = []
    for k, ((name, members), colour) in enumerate(zip(groups, ("tab:blue", "tab:orange", "tab:green", "tab:purple"))):
        shown = read[members[read.index]]
        left_out = int((held_out.loc[members, "digit"] < 0).sum())
        label = _KIND_NAMES.get(name, name) + (
            f' ({left_out:,} with no ink found: "no digit", not shown)' if left_out else ""
        )
        # the digits filled, the non-digits as outlines: overlapping shapes stay readable
        style = {"alpha": 0.45} if k == 0 else {"histtype": "step", "linewidth": 1.8}
        left.hist(shown["confidence"], bins=np.linspace(0, 1, 41), density=True, color=colour, **style)
        middle.hist(shown["energy"], bins=energy_bins, density=True, color=colour, **style)
        handles.append(
            plt.Rectangle((0, 0), 1, 1, color=colour, alpha=0.45, label=label)
            if k == 0
            else Line2D([], [], color=colour, linewidth=1.8, label=label)
        )
    left.axvline(chosen["UNCERTAIN_BELOW"], color="black", linestyle="--")
    middle.axvline(chosen["MIN_ENERGY"], color="black", linestyle="--")
    handles.append(Line2D([], [], color="black", linestyle="--", label="the chosen threshold"))
    left.set(xlabel="top probability, calibrated", ylabel="density (log scale)", yscale="log")
    left.set_title(f"confidence (UNCERTAIN_BELOW = {chosen['UNCERTAIN_BELOW']:g})", fontsize=11)
    middle.set(xlabel="energy (log-sum-exp of the logits)", ylabel="density")
    middle.set_title(f"evidence (MIN_ENERGY = {chosen['MIN_ENERGY']:g})", fontsize=11)

    others = [name for name in chosen if name != "MIN_ENERGY"]
    curve = tried[np.logical_and.reduce([tried[name] == chosen[name] for name in others])].sort_values("MIN_ENERGY")
    x, y = 100 * curve["correct_flagged"], 100 * curve["non_digits_flagged"]
    right.plot(x, y, "o-", label="MIN_ENERGY varied, the rest as chosen")
    # points closer than a fiftieth of the axes share one label, so no two labels overlap
    near = 0.02 * np.array([np.ptp(x) or 1.0, np.ptp(y) or 1.0])
    labels: list[tuple[np.ndarray, list[str]]] = []
    for px, py, value in zip(x, y, curve["MIN_ENERGY"]):
        if labels and (np.abs(labels[-1][0] - (px, py)) <= near).all():
            labels[-1][1].append(f"{value:g}")
        else:
            labels.append((np.array([px, py]), [f"{value:g}"]))
    for point, names in labels:
        right.annotate(", ".join(names), point, textcoords="offset points", xytext=(7, -4), fontsize=9, va="top")
    right.axvline(100 * rule.MAX_CORRECT_FLAGGED, color="grey", linestyle=":", label="the most right answers allowed")
    best = curve[curve["MIN_ENERGY"] == chosen["MIN_ENERGY"]].iloc[0]
    right.plot(100 * best["correct_flagged"], 100 * best["non_digits_flagged"], "k*", markersize=13, label="chosen")
    right.margins(x=0.08, y=0.1)  # room for the labels at the ends
    right.set(xlabel="right answers flagged (%)", ylabel="non-digits flagged (%)")
    right.set_title("the trade-off (points: MIN_ENERGY)", fontsize=11)
    right.legend(loc="lower right", fontsize=9)
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, bbox_to_anchor=(0.5, 0))
    fig.suptitle("held-out validation pictures", fontsize=12)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


class DigitPad:
    """The interface: draw (mouse, finger or stylus) or upload, and see what the model thinks."""

    def __init__(self, predictor: Predictor, size: int = CANVAS_SIZE, pen: int = PEN_WIDTH):
        import ipywidgets as widgets
        from ipycanvas import Canvas

        self.predictor, self.size, self.pen = predictor, size, pen
        self.strokes: list[list[tuple[float, float]]] = []
        self._drawing = False
        self.canvas = Canvas(
            width=size,
            height=size,
            layout=widgets.Layout(width=f"{size}px", height=f"{size}px", border="2px solid #888"),
        )
        button = widgets.Layout(width="92px")
        self.undo_button = widgets.Button(description="Undo", icon="undo", layout=button, disabled=True)
        self.clear_button = widgets.Button(description="Clear", icon="eraser", layout=button)
        self.predict_button = widgets.Button(description="Predict", icon="check", button_style="primary", layout=button)
        self.several = widgets.Checkbox(value=False, description=SEVERAL_LABEL, indent=False)
        self.upload = widgets.FileUpload(accept="image/*", multiple=True, description="Upload images")
        self.answer = widgets.HTML(answer_html(None))
        self.last: list[Prediction] = []

        self.canvas.on_mouse_down(self.pen_down)
        self.canvas.on_mouse_move(self.pen_move)
        self.canvas.on_mouse_up(self.pen_up)
        self.canvas.on_mouse_out(self.pen_up)
        # Phones and tablets send touch events, not mouse events (ipycanvas stops the browser from
        # turning touches into mouse events, so a stroke is not drawn twice).
        self.canvas.on_touch_start(self.touch_start)
        self.canvas.on_touch_move(self.touch_move)
        self.canvas.on_touch_end(self.touch_end)
        self.canvas.on_touch_cancel(self.touch_end)
        self.undo_button.on_click(lambda _: self.undo())
        self.clear_button.on_click(lambda _: self.clear())
        self.predict_button.on_click(lambda _: self.predict_drawing())
        self.upload.observe(self._on_upload, names="value")
        # Draw nothing before the browser shows the canvas: commands sent earlier are lost (Voila), and
        # ipycanvas would then skip re-announcing which canvas later commands are for.
        self.canvas.on_client_ready(self._paint_background)
        controls = widgets.VBox(
            [
                self.canvas,
                widgets.HBox([self.undo_button, self.clear_button, self.predict_button]),
                self.several,
                self.upload,
            ],
            layout=widgets.Layout(min_width=f"{size + 24}px", flex="0 0 auto"),
        )
        answers = widgets.VBox(
            [self.answer],
            layout=widgets.Layout(padding="0 0 0 24px", min_width="320px", flex="1 1 auto", overflow="hidden"),
        )
        # On a narrow screen (a phone) the answer wraps below the canvas instead of off the side.
        self.widget = widgets.HBox(
            [controls, answers], layout=widgets.Layout(align_items="flex-start", flex_flow="row wrap")
        )
        self.widget.add_class("digit-pad")

    # ------------------------------------------------------------------ drawing
    def pen_down(self, x: float, y: float) -> None:
        """Start a stroke at (x, y) (canvas pixels)."""
        self._drawing = True
        self.strokes.append([(x, y)])
        self.undo_button.disabled = False
        self._dot(x, y)

    def pen_move(self, x: float, y: float) -> None:
        """Extend the current stroke to (x, y); ignored while the pen is up."""
        if not self._drawing:
            return
        last_x, last_y = self.strokes[-1][-1]
        self.strokes[-1].append((x, y))
        self.canvas.stroke_line(last_x, last_y, x, y)
        self._dot(x, y)

    def pen_up(self, x: float | None = None, y: float | None = None) -> None:
        """End the current stroke and predict the drawing (the position, if given, is not needed)."""
        if self._drawing:
            self._drawing = False
            self.predict_drawing()

    def touch_start(self, touches: list[tuple[float, float]]) -> None:
        """A finger or stylus touches the canvas: the first touch starts a stroke; a second finger
        landing while one is down is ignored (the stroke goes on with the first)."""
        if len(touches) != 1:
            return
        self._drawing = False  # a lone new touch ends any stroke whose touch end never arrived
        self.pen_down(*touches[0])

    def touch_move(self, touches: list[tuple[float, float]]) -> None:
        """The touches moved: the first one draws."""
        if touches:
            self.pen_move(*touches[0])

    def touch_end(self, touches: list[tuple[float, float]]) -> None:
        """A finger lifted, or the touch was cancelled: end the stroke and predict. `touches` are the
        touches still down (ipycanvas sends the browser's `TouchEvent.touches`), usually none."""
        self.pen_up()

    def _dot(self, x: float, y: float) -> None:
        self.canvas.fill_circle(x, y, self.pen / 2)

    def _paint_background(self) -> None:
        from ipycanvas import hold_canvas

        with hold_canvas():  # one message for the whole repaint, not one per point
            self.canvas.clear()
            self.canvas.fill_style = "black"
            self.canvas.fill_rect(0, 0, self.size, self.size)
            self.canvas.fill_style = "white"
            self.canvas.stroke_style = "white"
            self.canvas.line_width = self.pen
            self.canvas.line_cap = "round"
            for stroke in self.strokes:
                for x, y in stroke:
                    self._dot(x, y)
                for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
                    self.canvas.stroke_line(x0, y0, x1, y1)

    def undo(self) -> list[Prediction]:
        """Remove the last stroke and predict what is left (the blank message when nothing is)."""
        if not self.strokes:
            return self.last
        self._drawing = False
        self.strokes.pop()
        self.undo_button.disabled = not self.strokes
        self._paint_background()
        return self.predict_drawing()

    def clear(self) -> None:
        """Remove every stroke and the answer."""
        self.strokes = []
        self._drawing = False
        self.undo_button.disabled = True
        self._paint_background()
        self.show([], None)

    def drawing(self) -> np.ndarray:
        """The strokes as a picture (uint8, white ink on black), as the predictor receives them."""
        return strokes_to_image(self.strokes, self.size, self.pen)

    def predict_drawing(self) -> list[Prediction]:
        """Predict the drawing and show the answer (the blank message when nothing is drawn)."""
        if not self.strokes:
            self.show([], None)
            return []
        return self.predict_image(self.drawing(), "your drawing")

    # ------------------------------------------------------------------ uploads and answers
    def _on_upload(self, change) -> None:
        # Every file gets its own answer, one under the other (not only the last file's).
        cards, predictions = [], []
        for item in change["new"]:
            card, read = self._read(bytes(item["content"]), item["name"])
            cards.append(card)
            predictions.extend(read)
        if cards:
            self.last = predictions
            self.answer.value = "".join(cards)

    def _read(self, image: ImageInput, title: str) -> tuple[str, list[Prediction]]:
        return read_card(self.predictor, image, title, several=self.several.value)

    def predict_image(self, image: ImageInput, title: str) -> list[Prediction]:
        """Predict one picture (each digit of it, when "several digits" is ticked) and show the answer."""
        card, predictions = self._read(image, title)
        self.last = predictions
        self.answer.value = card
        return predictions

    def show(self, predictions: list[Prediction], title: str | None) -> None:
        """Show `predictions` for one picture titled `title`; none gives the blank message."""
        self.last = predictions
        self.answer.value = reading_html(predictions, title or "")
