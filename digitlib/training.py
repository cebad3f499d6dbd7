"""Training helpers: augmentation, optimizer and schedule, callbacks (best model, early stop,
resume after an interruption, one log line per epoch), distribution strategy, run records."""
from __future__ import annotations

import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

from digitlib import config

SCHEDULES = ("cosine", "constant")
OPTIMIZERS = ("adam", "adamw", "sgd")
STRATEGIES = ("auto", "default", "mirrored")


def _keras():
    config.import_tensorflow()
    import keras

    return keras


def make_augmentation(rotation_degrees: float = 10.0, shift: float = 0.1, zoom: float = 0.1):
    """Random small rotations, shifts and zooms, as a function on batches (None when all are 0).

    Each image gets one random affine transform (rotation about the centre, zoom, shift), applied
    in a single resampling pass (Keras's RandomRotation, RandomZoom and RandomTranslation layers
    would resample three times); the empty border is filled with black, the MNIST background."""
    if not (rotation_degrees or shift or zoom):
        return None
    tf = config.import_tensorflow()
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
        centre_y, centre_x = (tf.cast(height, tf.float32) - 1) / 2, (tf.cast(width, tf.float32) - 1) / 2
        # the transform maps each output pixel to the input pixel it samples: the inverse motion
        cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
        offset_x = centre_x - cos * (centre_x + shift_x) + sin * (centre_y + shift_y)
        offset_y = centre_y - sin * (centre_x + shift_x) - cos * (centre_y + shift_y)
        zeros = tf.zeros_like(angle)
        transforms = tf.stack([cos, -sin, offset_x, sin, cos, offset_y, zeros, zeros], axis=1)
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=images, transforms=transforms, output_shape=tf.stack([height, width]), fill_value=0.0,
            interpolation="BILINEAR", fill_mode="CONSTANT")

    return augment


def make_optimizer(name: str, learning_rate: float, schedule: str, total_steps: int, warmup_fraction: float = 0.1,
                   ema_momentum: float = 0.0):
    """An optimizer with a constant rate, or linear warm-up then cosine decay to 1 % over `total_steps`.

    With `ema_momentum` (0.999, say) the optimizer also keeps an exponential moving average of the
    weights, which Keras copies into the model when `fit` ends: the model then holds an average
    over roughly the last 1 / (1 - ema_momentum) steps instead of the last step's weights."""
    keras = _keras()
    if schedule == "cosine":
        warmup = int(total_steps * warmup_fraction)
        rate = keras.optimizers.schedules.CosineDecay(
            learning_rate * 0.1, max(total_steps - warmup, 1), alpha=0.01, warmup_target=learning_rate, warmup_steps=warmup
        )
    elif schedule == "constant":
        rate = learning_rate
    else:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    averaging = {"use_ema": True, "ema_momentum": ema_momentum} if ema_momentum else {}
    if name == "adam":
        return keras.optimizers.Adam(rate, **averaging)
    if name == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=1e-4, **averaging)
    if name == "sgd":
        return keras.optimizers.SGD(rate, momentum=0.9, nesterov=True, **averaging)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def compile_model(model, optimizer) -> None:
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def get_strategy(name: str = "auto"):
    """`auto`: MirroredStrategy over all GPUs when there are several, else the default strategy.
    `mirrored`: MirroredStrategy over the GPUs, or over the logical CPUs when there are no GPUs.
    `default`: no distribution."""
    tf = config.import_tensorflow()
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.get_strategy()


def current_learning_rate(optimizer) -> float:
    rate = optimizer.learning_rate
    return float(rate.numpy() if hasattr(rate, "numpy") else rate)


class EpochLog:
    """Keras callback factory: one readable line per epoch (and the learning rate in the history)."""

    @staticmethod
    def create(total_epochs: int):
        keras = _keras()

        class _EpochLog(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self._started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                logs = logs if logs is not None else {}
                logs["learning_rate"] = current_learning_rate(self.model.optimizer)
                shown = "  ".join(
                    f"{key} {value:.4f}" for key, value in logs.items() if key != "learning_rate" and np.isscalar(value)
                )
                print(
                    f"epoch {epoch + 1:>3}/{total_epochs}  {shown}  lr {logs['learning_rate']:.2e}  "
                    f"{time.perf_counter() - self._started:.0f} s",
                    flush=True,
                )

        return _EpochLog()


def callbacks_for(paths: config.RunPaths, model_name: str, epochs: int, patience: int | None,
                  keep_best: bool = True, tensorboard: bool = True) -> list:
    """Resume after an interruption, log one line per epoch, and with `keep_best` save the best
    model (lowest validation loss) and stop early when it stops improving for `patience` epochs
    (never, with None). Without `keep_best` nothing is saved here: the caller saves the model when
    `fit` ends (the end of a decaying schedule, with averaged weights when the optimizer keeps them).

    Resuming: Keras's BackupAndRestore saves the model, optimizer and epoch after every epoch in
    `logs/backup`; a rerun after a kill continues from there, and the CSV history is appended to.
    The backup is removed when training ends normally."""
    keras = _keras()
    backup_dir = paths.logs / f"{model_name}-backup"
    history_csv = paths.logs / f"{model_name}-history.csv"
    resuming = backup_dir.exists() and any(backup_dir.iterdir())
    if resuming:
        print(f"Resuming from the backup in {config.display_path(backup_dir)}", flush=True)
    elif history_csv.exists():
        history_csv.unlink()
    found = [
        EpochLog.create(epochs),
        keras.callbacks.BackupAndRestore(str(backup_dir)),
        keras.callbacks.CSVLogger(str(history_csv), append=True),
    ]
    if keep_best:
        # Validation loss, not accuracy: on 5,000 images accuracy moves in steps of 0.02 % and its
        # "best" epoch is mostly noise.
        found.append(keras.callbacks.ModelCheckpoint(str(paths.model_file(model_name)), monitor="val_loss",
                                                     save_best_only=True))
    if keep_best and patience is not None:
        found.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True))
    if tensorboard:
        found.append(keras.callbacks.TensorBoard(str(paths.logs / "tensorboard" / model_name), write_graph=False, profile_batch=0))
    return found


def read_history(paths: config.RunPaths, model_name: str):
    """The whole training history (all sessions, when resumed) as a DataFrame, one row per epoch."""
    import pandas as pd

    history = pd.read_csv(paths.logs / f"{model_name}-history.csv")
    return history.drop_duplicates("epoch", keep="last").reset_index(drop=True)


def library_versions() -> dict[str, str]:
    import keras
    import sklearn
    import tensorflow as tf

    return {
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "platform": platform.platform(),
    }


def write_json(path: Path, record: dict) -> Path:
    """Write JSON atomically (a temporary file renamed into place), so a kill never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_text(json.dumps(record, indent=2, default=_jsonable) + "\n")
    partial.replace(path)
    return path


def _jsonable(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return config.display_path(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def steps_per_epoch(examples: int, batch_size: int) -> int:
    return math.ceil(examples / batch_size)


def has_backup(paths: config.RunPaths, model_name: str) -> bool:
    """Whether an interrupted training of `model_name` left a backup to resume from."""
    backup = paths.logs / f"{model_name}-backup"
    return backup.exists() and any(backup.iterdir())


def member_names(model_name: str, ensemble: int) -> list[str]:
    """The saved names of an ensemble's members (just `model_name` for a single model)."""
    return [model_name] if ensemble == 1 else [f"{model_name}-member{k + 1}" for k in range(ensemble)]


def average_models(member_files: list[Path], name: str = "ensemble"):
    """One Keras model whose output is the mean of the members' probabilities (saved and loaded
    like any other model, so evaluation and the interface need not know it is an ensemble)."""
    keras = _keras()
    members = [keras.models.load_model(path) for path in member_files]
    for index, member in enumerate(members):
        member.name = f"member{index + 1}"
    inputs = keras.Input(members[0].input_shape[1:])
    outputs = keras.layers.Average()([member(inputs, training=False) for member in members])
    return keras.Model(inputs, outputs, name=name)  # uncompiled: it is never trained as a whole
