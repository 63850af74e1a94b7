"""Pure array operations on confidence planes and masks; no model, no I/O, testable on synthetic arrays."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
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


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels; x1, y1 exclusive


def _pad(box: tuple[int, int, int, int], pad: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """`box` grown by `pad` of its size on every side, clipped to a frame of `shape` (height, width)."""
    x0, y0, x1, y1 = box
    grow_y, grow_x = round((y1 - y0) * pad), round((x1 - x0) * pad)
    height, width = shape[:2]
    return max(0, x0 - grow_x), max(0, y0 - grow_y), min(width, x1 + grow_x), min(height, y1 + grow_y)


def padded_box(region: np.ndarray, pad: float = 0.2) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of the True pixels, grown by `pad` of its size on every side and
    clipped to the frame; None when nothing is set. The original node's refine crop used pad 0.2."""
    rows = np.flatnonzero(region.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(region.any(axis=0))
    return _pad((cols[0], rows[0], cols[-1] + 1, rows[-1] + 1), pad, region.shape)


BLOB_SIDE = 320  # people are found as blobs at most this many pixels wide (a 720p frame's take 3.5 ms, this 0.2 ms)


def shrunk(region: np.ndarray, side: int = BLOB_SIDE) -> np.ndarray:
    """The True pixels of `region` on a grid at most `side` cells wide or high, as uint8 0/1: a cell is set when
    any of its pixels is (thin limbs still join their body, and every set pixel lies in a set cell)."""
    small = region.astype(np.uint8)
    scale = min(1.0, side / max(region.shape))
    if scale < 1.0:
        size = (max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale)))
        small = (cv2.resize(small * np.uint8(255), size, interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    return small


def person_boxes(region: np.ndarray, pad: float = 0.2, min_share: float = 0.1, most: int = 4) -> list[Box]:
    """One padded box per person (or group of people whose boxes overlap) in the True pixels: the crops
    of a refine pass. Blobs under `min_share` of the largest one's area are left out (specks, not people);
    at most `most` boxes, the largest blobs first. Empty when nothing is set."""
    small = shrunk(region)
    count, _, stats, _ = cv2.connectedComponentsWithStats(small, connectivity=8)
    if count <= 1:
        return []
    blobs = stats[1:]  # row 0 is the background
    areas = blobs[:, cv2.CC_STAT_AREA]
    chosen = [i for i in np.argsort(-areas, kind="stable")[:most] if areas[i] >= min_share * areas.max()]
    fx, fy = region.shape[1] / small.shape[1], region.shape[0] / small.shape[0]
    boxes = []
    for i in chosen:
        x, y, w, h = (int(v) for v in blobs[i, :4])
        box = (math.floor(x * fx), math.floor(y * fy), math.ceil((x + w) * fx), math.ceil((y + h) * fy))
        boxes.append(tuple(float(v) for v in _pad(box, pad, region.shape)))
    return merge_overlapping(boxes)


def merge_overlapping(boxes: list[Box]) -> list[Box]:
    """Boxes that overlap replaced by the one box that covers them, until none overlap (one crop per region)."""
    merged = list(boxes)
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                a, b = merged[i], merged[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    merged[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    del merged[j]
                    changed = True
                    break
            if changed:
                break
    return merged


def follow_box(previous: Box | None, box: Box, keep: float) -> Box:
    """A crop box that follows a person smoothly: it grows at once to hold `box` (nobody is cut off) and
    shrinks only a fraction `1 - keep` of the way per frame (no jumping with each frame's noise)."""
    if previous is None:
        return tuple(float(v) for v in box)
    eased = [keep * p + (1 - keep) * b for p, b in zip(previous, box)]
    return min(eased[0], box[0]), min(eased[1], box[1]), max(eased[2], box[2]), max(eased[3], box[3])


def follow_boxes(previous: list[Box], boxes: list[Box], keep: float) -> list[Box]:
    """`follow_box` for several people: each box follows the previous frame's box it overlaps most
    (a box overlapping none is someone new, taken as it is); boxes that come to overlap are merged."""
    def overlap(a: Box, b: Box) -> float:
        return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))

    followed = []
    for box in boxes:
        best = max(previous, key=lambda old: overlap(old, box), default=None)
        followed.append(follow_box(best if best is not None and overlap(best, box) > 0 else None, box, keep))
    return merge_overlapping(followed)


def smooth_confidence(previous: np.ndarray | None, current: np.ndarray, strength: float) -> np.ndarray:
    """One step of motion-aware temporal smoothing of a confidence plane (HxW float32 in 0..1); a new
    array. Without a previous plane of the same size (first frame, new image size) it is a copy.

    The previous smoothed value is kept with weight `strength * (1 - |current - previous|)`: where the
    frames agree, noise is averaged away; where they disagree completely (something moved) the new frame
    wins at once, so a moving person leaves no ghost. After a full change (confidence 1 -> 0 or 0 -> 1)
    the old value is gone in that very frame; a partial change d leaves at most strength*(1-d) of it.
    """
    if previous is None or previous.shape != current.shape or strength <= 0:  # nothing to smooth with
        return np.array(current, dtype=np.float32)
    weight = cv2.absdiff(current, previous)
    np.subtract(1.0, weight, out=weight)
    weight *= np.float32(strength)
    # previous*w + current*(1-w) == current + w*(previous - current)
    out = cv2.subtract(previous, current)
    out *= weight
    out += current
    return out
