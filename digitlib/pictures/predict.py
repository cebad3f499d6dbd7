"""Predictions for people's pictures: one digit, a batch, or a multi-digit number, with honest
uncertainty, and the `python -m digitlib predict` command.

A `Predictor` loads a saved digit model with its "not sure" rule (`rule.load_rule`, the file
beside the model), the digit detector that rule names (`detector`: is it a digit at all?) and,
when one is saved beside it, the number reader with its "?" threshold. A
digit read in a number by the digit model gets the evidence and confidence checks, and the shape
checks where the rule's `shape_checks_in_numbers` says; a digit read by the number reader
(touching digits) gets a "?" when the reader is less sure of it than its threshold.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digitlib import config, evaluation, models, runtime
from digitlib.pictures import preprocess, reader, rule, segment

# Reading numbers: a part wider than WIDE_PART line heights may be digits that touch. It goes to the
# number reader when one is saved; without one it is cut into pieces PIECE_WIDTHS line heights
# wide (a 1 is about a quarter of its height, a 0 up to one), set on numbers composed of training
# digits (notebook 06, "Several digits").
WIDE_PART = 1.0
PIECE_WIDTHS = (0.2, 1.1)


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
    why: str = ""  # the main reason for "not sure", in a few words
    not_digit: float = float("nan")  # the digit detector's probability that this is not a digit

    @property
    def label(self) -> str:
        """A short human answer: '7 (98.5 %)', 'maybe 3 (54.0 %)', 'not a digit' or 'no digit'."""
        if self.digit is None:
            return "no digit"
        if self.why == rule.NOT_A_DIGIT:
            return "not a digit"
        prefix = "maybe " if self.status == "uncertain" else ""
        return f"{prefix}{self.digit} ({100 * self.confidence:.1f} %)"


@dataclass
class NumberReading:
    """A multi-digit picture read left to right."""

    digits: list[Prediction]
    cut: list[bool] = field(default_factory=list)  # per digit: from a part wider than WIDE_PART
    by_reader: list[bool] = field(default_factory=list)  # per digit: read by the number reader
    # the number reader's probability of what it read, its parts' readings as a whole (1: it read none)
    reading_probability: float = 1.0

    @property
    def text(self) -> str:
        return "".join("?" if p.digit is None or p.status != "ok" else str(p.digit) for p in self.digits)

    @property
    def confidence(self) -> float:
        return float(np.prod([p.confidence for p in self.digits])) if self.digits else 0.0


class Predictor:
    """A saved Keras model wrapped for people's pictures. Loads once; predicts in milliseconds."""

    def __init__(
        self,
        model_path: str | os.PathLike = config.MODELS_DIR / f"{config.DEFAULT_MODEL_NAME}.keras",
        temperature: float | None = None,
        number_reader_path: str | os.PathLike | bool = True,
        rule_path: str | os.PathLike | None = None,
        detector: bool = True,
    ):
        """`number_reader_path`: the number reader to read numbers with; True, the one saved beside
        the model if there is one; False, none (numbers are cut into digits for the model).
        `rule_path`: the "not sure" rule (default: the one beside the model, else the shipped
        model's). `temperature` overrides the rule's (1: the model's own probabilities). `detector`:
        False, no digit detector even where the rule names one (the rule's other parts alone)."""
        path = _project_path(model_path)
        if not path.exists():
            raise FileNotFoundError(
                f"No trained model at {config.display_path(path)}: train one with "
                f"notebooks/03_training.ipynb (or `make run`)."
            )
        if temperature is not None and not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        self.model_path = path
        beside = rule.rule_file(path)
        self.rule_path = _project_path(rule_path) if rule_path else beside if beside.exists() else rule.SHIPPED_RULE
        self.rule = rule.load_rule(self.rule_path)
        # safe mode: a .keras file that would run code of its own (a Lambda layer) is refused
        self.model = runtime.keras().models.load_model(path, compile=False, safe_mode=True)
        self._logits_graph = models.logits_function(self.model)
        self._model_graph = models.inference_function(self.model)  # traced only when there are no logits
        # fitted on single networks: an ensemble's averaged probabilities are read as they are
        single = len(models.networks(self.model)) == 1
        self.temperature = temperature if temperature is not None else self.rule.temperature if single else 1.0
        self._read(np.zeros((1, 28, 28), np.float32))  # warm-up: the first call traces the graph
        self._detector_graph = None
        self.not_digit_above = float("inf")
        self.replaced: set[str] = set()  # the parts of the rule the detector stands in for (rule.REPLACEABLE)
        if self.rule.detector and detector:
            detector_path = _project_path(self.rule.detector["model"])
            if not detector_path.exists():
                raise FileNotFoundError(
                    f"No digit detector at {config.display_path(detector_path)}, which the rule "
                    f"{config.display_path(self.rule_path)} reads: train one with `python -m digitlib detector`."
                )
            self._detector_graph = _graph(
                runtime.keras().models.load_model(detector_path, compile=False, safe_mode=True)
            )
            self.not_digit_above = float(self.rule.detector["not_digit_above"])
            self.replaced = set(self.rule.detector.get("replaces", []))
        self.number_reader_path = self._number_reader_file(number_reader_path)
        self._line_graph = None
        self.reader_unsure_below = float("nan")
        self.number_unsure_below = 0.0  # a "?" where the reader's whole reading is less sure (0: none)
        self.replaced_in_numbers: set[str] = set()  # the parts the detector stands in for in a number
        if self.number_reader_path is not None:
            line_model = runtime.keras().models.load_model(self.number_reader_path, compile=False, safe_mode=True)
            if tuple(line_model.input_shape[1:3]) != (preprocess.FIELD, segment.LINE_WIDTH):
                raise ValueError(
                    f"{config.display_path(self.number_reader_path)} reads lines of {line_model.input_shape[1:3]}, "
                    f"not the {preprocess.FIELD}x{segment.LINE_WIDTH} that preprocessing makes"
                )
            if line_model.output_shape[-1] != reader.CLASSES:
                raise ValueError(
                    f"{config.display_path(self.number_reader_path)} gives {line_model.output_shape[-1]} outputs per "
                    f"frame, not the {reader.CLASSES} of a reader that knows letters: train it again (`make reader`)"
                )
            self.reader_unsure_below = reader.load_unsure_below(self.number_reader_path)
            self.number_unsure_below = reader.load_number_unsure_below(self.number_reader_path)
            if self._detector_graph is not None:
                self.replaced_in_numbers = set(reader.load_detector_replaces(self.number_reader_path))
            self._line_graph = _graph(line_model)

    def _number_reader_file(self, asked: str | os.PathLike | bool) -> Path | None:
        if asked is False:
            return None
        path = self.model_path.parent / reader.FILE_NAME if asked is True else _project_path(asked)
        if path.exists():
            return path
        if asked is True:
            return None
        raise FileNotFoundError(
            f"No number reader at {config.display_path(path)}: train one with notebooks/07_number_reader.ipynb."
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

    def _not_digit(self, batch: np.ndarray) -> np.ndarray:
        """The detector's probability that each 28x28 input is not a digit (NaN without a detector)."""
        if self._detector_graph is None:
            return np.full(len(batch), np.nan)
        from scipy.special import expit

        logits = self._detector_graph(np.asarray(batch, np.float32)[..., np.newaxis]).numpy()
        return expit(logits[:, 0].astype(np.float64))

    def _probabilities(self, batch: np.ndarray) -> np.ndarray:
        return self._read(batch)[0]

    def _from_stages(
        self, stages_list: list[preprocess.Stages], shape_checks: list[bool] | None = None
    ) -> list[Prediction]:
        """Predictions for preprocessed pictures, judged by the rule. One picture (no `shape_checks`
        given) gets the detector and the rule without the parts the detector replaces; the digits of
        a number get the detector and the rule without the parts it replaces in a number (chosen
        on numbers, beside the number reader), its shape checks as `shape_checks` says."""
        results: list[Prediction | None] = [None] * len(stages_list)
        single = shape_checks is None
        replaced = self.replaced if single else self.replaced_in_numbers
        checks = [True] * len(stages_list) if shape_checks is None else shape_checks
        readable = [i for i, stages in enumerate(stages_list) if not stages.blank]
        if readable:
            inputs = np.stack([stages_list[i].result for i in readable])
            probabilities, energies = self._read(inputs)
            not_digit = self._not_digit(inputs)
            for i, row, energy, other in zip(readable, probabilities, energies, not_digit):
                judged = rule.judge(
                    row,
                    stages_list[i].result,
                    self.rule.thresholds,
                    np.nan if "energy" in replaced else energy,  # an unknown energy breaks nothing
                    checks[i] and "shape" not in replaced,
                    other,
                    self.not_digit_above,
                )
                results[i] = Prediction(
                    int(row.argmax()),
                    float(row.max()),
                    row,
                    stages_list[i].result,
                    judged.status,
                    judged.reasons,
                    float(energy),
                    judged.why,
                    float(other),
                )
        for i, stages in enumerate(stages_list):
            if results[i] is None:
                results[i] = Prediction(
                    None,
                    0.0,
                    np.zeros(config.NUM_CLASSES, np.float32),
                    stages.result,
                    "no digit",
                    ["no ink found: draw or upload a digit"],
                )
        return [result for result in results if result is not None]  # every slot is filled by now

    def predict(self, image) -> Prediction:
        """The digit in one picture (bytes, path, PIL image or array), with its confidence."""
        return self._from_stages([preprocess.preprocess_stages(image)])[0]

    def predict_batch(self, images) -> list[Prediction]:
        """`predict` for many pictures, with one model call."""
        return self._from_stages([preprocess.preprocess_stages(image) for image in images])

    def read_number(self, image) -> NumberReading:
        """Read a picture of several digits (for example "2026") left to right.

        Each part of the picture (`segment.number_parts`) wider than `WIDE_PART` times the
        line's height may be several digits whose strokes touch. With a number reader, the reader
        reads such a part whole (`_read_line`); without one, it is cut where the model reads the
        pieces best (`_cut_apart`). Narrower parts are read by the digit model, one digit each.
        The model's digits are flagged as the rule's `shape_checks_in_numbers` says, the reader's
        below `reader_unsure_below` or where it reads something that is not a digit; a number whose
        reading the reader is less sure of, as a whole, than `number_unsure_below` gets a "?" on the
        least sure of the reader's digits."""
        grey, inverted, parts = segment.number_parts(image)
        line_height = max((segment.ink_extent(part)[2] for part in parts), default=0)
        slots: list[tuple[preprocess.Stages, bool] | list[Prediction]] = []
        reading_probability = 1.0
        for part in parts:
            start, stop, _ = segment.ink_extent(part)
            if stop - start <= WIDE_PART * line_height:
                slots.append((segment.piece_stages(grey, part, start, stop, inverted), False))
            elif self._line_graph is not None:
                read, probability = self._read_line(segment.line_from_ink(part))
                reading_probability *= probability
                slots.append(self._one_wide_digit(grey, part, inverted, read))
            else:
                slots += [(stages, True) for stages in self._cut_apart(grey, part, inverted, line_height)]
        slots = [slot for slot in slots if isinstance(slot, list) or not slot[0].blank]
        for_model = [slot for slot in slots if isinstance(slot, tuple)]
        applies = rule.shape_checks_apply(self.rule.shape_checks_in_numbers, [cut for _, cut in for_model])
        read_by_model = iter(self._from_stages([stages for stages, _ in for_model], [bool(a) for a in applies]))
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
        self._question_the_number(digits, by_reader, reading_probability)
        return NumberReading(digits, cut, by_reader, reading_probability)

    def _question_the_number(self, digits: list[Prediction], by_reader: list[bool], probability: float) -> None:
        """The number's "?" (`rule.number_question_mark`), on the least sure of the reader's digits."""
        flagged = [p.status != "ok" for p in digits]
        confidences = [p.confidence for p in digits]
        weakest = rule.number_question_mark(confidences, flagged, probability, self.number_unsure_below, by_reader)
        if weakest is not None:
            digit = digits[weakest]
            digit.status, digit.why = "uncertain", rule.NUMBER_UNSURE
            digit.reasons = [rule.number_unsure_reason(probability, self.number_unsure_below)]

    def _one_wide_digit(
        self, grey: np.ndarray, part: np.ndarray, inverted: bool, read: list[Prediction]
    ) -> list[Prediction]:
        """The number reader's reading of a wide part, flagged "?" when it is one digit and the
        detector judges the whole part not a digit: a digit is narrower than it is high, so one
        read out of a wide part is most often a letter or a shape (a heart, an arrow, an m)."""
        if self._detector_graph is None or len(read) != 1:
            return read
        start, stop, _ = segment.ink_extent(part)
        whole = segment.piece_stages(grey, part, start, stop, inverted).result
        not_digit = float(self._not_digit(whole[np.newaxis])[0])
        if not_digit > self.not_digit_above and read[0].why != rule.NOT_A_DIGIT:  # the reader read a digit
            read[0].not_digit = not_digit  # the detector's, which flags it (else the reader's own stays)
            read[0].status, read[0].why = "uncertain", rule.NOT_A_DIGIT
            read[0].reasons = [rule.not_digit_reason(not_digit), *read[0].reasons]
        return read

    def _read_line(self, line: np.ndarray) -> tuple[list[Prediction], float]:
        """The digits of a line (`segment.line_from_ink`) as the number reader reads them, and its
        probability of that reading as a whole (`reader.reading_probabilities`); a digit it is
        less than `reader_unsure_below` sure of is flagged "?", and so is whatever it reads as not
        a digit (a letter or a shape among the digits)."""
        assert self._line_graph is not None
        if not line.any():
            return [], 1.0
        logits = self._line_graph(line[np.newaxis, ..., np.newaxis]).numpy()
        readings = reader.decode(logits)
        predictions = []
        for read in readings[0]:
            window = reader.frame_window(line, read.frame)
            if not read.is_digit:
                status, why = "uncertain", rule.NOT_A_DIGIT
                reasons = [f"the number reader reads something that is not a digit here ({read.not_digit:.0%})"]
            elif read.confidence < self.reader_unsure_below:
                status, why = "uncertain", "the number reader is not sure of it"
                reasons = [f"the number reader is less than {self.reader_unsure_below:.0%} sure of it"]
            else:
                status, why, reasons = "ok", "", []
            predictions.append(
                Prediction(
                    read.digit,
                    read.confidence,
                    read.probabilities,
                    window,
                    status,
                    reasons,
                    why=why,
                    not_digit=read.not_digit,
                )
            )
        return predictions, float(reader.reading_probabilities(logits, readings)[0])

    def _cut_apart(
        self, grey: np.ndarray, part: np.ndarray, inverted: bool, line_height: int
    ) -> list[preprocess.Stages]:
        """The pieces of a wide part: of the ways to cut it at `segment.cut_columns` into pieces
        `PIECE_WIDTHS` times the line's height wide, the one whose pieces the model reads with the
        highest product of confidences (recognition-based segmentation, by dynamic programming)."""
        start, stop, _ = segment.ink_extent(part)
        cuts = [start, *segment.cut_columns(part, line_height), stop]
        narrowest, widest = (share * line_height for share in PIECE_WIDTHS)
        spans = [
            (i, j)
            for i in range(len(cuts))
            for j in range(i + 1, len(cuts))
            if narrowest <= cuts[j] - cuts[i] <= widest
        ]
        pieces = {span: segment.piece_stages(grey, part, cuts[span[0]], cuts[span[1]], inverted) for span in spans}
        readable = [span for span in spans if not pieces[span].blank]
        if not readable:  # no way of cutting it fits: read it whole
            return [segment.piece_stages(grey, part, start, stop, inverted)]
        confidence = self._probabilities(np.stack([pieces[span].result for span in readable])).max(axis=1)
        score = {span: float(np.log(max(c, 1e-9))) for span, c in zip(readable, confidence)}
        no_way: list[tuple[int, int]] = []
        best = [(0.0, no_way)] + [(-np.inf, no_way)] * (len(cuts) - 1)
        for j in range(1, len(cuts)):
            for i in range(j):
                if (i, j) in score and best[i][0] + score[(i, j)] > best[j][0]:
                    best[j] = (best[i][0] + score[(i, j)], [*best[i][1], (i, j)])
        if not best[-1][1]:
            return [segment.piece_stages(grey, part, start, stop, inverted)]
        return [pieces[span] for span in best[-1][1]]


def _graph(model):
    """`model`'s inference call as a traced graph for batches of any size, traced once here: a
    picture's answer then takes milliseconds, not `model.predict`'s setup."""
    tf = runtime.import_tensorflow()
    graph = tf.function(
        lambda batch: model(batch, training=False),
        input_signature=[tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)],
        autograph=False,  # a plain call: nothing for AutoGraph to convert
    )
    graph(np.zeros((1, *model.input_shape[1:]), np.float32))
    return graph


def _project_path(path: str | os.PathLike) -> Path:
    """A path as given, or relative to the project root when it does not exist as given."""
    path = Path(path)
    return config.PROJ_ROOT / path if not path.is_absolute() and not path.exists() else path


def picture_latency(predictor, pictures: list, warm_up: int = 20) -> dict[str, float]:
    """Milliseconds for one picture (an image file's bytes, say) through the interface's whole path,
    preprocessing and prediction (`predictor` is a `predict.Predictor`): median and 99th
    percentile over `pictures`, the first `warm_up` left out."""
    latencies = []
    for picture in pictures:
        started = time.perf_counter()
        predictor.predict(picture)
        latencies.append(1000 * (time.perf_counter() - started))
    kept = latencies[warm_up:] if len(latencies) > warm_up else latencies
    return {"picture_p50_ms": float(np.percentile(kept, 50)), "picture_p99_ms": float(np.percentile(kept, 99))}


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
