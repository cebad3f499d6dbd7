"""Predictions for people's pictures: one digit, a batch, or a multi-digit number, with honest
uncertainty, and the `python -m digitlib predict` command.

The uncertainty rule (thresholds measured in notebooks/05_interface.ipynb, section "Choosing the
thresholds"):
- **no digit**: preprocessing finds almost no ink (fewer than `preprocess.MIN_INK_PIXELS` ink
  pixels at the working size): nothing is predicted.
- **uncertain** ("not sure"): the network has little evidence for any digit (its energy, the log
  of the summed exponentials of its logits, is below `MIN_ENERGY`: pictures unlike anything it
  was trained on score low whatever their softmax says), or the top probability (calibrated by
  `TEMPERATURE`) is below `UNCERTAIN_BELOW`, or the 28x28 input has a shape no MNIST digit has:
  its ink covers less than `MIN_INK_SHARE` or more than `MAX_INK_SHARE` of the field, it encloses
  more than `MAX_HOLES` holes (an 8 has two), or it falls apart into more than `MAX_PARTS`
  pieces. The prediction is still returned, flagged, so an interface can say "not sure".

A digit read in a number by the digit model gets the evidence and confidence checks; the shape
checks only where `SHAPE_CHECKS_IN_NUMBERS` says (chosen on validation numbers, notebook 05). A
digit read by the number reader (touching digits, notebook 03b) gets a "?" when the reader is
less than `NUMBER_READER_UNSURE_BELOW` sure of it.
"""

from __future__ import annotations

import itertools
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from digitlib import config, evaluation, models, number_reader, preprocess, runtime

# Chosen on validation data, never on the test set: `params/sweeps/thresholds.yaml` trains the
# default recipe with 5,000 training images held out (three seeds) and records, for each held-out
# digit delivered as a file (one of synthetic.VARIATIONS each), for 300 generated non-digits and
# for 300 crops of photographs, what the rule reads (`rule_table`). `choose_thresholds` picks from
# `THRESHOLD_GRID` the rule that flags the most non-digits while flagging at most
# `MAX_CORRECT_FLAGGED` of the digits it reads right; notebook 05 shows the choice, and
# tests/test_thresholds.py fails if these values stop being that choice.
#
# The confidence is calibrated first: the model's probabilities are rescaled by `TEMPERATURE`
# (`evaluation.with_temperature`), fitted on the same runs' plain held-out digits (the
# `-probabilities.npz` beside each table; notebook 05, "Calibrating the confidence"), and the rule
# reads the calibrated confidence.
TEMPERATURE = 1.08
UNCERTAIN_BELOW = 0.60
MIN_INK_SHARE = 0.03
MAX_INK_SHARE = 0.30
MAX_HOLES = 2
MAX_PARTS = 4
MIN_ENERGY = 6.0
THRESHOLD_GRID: dict[str, list[float]] = {
    "UNCERTAIN_BELOW": [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95],
    "MIN_INK_SHARE": [0.02, 0.025, 0.03, 0.04],
    "MAX_INK_SHARE": [0.25, 0.3, 0.35],
    "MAX_HOLES": [2],
    "MAX_PARTS": [3, 4],
    "MIN_ENERGY": [0.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],  # 0: practically off (digits score 10 and more)
}
MAX_CORRECT_FLAGGED = 0.02
# Reading numbers: a part wider than WIDE_PART line heights may be digits that touch. It goes to the
# number reader when one is saved; without one it is cut into pieces PIECE_WIDTHS line heights
# wide (a 1 is about a quarter of its height, a 0 up to one). Both were set for cutting, on numbers
# composed of training digits (notebook 05, "Several digits"), not test digits: a cost per piece
# (0.01 to 0.3 in log confidence) or for width beyond WIDE_PART read fewer numbers right there,
# and a WIDE_PART of 1.2 or a widest piece of 1.0 to 1.3 line heights no more. WIDE_PART was not
# chosen again for the reader.
WIDE_PART = 1.0
PIECE_WIDTHS = (0.2, 1.1)
# The "?" on a digit of a number read by the digit model: the network's evidence and confidence as
# for one picture, and the shape checks (ink share, holes, pieces) on "every" digit, only on what
# comes out of a part wider than WIDE_PART ("cut": pieces cut out of touching ink, or such a part
# read whole; with a number reader, those parts are the reader's), or on "none". A narrower part
# read whole is one connected mark of a digit's size, on which the shape checks flag digits read
# right (notebook 05 counts them); a cut piece can be a fragment. The validation numbers hold
# digits only: this choice weighs what the shape checks cost on digits, not what they would catch
# on a dash or a scribble written among them. Chosen on validation numbers read by cutting (the
# thresholds sweep's `numbers/RUN.csv`, notebook 05, "The '?' in a number"):
# `choose_number_checks` keeps the choice that reads the most numbers exactly among those whose
# numbers read wrong without a "?" are at most MAX_EXTRA_SILENT above the single-picture rule's.
SHAPE_CHECKS_IN_NUMBERS = "cut"
NUMBER_CHECK_CHOICES = ("every", "cut", "none")
MAX_EXTRA_SILENT = 0.01
SHAPE_PARTS = ("ink_share", "holes", "parts")  # the parts of the rule that read the input's shape
# With a number reader (`number_reader`; saved beside the digit model), a part of a number too wide
# for one digit is read whole by the reader, and a digit it reads gets a "?" when the reader's
# confidence in it is below NUMBER_READER_UNSURE_BELOW. Chosen on numbers composed of the digits
# the reader's training held out (notebook 03b): `choose_reader_threshold` takes the highest
# threshold of READER_THRESHOLD_GRID that flags at most MAX_CORRECT_FLAGGED of the digits the
# reader reads right, as the rule for one picture does.
NUMBER_READER_UNSURE_BELOW = 0.8
READER_THRESHOLD_GRID = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)


def shape_checks_apply(choice: str, cut: Any) -> np.ndarray:
    """Per digit of a number, whether the shape checks apply under `choice` (one of
    `NUMBER_CHECK_CHOICES`), given whether each digit came out of a wide part (`cut`)."""
    cut = np.asarray(cut, bool)
    if choice not in NUMBER_CHECK_CHOICES:
        raise ValueError(f"shape checks in numbers must be one of {', '.join(NUMBER_CHECK_CHOICES)}, got {choice!r}")
    return {"every": np.ones_like(cut), "cut": cut, "none": np.zeros_like(cut)}[choice]


@dataclass
class Prediction:
    """What the model thinks of one picture."""

    digit: int | None  # None when there is no digit to read
    confidence: float  # the top probability (0 when there is no digit)
    probabilities: np.ndarray  # all ten, summing to 1 (zeros when there is no digit)
    model_input: np.ndarray  # the 28x28 image the model saw
    status: str = "ok"  # "ok", "uncertain" or "no digit"
    reasons: list[str] = field(default_factory=list)
    energy: float = float("nan")  # log of the summed exp-logits: low when no digit has much evidence

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
    cut: list[bool] = field(default_factory=list)  # per digit: from a part wider than WIDE_PART
    by_reader: list[bool] = field(default_factory=list)  # per digit: read by the number reader

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


def breaches(
    confidence, ink_share, holes, parts, energy=np.nan, rule: dict[str, float] | None = None
) -> dict[str, Any]:
    """Which parts of the uncertainty `rule` (default: `thresholds()`) a prediction breaks, one
    truth value per part; works on single values and on numpy arrays alike. An unknown energy
    (NaN: a model without logits, such as an ensemble) breaks nothing."""
    rule = rule or thresholds()
    ink_share = np.asarray(ink_share)
    return {
        "energy": np.asarray(energy) < rule.get("MIN_ENERGY", -np.inf),
        "confidence": np.asarray(confidence) < rule["UNCERTAIN_BELOW"],
        "ink_share": (ink_share < rule["MIN_INK_SHARE"]) | (ink_share > rule["MAX_INK_SHARE"]),
        "holes": np.asarray(holes) > rule["MAX_HOLES"],
        "parts": np.asarray(parts) > rule["MAX_PARTS"],
    }


def judge(
    probabilities: np.ndarray, model_input: np.ndarray, energy: float = np.nan, shape_checks: bool = True
) -> tuple[str, list[str]]:
    """The status of a prediction under the uncertainty rule, and why (without the checks on the
    input's shape when `shape_checks` is False)."""
    confidence = float(np.max(probabilities))
    shape = shape_measures(model_input)
    broken = breaches(confidence, shape["ink_share"], shape["holes"], shape["parts"], energy)
    if not shape_checks:
        broken.update(dict.fromkeys(SHAPE_PARTS, False))
    reasons = []
    if broken["energy"]:
        reasons.append(f"little evidence for any digit (energy {energy:.1f}, below the rule's {MIN_ENERGY:g})")
    if broken["confidence"]:
        reasons.append(f"top probability {100 * confidence:.0f} % is below {100 * UNCERTAIN_BELOW:.0f} %")
    if broken["ink_share"]:
        reasons.append(
            f"ink covers {100 * shape['ink_share']:.0f} % of the field, unlike digits "
            f"({100 * MIN_INK_SHARE:.1f}-{100 * MAX_INK_SHARE:.0f} %)"
        )
    if broken["holes"]:
        reasons.append(f"{shape['holes']} enclosed holes (digits have at most {MAX_HOLES})")
    if broken["parts"]:
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
        "MIN_ENERGY": MIN_ENERGY,
    }


def rule_table(predictions: list[Prediction], labels: np.ndarray) -> Any:
    """What the uncertainty rule reads of each prediction, one row per picture: its true `label`
    (-1 for a picture that is not a digit), the digit read (-1 for none), the confidence and the
    shape measures. Enough to replay any rule of `THRESHOLD_GRID` without the model."""
    import pandas as pd

    rows = []
    for prediction, label in zip(predictions, labels, strict=True):
        shape = shape_measures(prediction.model_input)
        rows.append(
            {
                "label": int(label),
                "digit": -1 if prediction.digit is None else prediction.digit,
                "confidence": round(prediction.confidence, 6),
                "ink_share": round(shape["ink_share"], 5),
                "holes": shape["holes"],
                "parts": shape["parts"],
                "energy": round(prediction.energy, 4),
            }
        )
    return pd.DataFrame(rows)


def rule_outcomes(table: Any, rule: dict[str, float] | None = None) -> dict[str, float]:
    """The shares a `rule` (default: `thresholds()`) flags in a `rule_table`: of the digits read
    right, of the digits misread, of all digits, and of the pictures that are not digits."""
    flagged = _flagged(table, rule)
    digit = (table["label"] >= 0).to_numpy()
    right = digit & (table["digit"] == table["label"]).to_numpy()
    wrong = digit & ~right

    def share(mask: np.ndarray) -> float:
        return float(flagged[mask].mean()) if mask.any() else float("nan")

    return {
        "correct_flagged": share(right),
        "misread_flagged": share(wrong),
        "digits_flagged": share(digit),
        "non_digits_flagged": share(~digit),
    }


def _flagged(table: Any, rule: dict[str, float] | None, shape_applies: Any = True) -> np.ndarray:
    """Per row of a `rule_table`: no digit read, or a part of `rule` broken (the shape parts only
    where `shape_applies`)."""
    energy = table["energy"] if "energy" in table else np.full(len(table), np.nan)  # tables without energy
    broken = breaches(table["confidence"], table["ink_share"], table["holes"], table["parts"], energy, rule)
    shape = np.logical_or.reduce([np.asarray(broken[part]) for part in SHAPE_PARTS])
    return (
        (table["digit"] < 0).to_numpy()
        | np.asarray(broken["energy"])
        | np.asarray(broken["confidence"])
        | (shape & np.asarray(shape_applies, bool))
    )


def number_flags(
    pieces: Any, shape_checks: str = SHAPE_CHECKS_IN_NUMBERS, rule: dict[str, float] | None = None
) -> np.ndarray:
    """Which digits of an `evaluation.number_pieces` table get a "?" under `rule` (default:
    `thresholds()`), the shape checks applying as `shape_checks` says (one of
    `NUMBER_CHECK_CHOICES`); digits of the number reader (`by_reader`) by its own threshold,
    `NUMBER_READER_UNSURE_BELOW`. A number read as nothing (position -1) has no digit to flag."""
    applies = shape_checks_apply(shape_checks, pieces["cut"].to_numpy(bool))
    flags = _flagged(pieces, rule, applies)
    if "by_reader" in pieces:
        flags = reader_flags(pieces, model_flags=flags)
    return flags & (pieces["position"] >= 0).to_numpy()


def choose_number_checks(
    pieces: Any, rule: dict[str, float] | None = None, max_extra_silent: float = MAX_EXTRA_SILENT
) -> tuple[str, Any]:
    """The choice of `NUMBER_CHECK_CHOICES` that reads the most numbers of `pieces` (an
    `evaluation.number_pieces` table, every gap pooled) exactly, among those whose share read wrong
    without a "?" is at most `max_extra_silent` above that of "every" (the single-picture rule);
    and each choice's outcomes. Tables of several runs need a `run` column."""
    import pandas as pd

    tried = pd.concat(
        [
            evaluation.number_outcomes(pieces, number_flags(pieces, choice, rule), by_gap=False).assign(
                **{"shape checks": choice}
            )
            for choice in NUMBER_CHECK_CHOICES
        ]
    ).set_index("shape checks")
    ceiling = tried.loc["every", "read_wrong_without_a_question_mark"] + max_extra_silent
    tried["allowed"] = tried["read_wrong_without_a_question_mark"] <= ceiling + 1e-12
    allowed = tried[tried["allowed"]]
    return str(allowed["read_exactly"].idxmax()), tried


def reader_flags(pieces: Any, unsure_below: float = NUMBER_READER_UNSURE_BELOW, model_flags: Any = None) -> np.ndarray:
    """The "?" on every digit of an `evaluation.number_pieces` table read with a number reader:
    on the reader's digits (`by_reader`) where its confidence is below `unsure_below`; on the
    digit model's, `model_flags` (default: as the predictor flagged them)."""
    from_reader = pieces["by_reader"].to_numpy(bool) & (pieces["position"].to_numpy() >= 0)
    model_flags = pieces["flagged"].to_numpy(bool) if model_flags is None else np.asarray(model_flags, bool)
    return np.where(from_reader, pieces["confidence"].to_numpy() < unsure_below, model_flags)


def choose_reader_threshold(
    pieces: Any, grid: tuple[float, ...] = READER_THRESHOLD_GRID, max_correct_flagged: float = MAX_CORRECT_FLAGGED
) -> tuple[float, Any]:
    """The "?" threshold for the number reader's digits, from an `evaluation.number_pieces` table
    of validation numbers: the highest of `grid` that flags at most `max_correct_flagged` of the
    digits the reader reads right. Returns it and, per threshold, the shares of the reader's
    digits flagged (right and wrong ones; a digit of a number read with the wrong count of digits
    is wrong) and of the numbers read exactly and read wrong without a "?", pooled over gaps."""
    import pandas as pd

    from_reader = pieces["by_reader"].to_numpy(bool) & (pieces["position"].to_numpy() >= 0)
    right = (pieces["digit"] == pieces["label"]).to_numpy()
    right_ones, wrong_ones = from_reader & right, from_reader & ~right
    rows = []
    for threshold in grid:
        flags = reader_flags(pieces, threshold)
        pooled = evaluation.number_outcomes(pieces, flags, by_gap=False).iloc[0]
        rows.append(
            {
                "unsure_below": threshold,
                "right_digits_flagged": float(flags[right_ones].mean()) if right_ones.any() else 0.0,
                "wrong_digits_flagged": float(flags[wrong_ones].mean()) if wrong_ones.any() else 0.0,
                "read_exactly": pooled["read_exactly"],
                "read_wrong_without_a_question_mark": pooled["read_wrong_without_a_question_mark"],
            }
        )
    trade = pd.DataFrame(rows).set_index("unsure_below")
    allowed = trade.index[trade["right_digits_flagged"] <= max_correct_flagged + 1e-12]
    return float(max(allowed, default=min(grid))), trade


def at_temperature(table: Any, probabilities: np.ndarray, temperature: float) -> Any:
    """A `rule_table` with each picture's confidence as the model gives it at `temperature`, from
    the picture's raw probabilities (one row each, in the table's order). Pictures with no digit
    keep confidence 0."""
    if len(probabilities) != len(table):
        raise ValueError(f"{len(probabilities)} rows of probabilities for a table of {len(table)} pictures")
    read = np.asarray(probabilities).sum(axis=1) > 0
    confidence = np.zeros(len(table))
    confidence[read] = evaluation.with_temperature(probabilities[read], temperature).max(axis=1)
    return table.assign(confidence=confidence.round(6))


def choose_thresholds(
    table: Any, grid: dict[str, list[float]] | None = None, max_correct_flagged: float = MAX_CORRECT_FLAGGED
) -> tuple[dict[str, float], Any]:
    """The rule of `grid` (default `THRESHOLD_GRID`) that flags the most non-digits among those that
    flag at most `max_correct_flagged` of the digits read right (ties: more misread digits caught,
    then fewer right ones flagged, then the grid's order), and every rule's outcomes, best first."""
    import pandas as pd

    tried_grid: dict[str, list[float]] = grid or THRESHOLD_GRID
    rows = []
    for values in itertools.product(*tried_grid.values()):
        rule = dict(zip(tried_grid, values))
        rows.append({**rule, **rule_outcomes(table, rule)})
    tried = pd.DataFrame(rows)
    tried["allowed"] = tried["correct_flagged"] <= max_correct_flagged
    tried["tie_break"] = -tried["correct_flagged"]
    # a stable sort: rules that do exactly as well keep the grid's order
    tried = tried.sort_values(
        ["allowed", "non_digits_flagged", "misread_flagged", "tie_break"], ascending=False, kind="stable"
    )
    tried = tried.drop(columns="tie_break").reset_index(drop=True)
    if not tried["allowed"].any():
        raise ValueError(f"no rule of the grid flags at most {100 * max_correct_flagged:.1f} % of right answers")
    return {name: tried.loc[0, name].item() for name in tried_grid}, tried


class Predictor:
    """A saved Keras model wrapped for people's pictures. Loads once; predicts in milliseconds."""

    def __init__(
        self,
        model_path: str | os.PathLike = config.MODELS_DIR / f"{config.DEFAULT_MODEL_NAME}.keras",
        temperature: float | None = None,
        number_reader_path: str | os.PathLike | bool = True,
    ):
        """`number_reader_path`: the number reader to read numbers with; True, the one saved beside
        the model if there is one; False, none (numbers are cut into digits for the model)."""
        path = Path(model_path)
        if not path.is_absolute() and not path.exists():
            path = config.PROJ_ROOT / path
        if not path.exists():
            raise FileNotFoundError(
                f"No trained model at {config.display_path(path)}: train one with "
                f"notebooks/03_training.ipynb (or `make run`)."
            )
        if temperature is not None and not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        self.model_path = path
        # safe mode: a .keras file that would run code of its own (a Lambda layer) is refused
        self.model = runtime.keras().models.load_model(path, compile=False, safe_mode=True)
        self._logits_graph = models.logits_function(self.model)
        self._model_graph = models.inference_function(self.model)  # traced only when there are no logits
        # TEMPERATURE was fitted on single networks; an ensemble's averaged probabilities are read as they are
        single = len(models.networks(self.model)) == 1
        self.temperature = temperature if temperature is not None else TEMPERATURE if single else 1.0
        self._read(np.zeros((1, 28, 28), np.float32))  # warm-up: the first call traces the graph
        self.number_reader_path = self._number_reader_file(number_reader_path)
        self._line_graph = None
        if self.number_reader_path is not None:
            reader = runtime.keras().models.load_model(self.number_reader_path, compile=False, safe_mode=True)
            if tuple(reader.input_shape[1:3]) != (preprocess.FIELD, preprocess.LINE_WIDTH):
                raise ValueError(
                    f"{config.display_path(self.number_reader_path)} reads lines of {reader.input_shape[1:3]}, "
                    f"not the {preprocess.FIELD}x{preprocess.LINE_WIDTH} that preprocessing makes"
                )
            tf = runtime.import_tensorflow()
            self._line_graph = tf.function(
                lambda batch: reader(batch, training=False),
                input_signature=[tf.TensorSpec([None, *reader.input_shape[1:]], tf.float32)],
                autograph=False,  # a plain call: nothing for AutoGraph to convert
            )
            self._line_graph(np.zeros((1, *reader.input_shape[1:]), np.float32))

    def _number_reader_file(self, asked: str | os.PathLike | bool) -> Path | None:
        if asked is False:
            return None
        beside = self.model_path.parent / number_reader.FILE_NAME
        path = beside if asked is True else Path(asked)
        if not path.is_absolute() and not path.exists():
            path = config.PROJ_ROOT / path
        if path.exists():
            return path
        if asked is True:
            return None
        raise FileNotFoundError(
            f"No number reader at {config.display_path(path)}: train one with notebooks/03b_number_reader.ipynb."
        )

    def _read(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and energies of a batch of 28x28 inputs: from each network's
        logits, softmax(logits / temperature) and log-sum-exp(logits), averaged over an ensemble's
        networks (energy NaN for a model without logits)."""
        inputs = np.asarray(batch, np.float32)[..., np.newaxis]
        if self._logits_graph is None:
            raw = self._model_graph(inputs).numpy()
            return evaluation.with_temperature(raw, self.temperature), np.full(len(inputs), np.nan)
        from scipy.special import logsumexp, softmax

        logits = self._logits_graph(inputs).numpy().astype(np.float64)  # (networks, n, 10)
        probabilities = softmax(logits / self.temperature, axis=-1).mean(axis=0).astype(np.float32)
        return probabilities, logsumexp(logits, axis=-1).mean(axis=0)

    def _probabilities(self, batch: np.ndarray) -> np.ndarray:
        return self._read(batch)[0]

    def _from_steps(
        self, steps_list: list[preprocess.Steps], shape_checks: list[bool] | None = None
    ) -> list[Prediction]:
        results: list[Prediction | None] = [None] * len(steps_list)
        checks = [True] * len(steps_list) if shape_checks is None else shape_checks
        readable = [i for i, steps in enumerate(steps_list) if not steps.blank]
        if readable:
            probabilities, energies = self._read(np.stack([steps_list[i].result for i in readable]))
            for i, row, energy in zip(readable, probabilities, energies):
                status, reasons = judge(row, steps_list[i].result, energy, checks[i])
                results[i] = Prediction(
                    int(row.argmax()), float(row.max()), row, steps_list[i].result, status, reasons, float(energy)
                )
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
        """Read a picture of several digits (for example "2026") left to right.

        Each part of the picture (`preprocess.number_parts`) wider than `WIDE_PART` times the
        line's height may be several digits whose strokes touch. With a number reader, the reader
        reads such a part whole (`_read_line`); without one, it is cut where the model reads the
        pieces best (`_cut_apart`). Narrower parts are read by the digit model, one digit each.
        The model's digits are flagged as `SHAPE_CHECKS_IN_NUMBERS` says, the reader's as
        `NUMBER_READER_UNSURE_BELOW` says."""
        grey, inverted, parts = preprocess.number_parts(image)
        line_height = max((preprocess.ink_extent(part)[2] for part in parts), default=0)
        slots: list[tuple[preprocess.Steps, bool] | list[Prediction]] = []
        for part in parts:
            start, stop, _ = preprocess.ink_extent(part)
            if stop - start <= WIDE_PART * line_height:
                slots.append((preprocess.piece_steps(grey, part, start, stop, inverted), False))
            elif self._line_graph is not None:
                slots.append(self._read_line(preprocess.line_from_ink(part)))
            else:
                slots += [(steps, True) for steps in self._cut_apart(grey, part, inverted, line_height)]
        slots = [slot for slot in slots if isinstance(slot, list) or not slot[0].blank]
        for_model = [slot for slot in slots if isinstance(slot, tuple)]
        checks = [bool(c) for c in shape_checks_apply(SHAPE_CHECKS_IN_NUMBERS, [cut for _, cut in for_model])]
        read_by_model = iter(self._from_steps([steps for steps, _ in for_model], checks))
        digits: list[Prediction] = []
        cut: list[bool] = []
        by_reader: list[bool] = []
        for slot in slots:
            if isinstance(slot, list):
                digits += slot
                cut += [True] * len(slot)
                by_reader += [True] * len(slot)
            else:
                digits.append(next(read_by_model))
                cut.append(slot[1])
                by_reader.append(False)
        return NumberReading(digits, cut, by_reader)

    def _read_line(self, line: np.ndarray) -> list[Prediction]:
        """The digits of a line (`preprocess.line_from_ink`) as the number reader reads them; a
        digit it is less than `NUMBER_READER_UNSURE_BELOW` sure of is flagged "?"."""
        assert self._line_graph is not None
        if not line.any():
            return []
        predictions = []
        for read in number_reader.decode(self._line_graph(line[np.newaxis, ..., np.newaxis]).numpy())[0]:
            sure = read.confidence >= NUMBER_READER_UNSURE_BELOW
            reasons = [] if sure else [f"the number reader is less than {NUMBER_READER_UNSURE_BELOW:.0%} sure of it"]
            window = number_reader.frame_window(line, read.frame)
            status = "ok" if sure else "uncertain"
            predictions.append(Prediction(read.digit, read.confidence, read.probabilities, window, status, reasons))
        return predictions

    def _cut_apart(
        self, grey: np.ndarray, part: np.ndarray, inverted: bool, line_height: int
    ) -> list[preprocess.Steps]:
        """The pieces of a wide part: of the ways to cut it at `preprocess.cut_columns` into pieces
        `PIECE_WIDTHS` times the line's height wide, the one whose pieces the model reads with the
        highest product of confidences (recognition-based segmentation, by dynamic programming)."""
        start, stop, _ = preprocess.ink_extent(part)
        cuts = [start, *preprocess.cut_columns(part, line_height), stop]
        narrowest, widest = (share * line_height for share in PIECE_WIDTHS)
        spans = [
            (i, j)
            for i in range(len(cuts))
            for j in range(i + 1, len(cuts))
            if narrowest <= cuts[j] - cuts[i] <= widest
        ]
        steps = {span: preprocess.piece_steps(grey, part, cuts[span[0]], cuts[span[1]], inverted) for span in spans}
        readable = [span for span in spans if not steps[span].blank]
        if not readable:  # no way of cutting it fits: read it whole
            return [preprocess.piece_steps(grey, part, start, stop, inverted)]
        confidence = self._probabilities(np.stack([steps[span].result for span in readable])).max(axis=1)
        score = {span: float(np.log(max(c, 1e-9))) for span, c in zip(readable, confidence)}
        no_way: list[tuple[int, int]] = []
        best = [(0.0, no_way)] + [(-np.inf, no_way)] * (len(cuts) - 1)
        for j in range(1, len(cuts)):
            for i in range(j):
                if (i, j) in score and best[i][0] + score[(i, j)] > best[j][0]:
                    best[j] = (best[i][0] + score[(i, j)], [*best[i][1], (i, j)])
        if not best[-1][1]:
            return [preprocess.piece_steps(grey, part, start, stop, inverted)]
        return [steps[span] for span in best[-1][1]]


# --------------------------------------------------------------------------- command line


PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")


def _pictures(names: list[str]) -> list[str]:
    """The command's arguments with each folder replaced by the pictures in it, sorted by name."""
    found = []
    for name in names:
        if Path(name).is_dir():
            inside = sorted(
                str(path) for path in Path(name).iterdir() if path.is_file() and path.suffix.lower() in PICTURE_SUFFIXES
            )
            if not inside:
                print(f"{name}: a folder with no pictures in it ({', '.join(PICTURE_SUFFIXES)})", file=sys.stderr)
            found += inside
        else:
            found.append(name)
    return found


def _predict_command(args) -> int:
    predictor = Predictor(args.model)
    failures = 0
    names = _pictures(args.images)
    if not names:
        return 1
    for name in names:
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
    command.add_argument(
        "images", nargs="+", metavar="IMAGE", help="PNG, JPEG, GIF, BMP, WEBP or TIFF files, or folders of them"
    )
    command.add_argument("--number", action="store_true", help="read several digits left to right")
    command.add_argument(
        "--model",
        default=str(config.MODELS_DIR / f"{config.DEFAULT_MODEL_NAME}.keras"),
        help="a saved .keras model (default: models/cnn.keras)",
    )
    command.set_defaults(handler=_predict_command)
