"""Pure array operations on confidence planes and masks; no model, no I/O, testable on synthetic arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def union_confidence(planes: Sequence[np.ndarray]) -> np.ndarray | None:
    """Per-pixel maximum over the selected parts' confidence planes; None when no part is selected.

    `max(p_i) > t` holds exactly when some `p_i > t`, so thresholding this plane once gives the
    original node's union of per-part thresholded masks at the cost of one comparison.
    """
    if not planes:
        return None
    if len(planes) == 1:
        return planes[0]
    return np.maximum.reduce([np.asarray(plane) for plane in planes])


def binary_mask(planes: Sequence[np.ndarray], confidence: float, shape: tuple[int, int]) -> np.ndarray:
    """The original node's rule: 255 where any selected part's confidence is `> confidence`, else 0.

    No part selected gives an all-black mask of `shape` (height, width). Returns HxW uint8.
    """
    union = union_confidence(planes)
    if union is None:
        return np.zeros(shape, dtype=np.uint8)
    return np.multiply(union > confidence, 255, dtype=np.uint8)


def soft_mask(planes: Sequence[np.ndarray], confidence: float, shape: tuple[int, int]) -> np.ndarray:
    """The combined confidence as a grey level: round(255 * max(p_i)) where it is `> confidence`, else 0.

    The threshold only clips the low end, so `soft_mask(...) > 0` is exactly `binary_mask(...)`
    (confidence >= 0.01 keeps every kept pixel at grey level 3 or more). Returns HxW uint8.
    """
    union = union_confidence(planes)
    if union is None:
        return np.zeros(shape, dtype=np.uint8)
    grey = np.rint(np.asarray(union, dtype=np.float32) * 255.0).astype(np.uint8)
    grey[union <= confidence] = 0
    return grey
