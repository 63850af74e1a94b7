"""Mask edge operations on synthetic arrays (no model)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from stream_mask import edges

H, W, R = 360, 640, 100.0
YY, XX = np.mgrid[:H, :W]
RADIUS = np.hypot(YY + 0.5 - H / 2, XX + 0.5 - W / 2)  # distance of each pixel centre from the frame centre
DISC = RADIUS < R


def guide_with_disc(seed: int = 1) -> np.ndarray:
    """A frame with a sharp-edged disc (orange on blue, light noise): the edge the mask should follow."""
    rng = np.random.default_rng(seed)
    rgb = np.where(DISC[..., None], np.array([200, 120, 90]), np.array([60, 90, 140])).astype(np.float32)
    return np.clip(rgb + rng.normal(0, 4, rgb.shape), 0, 255).astype(np.uint8)


def low_res_confidence() -> np.ndarray:
    """What a model gives at 1/5 of the frame size: a blurry, under-confident disc (peak 0.8), whose
    0.5 contour lies inside the true edge."""
    small = cv2.resize(DISC.astype(np.float32), (128, 72), interpolation=cv2.INTER_AREA)
    return 0.8 * cv2.GaussianBlur(small, (0, 0), 2.5)


def contour_error(conf: np.ndarray) -> float:
    """Largest distance from the disc's edge of a pixel that `conf > 0.5` puts on the wrong side."""
    wrong = (conf > 0.5) != DISC
    return float(np.abs(RADIUS[wrong] - R).max()) if wrong.any() else 0.0


def square(size: int = 41, shape: tuple[int, int] = (121, 121)) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    top, left = (shape[0] - size) // 2, (shape[1] - size) // 2
    mask[top:top + size, left:left + size] = 255
    return mask


def side(mask: np.ndarray) -> tuple[int, int]:
    """Extent of the mask along the row and the column through its centre."""
    cy, cx = mask.shape[0] // 2, mask.shape[1] // 2
    return int((mask[cy] > 0).sum()), int((mask[:, cx] > 0).sum())


# --- guided upsampling / edge refinement -------------------------------------------------------------


def test_refine_edges_from_low_res_lands_on_the_guide_edge_where_bilinear_does_not():
    small, rgb = low_res_confidence(), guide_with_disc()
    bilinear = cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR)
    guided = edges.refine_edges(small, rgb)
    assert guided.shape == (H, W) and guided.dtype == np.float32
    assert contour_error(bilinear) > 4
    assert contour_error(guided) <= 2


def test_refine_edges_snaps_a_full_resolution_blurry_plane():
    blurry = cv2.resize(low_res_confidence(), (W, H), interpolation=cv2.INTER_LINEAR)
    refined = edges.refine_edges(blurry, guide_with_disc())
    assert refined.shape == (H, W) and refined.dtype == np.float32
    assert contour_error(refined) <= 2 < contour_error(blurry)


def test_guided_values_stay_in_0_1_on_adversarial_input():
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)  # pure noise guide: the linear model overshoots
    conf = (rng.random((72, 128)) > 0.5).astype(np.float32)
    for out in (edges.refine_edges(conf, rgb), edges.refine_edges(conf, rgb, radius=2, eps=1e-6)):
        assert out.min() >= 0.0 and out.max() <= 1.0


def test_guided_keeps_flat_planes_flat():
    rgb = guide_with_disc()
    for value in (0.0, 1.0):
        out = edges.refine_edges(np.full((72, 128), value, np.float32), rgb)
        assert np.allclose(out, value, atol=1e-4)


# --- grow / shrink -----------------------------------------------------------------------------------


@pytest.mark.parametrize("px", [1, 3, 8, 9, 20])
def test_grow_and_shrink_change_a_square_side_by_two_px(px):
    mask = square()
    assert side(edges.grow(mask, px)) == (41 + 2 * px, 41 + 2 * px)
    assert side(edges.shrink(mask, px)) == (41 - 2 * px, 41 - 2 * px)


def test_grow_and_shrink_zero_is_a_no_op_and_output_is_binary():
    mask = square()
    assert np.array_equal(edges.grow(mask, 0), mask)
    assert np.array_equal(edges.shrink(mask, 0), mask)
    assert set(np.unique(edges.grow(mask, 12))) == {0, 255}
    assert np.array_equal(edges.grow(mask > 0, 2), edges.grow(mask, 2))  # bool masks accepted


@pytest.mark.parametrize("px", [3, 12])
def test_shrink_keeps_a_mask_touching_the_frame_edge_at_the_edge(px):
    mask = np.zeros((60, 60), np.uint8)
    mask[30:, :] = 255  # a person cut off by the bottom of the frame
    out = edges.shrink(mask, px)
    assert out[-1].all() and out[30 + px:].all() and not out[:30 + px].any()


# --- feather -----------------------------------------------------------------------------------------


def test_feather_ramps_from_0_to_1_across_the_edge():
    mask = square(61, (161, 161))
    alpha = edges.feather(mask, 10)
    assert alpha.dtype == np.float32 and alpha.shape == mask.shape
    row = alpha[80]  # the square spans columns 50..110
    assert np.all(row[:45] == 0.0) and np.all(row[56:106] == 1.0) and np.all(row[116:] == 0.0)
    assert np.all(np.diff(row[40:61]) >= 0) and np.all(np.diff(row[100:121]) <= 0)
    assert 0.4 < row[50] < 0.7 and 0.3 < row[49] < 0.6  # the edge sits mid-ramp
    assert 0 < row[46] < row[49] < row[50] < row[54] < 1
    assert np.allclose(row[50:70], row[110:90:-1])  # symmetric


def test_feather_zero_is_the_mask_and_empty_or_full_masks_stay_flat():
    mask = square()
    assert np.array_equal(edges.feather(mask, 0), (mask > 0).astype(np.float32))
    assert not edges.feather(np.zeros((20, 20), np.uint8), 5).any()
    assert np.all(edges.feather(np.full((20, 20), 255, np.uint8), 5) == 1.0)


# --- islands and holes -------------------------------------------------------------------------------


def test_remove_islands_drops_small_components_and_keeps_large_ones():
    mask = np.zeros((100, 100), np.uint8)
    mask[10:40, 10:40] = 255  # 900 px, kept
    mask[60:65, 60:65] = 255  # 25 px, dropped
    mask[80, 80] = 255  # 1 px, dropped
    mask[70:80, 10:20] = 255  # 100 px: exactly min_area, kept
    out = edges.remove_islands(mask, 100)
    assert out[10:40, 10:40].all() and out[70:80, 10:20].all()
    assert not out[60:65, 60:65].any() and out[80, 80] == 0
    assert (out > 0).sum() == 1000
    assert np.array_equal(edges.remove_islands(mask, 0), mask)


def test_fill_holes_fills_enclosed_background_but_not_background_touching_the_border():
    mask = np.zeros((100, 100), np.uint8)
    mask[10:90, 10:90] = 255
    mask[20:25, 20:25] = 0  # 25 px hole
    mask[40:60, 40:60] = 0  # 400 px hole
    mask[0:50, 85:90] = 0  # a notch open to the background at the top: not a hole
    everything = edges.fill_holes(mask)
    assert everything[20:25, 20:25].all() and everything[40:60, 40:60].all()
    assert not everything[0:50, 85:90].any() and not everything[:10].any()
    small_only = edges.fill_holes(mask, 100)
    assert small_only[20:25, 20:25].all() and not small_only[40:60, 40:60].any()


def test_fill_holes_a_hole_at_the_frame_border_is_not_filled():
    mask = np.full((50, 50), 255, np.uint8)
    mask[20:30, 0:5] = 0  # background touching the left border, surrounded on three sides
    assert np.array_equal(edges.fill_holes(mask), mask)


def test_fill_holes_does_not_leak_through_a_diagonal_gap():
    mask = np.zeros((9, 9), np.uint8)
    cv2.circle(mask, (4, 4), 3, 255, 1)  # a thin outline with 8-connected (diagonal) steps
    filled = edges.fill_holes(mask)
    assert filled[4, 4] == 255
