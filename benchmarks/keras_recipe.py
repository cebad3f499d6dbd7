"""The Keras "Simple MNIST convnet" recipe, the baseline every benchmark here measures against:
`models.simple_convnet()`, categorical cross-entropy on one-hot labels, Adam with Keras's defaults,
batch 128, 15 epochs, NumPy arrays straight into `fit`, as the example has it.

One departure, so that both recipes train on the same images and time the same work: the example
holds out 10 % of the training images (`validation_split=0.1`) for a validation pass after every
epoch inside `fit`; here it trains on all 60,000, with no validation pass, like the project's
presets (`VALIDATION_SPLIT` restores the example's split).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from digitlib import data, models

EPOCHS = 15
BATCH_SIZE = 128
VALIDATION_SPLIT = 0.0  # the example's is 0.1


def train_keras_recipe(
    x_all: np.ndarray,
    y_all: np.ndarray,
    epochs: int = EPOCHS,
    callbacks: Sequence[Any] = (),
    validation_split: float = VALIDATION_SPLIT,
) -> tuple[Any, int]:
    """The example's model trained by the example's `fit` on the uint8 training images: the model
    and the number of images it trained on."""
    model = models.simple_convnet()
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    x_train, y_train = data.prepare(x_all, y_all, one_hot_labels=True)
    model.fit(
        x_train,
        y_train,
        batch_size=BATCH_SIZE,
        epochs=epochs,
        validation_split=validation_split,
        verbose=0,
        callbacks=list(callbacks),
    )
    return model, int(len(x_train) * (1 - validation_split))
