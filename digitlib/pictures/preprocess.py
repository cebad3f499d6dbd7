"""Turn a picture of a digit into the model's 28x28 input, the way MNIST was made.

MNIST digits are white ink on black, size-normalized to fit a 20x20 box (aspect ratio kept,
anti-aliased grey levels) and centred by centre of mass in a 28x28 field. A user's drawing or
photo is brought to that form: decode and check it, flatten alpha and colour to grey, put the ink
in white on black (dark-on-light is detected from the border), remove the background's uneven
lighting and noise, crop to the ink, thicken strokes that downscaling would erase, fit in 20x20,
centre by centre of mass.

`to_mnist(image)` gives the 28x28 float32 array; `preprocess_stages(image)` also the
intermediate images (`Stages`). At the edges of that path: `read_image` decodes any supported
input, `encode_image` is its inverse (a picture as an image file's bytes), and `strokes_to_image`
turns pen strokes on the drawing canvas into a picture. Pictures of several digits are taken
apart in `segment`.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # larger declared sizes are refused before decoding (decompression bombs)
WORKING_SIZE = 192  # pictures are reduced to this many pixels on the long side first
BOX = 20  # MNIST fits each digit in a 20x20 box ...
FIELD = 28  # ... centred by centre of mass in 28x28
INK_THRESHOLD = 0.25  # a pixel is ink when its normalized intensity is above this
MIN_INK_PIXELS = 12  # fewer ink pixels (at the working size) than this: a blank picture
MIN_SIDE = 8  # pictures narrower or lower than this many pixels hold no readable digit
TARGET_STROKE = 2.0  # MNIST strokes are about 2 pixels wide at 20x20 scale, or more
CANVAS_SIZE = 280  # the drawing canvas, 10x the 28x28 field
PEN_WIDTH = 20  # at 280 px, about 2 px after the 10x reduction: as thick as MNIST strokes


class InvalidImageError(ValueError):
    """The input is not an image this module can read; the message says why."""


@dataclass
class Stages:
    """The stages of preprocessing one picture, for display and for decisions downstream."""

    grey: np.ndarray  # the picture as grey levels in [0, 1], as given
    ink: np.ndarray  # white ink on black, background removed, in [0, 1]
    cropped: np.ndarray  # the ink's bounding box (strokes thickened if needed)
    boxed: np.ndarray  # fitted in 20x20, aspect ratio kept
    result: np.ndarray  # 28x28, centred by centre of mass: the model's input
    blank: bool  # no ink worth a prediction
    inverted: bool  # the picture was dark ink on a light background
    ink_pixels: int = 0


# --------------------------------------------------------------------------- decoding and checking


def _open_bytes(data: bytes) -> Image.Image:
    if not data:
        raise InvalidImageError("empty file: no image data")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise InvalidImageError("not an image this program can read (PNG, JPEG, GIF, BMP or WEBP expected)") from None
    except Image.DecompressionBombError as error:
        raise InvalidImageError(f"image too large to decode safely: {error}") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise InvalidImageError(f"cannot read this image: {error}") from None
    return image


def _pil_to_array(image: Image.Image) -> np.ndarray:
    """Decode a PIL image (first frame of an animation) to a float array (H, W) or (H, W, 3/4) in [0, 1]."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise InvalidImageError(f"image too large: {width}x{height} pixels (at most {MAX_PIXELS:,})")
    _check_size(width, height)
    try:
        image.seek(0)
        image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise InvalidImageError(f"cannot decode this image (truncated or damaged?): {error}") from None
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit and 32-bit grey
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        return np.clip(array / top, 0, 1).astype(np.float32)
    if image.mode in ("1", "L"):
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    if image.mode in ("LA", "PA", "RGBA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        return np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0  # CMYK, YCbCr, P, RGB, …


def _check_size(width: int, height: int) -> None:
    if width * height == 0:
        raise InvalidImageError("image has no pixels")
    if min(width, height) < MIN_SIDE:
        raise InvalidImageError(
            f"image too small to hold a digit: {width}x{height} pixels (at least {MIN_SIDE} on each side)"
        )


def _check_array(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.size == 0:
        raise InvalidImageError(f"empty array (shape {array.shape})")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4))):
        raise InvalidImageError(f"expected an array of shape (H, W), (H, W, 3) or (H, W, 4), got {array.shape}")
    if array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise InvalidImageError(f"image too large: {array.shape[1]}x{array.shape[0]} pixels")
    _check_size(array.shape[1], array.shape[0])
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if array.dtype == bool:
        return array.astype(np.float32)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise InvalidImageError(f"expected numbers, got an array of {array.dtype}")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise InvalidImageError("the array contains NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low < 0 or high > 255:
        raise InvalidImageError(f"pixel values must lie in [0, 1] or [0, 255], got {low:g}..{high:g}")
    return array / 255.0 if high > 1.0 else array


def read_image(image) -> np.ndarray:
    """Any supported input as a float32 array in [0, 1]: (H, W) grey, or (H, W, 3/4) colour.

    Accepts encoded bytes (PNG, JPEG, GIF, BMP, WEBP, …), a path, a PIL image, or a NumPy array
    (uint8, uint16, bool or float). Raises InvalidImageError with the reason otherwise."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _pil_to_array(_open_bytes(bytes(image)))
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise InvalidImageError(f"{path}: no such file")
        return _pil_to_array(_open_bytes(path.read_bytes()))
    if isinstance(image, Image.Image):
        return _pil_to_array(image)
    if isinstance(image, np.ndarray):
        return _check_array(image)
    raise InvalidImageError(
        f"unsupported input type {type(image).__name__}: give bytes, a path, a PIL image or an array"
    )


def encode_image(image: np.ndarray | Image.Image, format: str = "PNG", **options) -> bytes:
    """`image` as an image file's bytes, the inverse of `read_image` (what an upload delivers).

    Takes a PIL image or an array: uint8 and uint16 arrays are saved as they are (uint16 gives a
    16-bit PNG), bool and float arrays in [0, 1] as uint8. `options` go to Pillow's `save`
    (for example `quality=85` for JPEG)."""
    if isinstance(image, np.ndarray):
        array = image
        if array.dtype == bool or np.issubdtype(array.dtype, np.floating):
            # Pillow cannot save float ("F") pictures as PNG or JPEG; scale like read_image reads them back
            array = np.round(np.clip(array.astype(np.float32), 0, 1) * 255).astype(np.uint8)
        image = Image.fromarray(array)
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a NumPy array or a PIL image, got {type(image).__name__}")
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def strokes_to_image(
    strokes: list[list[tuple[float, float]]], size: int = CANVAS_SIZE, pen: int = PEN_WIDTH
) -> np.ndarray:
    """Rasterize pen strokes (lists of (x, y) points on a `size` square canvas) to a uint8
    picture, white ink on black, with a round pen `pen` pixels wide."""
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    for stroke in strokes:
        if len(stroke) > 1:
            draw.line([tuple(point) for point in stroke], fill=255, width=pen, joint="curve")
        # Pillow's lines end square: a dot at each end gives the round caps of a real pen (and a
        # single click draws a dot)
        for x, y in stroke[:1] + stroke[-1:]:
            draw.ellipse([x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2], fill=255)
    return np.asarray(canvas)


# --------------------------------------------------------------------------- normalization


def resize(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float image to (width, height) with an area-averaging filter (anti-aliased)."""
    return np.asarray(
        Image.fromarray(array.astype(np.float32), mode="F").resize(
            size, Image.Resampling.BOX if min(size) < min(array.shape[::-1]) else Image.Resampling.BILINEAR
        ),
        dtype=np.float32,
    )


def to_grey(array: np.ndarray) -> np.ndarray:
    """Flatten colour and transparency to grey in [0, 1].

    Transparent pixels become the background: the opposite of the opaque ink's brightness, so
    that a drawing on a transparent canvas keeps its strokes whatever their colour."""
    if array.ndim == 2:
        return array
    rgb, alpha = array[..., :3], (array[..., 3] if array.shape[-1] == 4 else None)
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if alpha is None or alpha.min() > 0.98:
        return grey
    weight = alpha.sum()
    ink_brightness = float((grey * alpha).sum() / weight) if weight > 0 else 0.0
    background = 1.0 if ink_brightness < 0.5 else 0.0
    return grey * alpha + background * (1 - alpha)


def _border(array: np.ndarray) -> np.ndarray:
    width = max(1, min(array.shape) // 16)
    return np.concatenate(
        [array[:width].ravel(), array[-width:].ravel(), array[:, :width].ravel(), array[:, -width:].ravel()]
    )


def _background(ink: np.ndarray, cells: int = 6) -> np.ndarray:
    """A smooth estimate of the background (uneven lighting): a low percentile per cell, interpolated."""
    height, width = ink.shape
    cells = max(1, min(cells, height, width))  # every cell at least one pixel: a thin strip has fewer
    rows = np.linspace(0, height, cells + 1).astype(int)
    cols = np.linspace(0, width, cells + 1).astype(int)
    # one percentile call per shape of cell (at most four), not per cell: on a small picture the
    # calls, not the sorting, are the cost
    by_shape: dict[tuple[int, ...], list[tuple[int, int]]] = {}
    for i in range(cells):
        for j in range(cells):
            by_shape.setdefault((rows[i + 1] - rows[i], cols[j + 1] - cols[j]), []).append((i, j))
    grid = np.empty((cells, cells), np.float32)
    for places in by_shape.values():
        stacked = np.stack([ink[rows[i] : rows[i + 1], cols[j] : cols[j + 1]].ravel() for i, j in places])
        grid[tuple(zip(*places))] = np.percentile(stacked, 30, axis=1)
    # a cell mostly covered by ink would claim the ink as background: cap each cell by its neighbourhood
    padded = np.pad(grid, 1, mode="edge")
    neighbours = np.min(
        [padded[1 + dy : 1 + dy + cells, 1 + dx : 1 + dx + cells] for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0
    )
    grid = np.minimum(grid, neighbours + 0.1)
    return np.asarray(
        Image.fromarray(grid, mode="F").resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32
    )


def _otsu(values: np.ndarray) -> float:
    histogram, edges = np.histogram(values, bins=64, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(histogram)
    mean = np.cumsum(histogram * centres)
    total, total_mean = weight[-1], mean[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = np.nan_to_num((total_mean * weight - mean * total) ** 2 / (weight * (total - weight)))[:-1]
    return float(centres[between.argmax()]) if between.max() > 0 else 0.0


def ink_image(grey: np.ndarray) -> tuple[np.ndarray, bool]:
    """White ink on black with the background removed, normalized so strokes reach 1.

    Returns the ink image and whether the input was dark-on-light (and so was inverted)."""
    inverted = float(np.median(_border(grey))) > 0.5
    ink = 1.0 - grey if inverted else grey.copy()
    ink = np.clip(ink - _background(ink), 0, 1)
    spread = float(ink.max())
    if spread < 0.08:  # no contrast at all: a blank picture
        return np.zeros_like(ink), inverted
    ink = ink / spread
    # noise floor: Otsu's split between background and ink, with a margin towards the background
    floor = 0.5 * _otsu(ink[ink > 0.02]) if (ink > 0.02).sum() > 10 else 0.0
    ink = np.clip((ink - floor) / (1.0 - floor), 0, 1)
    strong = ink[ink > INK_THRESHOLD]
    if strong.size:
        ink = np.clip(ink / max(np.percentile(strong, 90), 1e-3), 0, 1)  # stroke centres to full ink, like MNIST
    return ink, inverted


def _stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of an ink mask: area over half the perimeter."""
    area = mask.sum()
    if area == 0:
        return 0.0
    padded = np.pad(mask, 1)
    edge = mask & ~(padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
    return float(2 * area / max(edge.sum(), 1))


def thickened(cropped: np.ndarray, scale: float) -> np.ndarray:
    """Cropped ink whose strokes would be thinner than `TARGET_STROKE` once resized by `scale`,
    thickened (and cropped again); other ink as it is."""
    width_after = _stroke_width(cropped > INK_THRESHOLD) * scale
    if width_after >= TARGET_STROKE:
        return cropped
    grow = int(round((TARGET_STROKE - width_after) / scale))
    if grow < 1:
        return cropped
    size = 2 * (grow // 2) + 1 if grow > 1 else 3
    padded = np.pad(cropped, size)
    thick = np.asarray(Image.fromarray(padded, mode="F").filter(ImageFilter.MaxFilter(size)), dtype=np.float32)
    keep = thick > INK_THRESHOLD
    r, c = np.flatnonzero(keep.any(1)), np.flatnonzero(keep.any(0))
    return thick[r[0] : r[-1] + 1, c[0] : c[-1] + 1]


def fit_and_centre(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crop to the ink, thicken thin strokes, fit in 20x20 keeping the aspect ratio, centre by centre of
    mass in 28x28. Returns (cropped, boxed, result)."""
    mask = ink > INK_THRESHOLD
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    cropped = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    cropped = thickened(cropped, BOX / max(cropped.shape))
    scale = BOX / max(cropped.shape)
    height, width = cropped.shape
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    boxed = np.clip(resize(cropped, new_size), 0, 1)
    # centre of mass of the boxed digit goes to the centre of the 28x28 field
    total = boxed.sum()
    ys, xs = np.indices(boxed.shape)
    centre_y, centre_x = (ys * boxed).sum() / total, (xs * boxed).sum() / total
    top = int(round(FIELD / 2 - 0.5 - centre_y))
    left = int(round(FIELD / 2 - 0.5 - centre_x))
    top = min(max(top, 0), FIELD - boxed.shape[0])
    left = min(max(left, 0), FIELD - boxed.shape[1])
    result = np.zeros((FIELD, FIELD), dtype=np.float32)
    result[top : top + boxed.shape[0], left : left + boxed.shape[1]] = boxed
    return cropped, boxed, result


def working_grey(image) -> np.ndarray:
    """A picture read, flattened to grey and reduced to `WORKING_SIZE` on its long side."""
    grey = to_grey(read_image(image))
    longest = max(grey.shape)
    if longest > WORKING_SIZE:
        scale = WORKING_SIZE / longest
        grey = resize(grey, (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale))))
    return grey


def stages_from_ink(grey: np.ndarray, ink: np.ndarray, inverted: bool) -> Stages:
    """`Stages` of ink already found in `grey` (white on black, the picture's size)."""
    ink_pixels = int((ink > INK_THRESHOLD).sum())
    if ink_pixels < MIN_INK_PIXELS:
        empty = np.zeros((FIELD, FIELD), np.float32)
        return Stages(grey, ink, empty[:0, :0], empty[:0, :0], empty, True, inverted, ink_pixels)
    cropped, boxed, result = fit_and_centre(ink)
    return Stages(grey, ink, cropped, boxed, result, False, inverted, ink_pixels)


def preprocess_stages(image) -> Stages:
    """Preprocess `image` and keep every stage (see `Stages`)."""
    grey = working_grey(image)
    ink, inverted = ink_image(grey)
    return stages_from_ink(grey, ink, inverted)


def to_mnist(image) -> np.ndarray:
    """The model's 28x28 float32 input (white ink on black, in [0, 1]) for a picture of one digit.
    A blank picture gives all zeros."""
    return preprocess_stages(image).result
