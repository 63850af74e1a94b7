"""Pure array operations on confidence planes and masks; no model, no I/O, testable on synthetic arrays."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import cv2
import numpy as np


def union_confidence(planes: Sequence[np.ndarray]) -> np.ndarray | None:
    """Per-pixel maximum over the selected parts' confidence planes; None when no part is selected.

    `max(p_i) > t` holds exactly when some `p_i > t`, so thresholding this plane once gives the
    original node's union of per-part thresholded masks at the cost of one comparison. A chain of
    cv2.max (one pass per plane) gives np.maximum.reduce's values at a third of its cost.
    """
    if not planes:
        return None
    if len(planes) == 1:
        return planes[0]
    if not all(_fast(plane) for plane in planes):
        return np.maximum.reduce([np.asarray(plane) for plane in planes])
    union = cv2.max(planes[0], planes[1])
    for plane in planes[2:]:
        cv2.max(union, plane, dst=union)
    return union


def binary_mask(planes: Sequence[np.ndarray], confidence: float, shape: tuple[int, int],
                complements: Sequence[bool] = ()) -> np.ndarray:
    """The original node's rule: 255 where any selected part's confidence is `> confidence`, else 0.

    A True in `complements` makes that plane's part its complement, `1 - plane` (`person` on the
    6-class model: everything but background), without computing `1 - plane`. No part selected gives
    an all-black mask of `shape` (height, width). Returns HxW uint8.
    """
    if not planes:
        return np.zeros(shape, dtype=np.uint8)
    flags = [*complements, *[False] * (len(planes) - len(complements))]
    mask = above(planes[0], confidence, flags[0])
    for plane, complement in zip(planes[1:], flags[1:]):  # any p_i > t: the union of the parts' masks
        cv2.bitwise_or(mask, above(plane, confidence, complement), dst=mask)
    return mask


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


def above(plane: np.ndarray, confidence: float, complement: bool = False) -> np.ndarray:
    """HxW uint8: 255 where numpy's `plane > confidence` (with `complement`, `1 - plane > confidence`) holds, else 0.

    For float32 planes the test is one cv2.compare against the float32 value where numpy's rule flips
    (found once per confidence, `_cut`), so the pixels are numpy's own, ties and rounding included, at
    half numpy's cost (a sixth for a complement: no `1 - plane`); other planes go through numpy itself.
    """
    cut = _cut(confidence, complement) if _fast(plane) else None
    if cut is None:  # the rule does not flip between -inf and +inf (no valid confidence): numpy itself
        return np.multiply(((1.0 - plane) if complement else plane) > confidence, 255, dtype=np.uint8)
    # The values that pass are those from the cut up (complement: those below it).
    return cv2.compare(plane, float(cut), cv2.CMP_LT if complement else cv2.CMP_GE)


def _fast(plane: np.ndarray) -> bool:
    """Whether OpenCV can read the plane as it is: 2-D float32 with unit steps (MediaPipe's and ours are)."""
    return (isinstance(plane, np.ndarray) and plane.dtype == np.float32 and plane.ndim == 2
            and plane.flags.c_contiguous)


_FLOAT32_KEYS = 0x7F800000  # +inf's bits. A key k >= 0 is the float32 with bits k, k < 0 is -(the one with bits -k):
# keys -inf..+inf order every float32 but NaN as they compare (-0.0 and 0.0 are one key)


def _value(key: int) -> np.float32:
    """The float32 of a key (see _FLOAT32_KEYS)."""
    bits = key if key >= 0 else (-key) | -0x80000000
    return np.array(bits, dtype=np.int32).view(np.float32)[()]


@functools.lru_cache(maxsize=64, typed=True)  # typed: numpy compares with a float64 in float64
def _cut(confidence: float, complement: bool) -> np.float32 | None:
    """Where numpy's threshold rule flips on the float32 line: the smallest float32 that passes `p > confidence`,
    or (complement) the smallest that fails `1 - p > confidence`; None if the rule does not flip.

    Both rules are monotone in p (float rounding never reverses an order), so one bisection over the float32
    values finds the flip, evaluating the rule exactly as numpy does, whatever the type of `confidence`.
    """
    def passes(key: int) -> bool:
        p = np.array([_value(key)], dtype=np.float32)
        return bool(((1.0 - p) > confidence)[0] if complement else (p > confidence)[0])

    low, high = -_FLOAT32_KEYS, _FLOAT32_KEYS + 1  # the flip lies in [low, high]; high: past +inf, "never"
    while low < high:  # the first key whose answer differs from -inf's
        middle = (low + high) // 2
        if passes(middle) != complement:
            high = middle
        else:
            low = middle + 1
    return _value(low) if low <= _FLOAT32_KEYS else None


def most_likely(planes: Sequence[np.ndarray]) -> np.ndarray:
    """HxW uint8: the index of each pixel's largest plane, the first one on a tie (np.argmax's answer).

    A running maximum: a plane takes the pixels where it beats every plane before it, strictly, so a tie
    stays with the earlier plane. No 6xHxW stack is built, and the work goes by bands of rows small enough
    to stay in the CPU's cache: a sixth of np.argmax's time at 1080p.
    """
    if len(planes) > 255 or not all(_fast(plane) for plane in planes):
        return np.argmax(np.stack(planes), axis=0).astype(np.uint8)
    height, width = planes[0].shape
    labels = np.zeros((height, width), dtype=np.uint8)
    rows = max(1, _BAND_PIXELS // max(width, 1))
    for top in range(0, height, rows):
        band = [plane[top:top + rows] for plane in planes]
        out, best = labels[top:top + rows], band[0]
        for index, plane in enumerate(band[1:], start=1):
            # Each later index is larger than any label so far, so max() writes it where the plane wins.
            cv2.max(out, cv2.min(cv2.compare(plane, best, cv2.CMP_GT), index), dst=out)
            best = cv2.max(best, plane) if index == 1 else cv2.max(best, plane, dst=best)
    return labels


_BAND_PIXELS = 1 << 17  # a band of one float32 plane: 512 kB


def label_map(classes: Sequence[np.ndarray], confidence: float) -> np.ndarray:
    """HxW uint8: the index of each pixel's most likely class; for one class, 1 where it is `> confidence`, else 0."""
    if len(classes) == 1:
        return cv2.min(above(classes[0], confidence), 1)
    return most_likely(classes)


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
    any of its pixels is (thin limbs still join their body, and every set pixel lies in a set cell). `region`: bool,
    or uint8 with anything but 0 set (a mask of `above`)."""
    small = (region != 0).view(np.uint8)
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
