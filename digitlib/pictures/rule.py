"""The "not sure" rule: what it reads of a prediction, how it is chosen, and the file it lives in.

- **no digit**: preprocessing finds almost no ink (fewer than `preprocess.MIN_INK_PIXELS` ink
  pixels at the working size): nothing is predicted.
- **uncertain** ("not sure"): the network has little evidence for any digit (its energy, the log
  of the summed exponentials of its logits, is below `MIN_ENERGY`: pictures unlike anything it
  was trained on score low whatever their softmax says), or the top probability (calibrated by
  the rule's temperature) is below `UNCERTAIN_BELOW`, or the 28x28 input has a shape no MNIST
  digit has: its ink covers less than `MIN_INK_SHARE` or more than `MAX_INK_SHARE` of the field,
  it encloses more than `MAX_HOLES` holes (an 8 has two), or it falls apart into more than
  `MAX_PARTS` pieces. The prediction is still returned, flagged, so an interface can say "not sure".
- **not a digit**, a kind of "not sure": the digit detector beside the model (`detector`, a network
  that learned what is not a digit) gives a probability above the rule's `not_digit_above`.

The values are chosen on validation data, never typed here: notebook 06 fits the temperature and
picks the thresholds with `choose_thresholds` from the held-out outputs of
`params/sweeps/thresholds.yaml`, and the detector's threshold with `choose_not_digit_above` on
validation pictures; it writes them with where they came from into the rule file beside the model
(`models/cnn-rule.json`), which `load_rule` reads for the predictor.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from digitlib import config, evaluation, records

THRESHOLD_NAMES = ("UNCERTAIN_BELOW", "MIN_INK_SHARE", "MAX_INK_SHARE", "MAX_HOLES", "MAX_PARTS", "MIN_ENERGY")
THRESHOLD_GRID: dict[str, list[float]] = {
    "UNCERTAIN_BELOW": [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95],
    "MIN_INK_SHARE": [0.02, 0.025, 0.03, 0.04],
    "MAX_INK_SHARE": [0.25, 0.3, 0.35],
    "MAX_HOLES": [2],
    "MAX_PARTS": [3, 4],
    "MIN_ENERGY": [0.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],  # 0: practically off (digits score 10 and more)
}
MAX_CORRECT_FLAGGED = 0.02  # a rule may flag at most this share of the digits read right
SHAPE_PARTS = ("ink_share", "holes", "parts")  # the parts of the rule that read the input's shape
# Where the shape checks apply to a digit read in a number: on every digit, only on what comes out
# of a part wider than the line (cut out of touching ink, or read whole by the number reader), or on none.
NUMBER_CHECK_CHOICES = ("every", "cut", "none")
SHIPPED_RULE = config.MODELS_DIR / "cnn-rule.json"
NOT_A_DIGIT = "this does not look like a digit"  # what the card says when the detector flags a picture
MAX_DIGITS_FLAGGED_BY_DETECTOR = 0.005  # the detector may flag at most this share of each kind of validation digit
# Parts of the rule that catch non-digits, which the detector may make redundant: the energy, and
# the shape checks (ink share, holes, pieces). The confidence check stays: it catches misread digits.
REPLACEABLE = ("energy", "shape")
MIN_NON_DIGITS_CAUGHT = 0.9  # beside the detector, a rule must still catch this share of each kind of non-digit


@dataclass(frozen=True)
class Rule:
    """The "not sure" rule a predictor applies, as the notebook that chose it wrote it."""

    temperature: float  # the model's probabilities are read as softmax(logits / temperature)
    thresholds: dict[str, float]  # THRESHOLD_NAMES -> value
    shape_checks_in_numbers: str  # one of NUMBER_CHECK_CHOICES
    chosen: dict[str, Any] = field(default_factory=dict)  # by which notebook, on which data
    # the digit detector: its "model" file, "not_digit_above" and the parts of the rule it "replaces"
    # (of REPLACEABLE, not applied beside it to one picture; a number's digits keep them); empty: none
    detector: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = sorted(set(THRESHOLD_NAMES) - set(self.thresholds))
        if missing:
            raise ValueError(f"a rule needs the thresholds {', '.join(missing)}")
        if self.shape_checks_in_numbers not in NUMBER_CHECK_CHOICES:
            raise ValueError(f"shape checks in numbers must be one of {', '.join(NUMBER_CHECK_CHOICES)}")
        if not self.temperature > 0:
            raise ValueError(f"the temperature must be positive, got {self.temperature!r}")
        if self.detector and not {"model", "not_digit_above"} <= set(self.detector):
            raise ValueError("a rule's detector needs its 'model' file and its 'not_digit_above' threshold")
        if not set(self.detector.get("replaces", [])) <= set(REPLACEABLE):
            raise ValueError(f"the detector replaces only parts of {', '.join(REPLACEABLE)}")


def rule_file(model_path: str | Path) -> Path:
    """Where the rule of the model saved at `model_path` lives: `NAME-rule.json` beside it."""
    path = Path(model_path)
    return path.with_name(f"{path.stem}-rule.json")


def load_rule(path: str | Path = SHIPPED_RULE) -> Rule:
    """The rule written by `write_rule` at `path` (default: the shipped model's)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"No rule file at {config.display_path(path)}: notebooks/06_interface.ipynb chooses the rule and writes it"
        )
    found = json.loads(path.read_text())
    return Rule(
        float(found["temperature"]),
        {name: found["thresholds"][name] for name in THRESHOLD_NAMES},
        found["shape_checks_in_numbers"],
        found.get("chosen", {}),
        found.get("detector", {}),
    )


def write_rule(path: str | Path, rule: Rule) -> Path:
    """Write `rule` to `path` (whole or not at all)."""
    return records.write_json(
        Path(path),
        {
            "temperature": rule.temperature,
            "thresholds": rule.thresholds,
            "shape_checks_in_numbers": rule.shape_checks_in_numbers,
            "chosen": rule.chosen,
            **({"detector": rule.detector} if rule.detector else {}),
        },
    )


def shape_checks_apply(choice: str, cut: Any) -> np.ndarray:
    """Per digit of a number, whether the shape checks apply under `choice` (one of
    `NUMBER_CHECK_CHOICES`), given whether each digit came out of a wide part (`cut`)."""
    cut = np.asarray(cut, bool)
    if choice not in NUMBER_CHECK_CHOICES:
        raise ValueError(f"shape checks in numbers must be one of {', '.join(NUMBER_CHECK_CHOICES)}, got {choice!r}")
    return {"every": np.ones_like(cut), "cut": cut, "none": np.zeros_like(cut)}[choice]


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


def broken_parts(
    confidence, ink_share, holes, parts, energy=np.nan, thresholds: dict[str, float] | None = None
) -> dict[str, Any]:
    """Which parts of the rule's `thresholds` (default: the shipped rule's) a prediction breaks, one
    truth value per part; works on single values and on numpy arrays alike. An unknown energy
    (NaN: a model without logits, such as an ensemble) breaks nothing."""
    thresholds = thresholds or load_rule().thresholds
    ink_share = np.asarray(ink_share)
    return {
        "energy": np.asarray(energy) < thresholds.get("MIN_ENERGY", -np.inf),
        "confidence": np.asarray(confidence) < thresholds["UNCERTAIN_BELOW"],
        "ink_share": (ink_share < thresholds["MIN_INK_SHARE"]) | (ink_share > thresholds["MAX_INK_SHARE"]),
        "holes": np.asarray(holes) > thresholds["MAX_HOLES"],
        "parts": np.asarray(parts) > thresholds["MAX_PARTS"],
    }


def not_digit_reason(not_digit: float) -> str:
    """The reason in full when the detector's probability `not_digit` flags a picture."""
    return f"the digit detector gives {100 * not_digit:.0f} % that this is not a digit"


class Judgement(NamedTuple):
    """A prediction's status under the rule, every reason in full, and the main one in a few words."""

    status: str  # "ok" or "uncertain"
    reasons: list[str]
    why: str  # empty when the status is "ok"


def judge(
    probabilities: np.ndarray,
    model_input: np.ndarray,
    thresholds: dict[str, float],
    energy: float = np.nan,
    shape_checks: bool = True,
    not_digit: float = np.nan,
    not_digit_above: float = np.inf,
) -> Judgement:
    """The status of a prediction under the rule's `thresholds` and, when the detector's probability
    `not_digit` is known, its `not_digit_above`; why, in full and in a few words (without the checks
    on the input's shape when `shape_checks` is False)."""
    confidence = float(np.max(probabilities))
    shape = shape_measures(model_input)
    broken = broken_parts(confidence, shape["ink_share"], shape["holes"], shape["parts"], energy, thresholds)
    if not shape_checks:
        broken.update(dict.fromkeys(SHAPE_PARTS, False))
    reasons, short = [], []  # each reason with its few words, the strongest first
    if not_digit > not_digit_above:
        reasons.append(not_digit_reason(not_digit))
        short.append(NOT_A_DIGIT)
    if broken["energy"]:
        reasons.append(
            f"little evidence for any digit (energy {energy:.1f}, below the rule's {thresholds['MIN_ENERGY']:g})"
        )
        short.append("it looks like no digit")
    if broken["ink_share"]:
        reasons.append(
            f"ink covers {100 * shape['ink_share']:.0f} % of the field, unlike digits "
            f"({100 * thresholds['MIN_INK_SHARE']:.1f}-{100 * thresholds['MAX_INK_SHARE']:.0f} %)"
        )
        short.append("too little ink" if shape["ink_share"] < thresholds["MIN_INK_SHARE"] else "too much ink")
    if broken["holes"]:
        reasons.append(f"{shape['holes']} enclosed holes (digits have at most {thresholds['MAX_HOLES']})")
        short.append("a shape no digit has")
    if broken["parts"]:
        reasons.append(f"{shape['parts']} separate pieces (digits have at most {thresholds['MAX_PARTS']})")
        short.append("a shape no digit has")
    if broken["confidence"]:
        reasons.append(f"top probability {100 * confidence:.0f} % is below {100 * thresholds['UNCERTAIN_BELOW']:.0f} %")
        first, second = np.argsort(probabilities)[::-1][:2]
        short.append(f"could be {first} or {second}")
    return Judgement("uncertain" if reasons else "ok", reasons, short[0] if short else "")


NUMBER_UNSURE = "not sure of the digits that touch"  # the card's few words for the number's "?"


def number_question_mark(
    confidences: Sequence[float],
    flagged: Sequence[bool],
    reading_probability: float,
    unsure_below: float,
    counted: Sequence[bool] | None = None,
) -> int | None:
    """Where a number gets its number's "?": on the least sure of its `counted` digits (default:
    all; the predictor counts the number reader's), when one at least is counted, none of the
    number's digits is flagged already and the number reader's probability of what it read, as a
    whole (`reader.reading_probabilities`, over its parts), is below `unsure_below`; None where it
    gets none."""
    places = [i for i in range(len(confidences)) if counted is None or counted[i]]
    if not places or any(flagged) or not reading_probability < unsure_below:
        return None
    return min(places, key=lambda i: confidences[i])


def number_unsure_reason(probability: float, unsure_below: float) -> str:
    """The reason in full on the digit that carries a number's "?"."""
    return f"the number reader is {probability:.0%} sure of the digits it read together, below {unsure_below:.0%}"


def rule_table(predictions: list, labels: np.ndarray) -> Any:
    """What the rule reads of each prediction (`predict.Prediction`), one row per picture: its true
    `label` (-1 for a picture that is not a digit), the digit read (-1 for none), the confidence,
    the shape measures, the energy and the detector's probability. Enough to replay any rule of
    `THRESHOLD_GRID` without the model."""
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
                "not_digit": round(prediction.not_digit, 6),  # NaN without a detector
            }
        )
    return pd.DataFrame(rows)


def flagged(table: Any, thresholds: dict[str, float] | None = None, shape_applies: Any = True) -> np.ndarray:
    """Per row of a `rule_table`: no digit read, or a part of the rule broken (the shape parts only
    where `shape_applies`)."""
    energy = table["energy"] if "energy" in table else np.full(len(table), np.nan)  # tables without energy
    broken = broken_parts(table["confidence"], table["ink_share"], table["holes"], table["parts"], energy, thresholds)
    shape = np.logical_or.reduce([np.asarray(broken[part]) for part in SHAPE_PARTS])
    return (
        (table["digit"] < 0).to_numpy()
        | np.asarray(broken["energy"])
        | np.asarray(broken["confidence"])
        | (shape & np.asarray(shape_applies, bool))
    )


def rule_outcomes(table: Any, thresholds: dict[str, float] | None = None) -> dict[str, float]:
    """The shares the rule's `thresholds` (default: the shipped rule's) flag in a `rule_table`: of
    the digits read right, of the digits misread, of all digits, and of the pictures that are not digits."""
    flags = flagged(table, thresholds)
    digit = (table["label"] >= 0).to_numpy()
    right = digit & (table["digit"] == table["label"]).to_numpy()
    wrong = digit & ~right

    def share(mask: np.ndarray) -> float:
        return float(flags[mask].mean()) if mask.any() else float("nan")

    return {
        "correct_flagged": share(right),
        "misread_flagged": share(wrong),
        "digits_flagged": share(digit),
        "non_digits_flagged": share(~digit),
    }


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
        thresholds = dict(zip(tried_grid, values))
        rows.append({**thresholds, **rule_outcomes(table, thresholds)})
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


# ---------------------------------------------------------------- choosing the rule (notebook 06)


def pooled_at_temperature(
    tables: Mapping[str, Any], probabilities: Mapping[str, np.ndarray], temperature: float
) -> Any:
    """The tables of several held-out runs (run name -> `rule_table` or `number_tables.number_pieces`
    table, with the run's raw probabilities, one row each) read at `temperature` and pooled, with a
    `run` column."""
    import pandas as pd

    return pd.concat(
        [at_temperature(table, probabilities[run], temperature).assign(run=run) for run, table in tables.items()],
        ignore_index=True,
    )


def calibration(runs: Mapping[str, Mapping[str, np.ndarray]]) -> tuple[dict[str, Any], dict, dict]:
    """The temperature fitted on the plain validation digits of every run pooled (run name -> arrays
    with `validation` probabilities and `validation_labels`), rounded as the rule file keeps it;
    returns what it does there (the report's `temperature` entry) and the reliability bins
    (`evaluation.reliability`) before and after it."""
    validation = np.concatenate([arrays["validation"] for arrays in runs.values()])
    labels = np.concatenate([arrays["validation_labels"] for arrays in runs.values()])
    temperature = round(evaluation.fit_temperature(validation, labels), 2)
    calibrated = evaluation.with_temperature(validation, temperature)
    before, after = evaluation.reliability(validation, labels), evaluation.reliability(calibrated, labels)
    report = {
        "fitted": temperature,
        "per_run": {
            run: round(evaluation.fit_temperature(arrays["validation"], arrays["validation_labels"]), 4)
            for run, arrays in runs.items()
        },
        "validation_digits": int(len(labels)),
        "ece_before": round(before["ece"], 6),
        "ece_after": round(after["ece"], 6),
        "log_loss_before": round(evaluation.accuracy_and_loss(validation, labels)["loss"], 6),
        "log_loss_after": round(evaluation.accuracy_and_loss(calibrated, labels)["loss"], 6),
    }
    return report, before, after


def threshold_report(held_out: Any, chosen: dict[str, float], tried: Any) -> dict[str, Any]:
    """What the `chosen` thresholds do on the pooled held-out table (`pooled_at_temperature` of
    `rule_table`s) they were chosen on, with `tried`, every rule's outcomes (`choose_thresholds`):
    the counts, the outcomes pooled and run by run, the non-digits flagged by kind, how well energy
    and confidence alone tell digits from non-digits (AUROC), and the best allowed rule without the
    energy, with the non-digits the energy adds (paired, on the same pictures)."""
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    digits, non_digits = held_out[held_out["label"] >= 0], held_out[held_out["label"] < 0]
    is_digit = held_out["label"] >= 0
    # a picture with no digit has no energy: scored as the least digit-like
    separation = {
        score: roc_auc_score(is_digit, held_out[score].fillna(held_out[score].min()))
        for score in ("energy", "confidence")
    }
    without_energy = tried[tried["allowed"] & (tried["MIN_ENERGY"] == 0)].iloc[0]  # `tried` is sorted best first
    added = evaluation.paired_difference(
        flagged(non_digits, chosen), flagged(non_digits, {name: without_energy[name].item() for name in chosen})
    )
    per_run = {run: rule_outcomes(group, chosen) for run, group in held_out.groupby("run")}
    return {
        "held_out_digits": len(digits),
        "held_out_non_digits": len(non_digits),
        "held_out_right": int((digits["digit"] == digits["label"]).sum()),
        "rules_tried": len(tried),
        "max_correct_flagged": MAX_CORRECT_FLAGGED,
        "chosen": chosen,
        "best_without_energy": {
            key: round(float(without_energy[key]), 6) for key in ("correct_flagged", "non_digits_flagged")
        },
        "energy_adds": dict(zip(("non_digits_flagged", "low", "high"), (round(value, 6) for value in added))),
        "separation_auroc": {score: round(value, 4) for score, value in separation.items()},
        "non_digits_flagged_by_kind": {
            kind: round(rule_outcomes(pd.concat([digits, group]), chosen)["non_digits_flagged"], 6)
            for kind, group in non_digits.groupby("delivered_as")
        },
        "no_ink_found": {kind: int((group["digit"] < 0).sum()) for kind, group in non_digits.groupby("delivered_as")},
        "held_out_outcomes": {key: round(value, 6) for key, value in rule_outcomes(held_out, chosen).items()},
        "per_run": {run: {k: round(v, 6) for k, v in row.items()} for run, row in per_run.items()},
    }


def number_checks_report(choice: str, tried: Any, tried_apart: Any, max_extra_silent: float) -> dict[str, Any]:
    """The report's entry for where the shape checks apply in a number: the `choice` made, every
    choice's outcomes pooled over the gaps (`tried`, from `number_tables.choose_number_checks`) and
    the share read exactly where the digits stand apart (`tried_apart`, the same on those gaps)."""

    def kept(key: str, value: Any) -> Any:
        return bool(value) if key == "allowed" else int(value) if key == "numbers" else round(float(value), 6)

    return {
        "chosen": choice,
        "validation_numbers": int(tried["numbers"].iloc[0]),
        "max_extra_silent": max_extra_silent,
        "outcomes": {name: {key: kept(key, value) for key, value in row.items()} for name, row in tried.iterrows()},
        "read_exactly_apart": {name: round(float(value), 6) for name, value in tried_apart["read_exactly"].items()},
    }


def detector_report(
    model: str, tradeoff: Any, chosen: float, counts: Mapping[str, int], replaces: list[str], parts: Any
) -> dict[str, Any]:
    """The report's entry for the digit detector: its `model` file, the `chosen` threshold and what
    every threshold of the `tradeoff` (`not_digit_tradeoff`) does on the validation pictures
    (source name -> count in `counts`), the parts of the rule it `replaces` and what each choice of
    them flags (`parts`, a `replaced_parts_table`)."""
    return {
        "model": model,
        "not_digit_above": chosen,
        "replaces": replaces,
        "min_non_digits_caught": MIN_NON_DIGITS_CAUGHT,
        "flagged_by_parts_left_out": {
            name: {source: round(float(share), 6) for source, share in row.items()} for name, row in parts.iterrows()
        },
        "max_digits_flagged": MAX_DIGITS_FLAGGED_BY_DETECTOR,
        "validation_pictures": dict(counts),
        "tradeoff": [{key: round(float(value), 6) for key, value in row.items()} for _, row in tradeoff.iterrows()],
    }


def rule_from_report(report: dict[str, Any], by: str) -> Rule:
    """The rule a notebook's report (`threshold_report`, with `temperature`, `chosen_on`,
    `number_checks` and, when there is one, `detector`) chose, with where it was chosen, as the rule
    file keeps it."""
    silent, allowed = 100 * report["number_checks"]["max_extra_silent"], 100 * report["max_correct_flagged"]
    found = report.get("detector")
    detector = (
        {"model": found["model"], "not_digit_above": found["not_digit_above"], "replaces": found["replaces"]}
        if found
        else {}
    )
    detector_chosen = (
        {
            "detector": f"the lowest threshold flagging at most {100 * found['max_digits_flagged']:g} % of each "
            f"kind of validation digit, on {sum(found['validation_pictures'].values()):,} validation pictures; "
            f"it replaces the parts whose leaving out flags the fewest digits while at least "
            f"{100 * found['min_non_digits_caught']:g} % of each kind of non-digit is caught"
        }
        if found
        else {}
    )
    return Rule(
        report["temperature"]["fitted"],
        report["chosen"],
        report["number_checks"]["chosen"],
        {
            "by": by,
            "on": report["chosen_on"],
            "validation_digits": report["held_out_digits"],
            "validation_non_digits": report["held_out_non_digits"],
            "validation_numbers": report["number_checks"]["validation_numbers"],
            "temperature": f"fitted on the held-out runs' {report['temperature']['validation_digits']:,} plain "
            "validation digits",
            "thresholds": f"the grid's rule flagging the most non-digits at most {allowed:g} % "
            "of the right answers flagged",
            "shape_checks_in_numbers": f"the most numbers read exactly, at most {silent:g} point{'s' * (silent != 1)} "
            "more read wrong without a '?' than 'every'",
            **detector_chosen,
        },
        detector,
    )


# ------------------------------------------------------- the digit detector's threshold (notebook 06)

NOT_DIGIT_GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999)


def not_digit_tradeoff(
    digits: Mapping[str, np.ndarray], non_digits: Mapping[str, np.ndarray], grid: tuple[float, ...] = NOT_DIGIT_GRID
) -> Any:
    """For each threshold of `grid`, the share of each source's pictures whose P(not a digit) (the
    detector's, source name -> probabilities) is above it: the digits flagged, the worst kind of
    digit, the non-digits caught and their mean over the kinds."""
    import pandas as pd

    rows = []
    for threshold in grid:
        row: dict[str, float] = {"not_digit_above": threshold}
        row |= {f"flagged: {name}": float(np.mean(p > threshold)) for name, p in digits.items()}
        row |= {f"caught: {name}": float(np.mean(p > threshold)) for name, p in non_digits.items()}
        row["worst digits flagged"] = max(row[f"flagged: {name}"] for name in digits)
        row["non-digits caught"] = float(np.mean([row[f"caught: {name}"] for name in non_digits]))
        rows.append(row)
    return pd.DataFrame(rows)


def choose_not_digit_above(tradeoff: Any, max_flagged: float = MAX_DIGITS_FLAGGED_BY_DETECTOR) -> float:
    """The lowest threshold of a `not_digit_tradeoff` (the most non-digits caught) that flags at most
    `max_flagged` of every kind of digit."""
    allowed = tradeoff[tradeoff["worst digits flagged"] <= max_flagged]
    if allowed.empty:
        raise ValueError(f"no threshold flags at most {100 * max_flagged:.1f} % of every kind of digit")
    return float(allowed["not_digit_above"].min())


def flags_beside_detector(
    predictions: list,
    not_digit: np.ndarray,
    thresholds: dict[str, float],
    not_digit_above: float,
    left_out: tuple[str, ...] | list[str] = (),
) -> np.ndarray:
    """Per prediction (`predict.Prediction`s of a predictor without the detector, with the detector's
    probabilities `not_digit`): flagged by the rule with the detector, the `left_out` parts of
    `REPLACEABLE` not applied, as a predictor with that rule flags it."""
    return np.array(
        [
            p.digit is None
            or judge(
                p.probabilities,
                p.model_input,
                thresholds,
                np.nan if "energy" in left_out else p.energy,
                "shape" not in left_out,
                float(score),
                not_digit_above,
            ).status
            != "ok"
            for p, score in zip(predictions, not_digit, strict=True)
        ]
    )


def replaced_parts_table(
    read: Mapping[str, list], not_digit: Mapping[str, np.ndarray], thresholds: dict[str, float], not_digit_above: float
) -> Any:
    """For each set of `REPLACEABLE` parts left out beside the detector, the share of each source's
    pictures flagged (`flags_beside_detector`; source name -> its predictions and the detector's
    probabilities): one row per set, from none left out to all, one column per source."""
    import pandas as pd

    rows = {}
    for size in range(len(REPLACEABLE) + 1):
        for left_out in itertools.combinations(REPLACEABLE, size):
            rows[" and ".join(left_out) or "none"] = {
                name: float(
                    flags_beside_detector(predictions, not_digit[name], thresholds, not_digit_above, left_out).mean()
                )
                for name, predictions in read.items()
            }
    return pd.DataFrame(rows).T.rename_axis("left out beside the detector")


def choose_replaced(table: Any, digits: list[str], min_caught: float = MIN_NON_DIGITS_CAUGHT) -> list[str]:
    """The parts to leave out beside the detector: of the rows of a `replaced_parts_table`, the one
    flagging the fewest digits (mean over the kinds of digit, the `digits` columns) among those
    catching at least `min_caught` of every other kind of picture (ties: fewer parts left out)."""
    others = [column for column in table.columns if column not in digits]
    allowed = table[(table[others] >= min_caught).all(axis=1)]
    if allowed.empty:
        raise ValueError(f"no rule beside the detector catches {100 * min_caught:g} % of every kind of non-digit")
    best = allowed[digits].mean(axis=1).idxmin()  # the first of equals: the table runs from fewest left out
    return [] if best == "none" else best.split(" and ")
