"""The number reader: its input, its training numbers, its loss and decoding, a tiny model trained
for real, the shipped reader on composed test numbers, and the "?" threshold chosen on validation."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import papermill
import pytest

from digitlib import config, evaluation, runtime
from digitlib.parameters import ParameterError
from digitlib.pictures import number_tables, predict, preprocess, reader, segment, synthetic

SHIPPED_READER = config.MODELS_DIR / reader.FILE_NAME
SHIPPED_MODEL = config.MODELS_DIR / f"{config.DEFAULT_MODEL_NAME}.keras"


def _digits(mnist, labels: str) -> list[np.ndarray]:
    (_, _), (x_test, y_test) = mnist
    return [x_test[np.flatnonzero(y_test == int(d))[k]] for k, d in enumerate(labels)]


def _ink_columns(line: np.ndarray) -> int:
    inked = np.flatnonzero((line > preprocess.INK_THRESHOLD).any(axis=0))
    return int(inked[-1] - inked[0] + 1)


def test_a_line_is_20_pixels_high_and_long_gaps_are_shortened(mnist):
    digits = _digits(mnist, "4096")
    close, far = (segment.to_line(synthetic.compose_number(digits, gap)) for gap in (3, 40))
    assert close.shape == far.shape == (preprocess.FIELD, segment.LINE_WIDTH)
    rows = np.flatnonzero((close > preprocess.INK_THRESHOLD).any(axis=1))
    assert 18 <= rows[-1] - rows[0] + 1 <= 20
    assert np.flatnonzero((close > preprocess.INK_THRESHOLD).any(axis=0))[0] == segment.LINE_MARGIN
    # 40 pixels between digits read as 6 (0.3 of a 20-pixel line): the writer's spacing does not matter
    assert abs(_ink_columns(far) - _ink_columns(close)) <= 3 * 4
    assert not segment.to_line(np.zeros((40, 120), np.uint8)).any()  # a blank picture: all zeros


def test_a_number_too_long_for_the_line_is_scaled_down_to_fit(mnist):
    line = segment.to_line(synthetic.compose_number(_digits(mnist, "1234567890"), 8))
    assert _ink_columns(line) <= segment.LINE_WIDTH - 2 * segment.LINE_MARGIN
    assert (line[:, -segment.LINE_MARGIN :] == 0).all()


def test_training_numbers_are_labelled_lines_and_repeat_with_the_seed(mnist):
    (x_train, y_train), _ = mnist
    lines, targets = reader.compose_numbers(x_train[:2000], y_train[:2000], 40, seed=3, workers=1)
    again, same_targets = reader.compose_numbers(x_train[:2000], y_train[:2000], 40, seed=3, workers=2)
    assert lines.shape == (40, preprocess.FIELD, segment.LINE_WIDTH) and lines.dtype == np.uint8
    assert np.array_equal(lines, again) and np.array_equal(targets, same_targets)  # whatever the workers
    with pytest.raises(ValueError, match="every digit"):
        reader.compose_numbers(x_train[:50], np.zeros(50, np.uint8), 4)
    counts = (targets >= 0).sum(axis=1)
    assert set(counts) <= set(reader.DIGIT_COUNTS) and len(set(counts)) >= 4
    assert all((row[:n] >= 0).all() and (row[n:] == -1).all() for row, n in zip(targets, counts))
    assert (lines.reshape(40, -1).max(axis=1) > 200).all()  # every line has ink
    assert not (targets == reader.NOT_DIGIT).any()  # no letters unless asked for
    mixed, labels = reader.compose_numbers(x_train[:2000], y_train[:2000], 40, seed=3, workers=1, outlier_share=0.5)
    holding = (labels == reader.NOT_DIGIT).sum(axis=1)
    assert set(holding) == {0, 1} and 10 <= holding.sum() <= 30  # one letter or shape in about half of them
    assert (mixed.reshape(40, -1).max(axis=1) > 200).all()


def _logits(frames: list[int], sure: float = 6.0) -> np.ndarray:
    logits = np.zeros((1, len(frames), reader.CLASSES), np.float32)
    logits[0, np.arange(len(frames)), frames] = sure
    return logits


def test_greedy_decoding_merges_repeats_drops_blanks_and_keeps_the_peak():
    blank = reader.BLANK
    logits = _logits([blank, 3, 3, blank, 3, 7, 7, blank])
    logits[0, 1, 3] = 3.0  # the first 3 is surer at its second frame (probability 0.67, then 0.88) ...
    logits[0, 2, 3], logits[0, 2, 8] = 9.0, 7.0  # ... where an 8 is its runner-up
    read = reader.decode(logits)[0]
    assert [d.digit for d in read] == [3, 3, 7]  # a blank between two 3s keeps both
    assert [d.frame for d in read] == [2, 4, 5]
    assert all(abs(d.probabilities.sum() - 1) < 1e-6 for d in read)
    assert read[0].probabilities[8] > 0.1 and read[0].confidence == pytest.approx(read[0].probabilities[3])
    assert reader.decode(_logits([blank] * 5)) == [[]]
    assert all(d.is_digit and d.not_digit < 0.01 for d in read)


def test_what_the_reader_reads_as_not_a_digit_is_a_non_digit_with_its_nearest_digit():
    blank, other = reader.BLANK, reader.NOT_DIGIT
    logits = _logits([blank, 4, blank, other, other, blank, 1])
    logits[0, 3:5, 7] = 5.0  # a 7 is the nearest digit of the non-digit, though "not a digit" wins
    read = reader.decode(logits)[0]
    assert [d.is_digit for d in read] == [True, False, True]
    assert read[1].digit == 7 and read[1].not_digit == pytest.approx(1 / (1 + np.exp(-1.0)))
    assert read[1].not_digit > reader.NOT_DIGIT_ABOVE > read[0].not_digit


def test_a_frame_window_is_the_28_columns_around_the_frame_clamped_to_the_line():
    line = np.tile(np.arange(segment.LINE_WIDTH, dtype=np.float32), (preprocess.FIELD, 1))
    frames = segment.LINE_WIDTH // 4
    assert reader.frame_window(line, 0)[0, 0] == 0  # clamped at the left
    assert reader.frame_window(line, frames - 1)[0, -1] == segment.LINE_WIDTH - 1  # and the right
    middle = reader.frame_window(line, 10)  # frame 10 covers columns 40-43: centred on 42
    assert middle.shape == (28, 28) and middle[0, 0] == 42 - 14


def test_the_ctc_loss_is_low_for_the_right_digits_and_high_for_wrong_ones():
    ops = runtime.keras().ops
    blank = reader.BLANK
    logits = _logits([blank, 4, blank, 2, blank, blank], sure=8.0)
    right = float(ops.convert_to_numpy(reader.ctc_loss(np.array([[4, 2, -1]]), logits))[0])
    wrong = float(ops.convert_to_numpy(reader.ctc_loss(np.array([[4, 7, -1]]), logits))[0])
    assert right < 0.1 < 5 < wrong


def test_a_reading_is_as_probable_as_every_path_of_frames_that_spells_it():
    """The greedy reading's probability (its digits, and a non-digit as one) against the sum, by
    brute force, over every sequence of classes on 4 frames that collapses to it; and a doubt
    about the count (a frame unsure between a digit and the blank) lowers it while each digit
    stays sure."""
    import itertools

    from scipy.special import softmax

    logits = np.random.default_rng(0).normal(0, 1, (3, 4, reader.CLASSES)).astype(np.float32)
    logits[:, :, reader.BLANK] += 3  # nothing read, but for:
    logits[1, 1, 3] += 5  # a 3
    logits[2, 0, 3] += 5  # a 3, then something that is not a digit
    logits[2, 2, reader.NOT_DIGIT] += 5
    spelled = [tuple(d.digit if d.is_digit else reader.NOT_DIGIT for d in line) for line in reader.decode(logits)]
    assert spelled == [(), (3,), (3, reader.NOT_DIGIT)]
    probabilities = softmax(logits.astype(np.float64), axis=-1)

    def collapse(path: tuple[int, ...]) -> tuple[int, ...]:
        merged = [c for k, c in enumerate(path) if k == 0 or c != path[k - 1]]
        return tuple(c for c in merged if c != reader.BLANK)

    paths = list(itertools.product(range(reader.CLASSES), repeat=4))
    expected = [
        sum(np.prod(probabilities[row, range(4), path]) for path in paths if collapse(path) == spelled[row])
        for row in range(3)
    ]
    np.testing.assert_allclose(reader.reading_probabilities(logits, reader.decode(logits)), expected, rtol=1e-9)
    # and the same as the CTC loss the reader is trained on
    targets = np.array([[-1, -1], [3, -1], [3, reader.NOT_DIGIT]])
    np.testing.assert_allclose(np.exp(-np.asarray(reader.ctc_loss(targets, logits))), expected, rtol=1e-4)
    sure = _logits([reader.BLANK, 4, reader.BLANK, 2, reader.BLANK, reader.BLANK], sure=8.0)
    doubting = sure.copy()
    doubting[0, 5, 2] = 7.7  # the last frame nearly as likely a second 2 as nothing: "42" or "422"?
    both = np.concatenate([sure, doubting])
    one, two = reader.reading_probabilities(both, reader.decode(both))
    assert [d.digit for d in reader.decode(doubting)[0]] == [4, 2]
    assert one > 0.95 and two < 0.6 and reader.decode(doubting)[0][1].confidence > 0.99


def test_reader_parameters_are_checked_by_their_notebook_names():
    assert reader.ReaderConfig.from_params({"READER_EPOCHS": 2, "SEED": 1}).epochs == 2
    with pytest.raises(ParameterError, match="READER_EPOCHS"):
        reader.ReaderConfig(epochs=0)
    with pytest.raises(ParameterError, match="READER_WIDHT"):
        reader.ReaderConfig.from_params({"READER_WIDHT": 8})
    with pytest.raises(ParameterError, match="READER_RECURRENT_UNITS"):
        reader.ReaderConfig(recurrent_units=-1)
    assert reader.ReaderConfig.from_params({"READER_RECURRENT_UNITS": 8}).recurrent_units == 8


@pytest.mark.audit
def test_the_reader_defaults_were_measured_and_07_takes_them_from_the_config():
    """07's parameters cell leaves the reader's settings to ReaderConfig (None); the default reader's
    size and length are those of a variant benchmarks/reader_variants.py measured on validation
    numbers (the variants saw no letters: their outlier share is 0)."""
    declared = papermill.inspect_notebook(str(config.NOTEBOOKS_DIR / "07_number_reader.ipynb"))
    settings = {name: value["default"] for name, value in declared.items() if name.startswith("READER_")}
    assert {f"READER_{name.upper()}" for name in dataclasses.asdict(reader.ReaderConfig())} == set(settings)
    assert set(settings.values()) == {"None"} and declared["TRAIN_READER"]["default"] == "False"
    assert reader.ReaderConfig.from_params({name: None for name in settings}) == reader.ReaderConfig()
    measured = json.loads((config.REPORTS_DIR / "reader_variants.json").read_text())
    assert not measured["smoke"] and measured["validation_numbers_per_gap"] >= 300
    size = {k: v for k, v in dataclasses.asdict(reader.ReaderConfig()).items() if k != "outlier_share"}
    assert size in [{k: v for k, v in row["config"].items() if k != "outlier_share"} for row in measured["variants"]]
    assert all(row["config"].get("outlier_share", 0.0) == 0.0 for row in measured["variants"])
    for row in measured["variants"]:
        touching = [value["read_exactly"] for gap, value in row["by_gap"].items() if int(gap) <= 0]
        assert row["touching_read_exactly"] == pytest.approx(np.mean(touching))


def test_a_recurrent_layer_keeps_one_row_of_logits_per_frame_and_sees_the_whole_line():
    plain, recurrent = reader.build_reader(4), reader.build_reader(4, recurrent_units=3)
    line = np.zeros((1, 28, segment.LINE_WIDTH, 1), np.float32)
    assert recurrent(line).shape == plain(line).shape == (1, reader.frames(), reader.CLASSES)
    assert recurrent.count_params() > plain.count_params()
    # ink at the right end of the line changes the first frame's logits only through the GRU
    inked = line.copy()
    inked[0, 10:18, -12:, 0] = 1.0
    first = [np.asarray(m(batch, training=False))[0, 0] for m in (plain, recurrent) for batch in (line, inked)]
    assert np.array_equal(first[0], first[1]) and not np.array_equal(first[2], first[3])


@pytest.mark.slow
def test_a_tiny_reader_trains_saves_and_reads_through_the_predictor(tmp_path, mnist):
    paths = config.run_paths(tmp_path)
    settings = reader.ReaderConfig(numbers=512, epochs=2, width=4, recurrent_units=2, validation_size=0, seed=0)
    record = reader.train_reader(settings, paths, mnist)
    saved = paths.models / reader.FILE_NAME
    assert saved.exists() and record["training_numbers"] == 512 and record["loss"][1] < record["loss"][0]
    assert json.loads((paths.models / "number_reader.json").read_text())["config"]["width"] == 4
    loaded = runtime.keras().models.load_model(saved, compile=False, safe_mode=True)
    assert [type(layer).__name__ for layer in loaded.layers].count("Bidirectional") == 1  # the GRU was asked for
    predictor = predict.Predictor(SHIPPED_MODEL, number_reader_path=saved)
    reading = predictor.read_number(synthetic.compose_number(_digits(mnist, "507"), [12, -3]))
    assert reading.by_reader[0] is False and reading.digits[0].digit == 5  # standing apart: the digit model's
    assert reading.by_reader[1:] == reading.cut[1:] == [True] * (len(reading.digits) - 1)  # the touching 07
    assert all(p.model_input.shape == (28, 28) and p.status in ("ok", "uncertain") for p in reading.digits)
    assert all(abs(float(p.probabilities.sum()) - 1) < 1e-5 for p in reading.digits)
    assert predictor.read_number(np.zeros((40, 120), np.uint8)).digits == []
    with pytest.raises(FileNotFoundError, match="No number reader"):
        predict.Predictor(SHIPPED_MODEL, number_reader_path=tmp_path / "missing.keras")


@pytest.mark.slow
@pytest.mark.audit
def test_the_shipped_reader_reads_touching_and_apart_test_numbers(mnist):
    (_, _), (x_test, y_test) = mnist
    predictor = predict.Predictor(SHIPPED_MODEL)
    assert predictor.number_reader_path == SHIPPED_READER  # found beside the digit model
    # 60 numbers at 4 pixels of overlap and 8 apart, with the interface's "?" (a "?" is not read
    # exactly); cutting reads far fewer overlapping ones right (notebook 07)
    outcomes = number_tables.number_reading(predictor, x_test, y_test, numbers=60, gaps=(-4, 8), seed=5)
    overlapping, apart = outcomes["read_exactly"]
    assert overlapping >= 0.4 and apart >= 0.85 and outcomes["right_count"].iloc[1] == 1, outcomes
    # a digit apart is the digit model's; touching ones are the reader's, in their places
    reading = predictor.read_number(synthetic.compose_number(_digits(mnist, "5073"), [12, -3, 10]))
    assert [p.digit for p in reading.digits] == [5, 0, 7, 3] and reading.by_reader == [False, True, True, False]
    assert [p.model_input.shape for p in reading.digits] == [(28, 28)] * 4
    cutting = predict.Predictor(SHIPPED_MODEL, number_reader_path=False)
    cut = cutting.read_number(synthetic.compose_number(_digits(mnist, "5073"), [12, -3, 10]))
    assert cut.cut == [False, True, True, False] and cut.by_reader == [False] * 4


def test_the_reader_threshold_is_the_highest_that_spares_right_digits():
    # "12" read whole by the reader, right (confidences 0.99, 0.85); "34" read "35" (0.99, 0.6);
    # "78" by the digit model, right but flagged by its own rule, which the reader's threshold leaves alone
    pieces = pd.DataFrame(
        {
            "gap": 0,
            "number": [0, 0, 1, 1, 2, 2],
            "truth": ["12", "12", "34", "34", "78", "78"],
            "digits": 2,
            "pieces": 2,
            "position": [0, 1, 0, 1, 0, 1],
            "cut": [True, True, True, True, False, False],
            "by_reader": [True, True, True, True, False, False],
            "flagged": [False, False, False, False, True, False],
            "label": [1, 2, 3, 4, 7, 8],
            "digit": [1, 2, 3, 5, 7, 8],
            "confidence": [0.99, 0.85, 0.99, 0.6, 0.5, 0.99],
        }
    )
    assert number_tables.reader_flags(pieces, 0.7).tolist() == [False, False, False, True, True, False]
    chosen, trade = number_tables.choose_reader_threshold(pieces, grid=(0.5, 0.7, 0.9), max_correct_flagged=0.0)
    assert chosen == 0.7  # 0.9 would flag the right 2
    assert (
        trade.loc[0.9, "right_digits_flagged"] == pytest.approx(1 / 3) and trade.loc[0.7, "wrong_digits_flagged"] == 1
    )
    assert trade.loc[0.5, "read_wrong_without_a_question_mark"] == pytest.approx(1 / 3)  # "35", silently
    assert trade.loc[0.7, "read_exactly"] == pytest.approx(1 / 3)  # "12"; "78" has the model's "?"
    assert (
        number_tables.choose_reader_threshold(pieces, grid=(0.9, 0.95), max_correct_flagged=0.0)[0] == 0.9
    )  # none: lowest


@pytest.mark.audit
def test_the_predictor_reads_the_reader_threshold_beside_the_reader(tmp_path):
    """The "?" threshold 07 chose travels beside the reader; a reader without one gets the shipped one's."""
    shipped = json.loads(reader.unsure_below_file().read_text())
    report = json.loads((config.REPORTS_DIR / "07_number_reader.json").read_text())
    assert shipped["unsure_below"] == report["chosen_unsure_below"] in number_tables.READER_THRESHOLD_GRID
    assert shipped["chosen"]["by"] == "notebooks/07_number_reader.ipynb"
    assert shipped["number_unsure_below"] == report["chosen_number_unsure_below"] in number_tables.NUMBER_THRESHOLD_GRID
    assert reader.load_unsure_below(tmp_path / "other.keras") == shipped["unsure_below"]
    assert reader.load_number_unsure_below(tmp_path / "other.keras") == shipped["number_unsure_below"]
    reader.write_unsure_below(tmp_path / "other.keras", 0.5, {"by": "a test"}, number_unsure_below=0.7)
    assert reader.load_unsure_below(tmp_path / "other.keras") == 0.5
    assert reader.load_number_unsure_below(tmp_path / "other.keras") == 0.7
    reader.write_unsure_below(tmp_path / "other.keras", 0.5, {"by": "a test"})  # no number's "?"
    assert reader.load_number_unsure_below(tmp_path / "other.keras") == 0.0


def test_a_composed_digit_moves_down_by_its_rise_and_no_further_than_the_margin(mnist):
    level = synthetic.compose_number(_digits(mnist, "3"), 0)
    moved = synthetic.compose_number(_digits(mnist, "3"), 0, rises=[3])
    assert moved.shape == level.shape and np.array_equal(np.roll(level, 3, axis=0), moved)
    both = synthetic.compose_number(_digits(mnist, "3") * 2, 8, rises=[-2, 2])
    ink = [np.flatnonzero(both[:, columns].max(axis=1)) for columns in (slice(0, 30), slice(30, None))]
    assert ink[1][0] - ink[0][0] == 4  # the same 3, four rows lower
    with pytest.raises(ValueError, match="rises"):
        synthetic.compose_number(_digits(mnist, "33"), 8, rises=[0, synthetic.MAX_RISE + 1])


def test_the_reader_alone_reads_the_numbers_the_predictor_is_given(mnist):
    """`reader_alone` composes the numbers `number_pieces` composes for the same digits and seed (other
    numbers at each gap), and
    reads each whole picture with the reader, as benchmarks/reader_variants.py reads its variants."""
    (_, _), (x_test, y_test) = mnist
    alone = number_tables.reader_alone(SHIPPED_READER, x_test, y_test, numbers=4, gaps=(-4, 8), seed=3)
    assert list(alone.index.names) == ["gap", "number"] and len(alone) == 8
    at_gaps = number_tables.numbers_at_gaps(x_test, y_test, 4, (-4, 8), seed=3)
    assert alone.loc[8, "truth"].tolist() == ["".join(str(d) for d in number) for number in at_gaps[8][0]]
    assert alone.loc[8, "truth"].tolist() != alone.loc[-4, "truth"].tolist()  # other numbers at each gap
    _, chosen, rises = at_gaps[-4]
    lines = np.stack([segment.to_line(synthetic.compose_number(d, -4, rises=up)) for d, up in zip(chosen, rises)])
    model = runtime.keras().models.load_model(SHIPPED_READER, compile=False)
    assert alone.loc[-4, "read"].tolist() == reader.read_lines(model, lines.astype(np.float32))
    assert (alone["read_exactly"] == (alone["read"] == alone["truth"])).all()
    assert (alone.loc[8, "read_exactly"].mean()) >= 0.5  # digits apart: the reader reads most


def test_alone_or_through_pairs_the_numbers_and_finds_those_with_no_wide_part():
    # three numbers at one gap: read exactly alone (1, 1, 0) and through the predictor (1, 0, 0);
    # number 1 went to the digit model whole (no digit by the reader), number 0 to the reader
    index = pd.MultiIndex.from_product([[-4], [0, 1, 2]], names=["gap", "number"])
    alone = pd.DataFrame({"read_exactly": [True, True, False]}, index=index)
    through = pd.DataFrame({"read_exactly": [True, False, False]}, index=index)
    pieces = pd.DataFrame({"gap": -4, "number": [0, 0, 1, 2, 2], "by_reader": [True, True, False, True, False]})
    check = number_tables.alone_or_through(alone, through, pieces, -4)
    assert check["alone"] == pytest.approx(2 / 3) and check["through"] == pytest.approx(1 / 3)
    assert check["difference"] == pytest.approx(-1 / 3) and check["halfwidth"] > 0
    assert (check["lost"], check["lost_without_wide_part"]) == (1, 1)
    mean, low, high = evaluation.paired_difference([1, 1, 1], [1, 1, 1])
    assert mean == low == high == 0  # the same readings: no difference, no noise
    assert number_tables.unpaired_halfwidth(0.5, 0.5, 100) == pytest.approx(1.96 * np.sqrt(0.005), rel=1e-4)


def test_reader_variants_are_named_by_their_settings_and_compared_with_the_first():
    measured = json.loads((config.REPORTS_DIR / "reader_variants.json").read_text())
    table = number_tables.variants_table(measured)
    names = [number_tables.variant_name(row["config"]) for row in measured["variants"]]
    assert list(table.index) == names and len(set(names)) == len(names)
    assert all("(" not in name for name in names)  # settings, not the story of a choice
    assert table.iloc[0]["gap -4 minus first (points)"] == 0
    first, base = measured["variants"][0], measured["variants"][0]["config"]
    for name, row in zip(names, measured["variants"]):
        change = 100 * (row["by_gap"]["-4"]["read_exactly"] - first["by_gap"]["-4"]["read_exactly"])
        assert table.loc[name, "gap -4 minus first (points)"] == pytest.approx(change, abs=0.05)
    assert number_tables.variant_name(dict(base, epochs=18, recurrent_units=64), base) == "18 epochs, GRU 64"
    assert number_tables.variant_name(base, base) == "the same settings"


def test_the_reader_against_cuts_table_pairs_each_gap():
    index = pd.MultiIndex.from_product([[-4, 8], range(4)], names=["gap", "number"])
    results = {
        "reader": pd.DataFrame({"read_exactly": [1, 1, 1, 0, 1, 1, 1, 1]}, index=index).astype(bool),
        "cut": pd.DataFrame({"read_exactly": [0, 0, 1, 0, 1, 1, 1, 1]}, index=index).astype(bool),
    }
    exact = pd.DataFrame({name: table["read_exactly"].groupby(level="gap").mean() for name, table in results.items()})
    table = number_tables.reader_or_cuts(exact, "reader", "cut", results)
    assert table.loc[-4, "reader"] == 75 and table.loc[-4, "difference (points)"] == 50
    assert table.loc[8, "difference (points)"] == 0 and table.loc[8, "± (95 %)"] == 0
    assert table.loc[-4, "± (95 %)"] > 0


def test_without_train_reader_the_notebook_reads_with_the_shipped_reader(tmp_path):
    paths = config.run_paths(tmp_path).make()
    settings, record = reader.notebook_settings(False, {}, paths)
    shipped = json.loads(SHIPPED_READER.with_name(reader.RECORD_FILE).read_text())
    assert dataclasses.asdict(settings) == shipped["config"] and record == shipped
    assert (paths.models / reader.FILE_NAME).read_bytes() == SHIPPED_READER.read_bytes()  # copied into the run
    with pytest.raises(ParameterError, match="READER_EPOCHS"):
        reader.notebook_settings(False, {"READER_EPOCHS": 2}, paths)
    trained, none = reader.notebook_settings(True, {"READER_EPOCHS": 2}, paths)
    assert trained.epochs == 2 and none is None


def test_numbers_differ_at_each_gap_and_a_non_digit_takes_one_place(mnist):
    (_, _), (x_test, y_test) = mnist
    at_gaps = number_tables.numbers_at_gaps(x_test, y_test, 5, (-2, 8), seed=4)
    assert [len(at_gaps[gap][0]) for gap in (-2, 8)] == [5, 5]
    assert [list(n) for n in at_gaps[-2][0]] != [list(n) for n in at_gaps[8][0]]
    again = number_tables.numbers_at_gaps(x_test, y_test, 5, (-2, 8), seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(at_gaps[8][0], again[8][0]))  # the same for a seed
    letter = np.full((28, 28), 7, np.uint8)
    drawn, chosen, rises = at_gaps[8]
    # each digit moves up or down by up to NUMBER_RISE pixels, and a number's digits do not all move alike
    assert all(np.abs(up).max() <= number_tables.NUMBER_RISE for up in rises)
    assert any(len(set(up)) > 1 for up in rises) and all(len(up) == len(d) for up, d in zip(rises, drawn))
    labels, pictures = number_tables.with_non_digits(drawn, chosen, [letter], seed=1)
    for number, swapped, original, digits in zip(labels, pictures, drawn, chosen):
        place = number.index(-1)
        assert number.count(-1) == 1 and swapped[place] is letter
        assert [d for i, d in enumerate(number) if i != place] == [int(d) for i, d in enumerate(original) if i != place]
        assert all(swapped[i] is digits[i] for i in range(len(digits)) if i != place)


def test_the_parts_left_out_in_numbers_read_most_numbers_while_letters_stay_caught():
    # one touching and one apart number of digits, each with an energy too low for the rule; the same
    # two with a letter, which only the energy flags apart
    def table(label_of_second: int, energy_apart: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "gap": [0, 0, 8, 8],
                "number": 0,
                "truth": "12",
                "digits": 2,
                "pieces": 2,
                "position": [0, 1, 0, 1],
                "cut": [True, True, False, False],
                "by_reader": [True, True, False, False],
                "with_reader": True,
                "flagged": False,
                "label": [1, label_of_second, 1, label_of_second],
                "digit": [1, 2, 1, 2],
                "confidence": [0.99, 0.99, 0.99, 0.99],
                "ink_share": 0.15,
                "holes": 0,
                "parts": 1,
                "energy": [12.0, 12.0, 12.0, energy_apart],
                "not_digit": [0.01, 0.9, 0.01, 0.1],  # the reader reads the touching letter as not a digit
            }
        )

    digits, letters = table(2, 3.0), table(-1, 3.0)
    trade = number_tables.replaced_in_numbers_table(digits, letters, unsure_below=0.5)
    assert list(trade.index) == ["none", "energy", "shape", "energy and shape"]
    assert trade.loc["none", "apart: read exactly"] == 0 and trade.loc["energy", "apart: read exactly"] == 1
    assert trade.loc["none", "apart: letters flagged"] == 1 and trade.loc["energy", "apart: letters flagged"] == 0
    assert (trade["touching: letters flagged"] == 1).all()  # the reader's own "not a digit"
    assert number_tables.choose_replaced_in_numbers(trade) == []  # leaving out the energy lets the letter through
    caught = trade.assign(**{"apart: letters flagged": 1.0})
    assert number_tables.choose_replaced_in_numbers(caught) == ["energy"]  # the fewest parts among equals
    silent = caught.copy()
    silent.loc[["energy", "energy and shape"], "apart: wrong with no ?"] = 0.01  # a misread the energy caught
    assert number_tables.choose_replaced_in_numbers(silent) == []
