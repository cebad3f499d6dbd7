"""Pictures that are not digits, made the way a drawing pad receives them: letters and symbols as pen
strokes, shapes and scribbles, on the pad's canvas, white ink on black. The source a model learns
"not a digit" from (`training_outliers`), and apart from it a measuring set of hand-made strokes of
other letters and symbols (`drawn_non_digits`) that nothing trains or chooses on.

Letters that are digits when drawn (O, o, I, l, S, s, Z, z, B, b, g, q and G) are left out: a
drawn O is a fair 0. So are circles and ellipses.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from digitlib.pictures.preprocess import CANVAS_SIZE, PEN_WIDTH, strokes_to_image

# Letters and symbols that no one reads as a digit
GLYPHS = "ACEFHKLMNPRTUVWXYadefhkmnprtuvwxy#@&%+*?!$"
GLYPH_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "cmss10.ttf")

Stroke = list[tuple[float, float]]


@functools.lru_cache(maxsize=64)
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    import matplotlib

    return ImageFont.truetype(f"{matplotlib.get_data_path()}/fonts/ttf/{name}", size)


def elastic(image: np.ndarray, rng: np.random.Generator, alpha: float = 400.0, sigma: float = 14.0) -> np.ndarray:
    """`image` warped by a smooth random displacement field (Simard et al., 2003), as a hand wobbles.
    The field is drawn on a grid eight times coarser and enlarged, far quicker. Smoothed on that grid,
    the noise varies eight times as much as on the full one, hence the displacement divided by eight:
    the same field as drawn at full size."""
    from scipy.ndimage import gaussian_filter, map_coordinates, zoom

    shape = image.shape
    coarse = (-(-shape[0] // 8), -(-shape[1] // 8))
    dx, dy = (
        zoom(gaussian_filter(rng.uniform(-1, 1, coarse), sigma / 8) * alpha / 8, 8, order=1)[: shape[0], : shape[1]]
        for _ in range(2)
    )
    rows, cols = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    warped = map_coordinates(image.astype(np.float32), [rows + dy, cols + dx], order=1, mode="constant")
    return np.clip(warped, 0, 255).astype(np.uint8)


def glyph_picture(glyph: str, rng: np.random.Generator, size: int = CANVAS_SIZE) -> np.ndarray:
    """One letter or symbol of a font, rendered about as thick as the pad's pen draws, placed, turned
    and warped at random on a `size` canvas (uint8, white on black)."""
    from scipy.ndimage import grey_dilation, grey_erosion

    # font sizes in steps of ten pixels, so that a few loaded fonts serve every picture
    font = _font(GLYPH_FONTS[rng.integers(len(GLYPH_FONTS))], 10 * round(size * rng.uniform(0.055, 0.08)))
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    left, top, right, bottom = draw.textbbox((0, 0), glyph, font=font)
    x = (size - (right - left)) / 2 - left + rng.uniform(-0.08, 0.08) * size
    y = (size - (bottom - top)) / 2 - top + rng.uniform(-0.08, 0.08) * size
    draw.text((x, y), glyph, fill=255, font=font)
    canvas = canvas.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BILINEAR)
    image = np.asarray(canvas)
    change = int(rng.integers(-2, 4))  # thinner or thicker than the font, as pens differ
    if change > 0:
        image = grey_dilation(image, size=(2 * change + 1, 2 * change + 1))
    elif change < 0:
        image = grey_erosion(image, size=(-2 * change + 1, -2 * change + 1))
    return elastic(image, rng)


def _jitter(strokes: list[Stroke], rng: np.random.Generator, size: int, wobble: float = 0.02) -> list[Stroke]:
    """Unit-box strokes placed on a `size` canvas at a random scale and spot, each point moved a little."""
    scale = size * rng.uniform(0.5, 0.8)
    x0, y0 = (size - scale) / 2 + rng.uniform(-0.1, 0.1, 2) * size
    squash = rng.uniform(0.75, 1.25)
    return [
        [
            (x0 + (x + rng.normal(0, wobble)) * scale * squash, y0 + (y + rng.normal(0, wobble)) * scale)
            for x, y in stroke
        ]
        for stroke in strokes
    ]


def _arc(cx: float, cy: float, r: float, start: float, end: float, points: int = 16) -> Stroke:
    angles = np.linspace(np.radians(start), np.radians(end), points)
    return [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in angles]


def _star(rng: np.random.Generator) -> list[Stroke]:
    corners = [(0.5 + 0.5 * np.sin(2 * np.pi * k * 2 / 5), 0.5 - 0.5 * np.cos(2 * np.pi * k * 2 / 5)) for k in range(6)]
    return [corners]


def _heart(rng: np.random.Generator) -> list[Stroke]:
    t = np.linspace(0, 2 * np.pi, 40)
    x, y = 16 * np.sin(t) ** 3, 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    return [list(zip(0.5 + x / 34, 0.45 - y / 34))]


def _smiley(rng: np.random.Generator) -> list[Stroke]:
    return [
        _arc(0.5, 0.5, 0.5, 0, 360, 32),
        [(0.35, 0.35), (0.36, 0.38)],
        [(0.65, 0.35), (0.66, 0.38)],
        _arc(0.5, 0.55, 0.25, 20, 160),
    ]


def _arrow(rng: np.random.Generator) -> list[Stroke]:
    return [[(0.0, 0.5), (1.0, 0.5)], [(0.7, 0.25), (1.0, 0.5), (0.7, 0.75)]]


def _check(rng: np.random.Generator) -> list[Stroke]:
    return [[(0.0, 0.55), (0.35, 0.95), (1.0, 0.05)]]


def _cross(rng: np.random.Generator) -> list[Stroke]:
    return [[(0.0, 0.0), (1.0, 1.0)], [(1.0, 0.0), (0.0, 1.0)]]


def _plus(rng: np.random.Generator) -> list[Stroke]:
    return [[(0.5, 0.0), (0.5, 1.0)], [(0.0, 0.5), (1.0, 0.5)]]


def _triangle(rng: np.random.Generator) -> list[Stroke]:
    return [[(0.5, 0.0), (1.0, 0.95), (0.0, 0.95), (0.5, 0.0)]]


def _square(rng: np.random.Generator) -> list[Stroke]:
    return [[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)]]


def _house(rng: np.random.Generator) -> list[Stroke]:
    return [[(0.1, 0.45), (0.1, 1.0), (0.9, 1.0), (0.9, 0.45)], [(0.0, 0.5), (0.5, 0.0), (1.0, 0.5)]]


def _spiral(rng: np.random.Generator) -> list[Stroke]:
    t = np.linspace(0, 2 * np.pi * rng.uniform(2, 3.5), 60)
    r = 0.5 * t / t[-1]
    return [list(zip(0.5 + r * np.cos(t), 0.5 + r * np.sin(t)))]


def _scribble(rng: np.random.Generator) -> list[Stroke]:
    points = np.cumsum(rng.normal(0, 0.12, (int(rng.integers(12, 30)), 2)), axis=0)
    points = (points - points.min(0)) / np.maximum(np.ptp(points, 0), 1e-6)
    return [[(float(x), float(y)) for x, y in points]]


def _zigzag(rng: np.random.Generator) -> list[Stroke]:
    turns = int(rng.integers(3, 7))
    return [[(k / turns, float(k % 2)) for k in range(turns + 1)]]


SHAPES: dict[str, Callable[[np.random.Generator], list[Stroke]]] = {
    "star": _star,
    "heart": _heart,
    "smiley": _smiley,
    "arrow": _arrow,
    "check": _check,
    "cross": _cross,
    "plus": _plus,
    "triangle": _triangle,
    "square": _square,
    "house": _house,
    "spiral": _spiral,
    "scribble": _scribble,
    "zigzag": _zigzag,
}


def shape_picture(name: str, rng: np.random.Generator, size: int = CANVAS_SIZE) -> np.ndarray:
    """One shape drawn with the pad's pen (a width near `PEN_WIDTH`), placed and wobbled at random."""
    strokes = _jitter(SHAPES[name](rng), rng, size)
    if rng.random() < 0.5:  # turned, as people draw arrows and crosses any way round
        angle = rng.uniform(-np.pi, np.pi)
        c, s, mid = np.cos(angle), np.sin(angle), size / 2
        strokes = [
            [(mid + c * (x - mid) - s * (y - mid), mid + s * (x - mid) + c * (y - mid)) for x, y in st]
            for st in strokes
        ]
    return strokes_to_image(strokes, size, int(PEN_WIDTH * rng.uniform(0.7, 1.4)))


def as_pen_strokes(digit: np.ndarray, size: int = CANVAS_SIZE) -> np.ndarray:
    """An MNIST digit as the pad would draw it: enlarged to the canvas and inked solid (no grey pencil
    texture), so that a model learns digits from shapes, not from how MNIST was scanned."""
    enlarged = np.asarray(Image.fromarray(np.asarray(digit, np.uint8)).resize((size, size), Image.Resampling.BILINEAR))
    return np.where(enlarged > 100, 255, 0).astype(np.uint8)


# Digits as people draw them with a mouse, several ways each, in a unit box (x right, y down):
# positives for a model that learns "not a digit", written apart from `synthetic.DIGIT_STROKES`,
# which measure. Each is drawn either as given (straight segments, as a quick mouse makes them) or
# rounded (`_rounded`), so that corners are not the tell of a non-digit.
PEN_DIGITS: dict[int, list[list[Stroke]]] = {
    0: [
        [[(0.5, 0), (0.15, 0.15), (0.05, 0.5), (0.2, 0.9), (0.5, 1), (0.8, 0.88), (0.95, 0.5), (0.85, 0.12), (0.5, 0)]],
        [_arc(0.5, 0.5, 0.5, -90, 275, 24)],
    ],
    1: [
        [[(0.5, 0), (0.5, 1)]],
        [[(0.25, 0.2), (0.55, 0), (0.55, 1)]],
        [[(0.3, 0.15), (0.55, 0), (0.55, 1)], [(0.3, 1), (0.8, 1)]],
    ],
    2: [
        [[(0.1, 0.2), (0.35, 0), (0.75, 0.02), (0.9, 0.25), (0.75, 0.5), (0.05, 1), (0.95, 0.98)]],
        [[(0.15, 0.1), (0.5, 0), (0.85, 0.15), (0.8, 0.4), (0.1, 1), (0.9, 1)]],
        [
            [
                (0.1, 0.2),
                (0.45, 0),
                (0.85, 0.2),
                (0.6, 0.6),
                (0.2, 0.95),
                (0.1, 0.85),
                (0.3, 0.8),
                (0.6, 0.95),
                (1, 0.95),
            ]
        ],
    ],
    3: [
        [[(0.1, 0.1), (0.5, 0), (0.85, 0.2), (0.5, 0.48), (0.9, 0.7), (0.6, 1), (0.1, 0.9)]],
        [[(0.1, 0), (0.85, 0), (0.4, 0.4), (0.85, 0.6), (0.8, 0.9), (0.45, 1), (0.1, 0.9)]],
    ],
    4: [
        [[(0.3, 0), (0.1, 0.6), (0.9, 0.6)], [(0.7, 0.3), (0.7, 1)]],
        [[(0.6, 0.05), (0.0, 0.7), (0.9, 0.7)], [(0.6, 0.05), (0.65, 1)]],
        [[(0.2, 0), (0.15, 0.5), (0.85, 0.5)], [(0.75, 0), (0.75, 1)]],
    ],
    5: [
        [[(0.85, 0), (0.2, 0), (0.15, 0.45), (0.55, 0.38), (0.9, 0.6), (0.8, 0.92), (0.4, 1), (0.1, 0.88)]],
        [[(0.2, 0), (0.15, 0.45), (0.55, 0.38), (0.9, 0.65), (0.6, 1), (0.1, 0.9)], [(0.2, 0), (0.9, 0)]],
    ],
    6: [
        [
            [
                (0.75, 0),
                (0.35, 0.2),
                (0.1, 0.6),
                (0.2, 0.95),
                (0.55, 1),
                (0.85, 0.8),
                (0.75, 0.55),
                (0.4, 0.5),
                (0.12, 0.7),
            ]
        ],
        [[(0.6, 0), (0.2, 0.5), (0.15, 0.85), (0.5, 1), (0.8, 0.8), (0.6, 0.55), (0.2, 0.65)]],
    ],
    7: [
        [[(0.05, 0.05), (0.9, 0), (0.35, 1)]],
        [[(0.05, 0.05), (0.9, 0), (0.35, 1)], [(0.3, 0.5), (0.8, 0.5)]],
        [[(0.05, 0.15), (0.1, 0), (0.9, 0), (0.45, 1)]],
    ],
    8: [
        [
            [
                (0.5, 0.45),
                (0.2, 0.25),
                (0.5, 0),
                (0.8, 0.22),
                (0.5, 0.45),
                (0.15, 0.72),
                (0.5, 1),
                (0.85, 0.72),
                (0.5, 0.45),
            ]
        ],
        [_arc(0.5, 0.23, 0.23, 0, 360, 16), _arc(0.5, 0.73, 0.27, 0, 360, 16)],
        [[(0.85, 0.1), (0.5, 0), (0.15, 0.2), (0.85, 0.75), (0.5, 1), (0.15, 0.75), (0.85, 0.2)]],
    ],
    9: [
        [[(0.85, 0.25), (0.5, 0.45), (0.15, 0.25), (0.5, 0), (0.85, 0.2), (0.85, 1)]],
        [[(0.85, 0.25), (0.5, 0.45), (0.15, 0.25), (0.5, 0), (0.85, 0.2), (0.8, 0.6), (0.5, 1)]],
        [_arc(0.5, 0.25, 0.25, 0, 360, 16), [(0.75, 0.25), (0.7, 1)]],
    ],
}


def _rounded(stroke: Stroke, passes: int = 3) -> Stroke:
    """A stroke with its corners cut (Chaikin's algorithm), as a slow hand draws curves."""
    points = np.asarray(stroke, float)
    for _ in range(passes):
        if len(points) < 3:
            break
        near, far = 0.75 * points[:-1] + 0.25 * points[1:], 0.25 * points[:-1] + 0.75 * points[1:]
        points = np.concatenate([points[:1], np.stack([near, far], 1).reshape(-1, 2), points[-1:]])
    return [(float(x), float(y)) for x, y in points]


def pen_digit_picture(digit: int, rng: np.random.Generator, size: int = CANVAS_SIZE) -> np.ndarray:
    """One of `PEN_DIGITS`'s ways of drawing `digit`, with the pad's pen (a width near `PEN_WIDTH`),
    straight or rounded, turned a little, placed and wobbled at random."""
    ways = PEN_DIGITS[digit]
    strokes = ways[rng.integers(len(ways))]
    strokes = _jitter(strokes, rng, size, wobble=0.025)
    if rng.random() < 0.5:
        strokes = [_rounded(stroke) for stroke in strokes]
    angle, mid = np.radians(rng.uniform(-12, 12)), size / 2
    c, s = np.cos(angle), np.sin(angle)
    strokes = [
        [(mid + c * (x - mid) - s * (y - mid), mid + s * (x - mid) + c * (y - mid)) for x, y in st] for st in strokes
    ]
    return strokes_to_image(strokes, size, int(PEN_WIDTH * rng.uniform(0.7, 1.4)))


def low_resolution(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit scanned coarsely: shrunk to 7 to 12 pixels a side and enlarged again, as a
    small or blurry picture of a digit arrives."""
    side = int(rng.integers(7, 13))
    image = Image.fromarray(np.asarray(digit, np.uint8))
    small = image.resize((side, side), Image.Resampling.BOX)
    return np.asarray(small.resize((64, 64), Image.Resampling.BILINEAR))


def training_digits(count: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """`count` digits of the fonts, drawn as `glyph_picture` draws letters (thickened, turned, warped),
    and their labels: digits made the same way as the non-digits, so that the way is not the tell."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    return [glyph_picture(str(digit), rng) for digit in labels], labels


def training_pen_digits(count: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """`count` digits drawn with the pad's pen from `PEN_DIGITS` (`pen_digit_picture`) and their labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    return [pen_digit_picture(int(digit), rng) for digit in labels], labels


def training_outliers(count: int, seed: int = 0) -> tuple[list[np.ndarray], list[str]]:
    """`count` non-digit pictures on the pad's canvas, half letters and symbols of fonts, half shapes
    and scribbles, with what each is ('glyph A', 'shape heart')."""
    rng = np.random.default_rng(seed)
    pictures, kinds = [], []
    for index in range(count):
        if index % 2 == 0:
            glyph = GLYPHS[rng.integers(len(GLYPHS))]
            pictures.append(glyph_picture(glyph, rng))
            kinds.append(f"glyph {glyph}")
        else:
            name = list(SHAPES)[rng.integers(len(SHAPES))]
            pictures.append(shape_picture(name, rng))
            kinds.append(f"shape {name}")
    return pictures, kinds


# Letters and symbols as a person draws them with a mouse, in a unit box (x right, y down): the
# measuring set. Nothing trains or chooses on these strokes.
DRAWN: dict[str, list[Stroke]] = {
    "A": [[(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)], [(0.22, 0.6), (0.78, 0.6)]],
    "E": [[(0.9, 0.0), (0.1, 0.0), (0.1, 1.0), (0.9, 1.0)], [(0.1, 0.5), (0.7, 0.5)]],
    "F": [[(0.9, 0.0), (0.1, 0.0), (0.1, 1.0)], [(0.1, 0.5), (0.7, 0.5)]],
    "H": [[(0.1, 0.0), (0.1, 1.0)], [(0.9, 0.0), (0.9, 1.0)], [(0.1, 0.5), (0.9, 0.5)]],
    "K": [[(0.15, 0.0), (0.15, 1.0)], [(0.85, 0.0), (0.15, 0.55), (0.9, 1.0)]],
    "M": [[(0.0, 1.0), (0.1, 0.0), (0.5, 0.6), (0.9, 0.0), (1.0, 1.0)]],
    "N": [[(0.1, 1.0), (0.1, 0.0), (0.9, 1.0), (0.9, 0.0)]],
    "P": [[(0.15, 1.0), (0.15, 0.0), (0.7, 0.0), (0.9, 0.15), (0.9, 0.35), (0.7, 0.5), (0.15, 0.5)]],
    "R": [[(0.15, 1.0), (0.15, 0.0), (0.7, 0.0), (0.9, 0.15), (0.9, 0.35), (0.7, 0.5), (0.15, 0.5), (0.9, 1.0)]],
    "T": [[(0.0, 0.0), (1.0, 0.0)], [(0.5, 0.0), (0.5, 1.0)]],
    "W": [[(0.0, 0.0), (0.25, 1.0), (0.5, 0.35), (0.75, 1.0), (1.0, 0.0)]],
    "X": [[(0.0, 0.0), (1.0, 1.0)], [(1.0, 0.0), (0.0, 1.0)]],
    "Y": [[(0.0, 0.0), (0.5, 0.5), (1.0, 0.0)], [(0.5, 0.5), (0.5, 1.0)]],
    "a": [[(0.85, 0.45), (0.5, 0.3), (0.15, 0.5), (0.15, 0.85), (0.5, 1.0), (0.85, 0.8)], [(0.85, 0.3), (0.85, 1.0)]],
    "e": [[(0.1, 0.65), (0.9, 0.65), (0.8, 0.4), (0.5, 0.3), (0.15, 0.45), (0.1, 0.8), (0.5, 1.0), (0.9, 0.9)]],
    "h": [[(0.15, 0.0), (0.15, 1.0)], [(0.15, 0.55), (0.5, 0.35), (0.85, 0.5), (0.85, 1.0)]],
    "k": [[(0.2, 0.0), (0.2, 1.0)], [(0.8, 0.35), (0.2, 0.7), (0.85, 1.0)]],
    "m": [
        [(0.0, 1.0), (0.0, 0.4), (0.25, 0.3), (0.5, 0.45), (0.5, 1.0)],
        [(0.5, 0.45), (0.75, 0.3), (1.0, 0.45), (1.0, 1.0)],
    ],
    "r": [[(0.25, 0.3), (0.25, 1.0)], [(0.25, 0.55), (0.5, 0.32), (0.85, 0.3)]],
    "w": [[(0.0, 0.3), (0.25, 1.0), (0.5, 0.5), (0.75, 1.0), (1.0, 0.3)]],
    "#": [
        [(0.35, 0.0), (0.25, 1.0)],
        [(0.75, 0.0), (0.65, 1.0)],
        [(0.0, 0.33), (1.0, 0.33)],
        [(0.0, 0.67), (1.0, 0.67)],
    ],
    "+": [[(0.5, 0.05), (0.5, 0.95)], [(0.05, 0.5), (0.95, 0.5)]],
    "heart": [
        [(0.5, 0.3), (0.3, 0.05), (0.05, 0.2), (0.1, 0.5), (0.5, 1.0), (0.9, 0.5), (0.95, 0.2), (0.7, 0.05), (0.5, 0.3)]
    ],
    "star": [[(0.5, 0.0), (0.2, 1.0), (1.0, 0.35), (0.0, 0.35), (0.8, 1.0), (0.5, 0.0)]],
    "triangle": [[(0.5, 0.0), (0.0, 1.0), (1.0, 1.0), (0.5, 0.0)]],
    "arrow": [[(0.0, 0.5), (1.0, 0.5)], [(0.65, 0.2), (1.0, 0.5), (0.65, 0.8)]],
    "check": [[(0.0, 0.6), (0.3, 1.0), (1.0, 0.0)]],
    "house": [[(0.1, 0.4), (0.1, 1.0), (0.9, 1.0), (0.9, 0.4)], [(0.0, 0.45), (0.5, 0.0), (1.0, 0.45)]],
}


def drawn_non_digits(versions: int = 10, seed: int = 1) -> tuple[list[np.ndarray], list[str]]:
    """The measuring set: each of `DRAWN`'s letters and symbols drawn `versions` times with the pad's
    pen, placed and wobbled as a hand would, and what each is."""
    rng = np.random.default_rng(seed)
    pictures, names = [], []
    for name, strokes in DRAWN.items():
        for _ in range(versions):
            pictures.append(strokes_to_image(_jitter(strokes, rng, CANVAS_SIZE, wobble=0.025), CANVAS_SIZE, PEN_WIDTH))
            names.append(name)
    return pictures, names


def drawn_digits(versions: int = 20, seed: int = 7) -> tuple[list[np.ndarray], np.ndarray]:
    """Digits drawn with the pad's pen from the browser test's strokes (`synthetic.DIGIT_STROKES`),
    `versions` wobbled drawings of each, and their labels: drawn digits that nothing trains on."""
    from digitlib.pictures.synthetic import DIGIT_STROKES

    rng = np.random.default_rng(seed)
    pictures, labels = [], []
    for digit, strokes in sorted(DIGIT_STROKES.items()):
        for _ in range(versions):
            pictures.append(strokes_to_image(_jitter(strokes, rng, CANVAS_SIZE, wobble=0.025), CANVAS_SIZE, PEN_WIDTH))
            labels.append(int(digit))
    return pictures, np.array(labels)
