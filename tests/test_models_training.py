"""Architectures, training helpers and evaluation metrics, on real (small) MNIST slices."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from digitlib import augment, config, data, evaluation, models, runtime, training


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


def test_a_tiny_cnn_learns_mnist(small):
    x, y, x_eval, y_eval = small
    runtime.set_seeds(0)
    model = models.cnn(width=8, dense=32)
    training.compile_model(model, training.make_optimizer("adam", 3e-3, "constant", total_steps=1))
    model.fit(x, y, batch_size=128, epochs=3, verbose=0)
    metrics = evaluation.accuracy_and_loss(model.predict(x_eval, verbose=0), y_eval)
    assert metrics["accuracy"] > 0.9, metrics  # chance is 0.10; measured 0.935
    assert metrics["loss"] < 0.5


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
    augment = augment.make_augmentation(15, 0.1, 0.1)
    moved = augment(x, training=True).numpy()
    assert moved.shape == x.shape
    assert np.abs(moved - x).mean() > 0.02  # something moved
    assert abs(moved.sum() / x.sum() - 1) < 0.25  # but the digits are still there
    assert augment.make_augmentation(0, 0, 0) is None


def test_training_resumes_after_an_interruption(small, tmp_path, capsys):
    import keras

    x, y, x_eval, y_eval = small
    paths = config.run_paths(tmp_path).make()

    class Killed(Exception):
        pass

    class KillAfterSecondEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise Killed()

    def session(extra):
        runtime.set_seeds(0)
        model = models.cnn(width=4, dense=0)
        training.compile_model(model, training.make_optimizer("adam", 3e-3, "constant", 1))
        callbacks = training.callbacks_for(paths, "tiny", epochs=4, patience=10, tensorboard=False) + extra
        model.fit(x[:1000], y[:1000], validation_data=(x_eval, y_eval), epochs=4, batch_size=100, verbose=0, callbacks=callbacks)

    with pytest.raises(Killed):
        session([KillAfterSecondEpoch()])
    first = capsys.readouterr().out
    assert "epoch   2/4" in first and "epoch   3/4" not in first
    session([])
    second = capsys.readouterr().out
    assert "Resuming from the backup" in second
    assert "epoch   1/4" not in second and "epoch   3/4" in second and "epoch   4/4" in second
    history = training.read_history(paths, "tiny")
    assert history["epoch"].tolist() == [0, 1, 2, 3]
    assert "learning_rate" in history and paths.model_file("tiny").exists()
    assert not (paths.logs / "tiny-backup").exists()  # removed after a complete run


@pytest.mark.parametrize("patience, epochs_run", [(1, 2), (None, 4)])
def test_early_stopping_only_when_patience_is_given(small, tmp_path, patience, epochs_run):
    """A learning rate of zero never lowers the validation loss: patience 1 stops after two epochs,
    while None (a cosine schedule, run to its end) trains every epoch."""
    x, y, x_eval, y_eval = small
    paths = config.run_paths(tmp_path).make()
    model = models.simple_convnet()  # no batch norm, whose running statistics would move the loss
    training.compile_model(model, training.make_optimizer("adam", 0.0, "constant", 1))
    callbacks = training.callbacks_for(paths, "frozen", epochs=4, patience=patience, tensorboard=False)
    model.fit(x[:500], y[:500], validation_data=(x_eval, y_eval), epochs=4, batch_size=100, verbose=0, callbacks=callbacks)
    assert len(training.read_history(paths, "frozen")) == epochs_run


def test_weight_averaging_lands_in_the_model_when_fit_ends(small):
    """With EMA the model ends between its start and where plain training takes it, and still learns."""
    x, y, x_eval, y_eval = small
    trained = {}
    for momentum in (0.0, 0.9):
        runtime.set_seeds(0)
        model = models.cnn(width=8, dense=32)
        start = [np.array(w) for w in model.trainable_weights]
        training.compile_model(model, training.make_optimizer("adam", 3e-3, "constant", 1, ema_momentum=momentum))
        model.fit(x, y, batch_size=100, epochs=2, verbose=0)
        distance = sum(float(np.sum((np.array(w) - s) ** 2)) for w, s in zip(model.trainable_weights, start))
        accuracy = evaluation.accuracy_and_loss(model.predict(x_eval, verbose=0), y_eval)["accuracy"]
        trained[momentum] = distance, accuracy
    assert trained[0.9][0] < 0.95 * trained[0.0][0]  # averaged with earlier, nearer weights (measured 0.84x)
    assert trained[0.9][1] > 0.85 and trained[0.0][1] > 0.85


def test_without_keep_best_the_callbacks_save_nothing(small, tmp_path):
    """A decaying schedule is run to its end: no checkpoint picks an epoch, no early stop."""
    x, y, x_eval, y_eval = small
    paths = config.run_paths(tmp_path).make()
    model = models.cnn(width=4, dense=0)
    training.compile_model(model, training.make_optimizer("adam", 3e-3, "cosine", 30))
    callbacks = training.callbacks_for(paths, "last", epochs=3, patience=1, keep_best=False, tensorboard=False)
    assert not [c for c in callbacks if type(c).__name__ in ("ModelCheckpoint", "EarlyStopping")]
    model.fit(x[:1000], y[:1000], validation_data=(x_eval, y_eval), epochs=3, batch_size=100, verbose=0, callbacks=callbacks)
    assert len(training.read_history(paths, "last")) == 3 and not paths.model_file("last").exists()


def test_mirrored_strategy_trains_on_two_logical_cpus():
    script = textwrap.dedent(
        """
        import json
        from digitlib import config, data, models, training
        tf = runtime.import_tensorflow()
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        strategy = training.get_strategy("mirrored")
        (x, y), _ = data.load_mnist(fetch=False)
        with strategy.scope():
            model = models.cnn(width=4, dense=0)
            training.compile_model(model, training.make_optimizer("adam", 3e-3, "constant", 1))
        history = model.fit(data.make_dataset(x[:2048], y[:2048], 256), epochs=2, verbose=0)
        print(json.dumps({"replicas": strategy.num_replicas_in_sync, "loss": history.history["loss"]}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert np.isfinite(report["loss"]).all() and report["loss"][1] < report["loss"][0]


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
    assert evaluation.most_confused_pairs(counts) == [(2, 1, 1), (1, 2, 1)] or evaluation.most_confused_pairs(counts) == [(1, 2, 1), (2, 1, 1)]
    bins = evaluation.reliability(probabilities, labels, bins=10)
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
    assert evaluation.reliability(probabilities, labels, bins=10)["ece"] < 0.01


def test_an_ensemble_averages_its_members_probabilities(small, tmp_path):
    x, y, x_eval, _ = small
    files = []
    for seed in (0, 1):
        runtime.set_seeds(seed)
        member = models.cnn(width=4, dense=0)
        training.compile_model(member, training.make_optimizer("adam", 3e-3, "constant", 1))
        member.fit(x[:500], y[:500], epochs=1, batch_size=100, verbose=0)
        files.append(tmp_path / f"member{seed}.keras")
        member.save(files[-1])
    ensemble = models.average_models(files, "pair")
    ensemble.save(tmp_path / "pair.keras")
    import keras

    reloaded = keras.models.load_model(tmp_path / "pair.keras")
    expected = np.mean([keras.models.load_model(f).predict(x_eval[:50], verbose=0) for f in files], axis=0)
    np.testing.assert_allclose(reloaded.predict(x_eval[:50], verbose=0), expected, atol=1e-5)
    assert training.member_names("cnn", 1) == ["cnn"] and training.member_names("cnn", 2) == ["cnn-member1", "cnn-member2"]
    assert models.multiply_adds(ensemble) == 2 * models.multiply_adds(models.cnn(width=4, dense=0))
