"""Mask operations on synthetic arrays (no model)."""

from __future__ import annotations

import numpy as np

from stream_mask.masks import binary_mask, soft_mask

RNG = np.random.default_rng(7)


def planes(count: int) -> list[np.ndarray]:
    return [RNG.random((48, 64), dtype=np.float32) for _ in range(count)]


def test_binary_is_the_union_of_per_part_thresholds():
    ps = planes(3)
    want = np.logical_or.reduce([p > 0.4 for p in ps])
    assert np.array_equal(binary_mask(ps, 0.4, (48, 64)) == 255, want)
    assert set(np.unique(binary_mask(ps, 0.4, (48, 64)))) == {0, 255}


def test_no_part_is_black():
    assert not binary_mask([], 0.4, (48, 64)).any()
    assert not soft_mask([], 0.4, (48, 64)).any()


def test_soft_keeps_the_confidence_and_clips_below_the_threshold():
    ps = planes(2)
    union = np.maximum(*ps)
    soft = soft_mask(ps, 0.4, (48, 64))
    kept = union > 0.4
    assert np.array_equal(soft[kept], np.rint(union[kept] * 255).astype(np.uint8))
    assert not soft[~kept].any()
    # The binary mask is exactly where the soft one is non-zero.
    assert np.array_equal(soft > 0, binary_mask(ps, 0.4, (48, 64)) == 255)


def test_exact_threshold_value_is_out():
    plane = np.full((2, 2), 0.5, dtype=np.float32)
    assert not binary_mask([plane], 0.5, (2, 2)).any()
    assert binary_mask([plane], np.nextafter(np.float32(0.5), np.float32(0)), (2, 2)).all()
