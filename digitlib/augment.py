"""Augmentation: small random rotations, shifts and zooms of whole batches, in one resampling pass.

`resample` is the transform, in Keras ops, so every backend resamples the same way. The recipe
draws its random numbers where its batches are made: `make_augmentation` inside the tf.data
pipeline on TensorFlow, `augmentation_layer` in front of the network on other backends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from digitlib import config, runtime


def inverse_transforms(angle: Any, scale: Any, shift_y: Any, shift_x: Any, height: Any, width: Any) -> Any:
    """Per image, the 8 projective parameters that map each output pixel to the input pixel it
    samples (the inverse of a rotation by `angle` about the centre, a zoom by `scale` and a shift
    in pixels), as Keras's `affine_transform` reads them."""
    ops = runtime.keras().ops
    centre_y, centre_x = (height - 1) / 2, (width - 1) / 2
    cos, sin = ops.cos(angle) / scale, ops.sin(angle) / scale
    offset_x = centre_x - cos * (centre_x + shift_x) + sin * (centre_y + shift_y)
    offset_y = centre_y - sin * (centre_x + shift_x) - cos * (centre_y + shift_y)
    zeros = ops.zeros_like(angle)
    return ops.stack([cos, -sin, offset_x, sin, cos, offset_y, zeros, zeros], axis=1)


def resample(images: Any, angle: Any, scale: Any, shift_y: Any, shift_x: Any) -> Any:
    """Each image of a batch (N, H, W, 1) rotated by `angle` about its centre, zoomed by `scale` and
    shifted by `shift_y`, `shift_x` pixels (one value per image each), in one bilinear resampling,
    the empty border filled with black, the MNIST background. One pass instead of Keras's
    RandomRotation, RandomZoom and RandomTranslation layers, which would resample three times."""
    keras = runtime.keras()
    height, width = (keras.ops.cast(size, "float32") for size in keras.ops.shape(images)[1:3])
    transforms = inverse_transforms(angle, scale, shift_y, shift_x, height, width)
    return keras.ops.image.affine_transform(
        images, transforms, interpolation="bilinear", fill_mode="constant", fill_value=0
    )


def make_augmentation(rotation_degrees: float = 10.0, shift: float = 0.1, zoom: float = 0.1) -> Callable | None:
    """Random small rotations, shifts and zooms as a function on TensorFlow batches, for the tf.data
    pipeline (None when all are 0): per image an angle up to `rotation_degrees`, a zoom of
    1 ± `zoom` and shifts of ± `shift` of the height and width, uniformly, from TensorFlow's seeded
    generator, then `resample`."""
    if not (rotation_degrees or shift or zoom):
        return None
    tf = runtime.import_tensorflow()
    max_angle = np.deg2rad(rotation_degrees)

    def augment(images, training: bool = True):
        if not training:
            return images
        images = tf.convert_to_tensor(images, tf.float32)
        count, height, width = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
        # drawn before any other op of the step: TensorFlow seeds each random op by its place in the graph
        angle = tf.random.uniform([count], -max_angle, max_angle)
        scale = tf.random.uniform([count], 1.0 - zoom, 1.0 + zoom)
        shift_y = tf.random.uniform([count], -shift, shift) * tf.cast(height, tf.float32)
        shift_x = tf.random.uniform([count], -shift, shift) * tf.cast(width, tf.float32)
        return resample(images, angle, scale, shift_y, shift_x)

    return augment


def augmentation_layer(rotation_degrees: float, shift: float, zoom: float, seed: int = config.SEED) -> Any:
    """`make_augmentation`'s draws and `resample` as a Keras layer, active in training only, its
    numbers from a seeded Keras generator: the recipe's augmentation on backends without
    TensorFlow, on the device."""
    keras = runtime.keras()

    class Augmentation(keras.layers.Layer):  # type: ignore[name-defined]  # Keras is imported at run time
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.seeds = keras.random.SeedGenerator(seed)

        def call(self, images: Any, training: bool = False) -> Any:
            if not training:
                return images
            count, height, width = keras.ops.shape(images)[:3]
            max_angle = float(np.deg2rad(rotation_degrees))
            angle = keras.random.uniform((count,), -max_angle, max_angle, seed=self.seeds)
            scale = keras.random.uniform((count,), 1.0 - zoom, 1.0 + zoom, seed=self.seeds)
            shift_y = keras.random.uniform((count,), -shift, shift, seed=self.seeds) * height
            shift_x = keras.random.uniform((count,), -shift, shift, seed=self.seeds) * width
            return resample(images, angle, scale, shift_y, shift_x)

    return Augmentation(name="augmentation")
