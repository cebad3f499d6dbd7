"""Predictions for people's pictures: one digit, a batch, or a multi-digit number, with honest
uncertainty, and the `python -m digitlib predict` command.

The uncertainty rule (thresholds measured in notebooks/05_interface.ipynb, section "Choosing the
thresholds"):
- **no digit**: preprocessing finds almost no ink (fewer than `preprocess.MIN_INK_PIXELS` ink
  pixels at the working size): nothing is predicted.
- **uncertain**: the top probability is below `UNCERTAIN_BELOW`, or the 28x28 input has a shape
  no MNIST digit has: its ink covers less than `MIN_INK_SHARE` or more than `MAX_INK_SHARE` of
  the field, it encloses more than `MAX_HOLES` holes (an 8 has two), or it falls apart into more
  than `MAX_PARTS` pieces. The prediction is still returned, flagged, so an interface can say
  "not sure".
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digitlib import config, models, preprocess, runtime

# Chosen on data: 3000 MNIST test digits delivered through the upload path in nine ways
# (synthetic.VARIATIONS) and 300 non-digits (synthetic.non_digit_images), with the default model.
# Of the grid tried (UNCERTAIN_BELOW 0.8/0.85/0.9, MAX_PARTS 3/4, MAX_INK_SHARE 0.30/0.35), this one
# flags few of the correctly read digits but most of the misread ones and most of the non-digits.
# Notebook 05 ("Choosing the thresholds") measures those shares again on every run and records
# them in reports/05_interface.json.
UNCERTAIN_BELOW = 0.90
MIN_INK_SHARE = 0.025
MAX_INK_SHARE = 0.30
MAX_HOLES = 2
MAX_PARTS = 4


@dataclass
class Prediction:
    """What the model thinks of one picture."""

    digit: int | None  # None when there is no digit to read
    confidence: float  # the top probability (0 when there is no digit)
    probabilities: np.ndarray  # all ten, summing to 1 (zeros when there is no digit)
    model_input: np.ndarray  # the 28x28 image the model saw
    status: str = "ok"  # "ok", "uncertain" or "no digit"
    reasons: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """A short human answer: '7 (98.5 %)', 'maybe 3 (54.0 %)' or 'no digit'."""
        if self.digit is None:
            return "no digit"
        prefix = "maybe " if self.status == "uncertain" else ""
        return f"{prefix}{self.digit} ({100 * self.confidence:.1f} %)"


@dataclass
class NumberReading:
    """A multi-digit picture read left to right."""

    digits: list[Prediction]

    @property
    def text(self) -> str:
        return "".join("?" if p.digit is None or p.status != "ok" else str(p.digit) for p in self.digits)

    @property
    def confidence(self) -> float:
        return float(np.prod([p.confidence for p in self.digits])) if self.digits else 0.0


def shape_measures(model_input: np.ndarray) -> dict[str, float]:
    """Ink share (pixels above half intensity), enclosed holes and separate pieces of a 28x28 input."""
    from scipy import ndimage

    ink = np.asarray(model_input) > 0.5
    labels, count = ndimage.label(ink)
    sizes = ndimage.sum(ink, labels, range(1, count + 1)) if count else []
    background, regions = ndimage.label(~ink)
    touching = set(np.unique(np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]])))
    region_sizes = ndimage.sum(~ink, background, range(1, regions + 1)) if regions else []
    holes = sum(1 for label, size in enumerate(region_sizes, 1) if label not in touching and size >= 2)
    return {"ink_share": float(ink.mean()), "holes": holes, "parts": sum(1 for size in sizes if size >= 3)}


def judge(probabilities: np.ndarray, model_input: np.ndarray) -> tuple[str, list[str]]:
    """The status of a prediction under the uncertainty rule, and why."""
    reasons = []
    confidence = float(np.max(probabilities))
    if confidence < UNCERTAIN_BELOW:
        reasons.append(f"top probability {100 * confidence:.0f} % is below {100 * UNCERTAIN_BELOW:.0f} %")
    shape = shape_measures(model_input)
    if not MIN_INK_SHARE <= shape["ink_share"] <= MAX_INK_SHARE:
        reasons.append(
            f"ink covers {100 * shape['ink_share']:.0f} % of the field, unlike digits "
            f"({100 * MIN_INK_SHARE:.1f}-{100 * MAX_INK_SHARE:.0f} %)"
        )
    if shape["holes"] > MAX_HOLES:
        reasons.append(f"{shape['holes']} enclosed holes (digits have at most {MAX_HOLES})")
    if shape["parts"] > MAX_PARTS:
        reasons.append(f"{shape['parts']} separate pieces (digits have at most {MAX_PARTS})")
    return ("uncertain" if reasons else "ok"), reasons


def thresholds() -> dict[str, float]:
    """The uncertainty rule's thresholds as they stand, for a run's record."""
    return {
        "MIN_INK_PIXELS": preprocess.MIN_INK_PIXELS,
        "UNCERTAIN_BELOW": UNCERTAIN_BELOW,
        "MIN_INK_SHARE": MIN_INK_SHARE,
        "MAX_INK_SHARE": MAX_INK_SHARE,
        "MAX_HOLES": MAX_HOLES,
        "MAX_PARTS": MAX_PARTS,
    }


def flagged_shares(predictions: list[Prediction], labels: np.ndarray | None = None) -> dict[str, float | None]:
    """How the rule treated `predictions`: the share flagged ("uncertain" or "no digit"); with
    the true `labels`, also the accuracy and the shares flagged among right and wrong answers
    (None where there are none)."""
    flagged = np.array([p.status != "ok" for p in predictions], bool)
    shares: dict[str, float | None] = {"flagged": float(flagged.mean()) if len(flagged) else None}
    if labels is not None:
        right = np.array([p.digit == label for p, label in zip(predictions, labels, strict=True)], bool)
        shares["accuracy"] = float(right.mean()) if len(right) else None
        shares["flagged_when_right"] = float(flagged[right].mean()) if right.any() else None
        shares["flagged_when_wrong"] = float(flagged[~right].mean()) if (~right).any() else None
    return shares


class Predictor:
    """A saved Keras model wrapped for people's pictures. Loads once; predicts in milliseconds."""

    def __init__(self, model_path: str | os.PathLike = config.MODELS_DIR / f"{config.DEFAULT_MODEL_NAME}.keras"):
        path = Path(model_path)
        if not path.is_absolute() and not path.exists():
            path = config.PROJ_ROOT / path
        if not path.exists():
            raise FileNotFoundError(
                f"No trained model at {config.display_path(path)}: train one with "
                f"notebooks/03_training.ipynb (or `make run`)."
            )
        self.model_path = path
        self.model = runtime.keras().models.load_model(path)
        self._model_graph = models.inference_function(self.model)
        self._probabilities(np.zeros((1, 28, 28), np.float32))  # warm-up: the first call traces the graph

    def _probabilities(self, batch: np.ndarray) -> np.ndarray:
        return self._model_graph(np.asarray(batch, np.float32)[..., np.newaxis]).numpy()

    def _from_steps(self, steps_list: list[preprocess.Steps]) -> list[Prediction]:
        results: list[Prediction | None] = [None] * len(steps_list)
        readable = [i for i, steps in enumerate(steps_list) if not steps.blank]
        if readable:
            probabilities = self._probabilities(np.stack([steps_list[i].result for i in readable]))
            for i, row in zip(readable, probabilities):
                status, reasons = judge(row, steps_list[i].result)
                results[i] = Prediction(int(row.argmax()), float(row.max()), row, steps_list[i].result, status, reasons)
        for i, steps in enumerate(steps_list):
            if results[i] is None:
                results[i] = Prediction(
                    None,
                    0.0,
                    np.zeros(config.NUM_CLASSES, np.float32),
                    steps.result,
                    "no digit",
                    ["no ink found: draw or upload a digit"],
                )
        return [result for result in results if result is not None]  # every slot is filled by now

    def predict(self, image) -> Prediction:
        """The digit in one picture (bytes, path, PIL image or array), with its confidence."""
        return self._from_steps([preprocess.preprocess_steps(image)])[0]

    def predict_batch(self, images) -> list[Prediction]:
        """`predict` for many pictures, with one model call."""
        return self._from_steps([preprocess.preprocess_steps(image) for image in images])

    def read_number(self, image) -> NumberReading:
        """Read a picture of several digits (for example "2026") left to right."""
        return NumberReading(self._from_steps(preprocess.split_digits(image)))


# --------------------------------------------------------------------------- command line


def _predict_command(args) -> int:
    predictor = Predictor(args.model)
    failures = 0
    for name in args.images:
        try:
            if args.number:
                reading = predictor.read_number(name)
                shown = ", ".join(p.label for p in reading.digits) or "no digits"
                print(f"{name}: {reading.text or '(nothing)'}  [{shown}]")
            else:
                print(f"{name}: {predictor.predict(name).label}")
        except preprocess.InvalidImageError as error:
            failures += 1
            print(f"{name}: error: {error}", file=sys.stderr)
    return 1 if failures else 0


def add_command(commands) -> None:
    command = commands.add_parser("predict", help="predict the digit in image files")
    command.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, GIF, BMP or WEBP files")
    command.add_argument("--number", action="store_true", help="read several digits left to right")
    command.add_argument(
        "--model",
        default=str(config.MODELS_DIR / f"{config.DEFAULT_MODEL_NAME}.keras"),
        help="a saved .keras model (default: models/cnn.keras)",
    )
    command.set_defaults(handler=_predict_command)
