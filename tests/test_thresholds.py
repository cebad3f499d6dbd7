"""The "not sure" rule: replayed without the model, chosen on held-out data, kept in the rule file
the predictor reads."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from digitlib import evaluation
from digitlib.pictures import number_tables, predict, preprocess, reader, rule, synthetic

SHIPPED = rule.load_rule()


def _pictures() -> tuple[list[predict.Prediction], np.ndarray]:
    """Predictions that break each part of the rule, and some that break none, with their labels."""
    digit = preprocess.preprocess_stages(preprocess.strokes_to_image(synthetic.FOUR)).result
    grid = preprocess.preprocess_stages(synthetic.non_digit_images(6, seed=3)[3]).result
    sure, unsure = np.eye(10, dtype=np.float32)[4], np.full(10, 0.1, np.float32)
    cases = [(sure, digit, 4), (sure, digit, 7), (unsure, digit, 4), (sure, grid, -1), (unsure, grid, -1)]
    predictions = []
    for probabilities, model_input, _ in cases:
        status, reasons, _ = rule.judge(probabilities, model_input, SHIPPED.thresholds)
        predictions.append(
            predict.Prediction(
                int(probabilities.argmax()), float(probabilities.max()), probabilities, model_input, status, reasons
            )
        )
    blank = predict.Prediction(None, 0.0, np.zeros(10, np.float32), np.zeros((28, 28), np.float32), "no digit")
    return predictions + [blank], np.array([label for *_, label in cases] + [3])


def test_replaying_the_rule_on_a_table_flags_what_judge_flags():
    predictions, labels = _pictures()
    table = rule.rule_table(predictions, labels)
    assert list(table["digit"]) == [4, 4, 0, 4, 0, -1] and list(table["label"]) == [4, 7, 4, -1, -1, 3]
    statuses = [p.status for p in predictions]
    assert statuses[:3] == ["ok", "ok", "uncertain"] and statuses[5] == "no digit"
    outcomes = rule.rule_outcomes(table)
    flagged = np.array([status != "ok" for status in statuses])
    digit, right = labels >= 0, (table["digit"] == table["label"]).to_numpy()
    assert outcomes["digits_flagged"] == pytest.approx(flagged[digit].mean())
    assert outcomes["correct_flagged"] == pytest.approx(flagged[digit & right].mean()) == 0.0
    assert outcomes["misread_flagged"] == pytest.approx(flagged[digit & ~right].mean()) == pytest.approx(2 / 3)
    assert outcomes["non_digits_flagged"] == pytest.approx(flagged[~digit].mean())
    # a rule that lets every confidence through no longer flags the unsure 4; the blank stays flagged
    lenient = {**SHIPPED.thresholds, "UNCERTAIN_BELOW": 0.0}
    assert rule.rule_outcomes(table, lenient)["misread_flagged"] == pytest.approx(1 / 3)


def test_choose_thresholds_takes_the_rule_that_catches_most_within_the_limit():
    # 100 right answers at confidence 0.5-0.99, 20 non-digits at 0.3-0.97; shapes all digit-like
    right = pd.DataFrame({"label": 1, "digit": 1, "confidence": np.linspace(0.5, 0.99, 100)})
    others = pd.DataFrame({"label": -1, "digit": 2, "confidence": np.linspace(0.3, 0.97, 20)})
    table = pd.concat([right, others], ignore_index=True).assign(ink_share=0.15, holes=0, parts=1)
    grid = {"UNCERTAIN_BELOW": [0.5, 0.6, 0.9], "MIN_INK_SHARE": [0.02], "MAX_INK_SHARE": [0.3], "MAX_HOLES": [2]}
    grid["MAX_PARTS"] = [4]
    chosen, tried = rule.choose_thresholds(table, grid, max_correct_flagged=0.25)
    # 0.9 flags 80 % of the right answers (not allowed); 0.6 flags 20 % of them and the most non-digits
    assert chosen["UNCERTAIN_BELOW"] == 0.6 and len(tried) == 3
    assert list(tried["allowed"]) == [True, True, False]
    assert tried.loc[0, "correct_flagged"] == pytest.approx(0.21)
    with pytest.raises(ValueError, match="at most 1.0 %"):
        rule.choose_thresholds(table, {**grid, "UNCERTAIN_BELOW": [0.9]}, max_correct_flagged=0.01)


def test_a_rule_file_round_trips_and_refuses_what_is_missing(tmp_path):
    written = rule.write_rule(tmp_path / "m-rule.json", dataclasses.replace(SHIPPED, temperature=1.5))
    assert written == rule.rule_file(tmp_path / "m.keras")
    assert rule.load_rule(written) == dataclasses.replace(SHIPPED, temperature=1.5)
    found = json.loads(written.read_text())
    del found["thresholds"]["MIN_ENERGY"]
    written.write_text(json.dumps(found))
    with pytest.raises(KeyError):
        rule.load_rule(written)
    with pytest.raises(ValueError, match="MIN_ENERGY"):
        rule.Rule(1.0, {k: v for k, v in SHIPPED.thresholds.items() if k != "MIN_ENERGY"}, "cut")
    with pytest.raises(ValueError, match="shape checks"):
        rule.Rule(1.0, SHIPPED.thresholds, "some")
    with_detector = dataclasses.replace(SHIPPED, detector={"model": "models/d.keras", "not_digit_above": 0.9})
    assert rule.load_rule(rule.write_rule(tmp_path / "d-rule.json", with_detector)) == with_detector
    with pytest.raises(ValueError, match="not_digit_above"):
        dataclasses.replace(SHIPPED, detector={"model": "models/d.keras"})
    with pytest.raises(FileNotFoundError, match="06_interface"):
        rule.load_rule(tmp_path / "missing-rule.json")


@pytest.mark.audit
def test_the_shipped_rule_says_where_it_was_chosen():
    assert SHIPPED.chosen["by"] == "notebooks/06_interface.ipynb" and "held-out" in SHIPPED.chosen["on"]
    assert set(SHIPPED.thresholds) == set(rule.THRESHOLD_NAMES)


def test_at_temperature_recomputes_confidence_and_keeps_no_digit_at_zero():
    table = pd.DataFrame({"label": [1, 2], "digit": [1, -1], "confidence": [0.9, 0.0]})
    probabilities = np.array([[0.05, 0.9, 0.05] + [0] * 7, [0] * 10], np.float32)
    softer = rule.at_temperature(table, probabilities, 2.0)
    assert softer["confidence"][0] == pytest.approx(np.sqrt(0.9) / (np.sqrt(0.9) + 2 * np.sqrt(0.05)), abs=1e-6)
    assert softer["confidence"][1] == 0 and table["confidence"][0] == 0.9  # a new table; the old one kept
    with pytest.raises(ValueError, match="rows of probabilities"):
        rule.at_temperature(table, probabilities[:1], 2.0)


def test_little_evidence_flags_a_confident_answer_and_an_unknown_energy_flags_nothing():
    digit = preprocess.preprocess_stages(preprocess.strokes_to_image(synthetic.FOUR)).result
    sure = np.eye(10, dtype=np.float32)[4]
    thresholds = SHIPPED.thresholds
    assert rule.judge(sure, digit, thresholds, energy=thresholds["MIN_ENERGY"] + 5)[0] == "ok"
    judged = rule.judge(sure, digit, thresholds, energy=thresholds["MIN_ENERGY"] - 1)
    assert judged.status == "uncertain" and any("little evidence" in reason for reason in judged.reasons)
    assert judged.why == "it looks like no digit"
    assert rule.judge(sure, digit, thresholds, energy=np.nan)[0] == "ok"  # an ensemble has no logits


def test_the_detector_flags_what_does_not_look_like_a_digit_and_says_so_first():
    digit = preprocess.preprocess_stages(preprocess.strokes_to_image(synthetic.FOUR)).result
    sure, torn = np.eye(10, dtype=np.float32)[4], np.array([0, 0, 0, 0, 0.45, 0, 0, 0, 0, 0.55], np.float32)
    thresholds = {**SHIPPED.thresholds, "MIN_ENERGY": 0.0}
    assert rule.judge(sure, digit, thresholds, energy=20, not_digit=0.4, not_digit_above=0.9).status == "ok"
    judged = rule.judge(torn, digit, thresholds, energy=20, not_digit=0.95, not_digit_above=0.9)
    assert judged.status == "uncertain" and judged.why == rule.NOT_A_DIGIT and len(judged.reasons) == 2
    assert "95 %" in judged.reasons[0]
    # without the detector's verdict, the torn answer is a close call between its two digits
    assert rule.judge(torn, digit, thresholds, energy=20, not_digit=0.95).why == "could be 9 or 4"
    thin = np.zeros((28, 28), np.float32)
    thin[10:14, 14] = 1
    assert rule.judge(sure, thin, thresholds, energy=20).why == "too little ink"


def test_the_detector_threshold_is_the_lowest_that_spares_every_kind_of_digit():
    digits = {"files": np.array([0.01] * 989 + [0.95] * 10 + [1.0]), "drawn": np.array([0.2] * 980 + [0.85] * 20)}
    others = {"letters": np.linspace(0.5, 1.0, 100), "photos": np.full(50, 0.99)}
    tradeoff = rule.not_digit_tradeoff(digits, others)
    assert tradeoff["worst digits flagged"].is_monotonic_decreasing
    assert tradeoff["non-digits caught"].is_monotonic_decreasing
    # 1 % of the files score 0.95 and 2 % of the drawn digits 0.85: a threshold below flags them
    assert rule.choose_not_digit_above(tradeoff) == 0.95
    assert rule.choose_not_digit_above(tradeoff, max_flagged=0.011) == 0.85
    with pytest.raises(ValueError, match="no threshold"):
        rule.choose_not_digit_above(tradeoff, max_flagged=0.0005)  # a file scores 1: always flagged


@pytest.mark.slow
def test_the_predictor_reads_energy_from_the_logits(predictor, mnist):
    _, (x_test, _) = mnist
    prediction = predictor.predict(x_test[0])
    # no rule beside the test model: the shipped one, with its temperature (a single network)
    assert predictor.rule_path == rule.SHIPPED_RULE and predictor.temperature == SHIPPED.temperature
    logits = predictor._logits_graph(prediction.model_input[np.newaxis, ..., np.newaxis]).numpy()[0, 0]
    assert prediction.energy == pytest.approx(np.log(np.exp(logits).sum()), rel=1e-5)
    raw = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose(
        prediction.probabilities, evaluation.with_temperature(raw, SHIPPED.temperature), atol=1e-6
    )


def _numbers_table() -> pd.DataFrame:
    """Three numbers of two digits: "12" apart, read right, whose first digit falls into six pieces;
    "34" cut out of touching ink, its 4 misread as 8 in six pieces; "56" cut, read right."""
    rows = [
        (8, 0, "12", 0, False, 1, 1, 6),
        (8, 0, "12", 1, False, 2, 2, 1),
        (0, 1, "34", 0, True, 3, 3, 1),
        (0, 1, "34", 1, True, 4, 8, 6),
        (0, 2, "56", 0, True, 5, 5, 1),
        (0, 2, "56", 1, True, 6, 6, 1),
    ]
    columns = ["gap", "number", "truth", "position", "cut", "label", "digit", "parts"]
    table = pd.DataFrame(rows, columns=columns)
    return table.assign(digits=2, pieces=2, confidence=0.99, energy=12.0, ink_share=0.15, holes=0)


@pytest.mark.slow
def test_read_number_applies_the_shape_checks_as_the_rule_says(predictor, mnist, monkeypatch):
    _, (x_test, y_test) = mnist
    apart = synthetic.compose_number([x_test[np.flatnonzero(y_test == d)[0]] for d in (1, 7)], gap=8)
    touching = synthetic.compose_number([x_test[np.flatnonzero(y_test == d)[0]] for d in (0, 1, 0)], gap=-2)
    # every 28x28 now "falls apart into 9 pieces": only the shape checks can object to that
    monkeypatch.setattr(rule, "shape_measures", lambda _: {"ink_share": 0.15, "holes": 0, "parts": 9})
    for picture in (apart, touching):
        for choice in rule.NUMBER_CHECK_CHOICES:
            monkeypatch.setattr(predictor, "rule", dataclasses.replace(predictor.rule, shape_checks_in_numbers=choice))
            reading = predictor.read_number(picture)
            shape_flagged = ["separate pieces" in " ".join(p.reasons) for p in reading.digits]
            assert shape_flagged == list(rule.shape_checks_apply(choice, reading.cut)), (choice, reading.cut)
    assert not any(predictor.read_number(apart).cut) and all(predictor.read_number(touching).cut)
    with pytest.raises(ValueError, match="must be one of"):
        rule.shape_checks_apply("some", [True])


def test_number_checks_flag_shapes_where_told_and_choose_within_the_silent_error_limit():
    table = _numbers_table()
    assert list(number_tables.number_flags(table, "every")) == [True, False, False, True, False, False]
    assert list(number_tables.number_flags(table, "cut")) == [False, False, False, True, False, False]
    assert not number_tables.number_flags(table, "none").any()
    outcomes = number_tables.number_outcomes(table, number_tables.number_flags(table, "none")).set_index("gap")
    assert outcomes.loc[8, "read_exactly"] == 1.0 and outcomes.loc[0, "read_exactly"] == 0.5
    assert outcomes.loc[0, "read_wrong_without_a_question_mark"] == 0.5  # "38", read with no "?"
    chosen, tried = number_tables.choose_number_checks(table)
    # "none" reads as many exactly as "cut" but one in three wrong without a "?": not allowed
    assert chosen == "cut" and list(tried["allowed"]) == [True, True, False]
    assert tried.loc["every", "read_exactly"] == pytest.approx(1 / 3)
    assert tried.loc["cut", "read_exactly"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="run"):  # two runs' tables pooled without telling them apart
        number_tables.number_outcomes(pd.concat([table, table], ignore_index=True))
    # a number read as nothing is wrong without a "?", and nothing of it is flagged
    nothing = pd.DataFrame([{"gap": 8, "number": 9, "truth": "70", "digits": 2, "pieces": 0, "position": -1}])
    nothing = nothing.assign(cut=False)
    nothing = nothing.assign(label=-1, digit=-1, confidence=0.0)
    with_nothing = pd.concat([table, nothing], ignore_index=True)
    assert not number_tables.number_flags(with_nothing, "every")[-1]
    rates = number_tables.number_outcomes(with_nothing).set_index("gap")
    assert rates.loc[8, "numbers"] == 2 and rates.loc[8, "read_wrong_without_a_question_mark"] == 0.5


def test_a_number_less_sure_than_its_threshold_gets_a_question_mark_on_its_least_sure_digit():
    assert rule.number_question_mark([0.99, 0.8, 0.9], [False] * 3, 0.6, 0.9) == 1
    assert rule.number_question_mark([0.99, 0.8], [False] * 2, 0.95, 0.9) is None  # the reading is sure
    assert rule.number_question_mark([0.99, 0.5], [True, False], 0.3, 0.9) is None  # it has a "?" already
    assert rule.number_question_mark([0.6, 0.6], [False] * 2, 0.3, 0.0) is None  # no number's "?"
    # the "?" goes on the reader's least sure digit: the model's unsure 0.6 does not carry it
    assert rule.number_question_mark([0.6, 0.8, 0.9], [False] * 3, 0.5, 0.75, [False, True, True]) == 1
    assert rule.number_question_mark([0.6, 0.6], [False] * 2, 0.5, 0.9, [False, False]) is None  # no reader digit
    # one digit read out of a wide part, sure of itself, while the reader doubts how many digits there are
    assert rule.number_question_mark([0.99], [False], 0.4, 0.9, [True]) == 0
    assert rule.number_unsure_reason(0.713, 0.9) == (
        "the number reader is 71% sure of the digits it read together, below 90%"
    )
    # "12" right (the reading 0.94 sure), "35" for 34 (0.77), "56" right (0.79), "78" with a digit's
    # "?", "9" for 90 (0.6: a digit too few, each digit sure)
    pieces = pd.DataFrame(
        {
            "gap": 0,
            "number": [0, 0, 1, 1, 2, 2, 3, 3, 4],
            "truth": ["12", "12", "34", "34", "56", "56", "78", "78", "90"],
            "digits": 2,
            "pieces": [2, 2, 2, 2, 2, 2, 2, 2, 1],
            "position": [0, 1, 0, 1, 0, 1, 0, 1, 0],
            "label": [1, 2, 3, 4, 5, 6, 7, 8, -1],
            "digit": [1, 2, 3, 5, 5, 6, 7, 8, 9],
            "confidence": [0.99, 0.95, 0.9, 0.85, 0.9, 0.88, 0.5, 0.99, 0.97],
            "by_reader": True,
            "reading_probability": [0.94, 0.94, 0.77, 0.77, 0.79, 0.79, 0.5, 0.5, 0.6],
        }
    )
    digit_flags = np.array([False] * 6 + [True] + [False] * 2)
    marks = number_tables.number_question_marks(pieces.iloc[::-1].reset_index(drop=True), digit_flags[::-1], 0.78)
    assert np.flatnonzero(marks[::-1]).tolist() == [3, 8]  # the 5 of "35" and the "9", whatever the rows' order
    chosen, trade = number_tables.choose_number_threshold(
        pieces, digit_flags, grid=(0.0, 0.5, 0.7, 0.78, 0.8, 0.95), max_correct_flagged=0.0
    )
    assert chosen == 0.78  # 0.8 would flag the right "56"
    assert trade.loc[0.8, "right_numbers_flagged"] == 0.5 and trade.loc[0.95, "right_numbers_flagged"] == 1
    assert trade.loc[0.7, "silent_wrong_flagged"] == 0.5 and trade.loc[0.78, "silent_wrong_flagged"] == 1
    assert trade.loc[0.0, "read_wrong_without_a_question_mark"] == pytest.approx(2 / 5)
    assert trade.loc[0.7, "read_wrong_without_a_question_mark"] == pytest.approx(1 / 5)  # "35" left
    assert trade.loc[0.78, "read_wrong_without_a_question_mark"] == 0
    assert trade.loc[0.78, "read_exactly"] == trade.loc[0.0, "read_exactly"] == pytest.approx(2 / 5)
    # the measure set beside it: the product of the reader's digits' peaks, which a digit too few leaves at 1
    together = number_tables.digits_together(pieces)
    np.testing.assert_allclose(together, [0.9405] * 2 + [0.765] * 2 + [0.792] * 2 + [0.495] * 2 + [1.0])
    by_peaks = number_tables.number_question_marks(pieces.assign(reading_probability=together), digit_flags, 0.78)
    assert np.flatnonzero(by_peaks).tolist() == [3]  # "35"; the "9" goes by
    # a table read with a number reader is replayed with the shipped number's "?"; one without, with none
    shipped = reader.load_number_unsure_below()
    assert shipped in number_tables.NUMBER_THRESHOLD_GRID
    with_reader = pieces.assign(
        by_reader=True, with_reader=True, cut=True, energy=12.0, ink_share=0.15, holes=0, parts=1
    )
    replayed = number_tables.number_flags(with_reader, "none", SHIPPED.thresholds, unsure_below=0.0)
    expected = number_tables.number_question_marks(with_reader, np.zeros(len(pieces), bool), shipped)
    np.testing.assert_array_equal(replayed, expected)
    without = with_reader.assign(with_reader=False)
    assert not number_tables.number_flags(without, "none", SHIPPED.thresholds, unsure_below=0.0).any()
    by_model = pieces.assign(by_reader=False)  # digits the digit model read: no number's "?"
    assert not number_tables.number_question_marks(by_model, np.zeros(len(pieces), bool), 0.99).any()


@pytest.mark.slow
def test_number_pieces_replay_the_predictors_question_marks(predictor, mnist, monkeypatch):
    _, (x_test, y_test) = mnist
    pieces, probabilities = number_tables.number_pieces(predictor, x_test, y_test, numbers=30, gaps=(8, 0), seed=2)
    assert len(probabilities) == len(pieces) and set(pieces["gap"]) == {8, 0}
    read = pieces["position"] >= 0
    # the table replays the interface's "?" exactly, from what it recorded
    np.testing.assert_array_equal(number_tables.number_flags(pieces)[read], pieces["flagged"][read])
    replayed = number_tables.number_outcomes(pieces)
    pd.testing.assert_frame_equal(replayed, number_tables.number_outcomes(pieces, pieces["flagged"].to_numpy(bool)))
    # digits that touch go through the cutter far more often than digits 8 pixels apart
    assert pieces.loc[pieces["gap"] == 0, "cut"].mean() > pieces.loc[pieces["gap"] == 8, "cut"].mean() + 0.3
    assert number_tables.number_flags(pieces, "every").sum() >= number_tables.number_flags(pieces).sum()
    np.testing.assert_allclose(probabilities[read].max(axis=1), pieces.loc[read, "confidence"], atol=2e-6)
    # the reader's digits' "?" below 101 %: every number with two digits read whole gets a "?", and
    # the table replays it
    whole = predict.Predictor(predictor.model_path, number_reader_path=reader.SHIPPED_READER)
    monkeypatch.setattr(whole, "number_unsure_below", 1.01)
    strict, _ = number_tables.number_pieces(whole, x_test, y_test, numbers=30, gaps=(8, 0), seed=2)
    read = strict["position"] >= 0
    replayed_flags = strict.assign(replayed=number_tables.number_flags(strict, number_unsure_below=1.01))[read]
    per_number = replayed_flags.groupby(["gap", "number"])[["replayed", "flagged"]].any()
    # the same numbers flagged; which digit carries it may differ where confidences tie at the table's precision
    assert (per_number["replayed"] == per_number["flagged"]).all()
    by_reader = strict[read].groupby(["gap", "number"])["by_reader"].sum()
    flagged = strict[read].groupby(["gap", "number"])["flagged"].any()
    assert (by_reader >= 2).sum() >= 3 and flagged[by_reader >= 2].all()
    picture = synthetic.compose_number([x_test[np.flatnonzero(y_test == d)[1]] for d in (3, 4, 1)], -4)
    reading = whole.read_number(picture)
    carrying = [p for p in reading.digits if p.why == rule.NUMBER_UNSURE]
    if carrying:  # none where a digit has a "?" of its own
        read_whole = [p for p, counted in zip(reading.digits, reading.by_reader) if counted]
        assert carrying == [min(read_whole, key=lambda p: p.confidence)] and "together" in carrying[0].reasons[0]
    if sum(reading.by_reader) >= 2:
        assert any(p.status == "uncertain" for p in reading.digits)


def _held_out(seed: int = 0) -> pd.DataFrame:
    """Two runs' pooled rule tables: digits with much evidence, read right but for a few; generated
    non-digits with little evidence, sure of themselves or not; photo crops, some with no ink found."""
    rng = np.random.default_rng(seed)
    runs = []
    for run in ("run-a", "run-b"):
        digits = pd.DataFrame(
            {"label": 1, "delivered_as": "png", "digit": [1] * 95 + [2] * 5, "confidence": rng.uniform(0.7, 1, 100)}
        ).assign(energy=rng.uniform(8, 20, 100))
        others = pd.DataFrame(
            {"label": -1, "delivered_as": "non-digit", "digit": 3, "confidence": rng.uniform(0.3, 1, 20)}
        ).assign(energy=rng.uniform(2, 10, 20))
        crops = pd.DataFrame(
            {"label": -1, "delivered_as": "photo crop", "digit": [4] * 7 + [-1] * 3, "confidence": [0.8] * 7 + [0] * 3}
        ).assign(energy=[3.0] * 7 + [np.nan] * 3)
        runs.append(pd.concat([digits, others, crops], ignore_index=True).assign(run=run))
    return pd.concat(runs, ignore_index=True).assign(ink_share=0.15, holes=0, parts=1)


GRID = {
    "UNCERTAIN_BELOW": [0.5, 0.75],
    "MIN_INK_SHARE": [0.02],
    "MAX_INK_SHARE": [0.3],
    "MAX_HOLES": [2],
    "MAX_PARTS": [4],
    "MIN_ENERGY": [0.0, 1.0, 6.0],  # 0 and 1 flag the same pictures: no energy is that low
}


def test_the_threshold_report_counts_and_compares_the_rules_on_the_same_pictures():
    held_out = _held_out()
    chosen, tried = rule.choose_thresholds(held_out, GRID, max_correct_flagged=0.3)
    report = rule.threshold_report(held_out, chosen, tried)
    assert chosen["MIN_ENERGY"] == 6.0 and report["chosen"] == chosen
    assert (report["held_out_digits"], report["held_out_non_digits"], report["held_out_right"]) == (200, 60, 190)
    assert report["rules_tried"] == 6 and report["no_ink_found"] == {"non-digit": 0, "photo crop": 6}
    assert report["held_out_outcomes"] == pytest.approx(rule.rule_outcomes(held_out, chosen), abs=1e-6)
    assert set(report["per_run"]) == {"run-a", "run-b"}
    # the best allowed rule without the energy, and what the energy adds on the same non-digits
    without = tried[tried["allowed"] & (tried["MIN_ENERGY"] == 0)].iloc[0]
    assert report["best_without_energy"]["non_digits_flagged"] == pytest.approx(without["non_digits_flagged"])
    added = report["energy_adds"]
    expected = report["held_out_outcomes"]["non_digits_flagged"] - without["non_digits_flagged"]
    assert added["non_digits_flagged"] == pytest.approx(expected, abs=1e-6) and expected > 0
    assert added["low"] < added["non_digits_flagged"] < added["high"]
    # every photo crop is flagged (little evidence or no digit); a no-digit crop counts as least digit-like
    assert report["non_digits_flagged_by_kind"]["photo crop"] == 1.0
    assert 0.5 < report["separation_auroc"]["energy"] <= 1 and json.dumps(report)


def test_a_paired_difference_has_an_interval_around_it():
    assert evaluation.paired_difference([1, 1, 1, 1], [1, 1, 1, 1]) == (0.0, 0.0, 0.0)
    mean, low, high = evaluation.paired_difference([1, 1, 0, 1, 1, 0, 1, 1], [0, 1, 0, 0, 1, 0, 0, 1])
    assert mean == pytest.approx(3 / 8) and low < mean < high and high - low == pytest.approx(2 * (mean - low))


def test_pooled_tables_are_read_at_the_temperature_with_their_run():
    table = pd.DataFrame({"label": [1, 2], "digit": [1, -1], "confidence": [0.9, 0.0]})
    probabilities = np.array([[0.05, 0.9, 0.05] + [0] * 7, [0] * 10], np.float32)
    pooled = rule.pooled_at_temperature({"a": table, "b": table}, {"a": probabilities, "b": probabilities}, 2.0)
    assert list(pooled["run"]) == ["a", "a", "b", "b"] and pooled["confidence"].iloc[1] == 0
    assert pooled["confidence"].iloc[0] == pytest.approx(
        rule.at_temperature(table, probabilities, 2.0)["confidence"][0]
    )


def test_calibration_finds_the_temperature_that_undoes_overconfidence():
    rng = np.random.default_rng(0)
    runs = {}
    for run in ("a", "b"):
        logits = 2 * rng.standard_normal((3000, 10))
        honest = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        labels = np.array([rng.choice(10, p=row) for row in honest])
        runs[run] = {"validation": evaluation.with_temperature(honest, 0.5), "validation_labels": labels}
    report, before, after = rule.calibration(runs)
    assert 1.8 <= report["fitted"] <= 2.2 and report["fitted"] == round(report["fitted"], 2)
    assert set(report["per_run"]) == {"a", "b"} and report["validation_digits"] == 6000
    assert report["ece_after"] < report["ece_before"] == pytest.approx(before["ece"], abs=1e-6)
    assert report["log_loss_after"] < report["log_loss_before"] and after["ece"] == pytest.approx(
        report["ece_after"], abs=1e-6
    )


def test_the_rule_file_says_what_the_report_chose_and_on_what(tmp_path):
    table = _numbers_table()
    choice, tried = number_tables.choose_number_checks(table)
    _, apart = number_tables.choose_number_checks(table[table["gap"] > 0])
    checks = rule.number_checks_report(choice, tried, apart, 0.01)
    assert checks["chosen"] == "cut" and checks["validation_numbers"] == 3 and checks["max_extra_silent"] == 0.01
    assert checks["outcomes"]["none"]["allowed"] is False and checks["outcomes"]["cut"]["numbers"] == 3
    assert checks["read_exactly_apart"] == {"every": 0.0, "cut": 1.0, "none": 1.0}  # "12": its 1 in six pieces
    report = {
        "chosen_on": "somewhere (2 runs)",
        "held_out_digits": 200,
        "held_out_non_digits": 60,
        "max_correct_flagged": 0.02,
        "chosen": SHIPPED.thresholds,
        "temperature": {"fitted": 1.25, "validation_digits": 15000},
        "number_checks": checks,
    }
    chosen = rule.rule_from_report(report, by="notebooks/06_interface.ipynb")
    assert (chosen.temperature, chosen.thresholds, chosen.shape_checks_in_numbers) == (1.25, SHIPPED.thresholds, "cut")
    assert chosen.chosen["on"] == "somewhere (2 runs)" and chosen.chosen["validation_numbers"] == 3
    assert "15,000" in chosen.chosen["temperature"] and "at most 2 %" in chosen.chosen["thresholds"]
    assert "at most 1 point more" in chosen.chosen["shape_checks_in_numbers"]
    assert rule.load_rule(rule.write_rule(tmp_path / "m-rule.json", chosen)) == chosen


def test_numbers_pooled_by_kind_count_each_number_once_with_an_interval():
    # two touching numbers (one read exactly, one wrong with a "?") and two apart (one wrong with no "?")
    pieces = pd.DataFrame(
        {
            "gap": [0, 0, 0, 8, 8],
            "number": [0, 0, 1, 0, 1],
            "digits": [2, 2, 1, 1, 1],
            "pieces": [2, 2, 1, 1, 1],
            "position": [0, 1, 0, 0, 0],
            "label": [1, 2, 3, 4, 5],
            "digit": [1, 2, 7, 4, 6],
        }
    )
    flags = np.array([False, False, True, False, False])
    pooled = number_tables.outcomes_by_kind(pieces, flags, columns=("read_exactly", "any_flag"))
    assert pooled.loc["touching", "numbers"] == 2 and pooled.loc["apart", "numbers"] == 2
    assert pooled.loc["touching", "any_flag"] == 0.5 and pooled.loc["apart", "any_flag"] == 0
    assert pooled.loc["apart", "read_exactly"] == 0.5
    assert pooled.loc["apart", "any_flag low"] == 0 < pooled.loc["apart", "any_flag high"] < 1
    assert "read_wrong_without_a_question_mark" not in pooled
    default = number_tables.outcomes_by_kind(pieces, flags)
    assert default.loc["apart", "read_wrong_without_a_question_mark"] == 0.5
