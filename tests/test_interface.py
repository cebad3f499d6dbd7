"""Pictures from people: preprocessing, predictions, uncertainty, bad input, the widgets and the CLI.

Tests that need the `predictor` or `trained_model_path` fixtures (a small CNN trained for real)
are marked slow; the rest run in seconds."""

from __future__ import annotations

import io
import re
import struct
import subprocess
import sys
import zlib
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from digitlib.pictures import interface, number_tables, predict, preprocess, segment, synthetic

# Measured with this fixture's model (tests/conftest.py), 150 test digits per variation; the
# asserted floors leave a margin for run-to-run variation of the small model.
FLOORS = {
    "png": 0.95,
    "shifted": 0.95,
    "small": 0.9,
    "dark_on_light": 0.95,
    "rotated": 0.9,
    "thick": 0.85,
    "thin": 0.85,
    "rgba_transparent": 0.95,
    "photo": 0.9,
}


@pytest.fixture(scope="module")
def test_digits(mnist):
    _, (x_test, y_test) = mnist
    return x_test, y_test


@pytest.mark.parametrize(
    "array",
    [
        np.arange(28 * 28, dtype=np.uint8).reshape(28, 28),
        (np.arange(28 * 28, dtype=np.uint16).reshape(28, 28) * 83),
        np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8),
        np.random.default_rng(1).integers(0, 256, (20, 30, 4), dtype=np.uint8),
    ],
    ids=["grey", "16-bit", "rgb", "rgba"],
)
def test_encode_image_is_the_inverse_of_read_image(array):
    encoded = preprocess.encode_image(array)
    assert encoded.startswith(b"\x89PNG")
    top = 65535 if array.dtype == np.uint16 else 255
    np.testing.assert_allclose(preprocess.read_image(encoded), array / top, atol=1e-6)


def test_encode_image_takes_pil_images_floats_and_pillow_options():
    picture = Image.fromarray(np.full((16, 16), 200, np.uint8))
    assert preprocess.read_image(preprocess.encode_image(picture)).max() == pytest.approx(200 / 255)
    as_float = preprocess.read_image(preprocess.encode_image(np.full((8, 8), 0.5, np.float32)))
    assert as_float.max() == pytest.approx(128 / 255)
    photo = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    rough, fine = (preprocess.encode_image(photo, "JPEG", quality=q) for q in (20, 95))
    assert rough.startswith(b"\xff\xd8") and len(rough) < len(fine)
    with pytest.raises(TypeError, match="array or a PIL image"):
        preprocess.encode_image([[0, 1]])


def test_strokes_are_rasterized_with_a_round_pen():
    dot = preprocess.strokes_to_image([[(50, 50)]], size=100, pen=10)
    assert dot.shape == (100, 100) and dot.dtype == np.uint8 and dot[50, 50] == 255 and dot[50, 60] == 0
    line = preprocess.strokes_to_image([[(20, 50), (80, 50)]], size=100, pen=10)
    assert line[50, 20:81].min() == 255 and line[50, 16] == 255  # the round cap reaches past the end point
    assert line[40, 50] == 0 and line[60, 50] == 0  # a line, not a blob
    np.testing.assert_array_equal(
        preprocess.strokes_to_image(synthetic.SEVEN), preprocess.strokes_to_image(synthetic.SEVEN)
    )


def test_the_preprocessing_figure_has_one_row_per_picture():
    import matplotlib.pyplot as plt

    pictures = {
        "drawn 4": preprocess.strokes_to_image(synthetic.FOUR),
        "drawn 7": preprocess.strokes_to_image(synthetic.SEVEN),
    }
    fig = interface.preprocessing_figure(
        {name: preprocess.preprocess_stages(picture) for name, picture in pictures.items()}
    )
    titles = [ax.get_title() for ax in fig.axes]
    plt.close(fig)
    assert len(titles) == 10 and titles[0] == "drawn 4: as given" and titles[5] == "drawn 7: as given"
    assert titles[4] == "centred in 28x28"


def _prediction(digit: int | None, status: str) -> predict.Prediction:
    probabilities = np.eye(10, dtype=np.float32)[digit if digit is not None else 0]
    return predict.Prediction(digit, 1.0, probabilities, np.zeros((28, 28), np.float32), status)


def _read_confidently(predictor, x_test, y_test, digit: int) -> int:
    """The first test image of `digit` that the small test model reads right and is sure of. The model is
    trained anew each session, so a fixed index can be read wrong (the first 3 was once read as a 5) or
    flagged "maybe"; the tests that use this check the plumbing around the model, not the model."""
    for index in np.flatnonzero(y_test == digit):
        prediction = predictor.predict(x_test[index])
        if prediction.digit == digit and prediction.status == "ok":
            return int(index)
    raise AssertionError(f"the test model reads no {digit} confidently")


@pytest.mark.slow
@pytest.mark.parametrize("kind", synthetic.VARIATIONS)
def test_digits_delivered_as_people_deliver_them_are_read(predictor, test_digits, kind):
    x_test, y_test = test_digits
    rng = np.random.default_rng(1)
    chosen = rng.choice(len(x_test), 150, replace=False)
    files = [synthetic.user_variation(x_test[i], kind, rng) for i in chosen]
    predictions = predictor.predict_batch(files)
    rate = np.mean([p.digit == y_test[i] for p, i in zip(predictions, chosen)])
    print(f"{kind}: {100 * rate:.1f} %")
    assert rate >= FLOORS[kind], f"{kind}: {100 * rate:.1f} %"


def test_preprocessing_keeps_an_mnist_digit_an_mnist_digit(test_digits):
    x_test, _ = test_digits
    result = preprocess.to_mnist(x_test[0])
    assert result.shape == (28, 28) and result.dtype == np.float32
    assert 0 <= result.min() and result.max() <= 1
    ys, xs = np.indices(result.shape)
    centre = ((ys * result).sum() / result.sum(), (xs * result).sum() / result.sum())
    assert abs(centre[0] - 13.5) <= 1 and abs(centre[1] - 13.5) <= 1
    rows, cols = np.flatnonzero(result.max(1) > 0.1), np.flatnonzero(result.max(0) > 0.1)
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21  # fits the 20x20 box
    steps = preprocess.preprocess_stages(Image.fromarray(255 - x_test[0]))
    assert steps.inverted and not steps.blank
    assert max(steps.boxed.shape) == 20  # the long side fills the 20x20 box


def test_thin_strokes_survive_downscaling():
    thin = preprocess.strokes_to_image(synthetic.SEVEN, pen=3)
    result = preprocess.to_mnist(thin)
    assert (result > 0.5).sum() >= 25  # a 3 px pen at 280 px would be a 0.3 px line at 28 px without thickening


@pytest.mark.slow
@pytest.mark.parametrize(
    "picture",
    [np.zeros((280, 280), np.uint8), np.full((100, 100), 255, np.uint8), np.full((64, 64, 4), 0, np.uint8)],
    ids=["black", "white", "transparent"],
)
def test_blank_pictures_get_no_digit(predictor, picture):
    prediction = predictor.predict(picture)
    assert prediction.digit is None and prediction.status == "no digit" and prediction.label == "no digit"
    assert prediction.probabilities.sum() == 0


@pytest.mark.slow
def test_things_that_are_not_digits_are_mostly_flagged(predictor, test_digits):
    others = predictor.predict_batch(synthetic.non_digit_images(120, seed=3))
    flagged = np.mean([p.status != "ok" for p in others])
    x_test, y_test = test_digits
    digits = predictor.predict_batch(list(x_test[:300]))
    passed = np.mean([p.status == "ok" for p in digits])
    print(f"non-digits flagged: {100 * flagged:.1f} %, digits passed: {100 * passed:.1f} %")
    # this small model (3 epochs on 20,000 images) has less evidence for digits than the rendered
    # one, so the energy part of the rule flags more of them (the rendered model: notebook 04)
    assert flagged >= 0.75 and passed >= 0.85


def _bomb_png() -> bytes:
    """A valid PNG header declaring 100000 x 100000 pixels, with almost no data."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 100))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "bad, message",
    [
        (b"this is not an image", "not an image"),
        (b"", "empty file"),
        (preprocess.encode_image(np.zeros((50, 50), np.uint8))[:60], "cannot"),
        (_bomb_png(), "too large"),
        (np.zeros((0, 28)), "empty array"),
        (np.full((28, 28), np.nan), "NaN"),
        (np.zeros((2, 28, 28)), "shape"),
        (np.full((28, 28), -5.0), "pixel values"),
        ("no/such/file.png", "no such file"),
        (12345, "unsupported input"),
    ],
    ids=["text", "empty", "truncated", "bomb", "zero-size", "nan", "bad-shape", "negative", "missing-path", "number"],
)
def test_bad_input_gets_one_clear_error(bad, message):
    with pytest.raises(preprocess.InvalidImageError, match=message) as caught:
        preprocess.preprocess_stages(bad)  # the path every prediction takes before the model
    assert isinstance(caught.value, ValueError)


@pytest.mark.slow
def test_the_predictor_passes_bad_input_errors_on_and_keeps_working(predictor):
    for bad in (b"this is not an image", np.full((28, 28), np.nan)):
        with pytest.raises(preprocess.InvalidImageError):
            predictor.predict(bad)
    assert predictor.predict(np.zeros((28, 28))).status == "no digit"


@pytest.mark.slow
def test_16_bit_cmyk_and_animated_gif_are_read(predictor, test_digits):
    x_test, y_test = test_digits
    index = next(
        int(i) for i in np.flatnonzero(y_test == 7) if predictor.predict(x_test[i]).digit == 7
    )  # about formats, not the model
    sixteen = preprocess.encode_image(x_test[index].astype(np.uint16) * 257)  # a 16-bit PNG
    assert Image.open(io.BytesIO(sixteen)).mode.startswith("I")
    assert predictor.predict(sixteen).digit == 7
    cmyk = io.BytesIO()
    Image.fromarray(255 - x_test[index]).convert("CMYK").save(cmyk, "JPEG")
    assert predictor.predict(cmyk.getvalue()).digit == 7
    other = int(np.flatnonzero(y_test == 1)[0])
    gif = io.BytesIO()
    frames = [Image.fromarray(x_test[index]).convert("P"), Image.fromarray(x_test[other]).convert("P")]
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert predictor.predict(gif.getvalue()).digit == 7  # the first frame


@pytest.mark.slow
def test_multi_digit_numbers_are_read_apart_and_touching(predictor, test_digits):
    x_test, y_test = test_digits
    rates = number_tables.number_reading(predictor, x_test, y_test, numbers=40, gaps=(8, 0), seed=5).set_index("gap")
    print(rates)
    # the small test model flags more digits "?" than the rendered one: the floors are its own
    assert rates.loc[8, "read_exactly"] >= 0.6 and rates.loc[8, "right_count"] >= 0.95
    assert rates.loc[0, "right_count"] >= 0.6 and rates.loc[0, "read_exactly"] >= 0.4


def test_touching_digits_get_a_cut_where_they_meet(test_digits):
    x_test, y_test = test_digits
    one, zero = (x_test[np.flatnonzero(y_test == d)[0]] for d in (1, 0))
    gap = -2  # each digit's columns overlap its neighbour's by two pixels
    _, _, parts = segment.number_parts(synthetic.compose_number([zero, one, zero], gap=gap))
    assert len(parts) == 1  # one part: the three digits touch
    start, _, height = segment.ink_extent(parts[0])
    cuts = segment.cut_columns(parts[0], height)
    zero_width, one_width = (int((digit.max(0) > 30).sum()) for digit in (zero, one))
    seams = [start + zero_width + gap, start + zero_width + gap + one_width + gap]  # where each next digit starts
    assert all(min(abs(cut - seam) for cut in cuts) <= 2 for seam in seams), (cuts, seams)


def _charted(answer: str) -> list[np.ndarray]:
    """The probabilities each chart of an answer shows, chart by chart, read back from its HTML."""
    charts = answer.split("class='digit-probabilities'")[1:]
    return [np.array([float(v) for v in re.findall(r"data-probability='([0-9.]+)'", chart)]) for chart in charts]


def _two_guesses(second_probability: float) -> predict.Prediction:
    """A prediction of 7 with `second_probability` on 1 and the rest spread over the other digits."""
    probabilities = np.full(10, 0.0001, np.float32)
    probabilities[1] = second_probability
    probabilities[7] = 1 - probabilities.sum() + probabilities[7]
    return predict.Prediction(7, float(probabilities[7]), probabilities, np.zeros((28, 28), np.float32))


def test_the_answer_names_a_runner_up_from_1_percent_and_charts_all_ten():
    answer = interface.answer_html(_two_guesses(0.02))
    assert ">7<" in answer and "or perhaps 1 (2 %)" in answer
    assert "or perhaps 1 (1 %)" in interface.answer_html(_two_guesses(np.float32(0.01)))  # 0.0099999998 as float32
    for below in (0.009, 0.0001):
        assert "or perhaps" not in interface.answer_html(_two_guesses(below))
    assert interface.runner_up(_prediction(None, "no digit")) is None

    chart = interface.probabilities_html(_two_guesses(0.02))
    np.testing.assert_allclose(_charted(chart)[0], _two_guesses(0.02).probabilities, atol=1e-6)
    percentages = re.findall(r"class='probability'[^>]*>([^<]+)<", chart)
    assert percentages[1] == "2.0 %" and percentages[0] == "&lt;0.1 %" and len(percentages) == 10
    widths = [float(w) for w in re.findall(r"display:block;width:([0-9.]+)px", chart)]
    assert widths[1] == pytest.approx(0.02 * interface.BAR_WIDTH, abs=0.05) and widths[1] >= 3  # visibly non-zero
    assert widths[0] == 0 and widths[7] == pytest.approx(0.9791 * interface.BAR_WIDTH, abs=0.1)


@pytest.mark.slow
def test_drawing_and_uploading_through_the_widget_callbacks(predictor, test_digits):
    pad = interface.DigitPad(predictor)
    assert interface.BLANK_MESSAGE in pad.answer.value
    for stroke in synthetic.FOUR:  # the mouse events the canvas would send
        pad.pen_down(*stroke[0])
        for point in stroke[1:]:
            pad.pen_move(*point)
        pad.pen_up(*stroke[-1])
    assert len(pad.strokes) == 2 and pad.last and pad.last[0].digit == 4
    assert "digit-answer" in pad.answer.value and ">4<" in pad.answer.value and "% confident" in pad.answer.value
    # the ten probabilities as the chart shows them, and the 28x28 input
    np.testing.assert_allclose(_charted(pad.answer.value)[0], pad.last[0].probabilities, atol=1e-6)
    assert pad.answer.value.count("data:image/png;base64,") == 1
    pad.clear()
    assert interface.BLANK_MESSAGE in pad.answer.value and pad.last == []
    pad.predict_drawing()  # Predict on an empty canvas: the friendly message, not a prediction
    assert interface.BLANK_MESSAGE in pad.answer.value

    x_test, y_test = test_digits
    index = _read_confidently(pad.predictor, x_test, y_test, 3)
    upload = {
        "name": "three.png",
        "type": "image/png",
        "size": 0,
        "last_modified": datetime.now(UTC),
        "content": memoryview(preprocess.encode_image(x_test[index])),
    }
    pad.upload.value = (upload,)
    assert pad.last[0].digit == 3 and "three.png" in pad.answer.value
    broken = dict(upload, name="broken.png", content=memoryview(b"not an image"))
    pad.upload.value = (broken,)
    assert "broken.png" in pad.answer.value and "not an image" in pad.answer.value
    pad.several.value = True
    read_right = [_read_confidently(pad.predictor, x_test, y_test, d) for d in (4, 2)]
    number = synthetic.compose_number([x_test[i] for i in read_right])
    pad.upload.value = (dict(upload, name="42.png", content=memoryview(preprocess.encode_image(number))),)
    assert [p.digit for p in pad.last] == [4, 2] and ">42<" in pad.answer.value
    assert len(_charted(pad.answer.value)) == 2 and pad.answer.value.count("data:image/png;base64,") == 2


def _draw_with_the_mouse(pad: interface.DigitPad, strokes) -> None:
    for stroke in strokes:  # the mouse events the canvas would send
        pad.pen_down(*stroke[0])
        for point in stroke[1:]:
            pad.pen_move(*point)
        pad.pen_up(*stroke[-1])


@pytest.mark.slow
def test_undo_removes_exactly_the_last_stroke(predictor):
    pad = interface.DigitPad(predictor)
    assert pad.undo_button.disabled
    drawn = synthetic.FOUR + synthetic.SEVEN  # three strokes
    _draw_with_the_mouse(pad, drawn)
    assert not pad.undo_button.disabled
    for kept in (2, 1, 0):
        pad.undo()
        strokes = drawn[:kept]
        assert pad.strokes == [[tuple(point) for point in stroke] for stroke in strokes]
        if strokes:  # the answer is the model's reading of what is left
            expected = predictor.predict(preprocess.strokes_to_image(strokes))
            assert pad.last[0].digit == expected.digit and f">{expected.digit}<" in pad.answer.value
            np.testing.assert_allclose(pad.last[0].probabilities, expected.probabilities, atol=1e-6)
            np.testing.assert_array_equal(pad.drawing(), preprocess.strokes_to_image(strokes))
    assert pad.strokes == [] and pad.last == [] and interface.BLANK_MESSAGE in pad.answer.value
    assert pad.undo_button.disabled
    pad.undo()  # nothing left to undo: nothing changes
    assert pad.strokes == [] and interface.BLANK_MESSAGE in pad.answer.value


def _touch(pad: interface.DigitPad, event: str, *points: tuple[float, float]) -> None:
    """A touch event as the browser side of ipycanvas sends it to the kernel: the touches on the screen
    (after a touch end, those still down), through ipycanvas's own dispatch to the callbacks."""
    touches = [{"x": x, "y": y} for x, y in points]
    pad.canvas._handle_frontend_event(None, {"event": event, "touches": touches}, [])


@pytest.mark.slow
def test_touches_draw_as_the_mouse_does(predictor):
    pad = interface.DigitPad(predictor)
    stroke = synthetic.SEVEN[0]
    _touch(pad, "touch_start", stroke[0])
    _touch(pad, "touch_start", stroke[0], (10, 10))  # a second finger lands: ignored, the first one draws on
    _touch(pad, "touch_move", stroke[1], (12, 12))
    _touch(pad, "touch_move", stroke[2])
    assert pad.last == []  # no answer while the finger is down
    _touch(pad, "touch_end")
    assert pad.strokes == [list(stroke)]
    expected = predictor.predict(preprocess.strokes_to_image(synthetic.SEVEN))
    assert pad.last[0].digit == expected.digit == 7 and ">7<" in pad.answer.value
    np.testing.assert_allclose(pad.last[0].probabilities, expected.probabilities, atol=1e-6)
    _touch(pad, "touch_move", (5, 5))  # moves after the finger lifted draw nothing
    _touch(pad, "touch_start", (140, 140))
    _touch(pad, "touch_end")  # a tap: a dot, a stroke of its own
    _touch(pad, "touch_start", (20, 20))
    _touch(pad, "touch_move", (30, 30))
    _touch(pad, "touch_cancel")  # the system took the touch (a call, a gesture): the stroke ends there
    _touch(pad, "touch_move", (40, 40))
    assert pad.strokes == [list(stroke), [(140, 140)], [(20, 20), (30, 30)]]
    pad.undo()
    assert pad.strokes == [list(stroke), [(140, 140)]]


@pytest.mark.slow
def test_a_runner_up_of_1_percent_or_more_is_named_in_the_widget(predictor, test_digits):
    x_test, _ = test_digits
    pad = interface.DigitPad(predictor)
    read = predictor.predict_batch(list(x_test[:3000]))
    seconds = [np.sort(p.probabilities)[-2] for p in read]
    # either side of 1 %, near it but clear of the rounding edge
    with_second = next(i for i, s in enumerate(seconds) if 0.012 <= s <= 0.05)
    without = next(i for i, s in enumerate(seconds) if 0.002 <= s <= 0.008)

    def upload(index: int, name: str) -> dict:
        content = memoryview(preprocess.encode_image(x_test[index]))
        return {"name": name, "type": "image/png", "size": 0, "last_modified": datetime.now(UTC), "content": content}

    pad.upload.value = (upload(with_second, "doubt.png"),)
    second = int(np.argsort(read[with_second].probabilities)[-2])
    named = f"or perhaps {second} ({100 * seconds[with_second]:.0f} %)"
    assert pad.last[0].digit == read[with_second].digit and named in pad.answer.value
    assert "digit-runner-up" in pad.answer.value
    pad.upload.value = (upload(without, "sure.png"),)
    assert pad.last[0].digit == read[without].digit and "or perhaps" not in pad.answer.value
    # several files at once: an answer for each, in order, the runner-up only where it is due
    pad.upload.value = (upload(with_second, "doubt.png"), upload(without, "sure.png"))
    cards = pad.answer.value.split("class='digit-card")[1:]
    assert len(cards) == 2 and "doubt.png" in cards[0] and "sure.png" in cards[1]
    assert named in cards[0] and "or perhaps" not in cards[1]
    assert [p.digit for p in pad.last] == [read[with_second].digit, read[without].digit]


@pytest.mark.slow
def test_command_line_prints_digits_and_fails_clearly(trained_model_path, predictor, test_digits, tmp_path):
    x_test, y_test = test_digits
    index = _read_confidently(predictor, x_test, y_test, 2)
    good = tmp_path / "two.png"
    good.write_bytes(preprocess.encode_image(x_test[index]))
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "b-two.png").write_bytes(good.read_bytes())
    (folder / "a-dot.png").write_bytes(preprocess.encode_image(np.full((2, 2), 255, np.uint8)))
    (folder / "readme.txt").write_text("not a picture, and not named like one")
    command = [sys.executable, "-m", "digitlib", "predict", "--model", str(trained_model_path)]
    result = subprocess.run(command + [str(good), str(bad), str(folder)], capture_output=True, text=True, timeout=300)
    printed = result.stdout.splitlines()  # one line per picture read, a folder's pictures sorted by name
    assert result.returncode == 1 and len(printed) == 2, result.stderr[-1000:]
    assert printed[0].startswith(f"{good}: 2 (") and printed[1].startswith(f"{folder / 'b-two.png'}: 2 (")
    assert f"{bad}: error: not an image" in result.stderr and "Traceback" not in result.stderr
    assert f"{folder / 'a-dot.png'}: error: image too small" in result.stderr and "readme" not in result.stderr
    number = tmp_path / "number.png"
    nineteen = synthetic.compose_number([x_test[_read_confidently(predictor, x_test, y_test, d)] for d in (1, 9)])
    number.write_bytes(preprocess.encode_image(nineteen))
    result = subprocess.run(command + ["--number", str(number)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and f"{number}: 19" in result.stdout
    missing = subprocess.run(
        command[:-1] + [str(tmp_path / "none.keras"), str(good)], capture_output=True, text=True, timeout=300
    )
    assert missing.returncode == 1 and "No trained model" in missing.stderr


def _fuzzed_inputs(digit: np.ndarray, count: int, seed: int = 0) -> list:
    """What an upload box can be handed: damaged image files, random bytes, and arrays of odd
    shapes, sizes and dtypes."""
    rng = np.random.default_rng(seed)
    originals = [preprocess.encode_image(digit, format) for format in ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")]
    inputs: list = []
    for _ in range(count):
        data = bytearray(originals[rng.integers(len(originals))])
        how = rng.integers(4)
        if how == 0:  # flip bytes, sparing the signature so the decoder gets further
            for position in rng.integers(8, len(data), size=rng.integers(1, 20)):
                data[position] = rng.integers(256)
        elif how == 1:  # cut short
            data = data[: rng.integers(1, len(data))]
        elif how == 2:  # garbage spliced in
            position = rng.integers(len(data))
            data[position:position] = rng.bytes(rng.integers(1, 200))
        else:  # nothing but noise
            data = bytearray(rng.bytes(rng.integers(1, 3000)))
        inputs.append(bytes(data))
    shapes = [(1, 1), (2, 2), (7, 7), (8, 8), (3, 5000), (5000, 3), (8, 5000), (1, 1, 3), (9, 9, 4), (28, 28, 2)]
    dtypes = [np.uint8, np.uint16, np.int8, np.int64, np.float16, np.float32, np.float64, bool]
    for shape in shapes:
        for dtype in dtypes:
            inputs.append((rng.random(shape) * (255 if np.dtype(dtype).kind in "ui" else 1)).astype(dtype))
    strips = [(3, 5000), (5000, 3), (1, 1), (2, 2)]
    inputs += [preprocess.encode_image(np.full(shape, 255, np.uint8)) for shape in strips]
    return inputs + [np.zeros((28, 28), complex), np.array([["a"] * 28] * 28)]


def test_fuzzed_uploads_give_a_clear_error_or_a_28x28_input(test_digits):
    """Every input either raises InvalidImageError or preprocesses to a valid model input."""
    x_test, _ = test_digits
    outcomes = {"error": 0, "read": 0}
    for item in _fuzzed_inputs(x_test[0], count=1000):
        try:
            steps = preprocess.preprocess_stages(item)
            grey, inverted, parts = segment.number_parts(item)  # the path of "several digits"
        except preprocess.InvalidImageError:
            outcomes["error"] += 1
            continue
        outcomes["read"] += 1
        pieces = [segment.piece_stages(grey, part, *segment.ink_extent(part)[:2], inverted) for part in parts]
        for result in [steps.result] + [piece.result for piece in pieces]:
            assert result.shape == (28, 28) and result.dtype == np.float32
            assert np.isfinite(result).all() and result.min() >= 0 and result.max() <= 1
    assert outcomes["error"] > 100 and outcomes["read"] > 50  # both paths were exercised


@pytest.mark.slow
def test_a_fuzzed_upload_gets_an_answer_or_a_message_in_the_widget(predictor, test_digits):
    x_test, _ = test_digits
    pad = interface.DigitPad(predictor)
    for number, data in enumerate(item for item in _fuzzed_inputs(x_test[0], 60, seed=1) if isinstance(item, bytes)):
        upload = {"name": f"f{number}.png", "type": "", "size": len(data), "last_modified": datetime.now(UTC)}
        pad.upload.value = (dict(upload, content=memoryview(data)),)
        assert f"f{number}.png" in pad.answer.value
        assert ("digit-error" in pad.answer.value) != bool(pad.last)  # a message, or an answer


@pytest.mark.slow
def test_an_unexpected_error_is_shown_in_the_widget(predictor, monkeypatch):
    pad = interface.DigitPad(predictor)

    def broken(image):
        raise RuntimeError("the model file went away")

    monkeypatch.setattr(pad.predictor, "predict", broken)
    pad.predict_image(np.zeros((28, 28)), "odd.png")
    assert "digit-error" in pad.answer.value and "RuntimeError: the model file went away" in pad.answer.value


def test_cutting_apart_keeps_the_pieces_the_model_reads_best(test_digits, monkeypatch):
    """`_cut_apart` with a stand-in model that is sure of a piece only when it is one of the digits
    as composed: the pieces it keeps are those, in order, side by side."""
    x_test, y_test = test_digits
    digits = [x_test[np.flatnonzero(y_test == d)[0]] for d in (3, 0, 7)]
    grey, inverted, parts = segment.number_parts(synthetic.compose_number(digits, gap=-2))
    assert len(parts) == 1
    start, stop, height = segment.ink_extent(parts[0])
    widths = [int((digit.max(0) > 30).sum()) for digit in digits]
    seams = [start + widths[0] - 2, start + widths[0] + widths[1] - 4]
    truth = [(start, seams[0]), (seams[0], seams[1]), (seams[1], stop)]
    cutter = object.__new__(predict.Predictor)  # no model: `_probabilities` is the stand-in below
    spans = {}

    def stand_in(batch):
        sure = np.full((len(batch), 10), 0.1)
        for row, piece in enumerate(batch):
            span = spans[piece.tobytes()]
            if any(abs(span[0] - a) <= 2 and abs(span[1] - b) <= 2 for a, b in truth):
                sure[row] = np.eye(10)[0] * 0.99 + 0.001
        return sure

    original = segment.piece_stages

    def remembered(grey, part, first, last, inverted):
        stages = original(grey, part, first, last, inverted)
        spans[stages.result.tobytes()] = (first, last)
        return stages

    monkeypatch.setattr(cutter, "_probabilities", stand_in, raising=False)
    monkeypatch.setattr(segment, "piece_stages", remembered)
    pieces = cutter._cut_apart(grey, parts[0], inverted, height)
    kept = [spans[piece.result.tobytes()] for piece in pieces]
    assert len(kept) == 3 and kept[0][0] == start and kept[-1][1] == stop
    assert all(left[1] == right[0] for left, right in zip(kept, kept[1:]))  # contiguous, left to right
    assert all(abs(k[0] - t[0]) <= 2 and abs(k[1] - t[1]) <= 2 for k, t in zip(kept, truth))


def test_the_thresholds_figure_leaves_out_pictures_with_no_digit_and_keeps_its_text_readable():
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon, Rectangle

    from digitlib.pictures import rule

    rng = np.random.default_rng(0)
    digits = {"label": 1, "delivered_as": "png", "digit": 1, "confidence": rng.uniform(0.7, 1, 200)}
    crops = {
        "label": -1,
        "delivered_as": "photo crop",
        "digit": [4] * 30 + [-1] * 10,
        "confidence": [0.9] * 30 + [0] * 10,
    }
    held_out = pd.concat(
        [
            pd.DataFrame(digits).assign(energy=rng.uniform(8, 20, 200)),
            pd.DataFrame(crops).assign(energy=[3.0] * 30 + [np.nan] * 10),
        ],
        ignore_index=True,
    ).assign(ink_share=0.15, holes=0, parts=1)
    grid = {"UNCERTAIN_BELOW": [0.6], "MIN_INK_SHARE": [0.02], "MAX_INK_SHARE": [0.3], "MAX_HOLES": [2]}
    grid |= {"MAX_PARTS": [4], "MIN_ENERGY": [0.0, 1.0, 5.0]}  # 0 and 1 flag the same pictures
    chosen, tried = rule.choose_thresholds(held_out, grid, max_correct_flagged=0.1)
    fig = interface.thresholds_figure(held_out, chosen, tried)
    left, _, right = fig.axes
    texts = [text for text in fig.findobj(plt.Text) if text.get_text()]
    legend = " | ".join(text.get_text() for text in fig.legends[0].get_texts())
    bars = [(patch.get_x(), patch.get_height()) for patch in left.patches if isinstance(patch, Rectangle)]
    outline = np.concatenate([patch.get_xy() for patch in left.patches if isinstance(patch, Polygon)])
    plt.close(fig)
    assert min(text.get_fontsize() for text in texts) >= 9
    assert "photo crops (10 with no ink found" in legend and "validation digits as files |" in legend
    # nothing at confidence 0: the pictures with no digit are not in the histogram
    assert all(height == 0 for x, height in bars if x < 0.02) and (outline[outline[:, 0] < 0.02, 1] == 0).all()
    labels = [text.get_text() for text in right.texts]
    assert "0, 1" in labels and "5" in labels and len(labels) == 2  # one label where points coincide


def _drawn(strokes: list, width: float, height: float = 160) -> np.ndarray:
    """Unit-box strokes drawn `width` x `height` pixels, centred on the pad's canvas."""
    x0, y0 = (preprocess.CANVAS_SIZE - width) / 2, (preprocess.CANVAS_SIZE - height) / 2
    return preprocess.strokes_to_image([[(x0 + x * width, y0 + y * height) for x, y in s] for s in strokes])


@pytest.mark.slow
def test_a_drawn_letter_is_not_a_digit_and_the_card_says_so(trained_model_path):
    from digitlib.pictures import outliers, rule

    with_detector = predict.Predictor(trained_model_path)
    assert with_detector.rule.detector and with_detector.not_digit_above < 1  # the shipped rule names it
    letter = _drawn(outliers.DRAWN["A"], 140)
    found = with_detector.predict(letter)
    assert found.status == "uncertain" and found.why == rule.NOT_A_DIGIT and found.label == "not a digit"
    assert found.not_digit > with_detector.not_digit_above and "not a digit" in found.reasons[0]
    card = interface.reading_html([found])
    assert ">?</div>" in card and "This does not look like a digit." in card and "nearest digit" in card
    alone = predict.Predictor(trained_model_path, detector=False).predict(letter)
    assert np.isnan(alone.not_digit) and alone.why != rule.NOT_A_DIGIT
    # a drawn digit is left alone, and a close call says between which digits
    four = with_detector.predict(preprocess.strokes_to_image(synthetic.FOUR))
    assert (four.digit, four.status, four.why) == (4, "ok", "")
    assert four.not_digit < with_detector.not_digit_above
    torn = predict.Prediction(4, 0.5, np.eye(10)[4] * 0.5 + np.eye(10)[9] * 0.5, four.model_input, "uncertain")
    torn.why = "could be 4 or 9"
    assert "Not sure: could be 4 or 9" in interface.answer_html(torn)
    # in a number, a letter the reader read as not a digit is a "?", captioned with its nearest digit only
    letter = predict.Prediction(1, 0.9, np.eye(10)[1] * 0.9 + np.eye(10)[4] * 0.1, four.model_input, "uncertain")
    letter.why = rule.NOT_A_DIGIT
    number = interface.reading_html([four, letter, four])
    assert "4?4" in number and "digit 2: not a digit, the nearest digit 1" in number and "or perhaps" not in number


def test_the_source_table_counts_flags_and_silent_mistakes():
    from digitlib.pictures import detector, rule

    blank = np.zeros((28, 28), np.float32)

    def answer(digit: int, status: str = "ok", why: str = "") -> predict.Prediction:
        return predict.Prediction(digit, 0.9, np.eye(10)[digit], blank, status, why=why)

    read = {
        "digits": [answer(1), answer(2), answer(7), answer(3, "uncertain", "could be 3 or 5")],
        "letters": [answer(4, "uncertain", rule.NOT_A_DIGIT), answer(4), answer(8, "uncertain", rule.NOT_A_DIGIT)],
    }
    table = detector.source_table(read, {"digits": np.array([1, 2, 3, 3]), "letters": np.full(3, -1)})
    digits, letters = table.loc["digits"], table.loc["letters"]
    assert digits["n"] == 4 and digits["read right"] == 0.75 and digits["flagged"] == 0.25
    assert digits["wrong without a flag"] == 0.25 and digits["not a digit"] == 0  # the 7 for a 3
    assert np.isnan(letters["read right"]) and letters["not a digit"] == pytest.approx(2 / 3)
    assert letters["wrong without a flag"] == pytest.approx(1 / 3)  # the 4 given for a letter
    assert letters["flagged low"] < letters["flagged"] < letters["flagged high"]


@pytest.mark.slow
def test_a_wide_shape_read_as_one_digit_of_a_number_gets_a_question_mark():
    from digitlib.pictures import outliers, rule

    shipped = predict.Predictor()  # the shipped model, its number reader and its detector
    for name in ("A", "house", "arrow"):  # wider than high: the number reader reads each as one digit
        reading = shipped.read_number(_drawn(outliers.DRAWN[name], 220, 150))
        assert reading.text == "?" and reading.by_reader == [True], (name, reading.text)
        assert reading.digits[0].why == rule.NOT_A_DIGIT
    # digits that touch are read as before: the check is for a part read as a single digit
    touching = shipped.read_number(preprocess.strokes_to_image(synthetic.number_strokes("48", gap=0)))
    assert touching.text == "48"
