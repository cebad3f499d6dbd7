"""Architectures, the training recipe and its parts, and evaluation metrics, on real (small) MNIST slices."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap

import numpy as np
import papermill
import pytest

from digitlib import augment, config, data, evaluation, models, runtime, training
from digitlib.parameters import ParameterError


@pytest.fixture(scope="module")
def small(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    x_small, y_small = data.subset(x_train, y_train, 3000, seed=0)
    x_eval, y_eval = data.subset(x_test, y_test, 1000, seed=0)
    return data.to_model_input(x_small), y_small, data.to_model_input(x_eval), y_eval


def test_architectures_have_the_documented_size_and_cost():
    described = {name: models.describe(models.build_model(name)) for name in models.ARCHITECTURES}
    assert described["dense_baseline"]["parameters"] == 784 * 256 + 256 + 256 * 10 + 10
    assert described["simple_convnet"]["parameters"] == 34826  # as the Keras example reports
    # conv 26x26x32 from 3x3x1, conv 11x11x64 from 3x3x32, dense 1600 -> 10
    assert described["simple_convnet"]["multiply_adds"] == 26 * 26 * 32 * 9 + 11 * 11 * 64 * 9 * 32 + 1600 * 10
    assert described["cnn"]["parameters"] == 165122  # width 24: 24-48-96 filters, dense 128
    assert described["cnn"]["multiply_adds"] > described["simple_convnet"]["multiply_adds"]
    assert models.build_model("cnn", width=8).output_shape[1:] == (10,)
    # notebook 03 passes CNN_WIDTH and CNN_DROPOUT whatever the architecture; only the cnn uses them
    narrow = models.build_model("cnn", width=8, dropout=0.45)
    assert narrow.layers[0].filters == 8
    assert {layer.rate for layer in narrow.layers if type(layer).__name__ == "Dropout"} == {0.45}
    assert models.build_model("simple_convnet", width=8, dropout=0.45).count_params() == 34826
    with pytest.raises(ValueError, match="simple_convnet"):
        models.build_model("resnet")
    # the ablation's switches: no batch norm (biases come back), and pooling at the end of each block
    plain = models.build_model("cnn", batch_norm=False)
    assert not [layer for layer in plain.layers if type(layer).__name__ == "BatchNormalization"]
    channels = 24 + 48 + 96 + 128  # batch norm's 4 numbers per channel out, a bias per channel in
    assert plain.count_params() == 165122 - 4 * channels + channels
    usual = models.build_model("cnn", pool_first=False)
    assert [type(layer).__name__ for layer in usual.layers[:4]] == [
        "Conv2D",
        "BatchNormalization",
        "ReLU",
        "MaxPooling2D",
    ]
    assert usual.count_params() == 165122 and models.multiply_adds(usual) == described["cnn"]["multiply_adds"]


def tiny(**changes) -> training.TrainConfig:
    """A recipe small enough for a test: a narrow cnn on a few thousand images, no TensorBoard."""
    settings = dict(
        seed=0,
        cnn_width=8,
        train_size=3000,
        validation_size=1000,
        epochs=3,
        batch_size=128,
        learning_rate=3e-3,
        tensorboard=False,
    )
    return training.TrainConfig(**{**settings, **changes})


@pytest.mark.slow
def test_a_tiny_cnn_learns_mnist_through_the_recipe(tmp_path):
    result = training.train(tiny(), config.run_paths(tmp_path), verbose=False)
    assert result.saved_metrics["accuracy"] > 0.9, result.record  # chance is 0.10
    assert result.saved_metrics["loss"] < 0.5
    assert result.record["saved_model_scored_on"] == "validation images"
    assert result.model_path.exists() and result.record_path.exists()
    assert json.loads(result.record_path.read_text())["parameters"]["CNN_WIDTH"] == 8
    assert list(result.histories) == ["cnn"] and len(result.histories["cnn"]) == 3


@pytest.mark.slow
@pytest.mark.parametrize("epochs", [1, 2, 30])
def test_the_saved_model_is_at_least_as_good_as_its_last_weights_at_any_length(tmp_path, epochs):
    """Weight averaging and batch norm's statistics adapt to the run: with 8 steps an epoch, 1, 2 and
    30 epochs all save a model as good as plain training's last weights, far above chance (a fixed
    0.999 average over a few hundred steps would keep mostly the untrained start)."""
    scores = {}
    for momentum in (0.0, 0.999):
        recipe = tiny(
            train_size=2000,
            validation_size=2000,
            epochs=epochs,
            batch_size=256,
            cnn_width=24,
            learning_rate=0.004,
            ema_momentum=momentum,
        )
        scores[momentum] = training.train(
            recipe, config.run_paths(tmp_path / str(momentum)), verbose=False
        ).saved_metrics
    floor = {1: 0.75, 2: 0.85, 30: 0.97}[epochs]
    assert scores[0.0]["accuracy"] > floor and scores[0.999]["accuracy"] > floor, scores
    assert scores[0.999]["accuracy"] >= scores[0.0]["accuracy"] - 0.01, scores  # 20 of 2,000 images


def test_weight_averaging_warms_up_and_spans_at_most_a_tenth_of_the_run():
    assert training.averaging_momentum(0, 0.999, 7050) == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    assert training.averaging_momentum(90, 0.999, 7050) == pytest.approx(0.91)
    assert training.averaging_momentum(7049, 0.999, 7050) == pytest.approx(1 - 1 / 705)  # the last tenth
    assert training.averaging_momentum(10**6, 0.99, 10**7) == pytest.approx(0.99)  # never above the asked momentum
    assert training.averaging_momentum(11, 0.999, 12) == pytest.approx(1 - 1 / 1.2)  # 12 steps: about the last one


@pytest.mark.audit
def test_the_recipe_defaults_live_in_the_configuration_alone():
    """Notebook 03's parameters cell (papermill's interface) names every parameter of the recipe and
    leaves its value to TrainConfig (None); 04 reads test pictures with the chosen TTA."""
    declared = papermill.inspect_notebook(str(config.NOTEBOOKS_DIR / "03_training.ipynb"))
    shown = {"OUTPUT_DIR", "CURVES_TABLE", "CURVES_VARIANT"}  # where it writes, and the sweep its curves come from
    settings = {name: value["default"] for name, value in declared.items() if name not in shown}
    assert set(settings) == set(training.TrainConfig.names()) and set(settings.values()) == {"None"}
    assert training.TrainConfig.from_params(dict.fromkeys(settings)) == training.TrainConfig()
    evaluation_defaults = papermill.inspect_notebook(str(config.NOTEBOOKS_DIR / "04_evaluation.ipynb"))
    assert ast.literal_eval(evaluation_defaults["TTA_SHIFTS"]["default"]) == config.TTA_SHIFTS


def test_a_configuration_is_checked_with_messages_that_name_the_parameter(tmp_path):
    with pytest.raises(ParameterError, match="EPOCHS must be a positive number, got -1"):
        training.TrainConfig(epochs=-1)
    with pytest.raises(ParameterError, match="SCHEDULE = 'triangle' is not one of: cosine, constant"):
        training.TrainConfig().replace(SCHEDULE="triangle")
    with pytest.raises(ParameterError, match="unknown training parameter.*EPOCH;"):
        training.TrainConfig.from_params({"EPOCH": 3})
    with pytest.raises(ParameterError, match="BATCH_SIZE must be a whole number"):
        training.TrainConfig(batch_size=12.5)
    assert training.TrainConfig.from_params({"epochs": 2, "EMA_MOMENTUM": 0}).as_params()["EPOCHS"] == 2
    quick = training.TrainConfig.from_yaml(config.PARAMS_DIR / "quick.yaml", epochs=1)
    assert quick.cnn_width == 16 and quick.epochs == 1 and quick.rotation == 5
    smoke = training.TrainConfig.from_yaml(config.PARAMS_DIR / "smoke.yaml")  # names of other notebooks skipped
    assert smoke.train_size == 4000 and smoke.epochs == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("EPOCHS: 0\n")
    with pytest.raises(ParameterError, match="EPOCHS must be a positive number, got 0"):
        training.TrainConfig.from_yaml(bad)


def test_schedule_warms_up_then_decays():
    optimizer = training.make_optimizer("adam", 1e-2, "cosine", total_steps=100)
    schedule = optimizer.learning_rate if callable(optimizer.learning_rate) else optimizer._learning_rate
    rates = [float(schedule(step)) for step in (0, 10, 55, 99)]
    assert rates[0] == pytest.approx(1e-3) and rates[1] == pytest.approx(1e-2)
    assert rates[1] > rates[2] > rates[3] and rates[3] < 2e-3
    with pytest.raises(ValueError, match="cosine"):
        training.make_optimizer("adam", 1e-3, "triangle", 10)


def test_augmentation_moves_ink_but_keeps_it(small):
    x = small[0][:64]
    moved = augment.make_augmentation(15, 0.1, 0.1)(x, training=True).numpy()
    assert moved.shape == x.shape
    assert np.abs(moved - x).mean() > 0.02  # something moved
    assert abs(moved.sum() / x.sum() - 1) < 0.25  # but the digits are still there
    assert augment.make_augmentation(0, 0, 0) is None


@pytest.mark.slow
def test_training_resumes_after_an_interruption(tmp_path, capsys):
    keras = runtime.keras()
    paths = config.run_paths(tmp_path)
    recipe = tiny(cnn_width=4, train_size=1000, epochs=4, batch_size=100)

    class Killed(Exception):
        pass

    class KillAfterSecondEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise Killed()

    with pytest.raises(Killed):
        training.train(recipe, paths, callbacks=[KillAfterSecondEpoch()])
    first = capsys.readouterr().out
    assert "epoch   2/4" in first and "epoch   3/4" not in first
    assert not paths.model_file("cnn").exists()
    # the weight average was saved with the backup, at the step the backup holds (2 epochs of 10)
    with np.load(paths.logs / "cnn-backup" / "weight-average.npz") as saved:
        assert int(saved["step"]) == 20 and len(saved.files) > 1
    result = training.train(recipe, paths)
    second = capsys.readouterr().out
    assert "Resuming from the backup" in second
    assert "epoch   1/4" not in second and "epoch   3/4" in second and "epoch   4/4" in second
    history = training.read_history(paths, "cnn")
    assert history["epoch"].tolist() == [0, 1, 2, 3] and result.record["epochs_trained"] == 4
    assert "learning_rate" in history and paths.model_file("cnn").exists()
    assert not (paths.logs / "cnn-backup").exists()  # removed after a complete run


@pytest.mark.slow
@pytest.mark.parametrize("patience, epochs_run", [(1, 2), (None, 4)])
def test_early_stopping_only_when_patience_is_given(small, tmp_path, patience, epochs_run):
    """A learning rate of zero never lowers the validation loss: patience 1 stops after two epochs,
    while None (a cosine schedule, run to its end) trains every epoch."""
    x, y, x_eval, y_eval = small
    paths = config.run_paths(tmp_path).make()
    model = models.simple_convnet()  # no batch norm, whose running statistics would move the loss
    training.compile_model(model, training.make_optimizer("adam", 0.0, "constant", 1))
    callbacks = training.callbacks_for(paths, "frozen", epochs=4, patience=patience, tensorboard=False)
    model.fit(
        x[:500], y[:500], validation_data=(x_eval, y_eval), epochs=4, batch_size=100, verbose=0, callbacks=callbacks
    )
    assert len(training.read_history(paths, "frozen")) == epochs_run


@pytest.mark.slow
def test_weight_averaging_lands_in_the_model_when_fit_ends(small):
    """With EMA the model ends between its start and where plain training takes it, and still learns."""
    x, y, x_eval, y_eval = small
    trained = {}
    for momentum in (0.0, 0.9):
        runtime.set_seeds(0)
        model = models.cnn(width=8, dense=32)
        start = [np.array(w) for w in model.trainable_weights]
        training.compile_model(model, training.make_optimizer("adam", 3e-3, "constant", 60))
        averaging = [training.weight_average(momentum, 60)] if momentum else []
        model.fit(x, y, batch_size=100, epochs=2, verbose=0, callbacks=averaging)
        distance = sum(float(np.sum((np.array(w) - s) ** 2)) for w, s in zip(model.trainable_weights, start))
        accuracy = evaluation.accuracy_and_loss(model.predict(x_eval, verbose=0), y_eval)["accuracy"]
        trained[momentum] = distance, accuracy
    assert trained[0.9][0] < 0.95 * trained[0.0][0]  # averaged with earlier, nearer weights
    assert trained[0.9][1] > 0.85 and trained[0.0][1] > 0.85


@pytest.mark.slow
def test_without_keep_best_the_callbacks_save_nothing(small, tmp_path):
    """A decaying schedule is run to its end: no checkpoint picks an epoch, no early stop."""
    x, y, x_eval, y_eval = small
    paths = config.run_paths(tmp_path).make()
    model = models.cnn(width=4, dense=0)
    training.compile_model(model, training.make_optimizer("adam", 3e-3, "cosine", 30))
    callbacks = training.callbacks_for(paths, "last", epochs=3, patience=1, keep_best=False, tensorboard=False)
    assert not [c for c in callbacks if type(c).__name__ in ("ModelCheckpoint", "EarlyStopping")]
    model.fit(
        x[:1000], y[:1000], validation_data=(x_eval, y_eval), epochs=3, batch_size=100, verbose=0, callbacks=callbacks
    )
    assert len(training.read_history(paths, "last")) == 3 and not paths.model_file("last").exists()


@pytest.mark.slow
def test_mirrored_strategy_trains_on_two_logical_cpus():
    script = textwrap.dedent(
        """
        import json, tempfile
        from digitlib import config, runtime, training
        tf = runtime.import_tensorflow()
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        recipe = training.TrainConfig(strategy="mirrored", cnn_width=4, train_size=2048, epochs=2, tensorboard=False)
        result = training.train(recipe, config.run_paths(tempfile.mkdtemp()), verbose=False)
        history = result.histories["cnn"]
        print(json.dumps({"replicas": training.get_strategy("mirrored").num_replicas_in_sync,
                          "loss": history["loss"].tolist(), "saved": result.saved_metrics}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert np.isfinite(report["loss"]).all() and report["loss"][1] < report["loss"][0]
    assert report["saved"]["accuracy"] > 0.5, report  # batch norm recalibrated under the strategy too


def test_accuracy_loss_confusions_and_calibration():
    labels = np.array([0, 1, 2, 2, 1])
    probabilities = np.full((5, 10), 0.01)
    for row, predicted in enumerate([0, 1, 2, 1, 2]):
        probabilities[row, predicted] = 0.91
    metrics = evaluation.accuracy_and_loss(probabilities, labels)
    assert metrics["accuracy"] == pytest.approx(0.6)
    assert metrics["loss"] == pytest.approx(-(3 * np.log(0.91) + 2 * np.log(0.01)) / 5)
    counts = evaluation.confusion(labels, probabilities.argmax(1))
    assert counts.sum() == 5 and counts[2, 1] == 1 and counts[1, 2] == 1
    assert evaluation.most_confused_pairs(counts) == [(2, 1, 1), (1, 2, 1)] or evaluation.most_confused_pairs(
        counts
    ) == [(1, 2, 1), (2, 1, 1)]
    bins = evaluation.reliability(probabilities, labels, edges=10)
    assert bins["counts"].sum() == 5 and bins["ece"] == pytest.approx(abs(0.91 - 0.6))
    table = evaluation.classification_table(labels, probabilities.argmax(1))
    assert {"macro avg", "weighted avg", "0", "1", "2"} <= set(table.index)
    assert table.loc["0", "f1-score"] == 1.0 and table.loc["1", "recall"] == 0.5


def test_a_perfectly_calibrated_model_has_near_zero_ece():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, 20000)
    labels = np.zeros(20000, dtype=int)
    correct = rng.uniform(size=20000) < confidence
    probabilities = np.zeros((20000, 10))
    probabilities[np.arange(20000), np.where(correct, 0, 1)] = confidence
    probabilities[np.arange(20000), np.where(correct, 1, 0)] = 1 - confidence
    assert evaluation.reliability(probabilities, labels, edges=10)["ece"] < 0.01
    # made overconfident (temperature 0.5), temperature scaling finds the way back
    sharpened = evaluation.with_temperature(probabilities, 0.5)
    assert (sharpened.argmax(1) == probabilities.argmax(1)).all() and np.allclose(sharpened.sum(1), 1, atol=1e-5)
    assert evaluation.reliability(sharpened, labels)["ece"] > 0.05
    temperature = evaluation.fit_temperature(sharpened, labels)
    assert temperature == pytest.approx(2.0, rel=0.05)
    assert evaluation.reliability(evaluation.with_temperature(sharpened, temperature), labels)["ece"] < 0.01


@pytest.mark.slow
def test_an_ensemble_averages_its_members_probabilities(small, tmp_path):
    x_eval = small[2]
    paths = config.run_paths(tmp_path)
    result = training.train(
        tiny(cnn_width=4, train_size=500, epochs=1, ensemble=2, model_name="pair"), paths, verbose=False
    )
    keras = runtime.keras()
    files = [paths.model_file(name) for name in ("pair-member1", "pair-member2")]
    expected = np.mean([keras.models.load_model(f).predict(x_eval[:50], verbose=0) for f in files], axis=0)
    ensemble = result.load_model()
    np.testing.assert_allclose(ensemble.predict(x_eval[:50], verbose=0), expected, atol=1e-5)
    assert result.record["members"] == ["pair-member1", "pair-member2"] and result.record["epochs_trained"] == 2
    assert training.member_names("cnn", 1) == ["cnn"] and training.member_names("cnn", 2) == [
        "cnn-member1",
        "cnn-member2",
    ]
    assert models.multiply_adds(ensemble) == 2 * models.multiply_adds(models.cnn(width=4))
    # the interface reads an ensemble as it is (no temperature), its energy the members' mean
    from digitlib.pictures.predict import Predictor

    whole, members = Predictor(result.model_path), [Predictor(f, temperature=1.0) for f in files]
    picture = (x_eval[0, ..., 0] * 255).astype(np.uint8)
    read, each = whole.predict(picture), [member.predict(picture) for member in members]
    assert whole.temperature == 1.0
    np.testing.assert_allclose(read.probabilities, np.mean([p.probabilities for p in each], axis=0), atol=1e-5)
    assert read.energy == pytest.approx(np.mean([p.energy for p in each]), rel=1e-5)


@pytest.mark.audit
def test_the_shipped_model_is_the_rendered_default_run_as_inference_weights():
    """models/cnn.keras travels with the repository so the interface works after a clone: the
    default recipe's model (its run record says so), without optimizer state, loadable in safe
    mode, and the very file whose score the record holds."""
    record = json.loads((config.MODELS_DIR / "cnn-run.json").read_text())
    recipe = training.TrainConfig.from_params(record["parameters"])
    assert recipe == training.TrainConfig()
    path = config.MODELS_DIR / "cnn.keras"
    assert path.stat().st_size < 1_000_000  # the weights are 165,122 floats; the optimizer's state would triple it
    model = runtime.keras().models.load_model(path, compile=False, safe_mode=True)
    assert model.count_params() == record["architecture"]["parameters"] and not getattr(model, "optimizer", None)
    x, y = training.split_data(recipe).reference
    score = evaluation.accuracy_and_loss(evaluation.predict_probabilities(model, x), y)
    assert score["accuracy"] == pytest.approx(record["saved_model_metrics"]["accuracy"], abs=1e-4)
