"""The architectures, from simple to the project's main CNN, and what each costs.

Every builder returns an uncompiled Keras model taking (28, 28, 1) float images in [0, 1] and
giving ten softmax probabilities. `build_model(name)` picks one by name; `ARCHITECTURES` lists them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from digitlib import config, runtime

INPUT_SHAPE = (config.IMAGE_SIZE, config.IMAGE_SIZE, 1)
# Batch norm's running statistics follow the last ~10 batches instead of Keras's ~100, so that
# short runs (smoke tests, the 02 comparison) evaluate with statistics that match the weights.
BN_MOMENTUM = 0.9


def dense_baseline(hidden: int = 256, dropout: float = 0.2):
    """A multilayer perceptron: the reference for what a model without convolutions reaches."""
    keras = runtime.keras()
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            layers.Flatten(),
            layers.Dense(hidden, activation="relu"),
            layers.Dropout(dropout),
            layers.Dense(config.NUM_CLASSES, activation="softmax"),
        ],
        name="dense_baseline",
    )


def simple_convnet():
    """The Keras "Simple MNIST convnet" example: two conv/pool blocks, dropout 0.5.

    34,826 parameters, 2.4 M multiply-adds per image. With its recipe (Adam, batch 128, 15 epochs:
    `benchmarks/keras_recipe.py`) it is the baseline the benchmarks measure the main CNN against."""
    keras = runtime.keras()
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(config.NUM_CLASSES, activation="softmax"),
        ],
        name="simple_convnet",
    )


def cnn(width: int = 24, dense: int = 128, dropout: float = 0.3, batch_norm: bool = True, pool_first: bool = True):
    """The project's main CNN: three blocks of 3x3 convolution, 2x2 max-pooling, batch norm and
    ReLU, at 28, 14 and 7 pixels (widths `width`, 2x, 4x), then a batch-normalized dense layer
    and dropout. Convolutions carry no bias: batch norm's shift replaces it.

    Pooling comes straight after the convolution, before batch norm and ReLU: max-pooling
    commutes with ReLU and with batch norm's increasing affine map, so the block computes nearly
    the same function, but normalizes a quarter of the pixels, so a training step is cheaper
    (`benchmarks/step_benchmark.py` times both orders).

    Two switches exist for the ablation in notebook 05: `batch_norm=False` drops batch norm (the
    convolutions and the dense layer get biases back), and `pool_first=False` puts pooling at the
    end of each block (convolution, batch norm, ReLU, pooling), the usual order."""
    keras = runtime.keras()
    layers = keras.layers

    def normalized() -> list:
        return [layers.BatchNormalization(momentum=BN_MOMENTUM)] if batch_norm else []

    def conv_block(filters: int) -> list:
        convolution = layers.Conv2D(filters, 3, padding="same", use_bias=not batch_norm)
        if pool_first:
            return [convolution, layers.MaxPooling2D(2), *normalized(), layers.ReLU()]
        return [convolution, *normalized(), layers.ReLU(), layers.MaxPooling2D(2)]

    head = [layers.Flatten(), layers.Dropout(dropout)]
    if dense:
        head += [layers.Dense(dense, use_bias=not batch_norm), *normalized(), layers.ReLU(), layers.Dropout(dropout)]
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            *conv_block(width),
            *conv_block(2 * width),
            *conv_block(4 * width),
            *head,
            layers.Dense(config.NUM_CLASSES, activation="softmax"),
        ],
        name=f"cnn_w{width}",
    )


ARCHITECTURES: dict[str, Callable] = {
    "dense_baseline": dense_baseline,
    "simple_convnet": simple_convnet,
    "cnn": cnn,
}


def build_model(
    name: str, width: int | None = None, dropout: float | None = None, batch_norm: bool = True, pool_first: bool = True
):
    """Build the architecture `name` (one of ARCHITECTURES). `width` and `dropout` shape the cnn
    (notebook 03's CNN_WIDTH and CNN_DROPOUT; None keeps its defaults); the two reference
    architectures are fixed recipes and ignore them."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}")
    if name != "cnn":
        return ARCHITECTURES[name]()
    options: dict[str, Any] = {"width": width, "dropout": dropout}
    chosen = {key: value for key, value in options.items() if value is not None}
    return cnn(**chosen, batch_norm=batch_norm, pool_first=pool_first)


def multiply_adds(model) -> int:
    """Multiply-accumulate operations for one image through the Conv2D and Dense layers
    (the rest, batch norm and pooling included, is a rounding error beside them)."""
    keras = runtime.keras()
    total = 0
    for layer in model.layers:
        if hasattr(layer, "layers"):  # a nested model, such as an ensemble member
            total += multiply_adds(layer)
        elif isinstance(layer, keras.layers.Conv2D):
            kernel_h, kernel_w, in_channels, out_channels = layer.kernel.shape
            _, out_h, out_w, _ = layer.output.shape
            total += out_h * out_w * out_channels * kernel_h * kernel_w * in_channels
        elif isinstance(layer, keras.layers.Dense):
            in_units, out_units = layer.kernel.shape
            total += in_units * out_units
    return int(total)


def layer_table(model):
    """The model's layers as a DataFrame: name, type, output shape and parameters (a compact summary)."""
    import pandas as pd

    rows = [
        {
            "layer": layer.name,
            "type": type(layer).__name__,
            "output shape": str(tuple(layer.output.shape[1:])),
            "parameters": int(layer.count_params()),
        }
        for layer in model.layers
    ]
    return pd.DataFrame(rows).set_index("layer")


def describe(model) -> dict:
    """Name, parameter count and multiply-adds per image."""
    return {"model": model.name, "parameters": int(model.count_params()), "multiply_adds": multiply_adds(model)}


def average_models(member_files: list[Path], name: str = "ensemble"):
    """One Keras model whose output is the mean of the members' probabilities (saved and loaded
    like any other model, so evaluation and the interface need not know it is an ensemble)."""
    keras = runtime.keras()
    members = [keras.models.load_model(path, compile=False) for path in member_files]
    for index, member in enumerate(members):
        member.name = f"member{index + 1}"
    inputs = keras.Input(members[0].input_shape[1:])
    outputs = keras.layers.Average()([member(inputs, training=False) for member in members])
    return keras.Model(inputs, outputs, name=name)  # uncompiled: it is never trained as a whole


def save_model(model, path: str | os.PathLike) -> Path:
    """Save `model` as the .keras file `path`, whole or not at all: written beside it under a
    temporary name, then renamed into place, so an interrupted save leaves the old file as it was."""
    path = Path(path)
    partial = path.with_name(f".{path.stem}.partial.keras")
    model.save(partial)
    os.replace(partial, path)
    return path


def inference_copy(model):
    """`model`'s architecture and weights (batch-norm statistics included) without optimizer state:
    a third of the file, and all that prediction needs. The recipe saves its models this way."""
    # from the model's own config: `clone_model` and `model_from_json` also restore its compile
    # configuration, and saving that saves the optimizer's moments too
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def save_trained(model, path: Path, settings: Any, history: Any, seconds: float, **details: Any) -> dict[str, Any]:
    """Save a trained companion network (the number reader, the digit detector) as its inference
    copy at `path`, with a run record beside it (`path` with `.json`): its `settings` (a dataclass),
    the `details` given, the training time, the loss per epoch and the library versions. Returns the record."""
    import dataclasses

    from digitlib import records

    save_model(inference_copy(model), path)
    record = {
        "config": dataclasses.asdict(settings),
        **details,
        "train_seconds": round(seconds, 1),
        "loss": [round(float(v), 4) for v in history.history["loss"]],
        "model": config.display_path(path),
        "versions": records.library_versions(),
    }
    records.write_json(path.with_suffix(".json"), record)
    return record


def networks(model) -> list:
    """The networks a model is made of: an ensemble's members (`average_models`), or the model itself."""
    keras = runtime.keras()
    return [layer for layer in model.layers if isinstance(layer, keras.Model)] or [model]


def logits_function(model) -> Callable | None:
    """The logits (the inputs of the final softmax) of `model`'s networks for (n, 28, 28, 1) float32
    batches, as a (networks, n, 10) array: one network for a single model, one per member for an
    ensemble made by `average_models`; traced like `inference_function`. None when a network does
    not end in a softmax Dense layer."""
    keras = runtime.keras()
    heads = []
    for network in networks(model):
        last = network.layers[-1]
        if not (isinstance(last, keras.layers.Dense) and last.get_config()["activation"] == "softmax"):
            return None
        heads.append((keras.Model(network.inputs, last.input), last))
    tf = runtime.import_tensorflow()
    return tf.function(
        lambda batch: keras.ops.stack(
            [keras.ops.matmul(features(batch, training=False), last.kernel) + last.bias for features, last in heads]
        ),
        input_signature=[tf.TensorSpec([None, *INPUT_SHAPE], tf.float32)],
    )


def inference_function(model) -> Callable:
    """`model` traced once into a graph for inference on (n, 28, 28, 1) float32 batches.

    A traced call answers one image much faster than calling the model eagerly or through
    `model.predict`, because those re-enter Python for every layer or set up a dataset on each
    call. Large batches gain nothing from it: use `predict` for those.
    """
    tf = runtime.import_tensorflow()
    return tf.function(
        lambda batch: model(batch, training=False), input_signature=[tf.TensorSpec([None, *INPUT_SHAPE], tf.float32)]
    )
