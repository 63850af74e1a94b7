"""Mask edge operations: pure array functions (numpy + OpenCV), no model, no I/O.

Inputs are a frame `rgb` (HxWx3 uint8, the guide), a confidence plane `conf` (HxW float32 in 0..1)
or a binary mask (HxW uint8 0/255; any non-zero pixel counts as foreground). A pipeline applies them
in this order: confidence -> `refine_edges` -> threshold -> `remove_islands` ->
`fill_holes` -> `shrink` / `grow` -> `feather` (an alpha matte, float32 0..1).
"""

from __future__ import annotations

import cv2
import numpy as np

DEFAULT_RADIUS = 8  # guided-filter window radius in full-resolution pixels
DEFAULT_EPS = 1e-3  # regularisation on a 0..1 guide: edges with contrast well above sqrt(eps) ~ 0.03 are followed
DEFAULT_SCALE = 4  # fast guided filter: coefficients computed at 1/scale of the frame size


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(image, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


_SUM_CHANNELS = np.ones((1, 3), dtype=np.float32)


def _fast_guided(p_low: np.ndarray, guide_rgb: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He & Sun's fast guided filter with a colour guide.

    `p_low` is the input at the working (low) resolution; the guide is shrunk to that size, the linear
    coefficients (a, b) of q = a . I + b are solved there per window (a 3x3 system per pixel, inverted in
    closed form), box-averaged, bilinearly upsampled to the frame and applied to the full-resolution
    guide. Chosen over cv2.ximgproc.guidedFilter at full resolution because only the last step touches
    full-resolution pixels (measured 22-26 ms at 720p on 2 cores; `benchmarks/edges_pictures.py` times both),
    and the edges still follow the full-resolution frame (the coefficients are smooth; the guide's edges
    enter at full size).
    """
    height, width = guide_rgb.shape[:2]
    low_h, low_w = p_low.shape
    small = cv2.resize(guide_rgb.astype(np.float32), (low_w, low_h), interpolation=cv2.INTER_AREA) * np.float32(1 / 255)
    r = max(1, radius)
    p = p_low.astype(np.float32, copy=False)
    mean_i = _box(small, r)  # low_h x low_w x 3
    mean_p = _box(p, r)
    cov_ip = _box(small * p[:, :, None], r) - mean_i * mean_p[:, :, None]
    # Covariance of the guide's channels in each window, plus eps on the diagonal.
    var = {}
    for name, (x, y) in {"rr": (0, 0), "rg": (0, 1), "rb": (0, 2), "gg": (1, 1), "gb": (1, 2), "bb": (2, 2)}.items():
        var[name] = _box(small[:, :, x] * small[:, :, y], r) - mean_i[:, :, x] * mean_i[:, :, y]
    a_rr, a_gg, a_bb = var["rr"] + eps, var["gg"] + eps, var["bb"] + eps
    a_rg, a_rb, a_gb = var["rg"], var["rb"], var["gb"]
    # Inverse of the symmetric 3x3 matrix by cofactors.
    i_rr = a_gg * a_bb - a_gb * a_gb
    i_rg = a_gb * a_rb - a_rg * a_bb
    i_rb = a_rg * a_gb - a_gg * a_rb
    i_gg = a_rr * a_bb - a_rb * a_rb
    i_gb = a_rb * a_rg - a_rr * a_gb
    i_bb = a_rr * a_gg - a_rg * a_rg
    det = a_rr * i_rr + a_rg * i_rg + a_rb * i_rb
    c_r, c_g, c_b = cov_ip[:, :, 0], cov_ip[:, :, 1], cov_ip[:, :, 2]
    a = np.dstack((
        (i_rr * c_r + i_rg * c_g + i_rb * c_b) / det,
        (i_rg * c_r + i_gg * c_g + i_gb * c_b) / det,
        (i_rb * c_r + i_gb * c_g + i_bb * c_b) / det,
    ))
    b = mean_p - (a * mean_i).sum(axis=2)
    coeffs = _box(np.dstack((a, b[:, :, None])), r)
    # At full size, q = a . I + b in whole-array OpenCV passes on the uint8 guide (its 1/255 folded into a): strided
    # numpy on float planes made this step most of the filter's time.
    size = (width, height)
    a_full = cv2.resize(np.ascontiguousarray(coeffs[:, :, :3]) * np.float32(1 / 255), size, interpolation=cv2.INTER_LINEAR)
    b_full = cv2.resize(np.ascontiguousarray(coeffs[:, :, 3]), size, interpolation=cv2.INTER_LINEAR)
    q = cv2.transform(cv2.multiply(a_full, np.ascontiguousarray(guide_rgb), dtype=cv2.CV_32F), _SUM_CHANNELS)
    q += b_full
    return np.clip(q, 0.0, 1.0, out=q)


def _working_size(shape: tuple[int, int], scale: int) -> tuple[int, int]:
    height, width = shape
    return max(1, round(width / scale)), max(1, round(height / scale))


def refine_edges(conf: np.ndarray, guide_rgb: np.ndarray, radius: int = DEFAULT_RADIUS,
                 eps: float = DEFAULT_EPS, scale: int = DEFAULT_SCALE) -> np.ndarray:
    """A confidence of any size (the model's 256x144, or a full-resolution plane with blurry, bilinearly
    upsampled edges) brought to the guide's size with its edges snapped to the frame's.

    The confidence is resized to the working size (1/`scale` of the frame), filtered there with the
    frame as a colour guide, and the filter's coefficients are applied at full size (fast guided
    filter). `radius` is in full-resolution pixels. For a binary mask, threshold the result as usual.
    Returns HxW float32 in [0, 1].
    """
    size = _working_size(guide_rgb.shape[:2], scale)
    conf = np.asarray(conf, dtype=np.float32)
    interpolation = cv2.INTER_AREA if conf.shape[1] > size[0] else cv2.INTER_LINEAR
    p_low = cv2.resize(conf, size, interpolation=interpolation) if conf.shape[::-1] != size else conf
    return _fast_guided(p_low, guide_rgb, max(1, round(radius / scale)), eps)


def _foreground(mask: np.ndarray) -> np.ndarray:
    return np.multiply(np.asarray(mask) > 0, 255, dtype=np.uint8)


_DILATE_MAX_PX = 8  # above this a distance transform (constant time) beats a dilation (time grows with px)


def _ellipse(px: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))


def _within(fg: np.ndarray, px: int) -> np.ndarray:
    """255 where a pixel is within `px` (Euclidean) of a foreground pixel: dilation by a disc."""
    distance = cv2.distanceTransform(255 - fg, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.multiply(distance <= px, 255, dtype=np.uint8)


def grow(mask: np.ndarray, px: int) -> np.ndarray:
    """Dilate a binary mask by `px` pixels (a disc: elliptical kernel, or for px > 8 the equivalent
    Euclidean distance transform, faster); returns HxW uint8 0/255. px=0: unchanged."""
    fg = _foreground(mask)
    if px <= 0:
        return fg
    return cv2.dilate(fg, _ellipse(px)) if px <= _DILATE_MAX_PX else _within(fg, px)


def shrink(mask: np.ndarray, px: int) -> np.ndarray:
    """Erode a binary mask by `px` pixels (a disc, as `grow`); returns HxW uint8 0/255. px=0: unchanged.
    Pixels beyond the frame count as foreground, so a person cut by the frame edge stays at the edge."""
    fg = _foreground(mask)
    if px <= 0:
        return fg
    if px <= _DILATE_MAX_PX:
        return cv2.erode(fg, _ellipse(px), borderType=cv2.BORDER_REPLICATE)
    padded = cv2.copyMakeBorder(255 - fg, px, px, px, px, cv2.BORDER_REPLICATE)
    return 255 - _within(padded, px)[px:-px, px:-px]


def feather(mask: np.ndarray, px: float) -> np.ndarray:
    """A soft edge about `px` pixels wide, centred on the mask's edge: float32 alpha 0..1.

    A smoothstep of the signed distance to the edge (distance transform), so pixels more than px/2
    inside are exactly 1 and more than px/2 outside exactly 0. px <= 0 gives the mask as 0.0/1.0.
    """
    fg = _foreground(mask)
    if px <= 0:
        return (fg > 0).astype(np.float32)
    # A 5x5 chamfer distance: within 2% of Euclidean, three times faster than the exact one.
    inside = cv2.distanceTransform(fg, cv2.DIST_L2, cv2.DIST_MASK_5)
    outside = cv2.distanceTransform(255 - fg, cv2.DIST_L2, cv2.DIST_MASK_5)
    # Signed distance to the boundary between pixels, positive inside: the first pixel in is at +0.5,
    # the first out at -0.5 (distanceTransform gives 1 for both). Exactly one of the two is zero.
    t = inside - outside
    t += np.where(fg > 0, np.float32(-0.5), np.float32(0.5))
    t *= np.float32(1 / px)
    t += np.float32(0.5)
    np.clip(t, 0.0, 1.0, out=t)
    return (t * t * (3 - 2 * t)).astype(np.float32, copy=False)


def remove_islands(mask: np.ndarray, min_area: int) -> np.ndarray:
    """Drop foreground components (8-connected) of fewer than `min_area` pixels; HxW uint8 0/255."""
    fg = _foreground(mask)
    if min_area <= 1:
        return fg
    count, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False  # label 0 is the background
    if keep[1:].all():
        return fg
    return np.where(keep, np.uint8(255), np.uint8(0))[labels]


def fill_holes(mask: np.ndarray, max_area: int | None = None) -> np.ndarray:
    """Fill background components enclosed by foreground (not touching the frame's border) of at most
    `max_area` pixels, or every such hole when `max_area` is None; HxW uint8 0/255.

    Background is taken 4-connected, the dual of 8-connected foreground: a diagonal gap in an outline
    does not let a hole leak out.
    """
    fg = _foreground(mask)
    background = 255 - fg
    count, labels, stats, _ = cv2.connectedComponentsWithStats(background, connectivity=4)
    fill = np.ones(count, dtype=bool)
    fill[0] = False  # label 0 is the foreground here
    for edge in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        fill[np.unique(edge)] = False
    if max_area is not None:
        fill &= stats[:, cv2.CC_STAT_AREA] <= max_area
    if not fill.any():
        return fg
    return np.where(fill[labels], np.uint8(255), fg)
