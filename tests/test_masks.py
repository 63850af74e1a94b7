"""Mask operations on synthetic arrays (no model)."""

from __future__ import annotations

import numpy as np
import pytest

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


def test_padded_box_grows_by_a_fifth_and_stays_in_the_frame():
    from stream_mask.masks import padded_box

    region = np.zeros((100, 200), dtype=bool)
    assert padded_box(region) is None
    region[40:60, 50:100] = True  # 20 rows, 50 columns
    assert padded_box(region) == (40, 36, 110, 64)
    region[0:10, 190:200] = True
    x0, y0, x1, y1 = padded_box(region)
    assert (y0, x1) == (0, 200)


def test_follow_box_grows_at_once_and_shrinks_smoothly():
    from stream_mask.masks import follow_box

    box = follow_box(None, (10, 10, 50, 50), keep=0.8)
    assert box == (10, 10, 50, 50)
    grown = follow_box(box, (0, 10, 60, 50), keep=0.8)
    assert grown == (0, 10, 60, 50)  # never cuts a person off
    shrunk = follow_box(grown, (20, 20, 40, 40), keep=0.8)
    assert shrunk == pytest.approx((4, 12, 56, 48))  # a fifth of the way in


def test_person_boxes_one_crop_per_person_far_apart():
    from stream_mask.masks import padded_box, person_boxes

    region = np.zeros((100, 400), dtype=bool)
    assert person_boxes(region) == []
    region[40:60, 20:70] = True  # one person, left
    region[30:70, 300:340] = True  # another, far right
    region[5:7, 200:202] = True  # a speck (under a tenth of the largest): no crop of its own
    boxes = sorted(person_boxes(region))
    assert boxes == [(10.0, 36.0, 80.0, 64.0), (292.0, 22.0, 348.0, 78.0)]  # each padded by a fifth
    assert padded_box(region) == (0, 0, 400, 83)  # the original node's one box: nearly the whole frame


def test_person_boxes_that_overlap_become_one():
    from stream_mask.masks import person_boxes

    region = np.zeros((100, 400), dtype=bool)
    region[40:60, 100:150] = True
    region[40:60, 156:200] = True  # a gap of 6 px: the padded boxes overlap
    assert person_boxes(region) == [(90.0, 36.0, 209.0, 64.0)]


def test_follow_boxes_matches_each_person_and_takes_newcomers_as_they_are():
    from stream_mask.masks import follow_boxes

    previous = [(0.0, 0.0, 40.0, 40.0), (200.0, 0.0, 240.0, 40.0)]
    now = [(10.0, 10.0, 30.0, 30.0), (205.0, 0.0, 245.0, 40.0), (100.0, 0.0, 120.0, 20.0)]
    followed = follow_boxes(previous, now, keep=0.5)
    assert followed[0] == pytest.approx((5, 5, 35, 35))  # eased in towards its own previous box
    assert followed[1] == pytest.approx((202.5, 0, 245, 40))  # grew at once to hold the person
    assert followed[2] == (100.0, 0.0, 120.0, 20.0)  # someone new
