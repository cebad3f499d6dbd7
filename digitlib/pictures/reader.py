"""Reading touching digits: a CNN that reads a line of digits whole, left to right, trained with
CTC on numbers composed from MNIST training digits.

The digit model reads one digit at a time, so a number's digits must first be told apart; where
their strokes touch or overlap, no straight cut separates them. The number reader sees a whole
line (`segment.line_from_ink`) and gives, for each of its frames (one every 4 columns of the
line), the probabilities of the ten digits and of "no new digit here" (CTC's blank). The digits
read are the frames' best classes, repeats and blanks removed (greedy decoding); a digit's
probabilities are the ten digits' at the frame where its class peaks, renormalized without the
blank, and its confidence is its own class's share of them.

`train_reader(ReaderConfig())` composes the training numbers, trains and saves the reader
(`python -m digitlib reader`, or notebook 07 with TRAIN_READER); `decode` reads its output.
`Predictor.read_number` hands it the parts of a number too wide for one digit when a reader is
saved beside the digit model. The reader's "?" threshold is chosen on validation numbers by
notebook 07 and written beside the reader (`write_unsure_below`)."""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
import os
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitlib import config, data, models, records, runtime, training
from digitlib.parameters import ParameterError, check_parameter
from digitlib.pictures import preprocess, segment
from digitlib.pictures.synthetic import compose_number

BLANK = 10  # CTC's "no new digit" class, after the ten digits
NOT_DIGIT = 11  # "something that is not a digit here": a letter or a shape among the digits
CLASSES = 12  # the reader's outputs per frame: the ten digits, the blank and the non-digit
MAX_DIGITS = 8  # the longest number a training label holds
DIGIT_COUNTS = (1, 2, 3, 4, 5, 6)  # digits per training number ...
COUNT_WEIGHTS = (0.05, 0.2, 0.25, 0.25, 0.2, 0.05)  # ... mostly the 2 to 5 that numbers are measured on
GAPS = (-5, 16)  # pixels between neighbouring digits, drawn uniformly: overlapping by 5 to well apart
RISE = 2  # each digit moved up or down by up to this many pixels, as handwriting wanders
FILE_NAME = "number_reader.keras"  # saved beside the digit model
SHIPPED_READER = config.MODELS_DIR / FILE_NAME
RECORD_FILE = "number_reader.json"  # its training run, beside it


@dataclass(frozen=True)
class ReaderConfig:
    """The number reader's training run. Its notebook's parameters carry the same names in
    UPPER_CASE, prefixed READER_."""

    seed: int = config.SEED
    numbers: int = 60000  # training numbers composed (once) per run
    epochs: int = 18  # chosen on validation numbers (notebook 07, reports/reader_variants.json)
    batch_size: int = 128
    learning_rate: float = 0.002  # the peak of the warm-up then cosine schedule
    width: int = 16  # filters in the first block, doubled in the next ones
    recurrent_units: int = 0  # a bidirectional GRU of this many units over the frames (0: none)
    # MNIST training images held out (stratified, seeded, as the digit recipe holds them out): the
    # "?" threshold is chosen on numbers composed of them, and the reader keeps to the other 55,000
    validation_size: int = 5000
    # the share of training numbers with one letter or shape among their digits, labelled NOT_DIGIT
    # (outlier exposure: a reader that has seen none reads an M as "14"); not tuned
    outlier_share: float = 0.15

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ReaderConfig:
        """A configuration from a notebook's READER_* names (other names, and None values, are skipped)."""
        known = {f.name for f in dataclasses.fields(cls)}
        changes = {
            name[len("READER_") :].lower(): value
            for name, value in params.items()
            if name.startswith("READER_") and value is not None
        }
        unknown = sorted(f"READER_{name.upper()}" for name in changes if name not in known)
        if unknown:
            raise ParameterError(f"unknown number reader parameter(s) {', '.join(unknown)}")
        return cls(**changes)

    def __post_init__(self) -> None:
        for name in ("numbers", "epochs", "batch_size", "width"):
            check_parameter(f"READER_{name.upper()}", getattr(self, name), positive=True)
        check_parameter("READER_LEARNING_RATE", self.learning_rate, positive=True)
        check_parameter("READER_RECURRENT_UNITS", self.recurrent_units, at_least=0)
        check_parameter("READER_VALIDATION_SIZE", self.validation_size, at_least=0, at_most=30000)
        check_parameter("READER_OUTLIER_SHARE", self.outlier_share, at_least=0, at_most=1)


READER_POOLS = ((2, 2), (2, 2), None, (config.IMAGE_SIZE // 4, 1))  # after each of the reader's conv layers


def build_reader(width: int = 16, recurrent_units: int = 0, dropout: float = 0.2):
    """The number reader's network: four 3x3 conv layers with batch norm over the
    line (28 x `segment.LINE_WIDTH`), pooled to one row of frames a fourth of the width; a
    1-D convolution across neighbouring frames; with `recurrent_units`, a bidirectional GRU over
    all the frames (so each frame sees the whole line, not only its neighbours); `CLASSES` logits
    per frame (ten digits, CTC's blank and "not a digit")."""
    keras = runtime.keras()
    layers = keras.layers
    inputs = keras.Input((config.IMAGE_SIZE, segment.LINE_WIDTH, 1))
    features = inputs
    for filters, pool in zip((width, 2 * width, 4 * width, 4 * width), READER_POOLS):
        features = layers.Conv2D(filters, 3, padding="same", use_bias=False)(features)
        features = layers.BatchNormalization(momentum=models.BN_MOMENTUM)(features)
        features = layers.Activation("relu")(features)
        if pool:
            features = layers.MaxPooling2D(pool)(features)
    features = layers.Reshape((frames(), 4 * width))(features)
    features = layers.Dropout(dropout)(features)
    features = layers.Conv1D(8 * width, 3, padding="same", activation="relu")(features)
    features = layers.Dropout(dropout)(features)
    if recurrent_units:
        features = layers.Bidirectional(layers.GRU(recurrent_units, return_sequences=True))(features)
        features = layers.Dropout(dropout)(features)
    return keras.Model(inputs, layers.Dense(CLASSES)(features), name="number_reader")


def stride() -> int:
    """Columns of the line per frame of the number reader: what its pooling leaves of the width."""
    return math.prod(pool[1] for pool in READER_POOLS if pool)


def frames() -> int:
    """The number reader's frames per line."""
    return segment.LINE_WIDTH // stride()


CHUNKS = 8  # training numbers are composed in this many seeded chunks, whatever the worker count


def non_digit_inputs(count: int, seed: int) -> np.ndarray:
    """`count` letters, symbols and shapes drawn as the pad draws them (`outliers.training_outliers`),
    each brought to a 28x28 uint8 image as a digit would be: what a number's non-digit looks like."""
    from digitlib.pictures import outliers

    pictures, _ = outliers.training_outliers(count, seed=seed)
    return as_digit_images(pictures)


def as_digit_images(pictures: Sequence) -> np.ndarray:
    """Pictures (any input `preprocess.read_image` takes) as 28x28 uint8 images, each brought to the
    model's input as one digit would be: to compose into numbers beside MNIST digits."""
    return np.array([np.round(255 * preprocess.to_mnist(p)) for p in pictures], np.uint8).reshape(-1, 28, 28)


def _compose(
    task: tuple[np.ndarray, np.ndarray, int, np.random.SeedSequence, float],
) -> tuple[np.ndarray, np.ndarray]:
    images, labels, count, seed, outlier_share = task
    rng = np.random.default_rng(seed)
    by_digit = [np.flatnonzero(labels == digit) for digit in range(config.NUM_CLASSES)]
    lines = np.zeros((count, preprocess.FIELD, segment.LINE_WIDTH), np.uint8)
    targets = np.full((count, MAX_DIGITS), -1, np.int32)
    with_outlier = rng.random(count) < outlier_share
    non_digits = iter(non_digit_inputs(int(with_outlier.sum()), int(rng.integers(2**31))))
    for k in range(count):
        digits = rng.integers(0, 10, int(rng.choice(DIGIT_COUNTS, p=COUNT_WEIGHTS)))
        pictures = [images[rng.choice(by_digit[d])] for d in digits]
        if with_outlier[k]:
            place = int(rng.integers(len(digits)))
            digits[place], pictures[place] = NOT_DIGIT, next(non_digits)
        rises = [int(rng.integers(-RISE, RISE + 1)) for _ in pictures]
        gaps = [int(g) for g in rng.integers(GAPS[0], GAPS[1] + 1, len(digits) - 1)]
        lines[k] = np.round(255 * segment.to_line(compose_number(pictures, gaps, rises=rises)))
        targets[k, : len(digits)] = digits
    return lines, targets


def compose_numbers(
    images: np.ndarray,
    labels: np.ndarray,
    count: int,
    seed: int = 0,
    workers: int | None = None,
    outlier_share: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """`count` numbers of 1 to 6 digits drawn from `images` (28x28 uint8, with their `labels`),
    composed with random gaps (`GAPS`) and rises (`RISE`) and brought to the reader's input as a
    picture of them would be (`segment.to_line`); in `outlier_share` of them one digit is swapped
    for a letter or a shape (`non_digit_inputs`), labelled `NOT_DIGIT`. Returns the lines (uint8)
    and the labels, padded with -1 to `MAX_DIGITS`. The same for a seed whatever `workers`
    (processes; default: the cores this process may use)."""
    if not all((labels == digit).any() for digit in range(config.NUM_CLASSES)):
        raise ValueError("the images must hold every digit to compose numbers from")
    sizes = [len(part) for part in np.array_split(np.arange(count), min(CHUNKS, count))]
    seeds = np.random.SeedSequence(seed).spawn(len(sizes))
    chunks = [(images, labels, size, chunk_seed, outlier_share) for size, chunk_seed in zip(sizes, seeds)]
    workers = max(1, min(workers or len(os.sched_getaffinity(0)), len(chunks)))
    if workers == 1:
        parts = [_compose(chunk) for chunk in chunks]
    else:  # fresh processes: forking one that has started TensorFlow's threads is not safe
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(_compose, chunks))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def ctc_loss(targets: Any, logits: Any) -> Any:
    """CTC loss of the reader's logits (batch, frames, `CLASSES`) for targets padded with -1."""
    ops = runtime.keras().ops
    targets = ops.cast(targets, "int32")
    lengths = ops.sum(ops.cast(targets >= 0, "int32"), axis=1)
    frames = ops.full((ops.shape(logits)[0],), ops.shape(logits)[1], dtype="int32")
    return ops.ctc_loss(ops.where(targets >= 0, targets, 0), logits, lengths, frames, mask_index=BLANK)


NOT_DIGIT_ABOVE = 0.5  # a reader's element is "not a digit" above this: where greedy decoding emits NOT_DIGIT


@dataclass
class LineDigit:
    """One element the reader read: its digit (where it read something that is not a digit, the
    nearest digit), the ten digits' probabilities at the frame where it peaks (normalized over the
    digits), that frame, and the share of "not a digit" against that digit there (above
    `NOT_DIGIT_ABOVE` where the reader read a non-digit)."""

    digit: int
    probabilities: np.ndarray
    frame: int
    not_digit: float = 0.0

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.digit])

    @property
    def is_digit(self) -> bool:
        return self.not_digit <= NOT_DIGIT_ABOVE


def decode(logits: np.ndarray) -> list[list[LineDigit]]:
    """The elements in each line of a (lines, frames, `CLASSES`) logits batch: each frame's best
    class, repeats merged and blanks dropped (greedy CTC decoding); a digit or, where the best
    class is `NOT_DIGIT`, something that is not a digit."""
    from scipy.special import softmax

    probabilities = softmax(np.asarray(logits, np.float64), axis=-1)
    readings = []
    for line in probabilities:
        best = line.argmax(axis=1)
        read: list[LineDigit] = []
        previous = BLANK
        for frame, label in enumerate(best):
            if label != BLANK and label == previous and line[frame, label] > line[read[-1].frame, label]:
                read[-1].frame = frame  # the same element, more sure here
            elif label != BLANK and label != previous:
                read.append(LineDigit(int(label), np.zeros(config.NUM_CLASSES), frame))
            previous = label
        for element in read:
            row = line[element.frame, : config.NUM_CLASSES]
            element.probabilities = (row / row.sum()).astype(np.float32)
            element.digit = int(row.argmax())
            other = line[element.frame, NOT_DIGIT]
            element.not_digit = float(other / (other + row[element.digit]))
        readings.append(read)
    return readings


def reading_probabilities(logits: np.ndarray, readings: list[list[LineDigit]]) -> np.ndarray:
    """The probability the reader gives each line's reading as a whole (`decode`'s elements in
    order, a non-digit as `NOT_DIGIT`), summed over every way of placing them on the frames: what
    `ctc_loss` gives as minus its log. The elements' own confidences look at one frame each; this
    falls too where the reader doubts how many elements there are (a digit too many or too few)."""
    from scipy.special import softmax

    probabilities = softmax(np.asarray(logits, np.float64), axis=-1)
    return np.array(
        [
            _spelled(line, [element.digit if element.is_digit else NOT_DIGIT for element in reading])
            for line, reading in zip(probabilities, readings, strict=True)
        ]
    )


def _spelled(probabilities: np.ndarray, labels: list[int]) -> float:
    """CTC's forward pass (Graves et al., ICML 2006) over one line's frame probabilities (frames,
    `CLASSES`) for `labels`, rescaled at each frame so that nothing underflows. `ctc_loss` computes
    the same in Keras ops, for training; called on one line it costs several times the reader's
    own call, here a fraction of it."""
    path = np.full(2 * len(labels) + 1, BLANK)  # a blank before, between and after the labels
    path[1::2] = labels
    skips = np.zeros(len(path), bool)  # from two places back, past a blank, where the labels differ
    skips[3::2] = np.diff(labels) != 0
    alpha = np.zeros(len(path))
    alpha[: min(2, len(path))] = probabilities[0, path[:2]]
    log_scale = 0.0
    for row in probabilities[1:]:
        previous = alpha
        alpha = previous.copy()
        alpha[1:] += previous[:-1]
        alpha[2:] += np.where(skips[2:], previous[:-2], 0.0)
        alpha *= row[path]
        total = alpha.sum()
        if total <= 0:
            return 0.0
        alpha /= total
        log_scale += math.log(total)
    return float(math.exp(log_scale) * alpha[-2:].sum()) if labels else float(math.exp(log_scale) * alpha[-1])


def read_lines(model: Any, lines: np.ndarray, batch_size: int = 512) -> list[str]:
    """What the reader `model` reads in each of `lines` (lines, 28, `segment.LINE_WIDTH`, ink
    from 0 to 1), as text: its digits, and "?" where it read something that is not a digit."""
    logits = np.asarray(model.predict(lines[..., np.newaxis], batch_size=batch_size, verbose=0))
    return ["".join(str(d.digit) if d.is_digit else "?" for d in reading) for reading in decode(logits)]


def frame_window(line: np.ndarray, frame: int) -> np.ndarray:
    """The 28x28 of a reader's input around one of its frames: what it looked at for that digit."""
    count = line.shape[1] // stride()
    centre = round((frame + 0.5) * segment.LINE_WIDTH / count)
    start = min(max(centre - preprocess.FIELD // 2, 0), segment.LINE_WIDTH - preprocess.FIELD)
    return line[:, start : start + preprocess.FIELD]


def train_reader(
    settings: ReaderConfig = ReaderConfig(), paths: config.RunPaths | None = None, mnist: data.Arrays | None = None
) -> dict[str, Any]:
    """Compose the training numbers, train the reader (Adam, warm-up then cosine decay), and save
    it without optimizer state (`models.inference_copy`) as `FILE_NAME` beside the digit model,
    with a run record (`number_reader.json`). Returns the record. `mnist`: MNIST as
    `data.load_mnist` gives it (default: loaded from dataset/)."""
    paths = paths or config.run_paths()
    paths.make()
    runtime.keras()
    runtime.set_seeds(settings.seed)  # with Keras (and TensorFlow) imported, so that it seeds them too
    (x_all, y_all), _ = mnist or data.load_mnist()
    (x_train, y_train), _ = data.train_val_split(x_all, y_all, settings.validation_size, seed=settings.seed)
    started = time.perf_counter()
    lines, targets = compose_numbers(
        x_train, y_train, settings.numbers, settings.seed, outlier_share=settings.outlier_share
    )
    composed = time.perf_counter() - started
    print(f"composed {len(lines)} training numbers in {composed:.0f} s", flush=True)
    model = build_reader(settings.width, settings.recurrent_units)
    steps = settings.epochs * training.steps_per_epoch(len(lines), settings.batch_size)
    model.compile(optimizer=training.make_optimizer("adam", settings.learning_rate, "cosine", steps), loss=ctc_loss)
    started = time.perf_counter()
    history = model.fit(
        lines[..., np.newaxis].astype(np.float32) / 255,
        targets,
        batch_size=settings.batch_size,
        epochs=settings.epochs,
        callbacks=[training.epoch_log(settings.epochs)],
        verbose=0,
    )
    return models.save_trained(
        model,
        paths.models / FILE_NAME,
        settings,
        history,
        time.perf_counter() - started,
        training_numbers=len(lines),
        compose_seconds=round(composed, 1),
    )


def notebook_settings(
    train: bool, settings: dict[str, Any], paths: config.RunPaths
) -> tuple[ReaderConfig, dict[str, Any] | None]:
    """The reader notebook 07 reads numbers with. With `train`, a configuration from `settings`
    (its READER_* parameters) and no record yet; else the shipped reader's own configuration and
    training record, the reader copied into `paths.models` when that is a run folder's, so that
    the run reads numbers with it too. `settings` without `train` are an error: they would not be
    the shipped reader's."""
    if train:
        return ReaderConfig.from_params(settings), None
    if settings:
        raise ParameterError(f"{', '.join(settings)} change the reader's training: set TRAIN_READER too")
    record = records.read_json(SHIPPED_READER.with_name(RECORD_FILE))
    if paths.models / FILE_NAME != SHIPPED_READER:
        shutil.copy2(SHIPPED_READER, paths.models / FILE_NAME)
        shutil.copy2(SHIPPED_READER.with_name(RECORD_FILE), paths.models / RECORD_FILE)
    return ReaderConfig(**record["config"]), record


def unsure_below_file(reader_path: str | os.PathLike = SHIPPED_READER) -> Path:
    """Where the "?" threshold of the reader saved at `reader_path` lives: beside it."""
    path = Path(reader_path)
    return path.with_name(f"{path.stem}-rule.json")


def load_unsure_below(reader_path: str | os.PathLike = SHIPPED_READER) -> float:
    """The "?" threshold chosen for the reader at `reader_path` (notebook 07 wrote it beside the
    reader); the shipped reader's when that reader has none of its own."""
    path = unsure_below_file(reader_path)
    if not path.exists():
        path = unsure_below_file(SHIPPED_READER)
    if not path.exists():
        raise FileNotFoundError(
            f"No '?' threshold at {config.display_path(path)}: notebooks/07_number_reader.ipynb chooses it"
        )
    return float(json.loads(path.read_text())["unsure_below"])


def _number_rule(reader_path: str | os.PathLike) -> dict[str, Any]:
    path = unsure_below_file(reader_path)
    path = path if path.exists() else unsure_below_file(SHIPPED_READER)
    return json.loads(path.read_text()) if path.exists() else {}


def load_number_unsure_below(reader_path: str | os.PathLike = SHIPPED_READER) -> float:
    """The threshold on the reader's probability of its whole reading (`reading_probabilities`)
    chosen beside the reader at `reader_path` (notebook 07): a number whose reading is less sure
    than it gets a "?". 0 (no such "?") where the file has none."""
    return float(_number_rule(reader_path).get("number_unsure_below", 0.0))


def load_detector_replaces(reader_path: str | os.PathLike = SHIPPED_READER) -> list[str]:
    """The parts of the digit rule (`rule.REPLACEABLE`) that the digit detector stands in for on the
    digits of a number read with the reader at `reader_path`, as notebook 07 chose them; none where
    the file names none."""
    return list(_number_rule(reader_path).get("detector_replaces", []))


def write_unsure_below(
    reader_path: str | os.PathLike,
    unsure_below: float,
    chosen: dict[str, Any],
    number_unsure_below: float = 0.0,
    detector_replaces: Sequence[str] = (),
) -> Path:
    """Write the rule for numbers read with the reader beside it: the "?" thresholds on a digit and
    on the reader's whole reading, and the parts of the digit rule the detector stands in for in
    a number, with how they were `chosen`."""
    rule = {
        "unsure_below": unsure_below,
        "number_unsure_below": number_unsure_below,
        "detector_replaces": list(detector_replaces),
        "chosen": chosen,
    }
    return records.write_json(unsure_below_file(reader_path), rule)


def _train_command(args: Any) -> int:
    record = train_reader(ReaderConfig())
    print(f"trained the number reader in {record['train_seconds'] / 60:.1f} min: {record['model']}")
    return 0


def add_command(commands: Any) -> None:
    command = commands.add_parser(
        "reader", help="train the number reader with ReaderConfig's defaults into models/ (half an hour or more)"
    )
    command.set_defaults(handler=_train_command)
