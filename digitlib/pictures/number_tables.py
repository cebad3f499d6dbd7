"""Numbers measured: numbers of 2 to 5 digits composed from MNIST-like digits at several gaps,
what a predictor reads of them, the "?" on their digits, and the choices made on validation numbers
(where the shape checks apply, the number reader's "?").

`number_pieces` reads the numbers through a `predict.Predictor` (any object with its
`read_number`) into a table, one row per digit read; `number_outcomes` counts the numbers read
exactly, with the right count of digits, and wrong without a "?". The tables can be replayed under
another rule without the model: `number_flags`, `choose_number_checks`, `choose_reader_threshold`,
`choose_number_threshold`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from digitlib import config, evaluation, runtime
from digitlib.pictures import reader, rule, segment
from digitlib.pictures.synthetic import compose_number

MAX_EXTRA_SILENT = 0.01  # where shape checks apply: at most this many more numbers wrong without a "?" than "every"
READER_THRESHOLD_GRID = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
NUMBER_THRESHOLD_GRID = (0.0, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98)

NUMBER_GAPS = (-4, -2, 0, 3, 8, 15)  # pixels between neighbouring digits: overlapping, touching, apart
NUMBER_RISE = 4  # each digit of a measured number moves up or down by up to this many pixels

Drawn = tuple[list[np.ndarray], list[list[np.ndarray]], list[np.ndarray]]  # digits, pictures, rises


def draw_numbers(images: np.ndarray, labels: np.ndarray, numbers: int, seed: int = 0, rise: int = NUMBER_RISE) -> Drawn:
    """`numbers` numbers of 2 to 5 random digits, each with one of `images` (with their `labels`)
    drawn for each of its digits, and how far each digit moves up or down (up to `rise` pixels,
    for `synthetic.compose_number`): the digits, the pictures and the rises, the same for a seed
    (and the digits and pictures the same whatever `rise`)."""
    rng = np.random.default_rng(seed)
    by_digit = [np.flatnonzero(labels == digit) for digit in range(config.NUM_CLASSES)]
    drawn = [rng.integers(0, 10, int(rng.integers(2, 6))) for _ in range(numbers)]
    pictures = [[images[rng.choice(by_digit[d])] for d in number] for number in drawn]
    return drawn, pictures, [rng.integers(-rise, rise + 1, len(number)) for number in drawn]


def numbers_at_gaps(
    images: np.ndarray,
    labels: np.ndarray,
    numbers: int,
    gaps: Sequence[int],
    seed: int = 0,
    rise: int = NUMBER_RISE,
) -> dict[int, Drawn]:
    """`draw_numbers` for each gap of `gaps`: `numbers` numbers each, other numbers at each gap, so
    that numbers pooled over gaps are as many different numbers (the same for a seed)."""
    drawn = draw_numbers(images, labels, numbers * len(gaps), seed, rise)
    return {
        gap: tuple(part[i * numbers : (i + 1) * numbers] for part in drawn)  # type: ignore[misc]
        for i, gap in enumerate(gaps)
    }


def with_non_digits(
    drawn: list[np.ndarray], chosen: list[list[np.ndarray]], non_digits: Sequence[np.ndarray], seed: int = 0
) -> tuple[list[list[int]], list[list[np.ndarray]]]:
    """Numbers with one digit each swapped for a picture that is not a digit (28x28, MNIST-like), the
    k-th number for `non_digits[k % len(non_digits)]` at a random place; its label there is -1."""
    rng = np.random.default_rng(seed)
    labels, pictures = [], []
    for k, (number, digits) in enumerate(zip(drawn, chosen)):
        place = int(rng.integers(len(number)))
        labels.append([-1 if i == place else int(d) for i, d in enumerate(number)])
        pictures.append([non_digits[k % len(non_digits)] if i == place else d for i, d in enumerate(digits)])
    return labels, pictures


def number_pieces(
    predictor: Any,
    images: np.ndarray,
    labels: np.ndarray,
    numbers: int = 200,
    gaps: Sequence[int] = NUMBER_GAPS,
    seed: int = 0,
    non_digits: Sequence[np.ndarray] | None = None,
) -> tuple[Any, np.ndarray]:
    """Every digit a `predict.Predictor` reads in numbers of 2 to 5 digits composed from `images`
    (MNIST-like, with their `labels`): `numbers` numbers at each gap of `gaps`, other numbers at
    each (`numbers_at_gaps`). With `non_digits` (28x28 pictures of letters and shapes), one digit
    of each number is swapped for one of them (`with_non_digits`): a number that then comes back
    with no "?" is a clean wrong number. One row per digit read (`rule.rule_table`'s columns,
    `label` the true digit at its place when the count of digits is right, else -1, and -1 where
    the picture there is not a digit), with the gap, the number, its true text (read it back as
    text: "07" is not 7; "?" for a non-digit) and count of digits, the count of digits read, the
    place, whether the digit came out of a part wider than `predict.WIDE_PART` (`cut`), whether
    the number reader read it (`by_reader`), whether the predictor had a number reader
    (`with_reader`), the reader's probability of what it read of the number as a whole
    (`reading_probability`, the same on each of the number's rows) and whether the predictor
    flagged it "?" (at its temperature, under the rule of the time); a number read as nothing has
    one row at place -1.
    And each row's probabilities (zeros at place -1), so a table can be read again at another
    temperature: its confidences, not its cuts, which the predictor chose at its own temperature."""
    import pandas as pd

    if numbers < 1:
        raise ValueError(f"numbers must be at least 1, got {numbers}")
    tables, probabilities = [], []
    for gap, (drawn, chosen, rises) in numbers_at_gaps(images, labels, numbers, gaps, seed).items():
        truths: list[list[int]] = [[int(d) for d in number] for number in drawn]
        if non_digits is not None:
            truths, chosen = with_non_digits(drawn, chosen, non_digits, seed + 1)
        for k, (number, digits, rise) in enumerate(zip(truths, chosen, rises)):
            reading = predictor.read_number(compose_number(digits, gap, rises=rise))
            truth = "".join("?" if d < 0 else str(d) for d in number)
            read = len(reading.digits)
            if read:
                places = number if read == len(number) else [-1] * read
                table = rule.rule_table(reading.digits, np.array(places))
                flagged = [p.status != "ok" for p in reading.digits]  # as the interface flags them
                table = table.assign(
                    position=range(read), cut=reading.cut, by_reader=reading.by_reader, flagged=flagged
                )
                probabilities += [p.probabilities for p in reading.digits]
            else:
                table = pd.DataFrame(
                    [
                        {
                            "label": -1,
                            "digit": -1,
                            "confidence": 0.0,
                            "position": -1,
                            "cut": False,
                            "by_reader": False,
                            "flagged": False,
                        }
                    ]
                )
                probabilities.append(np.zeros(config.NUM_CLASSES, np.float32))
            tables.append(
                table.assign(
                    gap=gap,
                    number=k,
                    truth=truth,
                    digits=len(truth),
                    pieces=read,
                    reading_probability=reading.reading_probability,
                )
            )
    columns = ["gap", "number", "truth", "digits", "pieces", "position", "cut", "by_reader", "with_reader", "flagged"]
    pieces = pd.concat(tables, ignore_index=True).assign(with_reader=predictor.number_reader_path is not None)
    return pieces[columns + [c for c in pieces if c not in columns]], np.stack(probabilities).astype(np.float32)


def number_results(pieces: Any, flags: np.ndarray | None = None) -> Any:
    """One row per number of a `number_pieces` table (indexed by gap and number, and run where
    there is a `run` column): whether it was read exactly (every digit right and none flagged
    "?"), with the right count of digits, and wrong without any "?" (a number read as nothing
    counts there). `flags` marks the digits flagged "?" (default: `number_flags`, the shipped rules)."""
    flags = number_flags(pieces) if flags is None else np.asarray(flags, bool)
    if "run" not in pieces and pieces.duplicated(["gap", "number", "position"]).any():
        raise ValueError("the table repeats numbers: tables of several runs need a `run` column")
    per_digit = pieces.assign(flagged=flags, right=(pieces["digit"] == pieces["label"]) & (pieces["position"] >= 0))
    keys = ["run", "gap", "number"] if "run" in pieces else ["gap", "number"]  # tables of several runs
    per_number = per_digit.groupby(keys).agg(
        digits=("digits", "first"), read=("pieces", "first"), all_right=("right", "all"), any_flag=("flagged", "any")
    )
    right_count = per_number["read"] == per_number["digits"]
    exact = right_count & per_number["all_right"] & ~per_number["any_flag"]
    return per_number.assign(
        read_exactly=exact, right_count=right_count, read_wrong_without_a_question_mark=~exact & ~per_number["any_flag"]
    )


def number_outcomes(pieces: Any, flags: np.ndarray | None = None, by_gap: bool = True) -> Any:
    """Per gap of a `number_pieces` table (or over all gaps), the share of numbers read exactly
    (every digit right and none flagged "?"), with the right count of digits, and read wrong
    without any "?" (`number_results`, averaged). `flags` marks the digits flagged "?" (default:
    `number_flags`, the shipped rules). Tables of several runs, pooled, tell their numbers apart
    by a `run` column."""
    frame = number_results(pieces, flags)
    columns = ["read_exactly", "right_count", "read_wrong_without_a_question_mark"]
    if not by_gap:
        return frame[columns].mean().to_frame().T.assign(numbers=len(frame))[["numbers", *columns]]
    grouped = frame.groupby(level="gap")
    return grouped[columns].mean().assign(numbers=grouped.size()).reset_index()[["gap", "numbers", *columns]]


def outcomes_by_kind(
    pieces: Any,
    flags: np.ndarray | None = None,
    columns: Sequence[str] = ("read_exactly", "read_wrong_without_a_question_mark"),
) -> Any:
    """The numbers of a `number_pieces` table pooled into touching (gap 0 or overlapping) and apart:
    how many, and the shares of `columns` of `number_results` (default: read exactly and read wrong
    without a "?"; `any_flag`, with a "?" somewhere), each with its 95 % interval
    (`evaluation.binomial_interval`)."""
    import pandas as pd

    frame = number_results(pieces, flags)
    kind = np.where(frame.index.get_level_values("gap") > 0, "apart", "touching")
    rows = {}
    for name in ("touching", "apart"):
        part = frame[kind == name]
        row: dict[str, float] = {"numbers": len(part)}
        for column in columns:
            hits = int(part[column].sum())
            low, high = evaluation.binomial_interval(hits, len(part)) if len(part) else (math.nan, math.nan)
            row |= {column: hits / len(part) if len(part) else math.nan, f"{column} low": low, f"{column} high": high}
        rows[name] = row
    return pd.DataFrame(rows).T.astype({"numbers": int})


def number_reading(
    predictor: Any,
    images: np.ndarray,
    labels: np.ndarray,
    numbers: int = 200,
    gaps: Sequence[int] = NUMBER_GAPS,
    seed: int = 0,
) -> Any:
    """How a `predict.Predictor` reads numbers of 2 to 5 digits composed from `images`: per gap,
    `number_outcomes` of its `number_pieces`, with the "?" the predictor showed."""
    pieces, _ = number_pieces(predictor, images, labels, numbers, gaps, seed)
    return number_outcomes(pieces, pieces["flagged"].to_numpy(bool))


def number_flags(
    pieces: Any,
    shape_checks: str | None = None,
    thresholds: dict[str, float] | None = None,
    unsure_below: float | None = None,
    not_digit_above: float | None = None,
    number_unsure_below: float | None = None,
    replaced: Sequence[str] | None = None,
) -> np.ndarray:
    """Which digits of a `number_pieces` table get a "?" under `thresholds`, the shape checks
    applying as `shape_checks` says (one of `rule.NUMBER_CHECK_CHOICES`) and the `replaced` parts
    of `rule.REPLACEABLE` left out; digits of the number reader (`by_reader`) by its own threshold,
    `unsure_below`, and where it read a non-digit; where the table has the digit detector's
    probabilities (`not_digit`), those above `not_digit_above`; and on top, the "?" on the
    reader's reading below `number_unsure_below` (`number_question_marks`). Defaults: the
    shipped rules (the number's "?" and the replaced parts only on numbers read with a number
    reader and a detector, which is where they were chosen). A number read as nothing (position
    -1) has no digit to flag."""
    if shape_checks is None or thresholds is None or not_digit_above is None:
        shipped = rule.load_rule()
        shape_checks = shape_checks or shipped.shape_checks_in_numbers
        thresholds = thresholds or shipped.thresholds
        if not_digit_above is None:
            not_digit_above = float(shipped.detector.get("not_digit_above", np.inf))
    with_reader = "with_reader" in pieces and bool(pieces["with_reader"].any())
    with_detector = "not_digit" in pieces and bool(pieces["not_digit"].notna().any())
    if replaced is None:
        replaced = reader.load_detector_replaces() if with_reader and with_detector else []
    applies = rule.shape_checks_apply(shape_checks, pieces["cut"].to_numpy(bool)) & ("shape" not in replaced)
    judged = pieces.assign(energy=np.nan) if "energy" in replaced else pieces  # an unknown energy breaks nothing
    flags = rule.flagged(judged, thresholds, applies)
    if "by_reader" in pieces:
        flags = reader_flags(pieces, unsure_below, model_flags=flags)
    if "not_digit" in pieces:  # NaN (no detector) flags nothing
        flags = flags | (pieces["not_digit"] > not_digit_above).to_numpy()
    flags = flags & (pieces["position"] >= 0).to_numpy()
    if number_unsure_below is None:
        number_unsure_below = reader.load_number_unsure_below() if with_reader else 0.0
    return flags | number_question_marks(pieces, flags, number_unsure_below)


def number_question_marks(pieces: Any, flags: np.ndarray, unsure_below: float) -> np.ndarray:
    """The number's "?" (`rule.number_question_mark`: the reader's `reading_probability` below
    `unsure_below`, on the least sure of its digits) on the digits of a `number_pieces` table,
    each number judged as the predictor judges it, with `flags` the "?" on its digits already."""
    marks = np.zeros(len(pieces), bool)
    if unsure_below <= 0:
        return marks
    keys = [key for key in ("run", "gap", "number") if key in pieces]
    frame = pieces[keys + ["position", "confidence", "by_reader", "reading_probability"]].assign(
        flag=np.asarray(flags, bool), row=np.arange(len(pieces))
    )
    frame = frame[frame["position"] >= 0].sort_values(keys + ["position"])
    for _, number in frame.groupby(keys, sort=False):
        at = rule.number_question_mark(
            number["confidence"].tolist(),
            number["flag"].tolist(),
            float(number["reading_probability"].iloc[0]),
            unsure_below,
            number["by_reader"].tolist(),
        )
        if at is not None:
            marks[number["row"].iloc[at]] = True
    return marks


def digits_together(pieces: Any) -> np.ndarray:
    """Per row of a `number_pieces` table, its number's product of the reader's digits' confidences
    where it has two or more of them, else 1: the peaks of single frames, the measure set beside
    `reading_probability` (pass it as that column to replay a "?" on it)."""
    keys = [key for key in ("run", "gap", "number") if key in pieces]
    counted = pieces["confidence"].where(pieces["by_reader"] & (pieces["position"] >= 0))
    numbers = counted.groupby([pieces[key] for key in keys])
    product = numbers.transform(lambda confidences: confidences.prod() if confidences.count() >= 2 else 1.0)
    return product.to_numpy(float)


def choose_number_threshold(
    pieces: Any,
    digit_flags: np.ndarray,
    grid: tuple[float, ...] = NUMBER_THRESHOLD_GRID,
    max_correct_flagged: float = rule.MAX_CORRECT_FLAGGED,
) -> tuple[float, Any]:
    """The threshold of the number's "?" from a `number_pieces` table of validation numbers with
    the "?" on their digits, `digit_flags`: the highest of `grid` that flags at most
    `max_correct_flagged` of the numbers read exactly without it. Returns it and, per threshold,
    the shares of those right numbers flagged, of the wrong numbers without a "?" that it flags,
    and of the numbers read exactly and read wrong without a "?", pooled over gaps."""
    import pandas as pd

    before = number_results(pieces, digit_flags)
    right, silent = before["read_exactly"], before["read_wrong_without_a_question_mark"]
    rows = []
    for threshold in grid:
        flags = np.asarray(digit_flags, bool) | number_question_marks(pieces, digit_flags, threshold)
        after = number_results(pieces, flags)
        rows.append(
            {
                "number_unsure_below": threshold,
                "right_numbers_flagged": float(after["any_flag"][right].mean()) if right.any() else 0.0,
                "silent_wrong_flagged": float(after["any_flag"][silent].mean()) if silent.any() else 0.0,
                "read_exactly": float(after["read_exactly"].mean()),
                "read_wrong_without_a_question_mark": float(after["read_wrong_without_a_question_mark"].mean()),
            }
        )
    trade = pd.DataFrame(rows).set_index("number_unsure_below")
    allowed = trade.index[trade["right_numbers_flagged"] <= max_correct_flagged + 1e-12]
    return float(max(allowed, default=min(grid))), trade


def choose_number_checks(
    pieces: Any, thresholds: dict[str, float] | None = None, max_extra_silent: float = MAX_EXTRA_SILENT
) -> tuple[str, Any]:
    """The choice of `rule.NUMBER_CHECK_CHOICES` that reads the most numbers of `pieces` (a
    `number_pieces` table, every gap pooled) exactly, among those whose share read wrong without a
    "?" is at most `max_extra_silent` above that of "every" (the single-picture rule); and each
    choice's outcomes. Tables of several runs need a `run` column."""
    import pandas as pd

    tried = pd.concat(
        [
            number_outcomes(pieces, number_flags(pieces, choice, thresholds), by_gap=False).assign(
                **{"shape checks": choice}
            )
            for choice in rule.NUMBER_CHECK_CHOICES
        ]
    ).set_index("shape checks")
    ceiling = tried.loc["every", "read_wrong_without_a_question_mark"] + max_extra_silent
    tried["allowed"] = tried["read_wrong_without_a_question_mark"] <= ceiling + 1e-12
    allowed = tried[tried["allowed"]]
    return str(allowed["read_exactly"].idxmax()), tried


def number_lines(
    images: np.ndarray,
    labels: np.ndarray,
    numbers: int,
    gaps: Sequence[int] = NUMBER_GAPS,
    seed: int = 0,
    rise: int = NUMBER_RISE,
) -> dict[int, tuple[list[str], np.ndarray]]:
    """The numbers `numbers_at_gaps` draws, composed and brought to the number reader's input
    (`segment.to_line`), per gap: their texts and their lines (numbers, 28, `segment.LINE_WIDTH`)."""
    lines = {}
    for gap, (drawn, chosen, rises) in numbers_at_gaps(images, labels, numbers, gaps, seed, rise).items():
        composed = [compose_number(digits, gap, rises=up) for digits, up in zip(chosen, rises)]
        lines[gap] = (
            ["".join(str(d) for d in number) for number in drawn],
            np.stack([segment.to_line(number) for number in composed]).astype(np.float32),
        )
    return lines


def reader_alone(
    reader_path: str | os.PathLike,
    images: np.ndarray,
    labels: np.ndarray,
    numbers: int = 200,
    gaps: Sequence[int] = NUMBER_GAPS,
    seed: int = 0,
    rise: int = NUMBER_RISE,
) -> Any:
    """The number reader at `reader_path` alone on the numbers `number_pieces` composes for the same
    `images`, `numbers` and `seed` (digits moving up or down by up to `rise` pixels): each whole
    picture brought to its input (`segment.to_line`) and read whole, with no digit model and no
    "?", as `benchmarks/reader_variants.py` reads its variants. One row per number, indexed by gap
    and number as `number_results`: its true text, the digits read, and whether it was read
    exactly and with the right count of digits."""
    import pandas as pd

    model = runtime.keras().models.load_model(reader_path, compile=False)
    rows = []
    for gap, (truths, lines) in number_lines(images, labels, numbers, gaps, seed, rise).items():
        for k, (truth, read) in enumerate(zip(truths, reader.read_lines(model, lines))):
            rows.append({"gap": gap, "number": k, "truth": truth, "read": read})
    table = pd.DataFrame(rows).set_index(["gap", "number"])
    return table.assign(
        read_exactly=table["read"] == table["truth"], right_count=table["read"].str.len() == table["truth"].str.len()
    )


def alone_or_through(alone: Any, through: Any, pieces: Any, gap: int) -> dict[str, float]:
    """At one `gap`, the same numbers read by the reader alone (`reader_alone`) and through the
    predictor (`through`, `number_results` of its `pieces`): the shares read exactly, their paired
    difference (through minus alone) with its 95 % half-width, the numbers read exactly alone
    but not through the predictor (`lost`), and how many of those had no part wide enough for the
    reader (every digit read by the digit model)."""
    alone_exact, through_exact = alone.loc[gap, "read_exactly"], through.loc[gap, "read_exactly"]
    mean, low, _ = evaluation.paired_difference(through_exact, alone_exact)
    lost = alone_exact & ~through_exact
    no_wide_part = ~pieces.groupby(["gap", "number"])["by_reader"].any().loc[gap]
    return {
        "alone": float(alone_exact.mean()),
        "through": float(through_exact.mean()),
        "difference": mean,
        "halfwidth": mean - low,
        "lost": int(lost.sum()),
        "lost_without_wide_part": int((lost & no_wide_part).sum()),
    }


def unpaired_halfwidth(first: float, second: float, items: int) -> float:
    """The half-width of the 95 % interval of the difference of two shares, each of `items` read
    independently (binomial, normal approximation). On the same items it overstates the noise."""
    return math.hypot(evaluation.sampling_halfwidth(first, items), evaluation.sampling_halfwidth(second, items))


def reader_or_cuts(exact: Any, reader_column: str, cut_column: str, results: dict[str, Any]) -> Any:
    """Per gap, `exact` (numbers read exactly, per gap, one column per way of reading) in % with the
    paired difference `reader_column` minus `cut_column` and the half-width of its 95 % interval,
    from the per-number `results` (`number_results` of each column's reading)."""
    table = 100 * exact
    for gap in table.index:
        mean, low, _ = evaluation.paired_difference(
            results[reader_column].loc[gap, "read_exactly"], results[cut_column].loc[gap, "read_exactly"]
        )
        table.loc[gap, "difference (points)"] = 100 * mean
        table.loc[gap, "± (95 %)"] = 100 * (mean - low)
    return table.round(1)


def variant_name(settings: dict[str, Any], base: dict[str, Any] | None = None) -> str:
    """A reader variant named by its settings (those of `reader.ReaderConfig` that vary), or only
    by those that differ from `base`'s."""
    names = {
        "width": f"width {settings['width']}",
        "epochs": f"{settings['epochs']} epochs",
        "recurrent_units": f"GRU {settings['recurrent_units']}" if settings["recurrent_units"] else "no GRU",
        "numbers": f"{settings['numbers']:,} numbers",
    }
    if base is None:
        shown = ["width", "epochs"] + ["recurrent_units"] * bool(settings["recurrent_units"])
        shown += ["numbers"] * (settings["numbers"] != reader.ReaderConfig().numbers)
    else:
        shown = [name for name in names if settings[name] != base[name]]
    return ", ".join(names[name] for name in shown) or "the same settings"


def variants_table(measured: dict[str, Any], gap: int = NUMBER_GAPS[0]) -> Any:
    """The reader variants of `reports/reader_variants.json`: settings, parameters, GPU seconds,
    the numbers read exactly (%) per gap and where digits touch, and each variant's difference at
    `gap` from the first one (the benchmark's base) with its unpaired 95 % half-width."""
    import pandas as pd

    items = measured["validation_numbers_per_gap"]
    base = measured["variants"][0]["by_gap"][str(gap)]["read_exactly"]
    rows = []
    for row in measured["variants"]:
        share = row["by_gap"][str(gap)]["read_exactly"]
        rows.append(
            {
                "variant": variant_name(row["config"]),
                "parameters": row["parameters"],
                "GPU seconds": row["train_seconds"],
                **{f"gap {g}": 100 * value["read_exactly"] for g, value in row["by_gap"].items()},
                "touching (gap ≤ 0)": 100 * row["touching_read_exactly"],
                f"gap {gap} minus first (points)": 100 * (share - base),
                "± (95 %, unpaired)": 100 * unpaired_halfwidth(share, base, items),
            }
        )
    return pd.DataFrame(rows).set_index("variant").round(1)


def reader_or_cuts_figure(exact: Any) -> Any:
    """Numbers read exactly (%) per gap, one line per way of reading (`exact`'s columns)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    (100 * exact).plot(ax=ax, marker="o")
    ax.set_xticks(list(exact.index))
    ax.set(xlabel="pixels between digits (negative: overlapping)", ylabel="numbers read exactly (%)", ylim=(0, 104))
    ax.set_title("validation numbers: the reader for wide parts, or cuts")
    ax.legend(loc="lower right", fontsize=10)
    return fig


def number_threshold_figure(trades: dict[str, Any], chosen: float) -> Any:
    """The trade of the number's "?" measured several ways (name -> `choose_number_threshold`'s
    table): the right numbers it flags against the wrong ones without a "?" it catches, one point
    per threshold; `chosen` marked on the first."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    for k, (name, trade) in enumerate(trades.items()):
        x, y = 100 * trade["right_numbers_flagged"], 100 * trade["silent_wrong_flagged"]
        ax.plot(x, y, marker="o", color=f"C{k}", label=name)
        at_point: dict[tuple[float, float], list[str]] = {}  # thresholds at (nearly) one point share a label
        for threshold in trade.index[trade.index > 0]:
            point = (x[threshold], y[threshold])
            near = [p for p in at_point if abs(p[0] - point[0]) < 0.3 and abs(p[1] - point[1]) < 3]
            at_point.setdefault(near[0] if near else point, []).append(f"{threshold:g}")
        for point, names in at_point.items():
            offset = (5, -11) if k == 0 else (5, 4)
            ax.annotate(", ".join(names), point, textcoords="offset points", xytext=offset, fontsize=8, color=f"C{k}")
        if k == 0:
            ax.plot(
                [x[chosen]], [y[chosen]], "o", markersize=12, fillstyle="none", color="C3", label=f"chosen: {chosen:g}"
            )
    ax.axvline(100 * rule.MAX_CORRECT_FLAGGED, color="grey", linestyle=":", label="the limit on right numbers")
    ax.set(xlabel="numbers read right that it flags (%)", ylabel='wrong with no other "?" that it flags (%)')
    ax.set_title('validation numbers: a "?" on the number as a whole')
    ax.legend(loc="lower right", fontsize=8)
    return fig


def reader_flags(pieces: Any, unsure_below: float | None = None, model_flags: Any = None) -> np.ndarray:
    """The "?" on every digit of a `number_pieces` table read with a number reader: on the
    reader's digits (`by_reader`) where its confidence is below `unsure_below` (default: the
    shipped reader's) or where it read something that is not a digit (`reader.NOT_DIGIT_ABOVE`);
    on the digit model's, `model_flags` (default: as the predictor flagged them)."""
    unsure_below = reader.load_unsure_below() if unsure_below is None else unsure_below
    from_reader = pieces["by_reader"].to_numpy(bool) & (pieces["position"].to_numpy() >= 0)
    model_flags = pieces["flagged"].to_numpy(bool) if model_flags is None else np.asarray(model_flags, bool)
    unsure = pieces["confidence"].to_numpy() < unsure_below
    if "not_digit" in pieces:
        unsure = unsure | (pieces["not_digit"].to_numpy() > reader.NOT_DIGIT_ABOVE)
    return np.where(from_reader, unsure, model_flags)


def choose_reader_threshold(
    pieces: Any,
    grid: tuple[float, ...] = READER_THRESHOLD_GRID,
    max_correct_flagged: float = rule.MAX_CORRECT_FLAGGED,
) -> tuple[float, Any]:
    """The "?" threshold for the number reader's digits, from a `number_pieces` table of validation
    numbers: the highest of `grid` that flags at most `max_correct_flagged` of the digits the
    reader reads right. Returns it and, per threshold, the shares of the reader's digits flagged
    (right and wrong ones; a digit of a number read with the wrong count of digits is wrong) and of
    the numbers read exactly and read wrong without a "?", pooled over gaps."""
    import pandas as pd

    from_reader = pieces["by_reader"].to_numpy(bool) & (pieces["position"].to_numpy() >= 0)
    right = (pieces["digit"] == pieces["label"]).to_numpy()
    right_ones, wrong_ones = from_reader & right, from_reader & ~right
    rows = []
    for threshold in grid:
        flags = reader_flags(pieces, threshold)
        pooled = number_outcomes(pieces, flags, by_gap=False).iloc[0]
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


def replaced_in_numbers_table(pieces: Any, with_letters: Any, unsure_below: float) -> Any:
    """For each set of `rule.REPLACEABLE` parts the detector may stand in for on a number's digits:
    over validation numbers (`pieces`) and the same kind of numbers with a letter or shape in each
    (`with_letters`, `number_pieces` with `non_digits`), touching and apart, the shares of numbers
    read exactly and read wrong without a "?", and of the numbers holding a letter that get a "?"
    (the reader's "?" below `unsure_below`, no number's "?")."""
    import itertools

    import pandas as pd

    def by_kind(frame: Any) -> Any:
        return frame.groupby(np.where(frame.index.get_level_values("gap") > 0, "apart", "touching"))

    rows = {}
    for size in range(len(rule.REPLACEABLE) + 1):
        for left_out in itertools.combinations(rule.REPLACEABLE, size):
            flags = {
                name: number_flags(table, unsure_below=unsure_below, number_unsure_below=0.0, replaced=left_out)
                for name, table in (("digits", pieces), ("letters", with_letters))
            }
            digits = by_kind(number_results(pieces, flags["digits"]))
            letters = by_kind(number_results(with_letters, flags["letters"]))
            row: dict[str, float] = {}
            for kind in ("touching", "apart"):
                row[f"{kind}: read exactly"] = float(digits["read_exactly"].mean()[kind])
                row[f"{kind}: wrong with no ?"] = float(digits["read_wrong_without_a_question_mark"].mean()[kind])
                row[f"{kind}: letters flagged"] = float(letters["any_flag"].mean()[kind])
            rows[" and ".join(left_out) or "none"] = row
    return pd.DataFrame(rows).T.rename_axis("left out beside the detector")


def choose_replaced_in_numbers(table: Any, min_caught: float = rule.MIN_NON_DIGITS_CAUGHT) -> list[str]:
    """The parts to leave out beside the detector on a number's digits: of the rows of a
    `replaced_in_numbers_table`, the one reading the most numbers exactly (touching and apart
    averaged) among those flagging at least `min_caught` of the numbers holding a letter, touching
    and apart each, and leaving no more numbers wrong without a "?" than the whole rule, touching
    and apart each (ties: fewer parts left out)."""
    caught = table[["touching: letters flagged", "apart: letters flagged"]]
    silent = table[["touching: wrong with no ?", "apart: wrong with no ?"]]
    allowed = table[(caught >= min_caught).all(axis=1) & (silent <= silent.loc["none"] + 1e-12).all(axis=1)]
    if allowed.empty:
        return []  # nothing can go: the whole rule stays beside the detector
    best = allowed[["touching: read exactly", "apart: read exactly"]].mean(axis=1).idxmax()
    return [] if best == "none" else best.split(" and ")
