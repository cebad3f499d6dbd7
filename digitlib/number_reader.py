"""Reading touching digits: a CNN that reads a line of digits whole, left to right, trained with
CTC on numbers composed from MNIST training digits.

The digit model reads one digit at a time, so a number's digits must first be told apart; where
their strokes touch or overlap, no straight cut separates them. The number reader sees a whole
line (`preprocess.line_from_ink`) and gives, for each of its frames (one every 4 columns of the
line), the probabilities of the ten digits and of "no new digit here" (CTC's blank). The digits
read are the frames' best classes, repeats and blanks removed (greedy decoding); a digit's
probabilities are the ten digits' at the frame where its class peaks, renormalized without the
blank, and its confidence is its own class's share of them.

`train_reader(ReaderConfig())` composes the training numbers, trains and saves the reader
(notebook 03b); `decode` reads its output. `Predictor.read_number` hands it the parts of a
number too wide for one digit when a reader is saved beside the digit model."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlib import config, data, models, preprocess, records, runtime, synthetic
from digitlib.parameters import ParameterError, check_parameter

BLANK = 10  # CTC's "no new digit" class, after the ten digits
MAX_DIGITS = 8  # the longest number a training label holds
DIGIT_COUNTS = (1, 2, 3, 4, 5, 6)  # digits per training number ...
COUNT_WEIGHTS = (0.05, 0.2, 0.25, 0.25, 0.2, 0.05)  # ... mostly the 2 to 5 that numbers are measured on
GAPS = (-5, 16)  # pixels between neighbouring digits, drawn uniformly: overlapping by 5 to well apart
RISE = 2  # each digit moved up or down by up to this many pixels, as handwriting wanders
FILE_NAME = "number_reader.keras"  # saved beside the digit model


@dataclass(frozen=True)
class ReaderConfig:
    """The number reader's training run. Its notebook's parameters carry the same names in
    UPPER_CASE, prefixed READER_."""

    seed: int = config.SEED
    numbers: int = 60000  # training numbers composed (once) per run
    epochs: int = 18  # chosen on validation numbers (notebook 03b, reports/reader_variants.json)
    batch_size: int = 128
    learning_rate: float = 0.002  # the peak of the warm-up then cosine schedule
    width: int = 16  # filters in the first block, doubled in the next ones
    recurrent_units: int = 0  # a bidirectional GRU of this many units over the frames (0: none)
    # MNIST training images held out (stratified, seeded, as the digit recipe holds them out): the
    # "?" threshold is chosen on numbers composed of them, and the reader keeps to the other 55,000
    validation_size: int = 5000

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ReaderConfig:
        """A configuration from a notebook's READER_* names (other names are skipped)."""
        known = {f.name for f in dataclasses.fields(cls)}
        changes = {
            name[len("READER_") :].lower(): value for name, value in params.items() if name.startswith("READER_")
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


CHUNKS = 8  # training numbers are composed in this many seeded chunks, whatever the worker count


def _compose(task: tuple[np.ndarray, np.ndarray, int, np.random.SeedSequence]) -> tuple[np.ndarray, np.ndarray]:
    images, labels, count, seed = task
    rng = np.random.default_rng(seed)
    by_digit = [np.flatnonzero(labels == digit) for digit in range(config.NUM_CLASSES)]
    lines = np.zeros((count, preprocess.FIELD, preprocess.LINE_WIDTH), np.uint8)
    targets = np.full((count, MAX_DIGITS), -1, np.int32)
    for k in range(count):
        digits = rng.integers(0, 10, int(rng.choice(DIGIT_COUNTS, p=COUNT_WEIGHTS)))
        pictures = [np.roll(images[rng.choice(by_digit[d])], int(rng.integers(-RISE, RISE + 1)), 0) for d in digits]
        gaps = [int(g) for g in rng.integers(GAPS[0], GAPS[1] + 1, len(digits) - 1)]
        lines[k] = np.round(255 * preprocess.to_line(synthetic.compose_number(pictures, gaps)))
        targets[k, : len(digits)] = digits
    return lines, targets


def compose_numbers(
    images: np.ndarray, labels: np.ndarray, count: int, seed: int = 0, workers: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """`count` numbers of 1 to 6 digits drawn from `images` (28x28 uint8, with their `labels`),
    composed with random gaps (`GAPS`) and rises (`RISE`) and brought to the reader's input as a
    picture of them would be (`preprocess.to_line`). Returns the lines (uint8) and the digits,
    padded with -1 to `MAX_DIGITS`. The same for a seed whatever `workers` (processes; default:
    the cores this process may use)."""
    if not all((labels == digit).any() for digit in range(config.NUM_CLASSES)):
        raise ValueError("the images must hold every digit to compose numbers from")
    sizes = [len(part) for part in np.array_split(np.arange(count), min(CHUNKS, count))]
    seeds = np.random.SeedSequence(seed).spawn(len(sizes))
    chunks = [(images, labels, size, chunk_seed) for size, chunk_seed in zip(sizes, seeds)]
    workers = max(1, min(workers or len(os.sched_getaffinity(0)), len(chunks)))
    if workers == 1:
        parts = [_compose(chunk) for chunk in chunks]
    else:  # fresh processes: forking one that has started TensorFlow's threads is not safe
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(_compose, chunks))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def ctc_loss(targets: Any, logits: Any) -> Any:
    """CTC loss of the reader's logits (batch, frames, 11) for digit targets padded with -1."""
    ops = runtime.keras().ops
    targets = ops.cast(targets, "int32")
    lengths = ops.sum(ops.cast(targets >= 0, "int32"), axis=1)
    frames = ops.full((ops.shape(logits)[0],), ops.shape(logits)[1], dtype="int32")
    return ops.ctc_loss(ops.where(targets >= 0, targets, 0), logits, lengths, frames, mask_index=BLANK)


@dataclass
class LineDigit:
    """One digit the reader read: the digit, its ten probabilities at the frame where it peaks
    (normalized over the digits), and that frame."""

    digit: int
    probabilities: np.ndarray
    frame: int

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.digit])


def decode(logits: np.ndarray) -> list[list[LineDigit]]:
    """The digits in each line of a (lines, frames, 11) logits batch: each frame's best class,
    repeats merged and blanks dropped (greedy CTC decoding)."""
    from scipy.special import softmax

    probabilities = softmax(np.asarray(logits, np.float64), axis=-1)
    readings = []
    for line in probabilities:
        best = line.argmax(axis=1)
        digits: list[LineDigit] = []
        previous = BLANK
        for frame, label in enumerate(best):
            if label != BLANK and label == previous and line[frame, label] > line[digits[-1].frame, label]:
                digits[-1].frame = frame  # the same digit, more sure here
            elif label != BLANK and label != previous:
                digits.append(LineDigit(int(label), np.zeros(config.NUM_CLASSES), frame))
            previous = label
        for digit in digits:
            row = line[digit.frame, :BLANK]
            digit.probabilities = (row / row.sum()).astype(np.float32)
        readings.append(digits)
    return readings


def frame_window(line: np.ndarray, frame: int) -> np.ndarray:
    """The 28x28 of a reader's input around one of its frames: what it looked at for that digit."""
    frames = line.shape[1] // models.number_reader_stride()
    centre = round((frame + 0.5) * preprocess.LINE_WIDTH / frames)
    start = min(max(centre - preprocess.FIELD // 2, 0), preprocess.LINE_WIDTH - preprocess.FIELD)
    return line[:, start : start + preprocess.FIELD]


def train_reader(
    reader: ReaderConfig = ReaderConfig(), paths: config.RunPaths | None = None, mnist: data.Arrays | None = None
) -> dict[str, Any]:
    """Compose the training numbers, train the reader (Adam, warm-up then cosine decay), and save
    it without optimizer state (`models.inference_copy`) as `FILE_NAME` beside the digit model,
    with a run record (`number_reader.json`). Returns the record. `mnist`: MNIST as
    `data.load_mnist` gives it (default: loaded from dataset/)."""
    from digitlib import training  # the digit recipe's optimizer and epoch log; heavy, so imported here

    paths = paths or config.run_paths()
    paths.make()
    runtime.set_seeds(reader.seed)
    (x_all, y_all), _ = mnist or data.load_mnist()
    (x_train, y_train), _ = data.train_val_split(x_all, y_all, reader.validation_size, seed=reader.seed)
    started = time.perf_counter()
    lines, targets = compose_numbers(x_train, y_train, reader.numbers, reader.seed)
    composed = time.perf_counter() - started
    print(f"composed {len(lines)} training numbers in {composed:.0f} s", flush=True)
    model = models.number_reader(reader.width, reader.recurrent_units)
    steps = reader.epochs * training.steps_per_epoch(len(lines), reader.batch_size)
    model.compile(optimizer=training.make_optimizer("adam", reader.learning_rate, "cosine", steps), loss=ctc_loss)
    started = time.perf_counter()
    history = model.fit(
        lines[..., np.newaxis].astype(np.float32) / 255,
        targets,
        batch_size=reader.batch_size,
        epochs=reader.epochs,
        callbacks=[training.epoch_log(reader.epochs)],
        verbose=0,
    )
    seconds = time.perf_counter() - started
    path = paths.models / FILE_NAME
    models.inference_copy(model).save(path)
    record = {
        "config": dataclasses.asdict(reader),
        "training_numbers": len(lines),
        "compose_seconds": round(composed, 1),
        "train_seconds": round(seconds, 1),
        "loss": [round(float(v), 4) for v in history.history["loss"]],
        "model": config.display_path(path),
        "versions": records.library_versions(),
    }
    records.write_json(paths.models / "number_reader.json", record)
    return record
