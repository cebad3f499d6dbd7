"""The non-digit pictures a model learns "not a digit" from, and the measuring set kept apart."""

from __future__ import annotations

import numpy as np
import pytest

from digitlib import runtime
from digitlib.pictures import outliers, preprocess


def test_outliers_are_pad_pictures_and_repeat_with_their_seed():
    pictures, kinds = outliers.training_outliers(26, seed=0)
    again, _ = outliers.training_outliers(26, seed=0)
    assert all(p.shape == (preprocess.CANVAS_SIZE, preprocess.CANVAS_SIZE) and p.dtype == np.uint8 for p in pictures)
    assert all(np.array_equal(a, b) for a, b in zip(pictures, again))
    assert {kind.split()[0] for kind in kinds} == {"glyph", "shape"}
    # each has ink, and not a canvas full of it
    ink = [float((p > 127).mean()) for p in pictures]
    assert min(ink) > 0.005 and max(ink) < 0.5, ink
    # every one reaches the model as a 28x28 input with something in it
    assert all(not preprocess.preprocess_stages(p).blank for p in pictures)


def test_the_elastic_warp_wobbles_a_drawing_and_keeps_its_shape():
    line = preprocess.strokes_to_image([[(60, 140), (220, 140)]], preprocess.CANVAS_SIZE, preprocess.PEN_WIDTH)
    ink = line > 127
    for seed in range(5):
        warped = outliers.elastic(line, np.random.default_rng(seed)) > 127
        overlap = (warped & ink).sum() / (warped | ink).sum()
        # moved a few pixels here and there, not torn into blobs or left as it was
        assert 0.3 < overlap < 0.98, overlap
        assert 0.6 < warped.sum() / ink.sum() < 1.6


@pytest.mark.slow  # the session's small trained model
def test_pen_digits_and_coarse_scans_are_digits_the_model_reads(predictor, mnist):
    pictures, labels = outliers.training_pen_digits(60, seed=5)
    assert {int(d) for d in labels} == set(range(10))
    read = predictor.predict_batch(pictures)
    assert np.mean([p.digit == label for p, label in zip(read, labels)]) >= 0.8
    fonts, font_labels = outliers.training_digits(40, seed=5)
    assert np.mean([p.digit == label for p, label in zip(predictor.predict_batch(fonts), font_labels)]) >= 0.7
    (x_train, _), _ = mnist
    coarse = outliers.low_resolution(x_train[0], np.random.default_rng(0))
    assert coarse.shape == (64, 64) and coarse.max() > 100


def test_no_letter_that_is_drawn_as_a_digit_is_a_non_digit():
    assert not set("OoIlSsZzBbgqG0123456789") & set(outliers.GLYPHS)
    assert not set("OoIlSsZzBbgqG") & set(outliers.DRAWN)


def test_the_measuring_set_is_drawn_with_the_pad_pen():
    pictures, names = outliers.drawn_non_digits(versions=2)
    assert len(pictures) == 2 * len(outliers.DRAWN) and names.count("A") == 2
    assert not np.array_equal(pictures[0], pictures[1])  # two hands, two drawings
    expected = preprocess.strokes_to_image([[(0, 0), (100, 0)]], preprocess.CANVAS_SIZE, preprocess.PEN_WIDTH)
    assert (pictures[0] > 127).sum() > (expected > 127).sum()  # more ink than one short line


@pytest.mark.slow  # trains a tiny detector
def test_the_detector_trains_and_tells_probabilities(tmp_path, mnist):
    from digitlib import config
    from digitlib.pictures import detector

    settings = detector.DetectorConfig(
        digits=400,
        font_digits=100,
        pen_digits=100,
        low_resolution=50,
        outliers=300,
        fashion=100,
        photo_crops=20,
        epochs=2,
    )
    record = detector.train_detector(settings, config.run_paths(tmp_path), mnist=mnist)
    assert record["training_inputs"] == {
        "digits": 400,
        "font_digits": 100,
        "pen_digits": 100,
        "low_resolution": 50,
        "outliers": 300,
        "fashion": 100,
        "photo_crops": 20,
    }
    assert record["loss"][-1] < record["loss"][0]  # it learned something
    model = runtime.keras().models.load_model(tmp_path / "models" / detector.FILE_NAME, compile=False)
    (_, _), (x_test, _) = mnist
    pictures, _ = outliers.drawn_non_digits(versions=1)
    inputs = detector.model_inputs(list(x_test[:50]) + pictures)
    probability = detector.not_digit_probability(model, inputs)
    assert probability.shape == (len(inputs),) and ((probability >= 0) & (probability <= 1)).all()
    # even this tiny one thinks the drawn letters and symbols less like digits than test digits
    assert probability[50:].mean() > probability[:50].mean()
