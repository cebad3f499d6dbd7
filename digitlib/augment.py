"""Augmentation: small random rotations, shifts and zooms of whole batches, in one resampling pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from digitlib import runtime


def inverse_transforms(ops: Any, angle: Any, scale: Any, shift_y: Any, shift_x: Any, height: Any, width: Any) -> Any:
    """Per image, the 8 projective parameters that map each output pixel to the input pixel it
    samples (the inverse of a rotation by `angle` about the centre, a zoom by `scale` and a shift
    in pixels), as TensorFlow's ImageProjectiveTransform and Keras's `affine_transform` read them.
    `ops` is the module of array operations: `tensorflow`, or `keras.ops` on another backend."""
    centre_y, centre_x = (height - 1) / 2, (width - 1) / 2
    cos, sin = ops.cos(angle) / scale, ops.sin(angle) / scale
    offset_x = centre_x - cos * (centre_x + shift_x) + sin * (centre_y + shift_y)
    offset_y = centre_y - sin * (centre_x + shift_x) - cos * (centre_y + shift_y)
    zeros = ops.zeros_like(angle)
    return ops.stack([cos, -sin, offset_x, sin, cos, offset_y, zeros, zeros], axis=1)


def make_augmentation(rotation_degrees: float = 10.0, shift: float = 0.1, zoom: float = 0.1) -> Callable | None:
    """Random small rotations, shifts and zooms, as a function on batches (None when all are 0).

    Each image gets one random affine transform (rotation about the centre, zoom, shift), applied
    in a single resampling pass (Keras's RandomRotation, RandomZoom and RandomTranslation layers
    would resample three times); the empty border is filled with black, the MNIST background."""
    if not (rotation_degrees or shift or zoom):
        return None
    tf = runtime.import_tensorflow()
    max_angle = np.deg2rad(rotation_degrees)

    def augment(images, training: bool = True):
        if not training:
            return images
        images = tf.convert_to_tensor(images, tf.float32)
        count, height, width = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
        angle = tf.random.uniform([count], -max_angle, max_angle)
        scale = tf.random.uniform([count], 1.0 - zoom, 1.0 + zoom)
        shift_y = tf.random.uniform([count], -shift, shift) * tf.cast(height, tf.float32)
        shift_x = tf.random.uniform([count], -shift, shift) * tf.cast(width, tf.float32)
        transforms = inverse_transforms(
            tf, angle, scale, shift_y, shift_x, tf.cast(height, tf.float32), tf.cast(width, tf.float32)
        )
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=images,
            transforms=transforms,
            output_shape=tf.stack([height, width]),
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode="CONSTANT",
        )

    return augment
