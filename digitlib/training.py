"""The training recipe, in one place: `TrainConfig` holds every parameter with the full run's
defaults, and `train(config)` runs it (data, model, optimizer and schedule, `fit` with its
callbacks, weight averaging, resume after a kill, ensemble members, save, run record). Notebook
03, notebook 02, the benchmarks, the tests and the sweeps all train through `train`.

The pieces it is made of are public too: the optimizer with its schedule, the weight average,
the callbacks, the distribution strategy, the history reader.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from digitlib import augment, config, data, evaluation, models, records, runtime
from digitlib.parameters import ParameterError, check_parameter, read_params

SCHEDULES = ("cosine", "constant")
OPTIMIZERS = ("adam", "adamw", "sgd")
STRATEGIES = ("auto", "default", "mirrored")
WARMUP_FRACTION = 0.1  # of all steps: the cosine schedule's linear warm-up, whatever the run's length
AVERAGED_FRACTION = 0.1  # the weight average reaches back over at most this share of a run's steps


@dataclass(frozen=True)
class TrainConfig:
    """Every parameter of the training recipe, with the defaults of the full run.

    Notebook 03's `parameters` cell carries the same names in UPPER_CASE (papermill's interface),
    each None there: the defaults live here alone. Values are checked when the object is made,
    with a `ParameterError` that names the parameter as the notebooks spell it."""

    seed: int = config.SEED
    model_name: str = config.DEFAULT_MODEL_NAME
    architecture: str = "cnn"  # dense_baseline, simple_convnet or cnn (see notebook 02)
    cnn_width: int = 24  # filters in the cnn's first block, doubled in each next block
    cnn_dropout: float = 0.3  # dropout before and after the cnn's dense layer
    cnn_batch_norm: bool = True  # batch norm in the cnn (off: biases instead, for the ablation)
    cnn_pool_first: bool = True  # pool before batch norm in each cnn block (off: pool at the block's end)
    train_size: int = 0  # 0: every training image not held out for validation
    validation_size: int = 0  # images held out (stratified) for validation; 0 trains on all 60,000
    epochs: int = 18
    batch_size: int = 256
    optimizer: str = "adam"  # adam, adamw or sgd
    learning_rate: float = 0.004  # the peak rate
    schedule: str = "cosine"  # cosine (warm-up, then cosine decay to 1 %) or constant
    ema_momentum: float = 0.999  # moving average of the weights, warmed up over the first steps (0: off)
    bn_recalibration: bool = True  # recompute batch norm's statistics for the saved weights (see 05)
    rotation: float = 10.0  # augmentation: max rotation in degrees
    shift: float = 0.1  # augmentation: max shift, share of the image
    zoom: float = 0.1  # augmentation: max zoom in or out
    patience: int = 10  # early stopping, with a constant rate and a validation set
    strategy: str = "auto"  # tf.distribute: auto, default or mirrored
    ensemble: int = 1  # models trained (seeds seed, seed+1, ...) whose probabilities are averaged
    tensorboard: bool = True  # TensorBoard logs under logs/tensorboard/

    def __post_init__(self) -> None:
        check_parameter("ARCHITECTURE", self.architecture, choices=list(models.ARCHITECTURES))
        check_parameter("OPTIMIZER", self.optimizer, choices=OPTIMIZERS)
        check_parameter("SCHEDULE", self.schedule, choices=SCHEDULES)
        check_parameter("STRATEGY", self.strategy, choices=STRATEGIES)
        for name in ("EPOCHS", "BATCH_SIZE", "ENSEMBLE", "CNN_WIDTH"):
            check_parameter(name, getattr(self, name.lower()), positive=True)
            if not isinstance(getattr(self, name.lower()), int):
                raise ParameterError(f"{name} must be a whole number, got {getattr(self, name.lower())!r}")
        check_parameter("LEARNING_RATE", self.learning_rate, positive=True)
        check_parameter("TRAIN_SIZE", self.train_size, at_least=0)
        check_parameter("VALIDATION_SIZE", self.validation_size, at_least=0, at_most=30000)
        check_parameter("EMA_MOMENTUM", self.ema_momentum, at_least=0, at_most=0.9999)
        check_parameter("CNN_DROPOUT", self.cnn_dropout, at_least=0, at_most=0.9)
        check_parameter("ROTATION", self.rotation, at_least=0, at_most=45)
        check_parameter("SHIFT", self.shift, at_least=0, at_most=0.5)
        check_parameter("ZOOM", self.zoom, at_least=0, at_most=0.5)
        check_parameter("PATIENCE", self.patience, positive=True)
        check_parameter("SEED", self.seed, at_least=0)
        for name in ("CNN_BATCH_NORM", "CNN_POOL_FIRST", "BN_RECALIBRATION", "TENSORBOARD"):
            check_parameter(name, getattr(self, name.lower()), choices=[True, False])
        if not str(self.model_name) or any(c in str(self.model_name) for c in "/\\"):
            raise ParameterError(f"MODEL_NAME must be a plain file name, got {self.model_name!r}")

    @classmethod
    def names(cls) -> list[str]:
        """The parameters' names as notebooks and YAML files spell them (UPPER_CASE)."""
        return [f.name.upper() for f in dataclasses.fields(cls)]

    @classmethod
    def from_params(
        cls, params: Mapping[str, Any], *, base: TrainConfig | None = None, ignore_unknown: bool = False
    ) -> TrainConfig:
        """A configuration from NAME: value pairs (UPPER_CASE or lower_case), over `base` or the
        defaults; a None value keeps the default (a notebook's parameters cell says None for those).

        Unknown names are refused, naming them, unless `ignore_unknown` (a notebook's namespace)."""
        known = {f.name for f in dataclasses.fields(cls)}
        changes = {name.lower(): value for name, value in params.items() if name.lower() in known and value is not None}
        unknown = sorted(name for name in params if name.lower() not in known)
        if unknown and not ignore_unknown:
            raise ParameterError(
                f"unknown training parameter(s) {', '.join(unknown)}; "
                f"the recipe's parameters are {', '.join(cls.names())}"
            )
        return dataclasses.replace(base or cls(), **changes)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, **overrides: Any) -> TrainConfig:
        """A configuration from a `params/*.yaml` file, with keyword overrides (`epochs=2`).

        Names in the file that belong to other notebooks (01's SAMPLE_GRID, say) are skipped."""
        return cls.from_params({**read_params(path), **overrides}, ignore_unknown=True)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some parameters changed (checked again)."""
        return TrainConfig.from_params(changes, base=self)

    def as_params(self) -> dict[str, Any]:
        """NAME: value for every parameter, as notebooks and YAML files spell them."""
        return {name.upper(): value for name, value in dataclasses.asdict(self).items()}

    @property
    def keeps_best_epoch(self) -> bool:
        """A decaying schedule gains most in its last, low-rate epochs: it is run to its end and that
        model kept. Picking a "best" epoch by validation loss (and stopping early) is for a constant
        rate with a validation set."""
        return self.schedule == "constant" and self.validation_size > 0


@dataclass
class TrainingData:
    """The images a configuration trains and validates on (uint8, as loaded)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    seed: int = config.SEED

    @cached_property
    def reference(self) -> tuple[np.ndarray, np.ndarray]:
        """Up to 10,000 of the training images (stratified, seeded), un-augmented: what batch norm is
        recalibrated on, and what a run with nothing held out is scored on."""
        return data.subset(self.x_train, self.y_train, 10000, seed=self.seed)


@dataclass
class TrainResult:
    """What `train` did: where the model is, its histories, its timings and its run record."""

    config: TrainConfig
    model_path: Path
    record_path: Path
    record: dict[str, Any]
    histories: dict[str, Any] = field(repr=False)  # member name -> DataFrame, one row per epoch
    seconds: float = 0.0

    def load_model(self) -> Any:
        return runtime.keras().models.load_model(self.model_path)

    @property
    def saved_metrics(self) -> dict[str, float]:
        """The saved model's own accuracy and loss (on validation when there is one)."""
        return self.record["saved_model_metrics"]


def split_data(recipe: TrainConfig, mnist: data.Arrays | None = None) -> TrainingData:
    """The training and validation images of a configuration: a stratified hold-out of
    `validation_size`, then a stratified subset of `train_size` (seeded by `seed`), of `mnist`
    (default: loaded from dataset/)."""
    (x_all, y_all), _ = mnist or data.load_mnist()
    (x_train, y_train), (x_val, y_val) = data.train_val_split(x_all, y_all, recipe.validation_size, seed=recipe.seed)
    x_train, y_train = data.subset(x_train, y_train, recipe.train_size or None, seed=recipe.seed)
    return TrainingData(x_train, y_train, x_val, y_val, recipe.seed)


def steps_per_epoch(examples: int, batch_size: int) -> int:
    return math.ceil(examples / batch_size)


def learning_rate_schedule(
    learning_rate: float, schedule: str, total_steps: int, warmup_fraction: float = WARMUP_FRACTION
) -> Any:
    """The rate per step: constant, or a linear warm-up over `warmup_fraction` of `total_steps`
    from a tenth of `learning_rate`, then cosine decay to 1 % of it (a Keras schedule, which
    notebook 03 plots by calling it on the steps)."""
    keras = runtime.keras()
    if schedule == "cosine":
        warmup = int(total_steps * warmup_fraction)
        return keras.optimizers.schedules.CosineDecay(
            learning_rate * 0.1,
            max(total_steps - warmup, 1),
            alpha=0.01,
            warmup_target=learning_rate,
            warmup_steps=warmup,
        )
    if schedule == "constant":
        return learning_rate
    raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")


def make_optimizer(
    name: str, learning_rate: float, schedule: str, total_steps: int, warmup_fraction: float = WARMUP_FRACTION
) -> Any:
    """Adam, AdamW or SGD with Nesterov momentum, at `learning_rate_schedule`'s rate."""
    keras = runtime.keras()
    rate = learning_rate_schedule(learning_rate, schedule, total_steps, warmup_fraction)
    if name == "adam":
        return keras.optimizers.Adam(rate)
    if name == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=1e-4)
    if name == "sgd":
        return keras.optimizers.SGD(rate, momentum=0.9, nesterov=True)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def averaging_momentum(step: int, ema_momentum: float, total_steps: int) -> float:
    """The momentum the weight average uses at optimizer step `step` (from 0) of `total_steps`.

    min(ema_momentum, (1 + step) / (10 + step), 1 - 1 / (AVERAGED_FRACTION * total_steps)): warmed
    up as TensorFlow's `ExponentialMovingAverage(num_updates=...)` is, so the average never reaches
    back to the untrained start, and capped so it spans at most the last tenth of the run."""
    return min(ema_momentum, (1 + step) / (10 + step), _momentum_cap(total_steps))


def _momentum_cap(total_steps: int) -> float:
    return 1.0 - 1.0 / max(1.0, AVERAGED_FRACTION * total_steps)


def weight_average(ema_momentum: float, total_steps: int, state_file: Path | None = None) -> Any:
    """A Keras callback that keeps an exponential moving average of the model's trainable weights,
    updated after every optimizer step at `averaging_momentum`'s momentum, and puts the average into
    the model when `fit` ends (without it, a run of a few hundred steps at 0.999 would save weights
    that are still mostly the untrained start).

    With `state_file` the average is saved there after every epoch and taken up again by a `fit`
    that resumes from a backup at the same step (or started afresh from the weights it resumes with)."""
    keras = runtime.keras()
    ops = keras.ops
    ceiling = min(ema_momentum, _momentum_cap(total_steps))

    class WeightAverage(keras.callbacks.Callback):  # type: ignore[name-defined]  # Keras is imported at run time
        def on_train_begin(self, logs: dict | None = None) -> None:
            weights = self.model.trainable_variables
            step = int(ops.convert_to_numpy(self.model.optimizer.iterations))
            saved = np.load(state_file) if state_file is not None and state_file.exists() else None
            if saved is not None and int(saved["step"]) == step:
                start = [saved[f"average{k}"] for k in range(len(weights))]
            elif step:  # resumed without a matching average: start it from the weights resumed
                start = [ops.convert_to_numpy(weight) for weight in weights]
            else:  # as Keras's own average starts: from zero, which the warm-up's first steps wash out
                start = [np.zeros(weight.shape, "float32") for weight in weights]
            self.averages = [keras.Variable(value, trainable=False, dtype=w.dtype) for value, w in zip(start, weights)]
            self.update = self._update
            if keras.backend.backend() == "tensorflow":  # one graph call a step instead of ~100 eager ops
                self.update = runtime.import_tensorflow().function(self._update)

        def _update(self) -> None:
            step = ops.cast(self.model.optimizer.iterations, "float32") - 1.0  # the step just taken
            momentum = ops.minimum(ceiling, (1.0 + step) / (10.0 + step))
            for weight, average in zip(self.model.trainable_variables, self.averages):
                rate = ops.cast(momentum, weight.dtype)
                average.assign(rate * average + (1.0 - rate) * weight)

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.update()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if state_file is not None:
                state_file.parent.mkdir(parents=True, exist_ok=True)
                arrays = {f"average{k}": ops.convert_to_numpy(a) for k, a in enumerate(self.averages)}
                partial = state_file.with_name(f".{state_file.stem}.partial.npz")
                np.savez(partial, step=int(ops.convert_to_numpy(self.model.optimizer.iterations)), **arrays)
                os.replace(partial, state_file)

        def on_train_end(self, logs: dict | None = None) -> None:
            for weight, average in zip(self.model.trainable_variables, self.averages):
                weight.assign(average)

    return WeightAverage()


def recalibrate_batch_norm(model: Any, images: np.ndarray, batch_size: int = 500, limit: int = 10000) -> None:
    """Recompute every batch-norm layer's moving mean and variance for the model's final weights,
    as the plain average over batches of (up to `limit`) un-augmented `images`.

    During training those statistics follow the raw weights of the last few batches. They lag
    behind fast-moving weights in a short run (a model of a few dozen steps scored at chance in
    inference mode), and they belong to the raw weights, not to a moving average of them. The
    same pass as stochastic weight averaging's `update_bn`."""
    keras = runtime.keras()
    layers = [layer for layer in _all_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers:
        return
    inputs = data.to_model_input(images[:limit])
    momenta = [layer.momentum for layer in layers]
    try:
        for count, start in enumerate(range(0, len(inputs), batch_size), 1):
            for layer in layers:  # batch k weighs 1/k: a running mean over all batches so far
                layer.momentum = (count - 1) / count
            model(inputs[start : start + batch_size], training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum


def _all_layers(model: Any) -> list:
    found = []
    for layer in model.layers:
        found += _all_layers(layer) if hasattr(layer, "layers") else [layer]
    return found


def compile_model(model: Any, optimizer: Any) -> None:
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def get_strategy(name: str = "auto") -> Any:
    """`auto`: MirroredStrategy over all GPUs when there are several, else the default strategy.
    `mirrored`: MirroredStrategy over the GPUs, or over the logical CPUs when there are no GPUs.
    `default`: no distribution. None on backends other than TensorFlow (one device, Keras's choice)."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if not runtime.on_tensorflow():
        if name == "mirrored":
            raise ParameterError("STRATEGY = 'mirrored' needs Keras on TensorFlow")
        return None
    tf = runtime.import_tensorflow()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.get_strategy()


def model_for(recipe: TrainConfig) -> Any:
    """The configuration's architecture, built (uncompiled)."""
    return models.build_model(
        recipe.architecture,
        width=recipe.cnn_width,
        dropout=recipe.cnn_dropout,
        batch_norm=recipe.cnn_batch_norm,
        pool_first=recipe.cnn_pool_first,
    )


def build_and_compile(recipe: TrainConfig, total_steps: int, strategy: Any = None, seed: int | None = None) -> Any:
    """The model that `fit` trains, compiled with the configuration's optimizer and schedule (inside
    `strategy`'s scope, by default the configuration's): its network, or on backends other than
    TensorFlow the network behind `augment.augmentation_layer` (seeded by `seed`), since there the
    batches come as arrays rather than through the tf.data pipeline that augments them."""
    strategy = strategy or get_strategy(recipe.strategy)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = model_for(recipe)
        if not runtime.on_tensorflow() and (recipe.rotation or recipe.shift or recipe.zoom):
            keras = runtime.keras()
            layer = augment.augmentation_layer(
                recipe.rotation, recipe.shift, recipe.zoom, recipe.seed if seed is None else seed
            )
            model = keras.Sequential([keras.Input(models.INPUT_SHAPE), layer, model], name=f"augmented_{model.name}")
        compile_model(model, make_optimizer(recipe.optimizer, recipe.learning_rate, recipe.schedule, total_steps))
    return model


def network_of(trained: Any) -> Any:
    """The network inside a model that `build_and_compile` made (without its augmentation layer)."""
    return trained.layers[-1] if trained.name.startswith("augmented_") else trained


def current_learning_rate(optimizer: Any) -> float:
    return float(runtime.keras().ops.convert_to_numpy(optimizer.learning_rate))


def epoch_log(total_epochs: int) -> Any:
    """A Keras callback that prints one readable line per epoch and puts the learning rate in the history."""
    keras = runtime.keras()

    class EpochLog(keras.callbacks.Callback):  # type: ignore[name-defined]  # Keras is imported at run time
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs if logs is not None else {}
            logs["learning_rate"] = current_learning_rate(self.model.optimizer)
            shown = "  ".join(
                f"{key} {float(value):.4f}"
                for key, value in logs.items()
                if key != "learning_rate" and isinstance(value, (int, float, np.number))
            )
            print(
                f"epoch {epoch + 1:>3}/{total_epochs}  {shown}  lr {logs['learning_rate']:.2e}  "
                f"{time.perf_counter() - self._started:.0f} s",
                flush=True,
            )

    return EpochLog()


def callbacks_for(
    paths: config.RunPaths,
    model_name: str,
    epochs: int,
    patience: int | None,
    keep_best: bool = True,
    tensorboard: bool = True,
    log_epochs: bool = True,
) -> list:
    """Resume after an interruption, log one line per epoch, and with `keep_best` save the best
    model (lowest validation loss) and stop early when it stops improving for `patience` epochs
    (never, with None). Without `keep_best` nothing is saved here: the caller saves the model when
    `fit` ends (the end of a decaying schedule, with averaged weights when the optimizer keeps them).

    Resuming: Keras's BackupAndRestore saves the model, optimizer and epoch after every epoch in
    `logs/NAME-backup`; a rerun after a kill continues from there, and the CSV history is appended
    to. The backup is removed when training ends normally."""
    keras = runtime.keras()
    backup_dir = paths.logs / f"{model_name}-backup"
    history_csv = paths.logs / f"{model_name}-history.csv"
    if has_backup(paths, model_name):
        print(f"Resuming from the backup in {config.display_path(backup_dir)}", flush=True)
    elif history_csv.exists():
        history_csv.unlink()
    found = [
        keras.callbacks.BackupAndRestore(str(backup_dir)),
        keras.callbacks.CSVLogger(str(history_csv), append=True),
    ]
    if log_epochs:
        found.insert(0, epoch_log(epochs))
    if keep_best:
        # Validation loss, not accuracy: on 5,000 images accuracy moves in steps of 0.02 % and its
        # "best" epoch is mostly noise.
        found.append(
            keras.callbacks.ModelCheckpoint(str(paths.model_file(model_name)), monitor="val_loss", save_best_only=True)
        )
    if keep_best and patience is not None:
        found.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True))
    if tensorboard and runtime.on_tensorflow():  # its summaries are TensorFlow's
        found.append(
            keras.callbacks.TensorBoard(
                str(paths.logs / "tensorboard" / model_name), write_graph=False, profile_batch=0
            )
        )
    return found


def read_history(paths: config.RunPaths, model_name: str) -> Any:
    """The whole training history (all sessions, when resumed) as a DataFrame, one row per epoch."""
    import pandas as pd

    history = pd.read_csv(paths.logs / f"{model_name}-history.csv")
    return history.drop_duplicates("epoch", keep="last").reset_index(drop=True)


def has_backup(paths: config.RunPaths, model_name: str) -> bool:
    """Whether an interrupted training of `model_name` left a backup to resume from."""
    backup = paths.logs / f"{model_name}-backup"
    return backup.exists() and any(backup.iterdir())


def member_names(model_name: str, ensemble: int) -> list[str]:
    """The saved names of an ensemble's members (just `model_name` for a single model)."""
    return [model_name] if ensemble == 1 else [f"{model_name}-member{k + 1}" for k in range(ensemble)]


def train(
    recipe: TrainConfig | None = None,
    paths: config.RunPaths | None = None,
    *,
    callbacks: Sequence[Any] = (),
    verbose: bool = True,
    mnist: data.Arrays | None = None,
) -> TrainResult:
    """Run the training recipe and save its model and run record under `paths` (the project's
    `models/` by default).

    Trains `recipe.ensemble` models (seeds `seed`, `seed + 1`, ...), each resuming from its backup
    when an earlier run was killed; saves each at the end of its schedule (or at its best epoch,
    with a constant rate and a validation set) and an ensemble as one model averaging its members;
    scores the saved model on the validation images, or on its (un-augmented) training images when
    nothing is held out; writes `models/NAME-run.json`. `callbacks` are added to every `fit` (the
    benchmark's clock, say); `verbose` prints one line per epoch; `mnist`: the arrays as
    `data.load_mnist` gives them (default: loaded from dataset/).

    On TensorFlow, tf.data makes and augments the batches; on another Keras backend (JAX on a GPU
    machine without TensorFlow) the arrays go to `fit` and the model's first layer augments them."""
    recipe = recipe or TrainConfig()
    paths = (paths or config.run_paths()).make()
    runtime.keras()
    runtime.set_seeds(recipe.seed)  # before the input pipeline: TensorFlow seeds its random ops as they are made
    if recipe.keeps_best_epoch and not runtime.on_tensorflow():
        raise ParameterError("keeping the best epoch (a constant SCHEDULE with a VALIDATION_SIZE) needs TensorFlow")
    split = split_data(recipe, mnist)
    strategy = get_strategy(recipe.strategy)
    total_steps = recipe.epochs * steps_per_epoch(len(split.x_train), recipe.batch_size)
    if runtime.on_tensorflow():  # batches made and augmented by tf.data, beside the training steps
        batches: dict[str, Any] = {
            "x": data.make_dataset(
                split.x_train,
                split.y_train,
                recipe.batch_size,
                seed=recipe.seed,
                augment=augment.make_augmentation(recipe.rotation, recipe.shift, recipe.zoom),
            ),
            "shuffle": False,  # the pipeline reshuffles every epoch
        }
        val_data = data.make_dataset(split.x_val, split.y_val, 1000, shuffle=False) if len(split.x_val) else None
    else:  # arrays, augmented on the device by the model's first layer (build_and_compile)
        x, y = data.prepare(split.x_train, split.y_train)
        batches = {"x": x, "y": y, "batch_size": recipe.batch_size, "shuffle": True}
        val_data = data.prepare(split.x_val, split.y_val) if len(split.x_val) else None
    names = member_names(recipe.model_name, recipe.ensemble)
    resume_from = next((k for k, name in enumerate(names) if has_backup(paths, name)), 0)
    started = time.perf_counter()
    for k, name in enumerate(names):
        if k < resume_from:  # finished before the interruption
            continue
        if recipe.ensemble > 1 and verbose:
            print(f"member {k + 1}/{recipe.ensemble} (seed {recipe.seed + k})", flush=True)
        runtime.set_seeds(recipe.seed + k)
        trained = build_and_compile(recipe, total_steps, strategy, seed=recipe.seed + k)
        fit_callbacks = callbacks_for(
            paths,
            name,
            recipe.epochs,
            recipe.patience if recipe.keeps_best_epoch else None,
            keep_best=recipe.keeps_best_epoch,
            tensorboard=recipe.tensorboard,
            log_epochs=verbose,
        )
        if recipe.ema_momentum:  # after the backup's callback, which restores the weights it averages
            state = paths.logs / f"{name}-backup" / "weight-average.npz"
            fit_callbacks.append(weight_average(recipe.ema_momentum, total_steps, state))
        trained.fit(
            **batches,
            validation_data=val_data,
            epochs=recipe.epochs,
            verbose=0,
            callbacks=[*fit_callbacks, *callbacks],
        )
        model = network_of(trained)
        if recipe.keeps_best_epoch:  # the checkpoint of the best epoch, not the weights fit ended with
            model = runtime.keras().models.load_model(paths.model_file(name))
        # else the weights at the end of the schedule (averaged, with ema_momentum)
        if recipe.bn_recalibration:
            recalibrate_batch_norm(model, split.reference[0])
        models.save_model(models.inference_copy(model), paths.model_file(name))
    seconds = time.perf_counter() - started
    model_path = paths.model_file(recipe.model_name)
    if recipe.ensemble > 1:
        models.save_model(
            models.average_models([paths.model_file(name) for name in names], recipe.model_name), model_path
        )
    histories = {name: read_history(paths, name) for name in names}
    record = _run_record(recipe, split, histories, seconds, model_path)
    record_path = records.write_json(paths.models / f"{recipe.model_name}-run.json", record)
    return TrainResult(recipe, model_path, record_path, record, histories, seconds)


def _run_record(
    recipe: TrainConfig, split: TrainingData, histories: dict[str, Any], seconds: float, model_path: Path
) -> dict[str, Any]:
    """What a run used and what it gave: parameters, versions, timings, the saved model's own metrics."""
    model = runtime.keras().models.load_model(model_path)
    if len(split.x_val):
        scored_on, x, y = "validation images", split.x_val, split.y_val
    else:  # nothing held out: (up to 10,000 of) the training images, without augmentation or dropout
        x, y = split.reference
        scored_on = f"{len(x)} training images"
    saved = evaluation.accuracy_and_loss(evaluation.predict_probabilities(model, x), y)
    epochs_trained = sum(len(history) for history in histories.values())
    last = histories[next(reversed(histories))].iloc[-1]
    return {
        "model_name": recipe.model_name,
        "model_file": model_path,
        "parameters": recipe.as_params(),
        "architecture": models.describe(model),
        "versions": records.library_versions(),
        "members": list(histories),
        "training_images": len(split.x_train),
        "validation_images": len(split.x_val),
        "epochs_trained": epochs_trained,
        "kept_epochs": {
            name: int(history["val_loss"].idxmin()) + 1 if recipe.keeps_best_epoch else len(history)
            for name, history in histories.items()
        },
        "training_seconds_this_session": round(seconds, 1),
        "training_images_per_second": round(epochs_trained * len(split.x_train) / max(seconds, 1e-9), 1),
        "saved_model_scored_on": scored_on,
        "saved_model_metrics": {key: round(value, 5) for key, value in saved.items()},
        # the last epoch's figures on augmented, dropped-out batches (not the saved, averaged weights)
        "last_epoch_training_metrics": {key: round(float(last[key]), 5) for key in ("accuracy", "loss")},
    }
