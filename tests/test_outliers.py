"""The non-digit pictures a model learns "not a digit" from, and the measuring set kept apart."""

from __future__ import annotations

import numpy as np

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


def test_no_letter_that_is_drawn_as_a_digit_is_a_non_digit():
    assert not set("OoIlSsZzBbgqG0123456789") & set(outliers.GLYPHS)
    assert not set("OoIlSsZzBbgqG") & set(outliers.DRAWN)


def test_the_measuring_set_is_drawn_with_the_pad_pen():
    pictures, names = outliers.drawn_non_digits(versions=2)
    assert len(pictures) == 2 * len(outliers.DRAWN) and names.count("A") == 2
    assert not np.array_equal(pictures[0], pictures[1])  # two hands, two drawings
    expected = preprocess.strokes_to_image([[(0, 0), (100, 0)]], preprocess.CANVAS_SIZE, preprocess.PEN_WIDTH)
    assert (pictures[0] > 127).sum() > (expected > 127).sum()  # more ink than one short line
