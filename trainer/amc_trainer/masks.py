"""Box masks (docs/reference.md §2): clamp a ground-truth box the way the reference does and draw it as a 256×256 mask.

Clamp x1,y1 to [0, w−1]/[0, h−1] and x2,y2 to [1, w]/[1, h], then int(); mask[y1:y2, x1:x2] = 1 at the
original resolution (end-exclusive), resized to 256×256 with OpenCV's INTER_NEAREST index rule
`min(n−1, floor(i·(1/(256/n))))` in float64 (docs/reference.md §2 step 6). Degenerate boxes are redrawn while the
annotation has more than one box.
"""
from __future__ import annotations

import random
from typing import Sequence, Tuple

import numpy as np
import torch

MASK_SIZE = 256  # docs/reference.md §0: the box mask is always 256×256, whatever the image resolution


def opencv_nearest_indices(src_size: int, dst_size: int = MASK_SIZE) -> np.ndarray:
    """Source index of each destination index under cv2.resize INTER_NEAREST: min(n−1, floor(i·(1/(d/n))))."""
    scale = 1.0 / (float(dst_size) / float(src_size))  # float64, in OpenCV's order of operations
    idx = np.floor(np.arange(dst_size, dtype=np.float64) * scale).astype(np.int64)
    return np.minimum(idx, src_size - 1)


def clamp_box(box: Sequence[float], width: int, height: int) -> Tuple[int, int, int, int]:
    """The reference's clamp then int() (truncation): x1∈[0,w−1], y1∈[0,h−1], x2∈[1,w], y2∈[1,h]."""
    x1, y1, x2, y2 = box
    x1 = min(width - 1, max(0, x1))
    y1 = min(height - 1, max(0, y1))
    x2 = min(width, max(1, x2))
    y2 = min(height, max(1, y2))
    return int(x1), int(y1), int(x2), int(y2)


def _degenerate(b: Tuple[int, int, int, int]) -> bool:
    return b[0] >= b[2] or b[1] >= b[3]


def draw_box(boxes: Sequence[Sequence[float]], width: int, height: int,
             rng: random.Random) -> Tuple[int, int, int, int]:
    """One random box, clamped, with the reference's redraw of degenerate boxes (see `settle_box`)."""
    return settle_box(rng.choice(boxes), boxes, width, height, rng)


def settle_box(first: Sequence[float], boxes: Sequence[Sequence[float]], width: int, height: int,
               rng: random.Random) -> Tuple[int, int, int, int]:
    """Clamp the drawn box; while it is degenerate and the annotation holds more than one box, redraw.

    The reference loops forever when every box is degenerate; we stop when no usable box exists, and the
    (degenerate) box then gives an empty mask, as the reference's single-box case does.
    """
    box = clamp_box(first, width, height)
    if len(boxes) > 1 and _degenerate(box):
        if all(_degenerate(clamp_box(b, width, height)) for b in boxes):
            return box
        while _degenerate(box):
            box = clamp_box(rng.choice(boxes), width, height)
    return box


def box_mask(box: Tuple[int, int, int, int], width: int, height: int, size: int = MASK_SIZE) -> torch.Tensor:
    """mask[y1:y2, x1:x2] = 1 at width×height, nearest-resized to size×size as cv2 does (float {0,1})."""
    x1, y1, x2, y2 = box
    rows = opencv_nearest_indices(height, size)
    cols = opencv_nearest_indices(width, size)
    inside_rows = (rows >= y1) & (rows < y2)
    inside_cols = (cols >= x1) & (cols < x2)
    return torch.from_numpy(np.outer(inside_rows, inside_cols).astype(np.float32))
