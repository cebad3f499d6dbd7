"""The drawing and upload interface (ipywidgets + ipycanvas), built on `digitlib.predict`.

`DigitPad(predictor).widget` is the whole interface: a canvas to draw on (prediction when the pen
lifts), Clear, an upload control for one or several image files, and the answer: the digit large,
its confidence, the ten probabilities, the 28x28 image the model saw, and each digit of a
multi-digit drawing. The strokes are kept in Python and rasterized with Pillow
(`preprocess.strokes_to_image`), so predictions do not wait on the browser sending pixels back,
and tests can drive the callbacks directly.
"""

from __future__ import annotations

import html
import io

import numpy as np

from digitlib import plots
from digitlib.predict import Prediction, Predictor
from digitlib.preprocess import CANVAS_SIZE, PEN_WIDTH, InvalidImageError, strokes_to_image

BLANK_MESSAGE = "Draw a digit in the box (or upload a picture)"


def answer_html(prediction: Prediction | None, title: str = "") -> str:
    """The answer as HTML: the digit large with its confidence, or a friendly message."""
    heading = f"<div style='color:#666'>{html.escape(title)}</div>" if title else ""
    if prediction is None or prediction.digit is None:
        return f"{heading}<div class='digit-answer' style='font-size:20px;padding:12px 0'>{BLANK_MESSAGE}</div>"
    colour = "#b36b00" if prediction.status == "uncertain" else "#1a7f37"
    note = (
        "<div style='color:#b36b00'>Not sure: " + html.escape("; ".join(prediction.reasons)) + "</div>"
        if prediction.status == "uncertain"
        else ""
    )
    return (
        f"{heading}<div class='digit-answer' "
        f"style='font-size:72px;line-height:1;color:{colour}'>{prediction.digit}</div>"
        f"<div class='digit-confidence' "
        f"style='font-size:18px'>{100 * prediction.confidence:.1f} % confident</div>{note}"
    )


def prediction_figure(predictions: list[Prediction], titles: list[str] | None = None, columns: int = 7):
    """For each prediction: the 28x28 input the model saw (titled with the answer) above the bar
    chart of its ten probabilities; `columns` pairs per row."""
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


class DigitPad:
    """The interface: draw or upload, and see what the model thinks."""

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
        self.clear_button = widgets.Button(description="Clear", icon="eraser")
        self.predict_button = widgets.Button(description="Predict", icon="check", button_style="primary")
        self.several = widgets.Checkbox(value=False, description="several digits (e.g. 42)", indent=False)
        self.upload = widgets.FileUpload(accept="image/*", multiple=True, description="Upload images")
        self.answer = widgets.HTML(answer_html(None))
        self.details = widgets.Output()
        self.last: list[Prediction] = []

        self.canvas.on_mouse_down(self.pen_down)
        self.canvas.on_mouse_move(self.pen_move)
        self.canvas.on_mouse_up(self.pen_up)
        self.canvas.on_mouse_out(self.pen_up)
        self.clear_button.on_click(lambda _: self.clear())
        self.predict_button.on_click(lambda _: self.predict_drawing())
        self.upload.observe(self._on_upload, names="value")
        # Draw nothing before the browser shows the canvas: commands sent earlier are lost (Voila), and
        # ipycanvas would then skip re-announcing which canvas later commands are for.
        self.canvas.on_client_ready(self._paint_background)
        self.show([], None)
        self.details.layout = widgets.Layout(overflow="hidden")
        controls = widgets.VBox(
            [self.canvas, widgets.HBox([self.clear_button, self.predict_button]), self.several, self.upload],
            layout=widgets.Layout(min_width=f"{size + 24}px", flex="0 0 auto"),
        )
        answers = widgets.VBox(
            [self.answer, self.details],
            layout=widgets.Layout(padding="0 0 0 24px", min_width="320px", flex="1 1 auto", overflow="hidden"),
        )
        self.widget = widgets.HBox([controls, answers], layout=widgets.Layout(align_items="flex-start"))
        self.widget.add_class("digit-pad")

    # ------------------------------------------------------------------ drawing
    def pen_down(self, x: float, y: float) -> None:
        self._drawing = True
        self.strokes.append([(x, y)])
        self._dot(x, y)

    def pen_move(self, x: float, y: float) -> None:
        if not self._drawing:
            return
        last_x, last_y = self.strokes[-1][-1]
        self.strokes[-1].append((x, y))
        self.canvas.stroke_line(last_x, last_y, x, y)
        self._dot(x, y)

    def pen_up(self, x: float, y: float) -> None:
        if self._drawing:
            self._drawing = False
            self.predict_drawing()

    def _dot(self, x: float, y: float) -> None:
        self.canvas.fill_circle(x, y, self.pen / 2)

    def _paint_background(self) -> None:
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

    def clear(self) -> None:
        self.strokes = []
        self._paint_background()
        self.show([], None)

    def drawing(self) -> np.ndarray:
        return strokes_to_image(self.strokes, self.size, self.pen)

    def predict_drawing(self) -> list[Prediction]:
        if not self.strokes:
            self.show([], None)
            return []
        return self.predict_image(self.drawing(), "your drawing")

    # ------------------------------------------------------------------ uploads and answers
    def _on_upload(self, change) -> None:
        for item in change["new"]:
            self.predict_image(bytes(item["content"]), item["name"])

    def predict_image(self, image, title: str) -> list[Prediction]:
        try:
            if self.several.value:
                predictions = self.predictor.read_number(image).digits
            else:
                predictions = [self.predictor.predict(image)]
        except InvalidImageError as error:
            self.answer.value = (
                f"<div style='color:#b00020;font-size:16px'>{html.escape(title)}: {html.escape(str(error))}</div>"
            )
            self.details.outputs = ()
            return []
        self.show(predictions, title)
        return predictions

    def show(self, predictions: list[Prediction], title: str | None) -> None:
        import matplotlib.pyplot as plt

        self.last = predictions
        readable = [p for p in predictions if p.digit is not None]
        if not readable:
            self.answer.value = answer_html(None, title or "")
            self.details.outputs = ()
            return
        if len(readable) == 1:
            self.answer.value = answer_html(readable[0], title or "")
        else:
            text = "".join(str(p.digit) if p.status == "ok" else "?" for p in readable)
            self.answer.value = (
                f"<div style='color:#666'>{html.escape(title or '')}</div><div class='digit-answer' "
                f"style='font-size:64px;line-height:1'>{text}</div><div class='digit-confidence'>"
                + ", ".join(p.label for p in readable)
                + "</div>"
            )
        # A PNG appended to the Output widget shows in JupyterLab and Voila alike, and needs no
        # kernel-side output capture (so tests can check it).
        from IPython.display import Image as DisplayImage

        fig = prediction_figure(readable)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        plt.close(fig)
        self.details.outputs = ()
        self.details.append_display_data(DisplayImage(buffer.getvalue()))
