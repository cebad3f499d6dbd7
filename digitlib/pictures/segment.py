"""Taking a picture of several digits apart: its parts (connected ink, left to right), the
columns where a part of touching digits may be cut, and a part as one line for the number reader.

`number_parts(image)` finds the parts; `line_from_ink` brings a part of touching digits to the
number reader's input (`to_line` a whole picture); `cut_columns` and `piece_stages` serve to cut
such a part apart when there is no reader (`predict.Predictor.read_number` chooses the cuts).
Nothing here runs a model.
"""

from __future__ import annotations

import numpy as np

from digitlib.pictures import preprocess


def number_parts(image, min_part: float = 0.15) -> tuple[np.ndarray, bool, list[np.ndarray]]:
    """The parts of a picture of several digits, left to right: the picture in grey, whether it was
    dark on light, and one ink image (the picture's size) per part.

    Ink is grouped into connected components (after a slight dilation that joins broken
    strokes); specks much smaller than the largest part are dropped, and parts that overlap
    horizontally (the two strokes of a 4 or the cap of a 5) are merged into one. A part is one
    digit, or several whose strokes touch (`cut_columns` and the predictor take those apart)."""
    from scipy import ndimage

    grey = preprocess.working_grey(image)
    ink, inverted = preprocess.ink_image(grey)
    mask = ink > preprocess.INK_THRESHOLD
    if mask.sum() < preprocess.MIN_INK_PIXELS:
        return grey, inverted, []
    joined = ndimage.binary_dilation(mask, iterations=max(1, max(mask.shape) // 100))
    labels, count = ndimage.label(joined)
    boxes = ndimage.find_objects(labels)
    sizes = ndimage.sum(mask, labels, index=range(1, count + 1))
    parts = [
        (box, i + 1)
        for i, box in enumerate(boxes)
        if sizes[i] >= min_part * max(sizes) * 0.25 and sizes[i] >= preprocess.MIN_INK_PIXELS / 2
    ]
    parts.sort(key=lambda part: part[0][1].start)
    groups: list[list] = []
    for box, label in parts:
        if groups:
            last_start, last_stop = groups[-1][0], groups[-1][1]
            overlap = min(last_stop, box[1].stop) - max(last_start, box[1].start)
            if overlap > 0.5 * min(last_stop - last_start, box[1].stop - box[1].start):
                groups[-1][0], groups[-1][1] = min(last_start, box[1].start), max(last_stop, box[1].stop)
                groups[-1][2].append(label)
                continue
        groups.append([box[1].start, box[1].stop, [label]])
    return grey, inverted, [np.where(np.isin(labels, members), ink, 0.0).astype(np.float32) for *_, members in groups]


def ink_extent(ink: np.ndarray) -> tuple[int, int, int]:
    """The first and last-plus-one ink column of an ink image, and the height of its ink."""
    mask = ink > preprocess.INK_THRESHOLD
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(cols):
        return 0, 0, 0
    return int(cols[0]), int(cols[-1]) + 1, int(rows[-1] - rows[0] + 1)


def cut_columns(part: np.ndarray, line_height: int) -> list[int]:
    """Columns where a part may be cut into digits whose strokes touch, left to right: every tenth
    of the line's height, at least a fifth of the line's height from the part's ends.

    A regular comb rather than the columns with the least ink: where a 0 touches a 1 the ink per
    column is high, and the thinnest column is the middle of the 0. The predictor keeps the cuts
    whose pieces it reads best."""
    start, stop, _ = ink_extent(part)
    step = max(1, round(line_height / 10))
    margin = max(2, round(0.2 * line_height))
    return list(range(start + margin, stop - margin + 1, step))


def piece_stages(grey: np.ndarray, part: np.ndarray, start: int, stop: int, inverted: bool) -> preprocess.Stages:
    """`preprocess.Stages` for the columns `start` to `stop` of a part's ink: one digit cut out of touching ones."""
    piece = np.zeros_like(part)
    piece[:, start:stop] = part[:, start:stop]
    return preprocess.stages_from_ink(grey, piece, inverted)


# --------------------------------------------------------------------------- a line read whole

LINE_WIDTH = 160  # the number reader's input: the line's ink FIELD pixels high, this many wide
LINE_GAP = 0.3  # blank runs of columns longer than this share of the line's height are shortened to it
LINE_MARGIN = 4  # blank columns before the line's first ink


def line_from_ink(ink: np.ndarray) -> np.ndarray:
    """The number reader's (preprocess.FIELD, LINE_WIDTH) input from white-on-black ink: cropped to the ink,
    long blank runs between digits shortened (so the spacing a writer chose does not matter),
    strokes thickened as for one digit, scaled so the line is `preprocess.BOX` pixels high (or narrower if
    it would not fit the width), from the left margin and centred vertically. All zeros when
    there is no ink."""
    line = np.zeros((preprocess.FIELD, LINE_WIDTH), np.float32)
    mask = ink > preprocess.INK_THRESHOLD
    if mask.sum() < preprocess.MIN_INK_PIXELS:
        return line
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    cropped = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    inked = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].any(axis=0)
    columns = np.arange(cropped.shape[1])
    blank_run = columns - np.maximum.accumulate(np.where(inked, columns, 0))  # blank columns so far in a row
    cropped = cropped[:, blank_run <= max(1, round(LINE_GAP * cropped.shape[0]))]
    cropped = preprocess.thickened(cropped, preprocess.BOX / cropped.shape[0])
    scale = min(preprocess.BOX / cropped.shape[0], (LINE_WIDTH - 2 * LINE_MARGIN) / cropped.shape[1])
    size = (max(1, round(cropped.shape[1] * scale)), max(1, round(cropped.shape[0] * scale)))
    boxed = np.clip(preprocess.resize(cropped, size), 0, 1)
    top = (preprocess.FIELD - boxed.shape[0]) // 2
    line[top : top + boxed.shape[0], LINE_MARGIN : LINE_MARGIN + boxed.shape[1]] = boxed
    return line


def to_line(image) -> np.ndarray:
    """The number reader's input for a picture of a number (any input `read_image` takes)."""
    return line_from_ink(preprocess.ink_image(preprocess.working_grey(image))[0])
