"""Evaluation helpers that need no model: the verdict notebook 04 prints beside the accuracy, and
the figures of notebooks 01 and 04 drawn from made-up arrays."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from digitlib import evaluation, plots


@pytest.mark.parametrize("accuracy", [0.0, 0.098, 0.103, 0.199])
def test_a_model_near_chance_is_called_untrained(accuracy):
    verdict = evaluation.accuracy_verdict(accuracy)
    assert verdict.startswith("This model is near chance")
    assert f"({100 * accuracy:.1f} %, chance is 10 %)" in verdict and "train longer" in verdict


@pytest.mark.parametrize("accuracy", [0.2, 0.5, 0.899])
def test_a_model_far_below_a_trained_one_gets_the_milder_note(accuracy):
    verdict = evaluation.accuracy_verdict(accuracy)
    assert verdict is not None and "near chance" not in verdict
    assert f"{100 * accuracy:.1f} %" in verdict and "undertrained" in verdict


@pytest.mark.parametrize("accuracy", [0.9, 0.97, 0.9962, 1.0])
def test_a_trained_model_gets_no_verdict(accuracy):
    assert evaluation.accuracy_verdict(accuracy) is None


def test_confused_pairs_grid_shows_each_pair_in_its_row():
    labels = np.array([3, 3, 3, 5, 5, 7, 1])
    predictions = np.array([5, 5, 3, 3, 5, 1, 1])
    images = np.arange(7 * 28 * 28, dtype=np.float32).reshape(7, 28, 28)
    pairs = evaluation.most_confused_pairs(evaluation.confusion(labels, predictions), top=6)
    assert pairs[0] == (3, 5, 2)
    fig = plots.confused_pairs_grid(images, labels, predictions, pairs, per_pair=4)
    axes = np.array(fig.axes).reshape(len(pairs), 4)
    shown = [sum(bool(ax.images) for ax in row) for row in axes]
    titles = [row[0].get_title(loc="left") for row in axes]
    plt.close(fig)
    assert titles[0] == "3 read as 5" and shown[0] == 2
    assert shown == [count for _, _, count in pairs]


def test_embedding_panels_draw_every_class_with_one_legend():
    rng = np.random.default_rng(0)
    labels = np.arange(200) % 10
    panels = [(rng.normal(size=(200, 2)), labels, "PCA"), (rng.normal(size=(100, 2)), labels[:100], "t-SNE")]
    fig = plots.embedding_panels(panels)
    axes = fig.axes
    plt.close(fig)
    assert [ax.get_title() for ax in axes] == ["PCA", "t-SNE"]
    assert len(axes[0].collections) == 10 and axes[0].get_legend() is None and axes[1].get_legend() is not None


def test_shifted_moves_pictures_by_one_pixel_and_fills_the_edge_with_zeros():
    images = np.arange(2 * 3 * 3).reshape(2, 3, 3) + 1
    down = evaluation.shifted(images, 1, 0)
    np.testing.assert_array_equal(down[0], [[0, 0, 0], [1, 2, 3], [4, 5, 6]])
    left = evaluation.shifted(images, 0, -1)
    np.testing.assert_array_equal(left[1], [[11, 12, 0], [14, 15, 0], [17, 18, 0]])
    np.testing.assert_array_equal(evaluation.shifted(images, 0, 0), images)


class _CountingModel:
    """Stands in for a Keras model: two numbers per picture, its ink and the ink in its top row."""

    def predict(self, batch, batch_size=None, verbose=0):
        ink = batch.reshape(len(batch), -1).sum(1)
        return np.stack([ink, batch[:, 0, :, 0].sum(1)], axis=1)


def test_test_time_augmentation_averages_the_picture_and_its_shifts():
    images = np.zeros((1, 28, 28), np.uint8)
    images[0, 0, 5] = 255  # one pixel on the top edge: two of the eight shifts push it out
    model = _CountingModel()
    plain = evaluation.predict_probabilities(model, images)
    np.testing.assert_allclose(plain, [[1.0, 1.0]])
    four = evaluation.predict_probabilities(model, images, tta_shifts=4)
    # of the picture and its 4 shifts, the one moved up loses the pixel; the one moved down leaves the top row
    np.testing.assert_allclose(four, [[4 / 5, 3 / 5]])
    eight = evaluation.predict_probabilities(model, images, tta_shifts=8)
    np.testing.assert_allclose(eight[0, 0], 6 / 9)  # up, up-left and up-right lose it
    with pytest.raises(ValueError, match="tta_shifts must be one of"):
        evaluation.predict_probabilities(model, images, tta_shifts=2)


def test_the_binomial_interval_is_wilsons_and_narrows_with_more_images():
    low, high = evaluation.binomial_interval(9957, 10000)
    assert low < 0.9957 < high and 0.0012 < (high - low) / 2 < 0.0014  # about ±0.13 points at 99.6 %
    wide = evaluation.binomial_interval(996, 1000)
    assert wide[1] - wide[0] > 3 * (high - low)
    assert evaluation.binomial_interval(10, 10)[1] == pytest.approx(1.0) and evaluation.binomial_interval(10, 10)[0] < 1
    with pytest.raises(ValueError, match="successes"):
        evaluation.binomial_interval(11, 10)


def test_against_seeds_says_inside_or_by_how_much_outside():
    seeds = [0.9955, 0.9956, 0.9958, 0.9959]
    inside = evaluation.against_seeds(0.9957, seeds)
    assert inside["inside"] and inside["outside_by"] == 0 and inside["seeds"] == 4
    assert inside["sd"] == pytest.approx(np.std(seeds, ddof=1))
    above = evaluation.against_seeds(0.9961, seeds)
    assert not above["inside"] and above["outside_by"] == pytest.approx(0.0002)
    assert evaluation.against_seeds(0.9950, seeds)["outside_by"] == pytest.approx(-0.0005)
    with pytest.raises(ValueError, match="two seeds"):
        evaluation.against_seeds(0.99, [0.99])
