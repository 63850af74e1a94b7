"""Pure array operations for composites and overlays: effect layers, alpha blending, part tints.

No model and no I/O (the caller reads the image of an `image:PATH` effect: `outputs.open_effect`), so
everything here is tested on synthetic arrays. Frames are HxWx3 uint8 RGB; a matte `alpha` is HxW, 1 on the selected
parts: float32 in 0..1, or uint8 in 0..255 as the outputs make them (cheaper: integer arithmetic, and a 0/255 matte
is a copy, not a blend).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from .errors import StreamMaskError

EFFECT_FORMS = (
    "blur, blur:STRENGTH, color:#rrggbb, color:NAME (green, blue, black, white), image:PATH, video:PATH, desaturate"
)

DEFAULT_BLUR = 15.0
"""Default blur strength: the Gaussian sigma in pixels on a 720-pixel-high frame."""

COLOUR_NAMES: dict[str, tuple[int, int, int]] = {
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "black": (0, 0, 0),
    "white": (255, 255, 255),
}

PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75),    # red
    (60, 180, 75),    # green
    (0, 130, 200),    # blue
    (255, 225, 25),   # yellow
    (145, 30, 180),   # purple
    (70, 240, 240),   # cyan
    (245, 130, 48),   # orange
    (240, 50, 230),   # magenta
)
"""Distinct RGB tints for up to 8 parts in `overlay` (repeats beyond that)."""

_EPS = 1e-3  # below this much background weight in the blur window, fall back to the plain blur
_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


def _bad(spec: str, why: str = "") -> StreamMaskError:
    detail = f" ({why})" if why else ""
    return StreamMaskError(f"bad effect {spec!r}{detail}; valid forms: {EFFECT_FORMS}")


def parse_colour(text: str) -> tuple[int, int, int] | None:
    """`#rrggbb`, `rrggbb` or one of COLOUR_NAMES as an RGB triple; None when it is none of these."""
    text = text.strip()
    if text.lower() in COLOUR_NAMES:
        return COLOUR_NAMES[text.lower()]
    match = _HEX.fullmatch(text)
    if match is None:
        return None
    value = int(match.group(1), 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


@dataclass
class Effect:
    """What replaces the unselected parts (or the selected ones with `invert`): its per-frame layer.

    kind is one of 'blur', 'color', 'image', 'video', 'desaturate'. 'video' layers come from the
    pipeline (it decodes the file); `background` refuses them.
    """

    kind: str
    strength: float = DEFAULT_BLUR
    colour: tuple[int, int, int] = (0, 0, 0)
    path: str | None = None
    image: np.ndarray | None = field(default=None, repr=False, compare=False)  # RGB, as read by the caller
    _cache: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def background(self, rgb: np.ndarray, alpha: np.ndarray | None = None, invert: bool = False) -> np.ndarray:
        """The HxWx3 uint8 effect layer for this frame, to pass to `composite` with the same alpha.

        For 'blur', giving the matte blurs the frame with the parts that will be shown sharp left out
        (see `masked_blur`), so they do not bleed a halo into the blurred layer.
        """
        height, width = rgb.shape[:2]
        if self.kind == "blur":
            if alpha is None:
                return gaussian_blur(rgb, self.strength)
            matte = as_matte(alpha)
            shown = matte if invert else cv2.bitwise_not(matte)  # where the layer will be seen: 255 - matte
            return masked_blur(rgb, shown, self.strength)
        if self.kind == "desaturate":
            return cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        return self._fixed_layer(height, width)

    def _fixed_layer(self, height: int, width: int, convert: Callable[[np.ndarray], np.ndarray] | None = None,
                     ) -> np.ndarray:
        """The same layer every frame ('color', 'image'), made once per size: RGB, or `convert`ed (to I420)."""
        key = (height, width, convert is not None)
        layer = self._cache.get(key)
        if layer is not None:
            return layer
        if self.kind == "color":
            layer = np.empty((height, width, 3), dtype=np.uint8)
            layer[:] = self.colour
        elif self.kind == "image":
            if self.image is None:
                raise StreamMaskError(f"the image background {self.path!r} is read by the caller, not here")
            layer = cover_resize(self.image, height, width)
        elif self.kind == "video":
            raise StreamMaskError(f"the video background {self.path!r} is decoded by the pipeline, not here")
        else:
            raise StreamMaskError(f"unknown effect kind {self.kind!r}; valid forms: {EFFECT_FORMS}")
        layer = convert(layer) if convert is not None else layer
        self._cache = {key: layer}
        return layer

    def apply(self, rgb: np.ndarray, alpha: np.ndarray, invert: bool = False) -> np.ndarray:
        """The finished frame: this effect outside the selected parts (inside them with `invert`)."""
        return composite(rgb, alpha, self.background(rgb, alpha, invert), invert)

    def background_i420(self, i420: np.ndarray, alpha: np.ndarray, invert: bool,
                        convert: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """`background` drawn in a frame's own YUV (frames.I420 data), a new array for `composite_i420`. A blur or desaturation
        is made from the frame's YUV itself (both are linear, so it is the same layer without a colour conversion);
        an RGB layer (a colour, an image) is converted once by `convert`, into the output's YUV."""
        height, width = i420_size(i420)
        if self.kind == "blur":
            matte = as_matte(alpha)
            shown = matte if invert else cv2.bitwise_not(matte)
            weights = (shown, *(2 * [half_size(shown)]))
            return join_i420([masked_blur(plane, weight, self.strength)  # sigma scales with each plane's height
                              for plane, weight in zip(i420_planes(i420), weights)])
        if self.kind == "desaturate":
            layer = i420.copy()
            layer[height:] = 128  # no colour: the frame's own luma
            return layer
        return self._fixed_layer(height, width, convert).copy()  # drawn into by composite_i420


def as_matte(alpha: np.ndarray) -> np.ndarray:
    """A matte as HxW uint8 0..255: a uint8 one as it is, a float one (0..1) rounded to the nearest level."""
    if alpha.dtype == np.uint8:
        return alpha
    return np.rint(np.clip(alpha, 0.0, 1.0) * 255).astype(np.uint8)


def is_binary(matte: np.ndarray) -> bool:
    """Whether a uint8 matte holds only 0 and 255 (every binary mask: no --soft, no --feather)."""
    return cv2.countNonZero(cv2.inRange(matte, 1, 254)) == 0


def parse_effect(spec: str) -> Effect:
    """A CLI effect string as an Effect; a bad one raises StreamMaskError listing the valid forms.

    An `image:PATH` effect comes back without its image: the caller reads it (`outputs.open_effect`).
    """
    kind, sep, arg = spec.strip().partition(":")
    kind = kind.strip().lower()
    if kind == "blur":
        if not sep:
            return Effect("blur")
        try:
            strength = float(arg)
        except ValueError:
            raise _bad(spec, "STRENGTH must be a positive number") from None
        if not math.isfinite(strength) or strength <= 0:
            raise _bad(spec, "STRENGTH must be a positive number")
        return Effect("blur", strength=strength)
    if kind in ("color", "colour"):
        colour = parse_colour(arg) if sep else None
        if colour is None:
            raise _bad(spec, "colour must be #rrggbb or green, blue, black, white")
        return Effect("color", colour=colour)
    if kind in ("image", "video"):
        if not arg.strip():
            raise _bad(spec, "missing PATH")
        if kind == "video":
            return Effect("video", path=arg.strip())
        return Effect("image", path=arg.strip())
    if kind == "desaturate" and not sep:
        return Effect("desaturate")
    raise _bad(spec)


def cover_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale `image` to fill height x width keeping its aspect, then centre-crop: no bars, no stretch."""
    ih, iw = image.shape[:2]
    scale = max(height / ih, width / iw)
    new_w, new_h = max(width, round(iw * scale)), max(height, round(ih * scale))
    shrinking = new_w < iw
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    return np.ascontiguousarray(resized[top:top + height, left:left + width])


def _blur_plan(height: int, width: int, strength: float) -> tuple[float, int]:
    """Sigma at full resolution and the downscale factor that keeps the blur a few ms at 720p.

    A full-size Gaussian of sigma 15 costs ~100 ms; blurring a 1/f-size copy with sigma/f and
    scaling back up looks the same (everything below sigma is gone anyway) at a fraction of the cost.
    """
    sigma = strength * height / 720.0
    factor = max(1, min(8, int(sigma / 2.5), height // 8, width // 8))
    # Prefer a factor dividing both sides: cv2's INTER_AREA has a fast path for integer ratios.
    exact = next((f for f in range(factor, max(1, factor // 2) - 1, -1) if height % f == 0 and width % f == 0), None)
    return sigma, exact or factor


def _small(image: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return image
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)


def _to_frame(small: np.ndarray, height: int, width: int) -> np.ndarray:
    small_u8 = np.clip(np.rint(small), 0, 255).astype(np.uint8)
    if small_u8.shape[:2] == (height, width):
        return small_u8
    return cv2.resize(small_u8, (width, height), interpolation=cv2.INTER_LINEAR)


def gaussian_blur(rgb: np.ndarray, strength: float = DEFAULT_BLUR) -> np.ndarray:
    """Plain Gaussian blur; `strength` is the sigma in pixels on a 720-high frame (scaled with height)."""
    height, width = rgb.shape[:2]
    sigma, factor = _blur_plan(height, width, strength)
    blurred = cv2.GaussianBlur(_small(rgb, factor).astype(np.float32), (0, 0), sigma / factor)
    return _to_frame(blurred, height, width)


def masked_blur(rgb: np.ndarray, weight: np.ndarray, strength: float = DEFAULT_BLUR) -> np.ndarray:
    """Gaussian blur of only the pixels with `weight` (the parts the layer shows through), no halo.

    A plain blur of the whole frame smears the sharp, kept parts (a person) into the blurred layer
    around them, so a bright person gets a bright glow behind their edge (a dark one a dark rim).
    Normalised convolution blurs the frame with those parts removed: blur(rgb*w) / blur(w) is the
    weighted mean of nearby *background* colours. Where blur(w) is ~0 (deep inside a large kept
    area, hidden by the composite anyway) it falls back to the plain blur. `weight` is a matte (uint8 0..255, or
    float 0..1).

    Full-resolution work is integer (the cost at 1080p and 4K): the premultiplied frame is exact (a 0/255 weight
    keeps or zeroes pixels; grey levels go to 16 bits), shrunk by an integer-ratio INTER_AREA; only the small copy is
    float. Where the layer is seen, within 2 grey levels of the same blur done in float32 (tests/test_effects.py).
    """
    height, width = rgb.shape[:2]
    sigma, factor = _blur_plan(height, width, strength)
    w = as_matte(weight)
    # Premultiply at full resolution: downscaling rgb and w separately would mix kept colours back in.
    if is_binary(w):
        premultiplied, unit = cv2.bitwise_and(rgb, rgb, mask=w), 1.0
    else:
        weights = cv2.merge([w] * rgb.shape[2]) if rgb.ndim == 3 else w
        premultiplied, unit = cv2.multiply(rgb, weights, dtype=cv2.CV_16U), 1 / 255
    num = cv2.GaussianBlur(_small(premultiplied, factor).astype(np.float32), (0, 0), sigma / factor)
    den = cv2.GaussianBlur(_small(w, factor).astype(np.float32), (0, 0), sigma / factor)
    den *= np.float32(1 / 255)
    valid = den > _EPS
    scale = np.maximum(den, _EPS) * np.float32(1 / unit)
    out = num / (scale[..., None] if num.ndim == 3 else scale)
    if not valid.all():
        plain = cv2.GaussianBlur(_small(rgb, factor).astype(np.float32), (0, 0), sigma / factor)
        out[~valid] = plain[~valid]
    return _to_frame(out, height, width)


def composite(rgb: np.ndarray, alpha: np.ndarray, layer: np.ndarray, invert: bool = False) -> np.ndarray:
    """alpha*rgb + (1-alpha)*layer as HxWx3 uint8: the effect layer shows outside the selected parts.

    `invert` shows it on the selected parts instead. alpha 1 gives the source pixel exactly, 0 the
    layer pixel exactly: a 0/255 uint8 matte is a masked copy (1 ms at 1080p); grey levels are blended by
    cv2.blendLinear in one pass (~4 ms at 720p).
    """
    if alpha.shape != rgb.shape[:2] or layer.shape != rgb.shape:
        raise StreamMaskError(f"composite: frame {rgb.shape}, matte {alpha.shape} and layer {layer.shape} differ in size")
    out = np.empty_like(layer)  # not into the layer: it may be a cached colour or image
    _draw(rgb, alpha, layer, invert, out)
    return out


def _draw(rgb: np.ndarray, alpha: np.ndarray, layer: np.ndarray, invert: bool, out: np.ndarray) -> None:
    """`composite` into `out`, which may be `layer` itself (each pixel is read before it is written)."""
    rgb = np.ascontiguousarray(rgb)
    if alpha.dtype == np.uint8 and is_binary(alpha):
        if out is not layer:
            out[:] = layer
        cv2.copyTo(rgb, cv2.bitwise_not(alpha) if invert else alpha, out)
        return
    a = np.ascontiguousarray(alpha, dtype=np.float32)
    if alpha.dtype == np.uint8:
        a *= np.float32(1 / 255)
    rest = 1.0 - a
    source_weight, layer_weight = (rest, a) if invert else (a, rest)
    cv2.blendLinear(rgb, np.ascontiguousarray(layer), source_weight, layer_weight, dst=out)


def i420_size(i420: np.ndarray) -> tuple[int, int]:
    """height, width of the picture in I420 data ((H*3/2) x W)."""
    return i420.shape[0] * 2 // 3, i420.shape[1]


def i420_planes(i420: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y (HxW), U and V (H/2 x W/2) planes of I420 data."""
    height, width = i420_size(i420)
    chroma = i420[height:].reshape(2, height // 2, width // 2)
    return i420[:height], chroma[0], chroma[1]


def join_i420(planes: list[np.ndarray]) -> np.ndarray:
    """I420 data of Y, U and V planes."""
    height, width = planes[0].shape
    out = np.empty((height * 3 // 2, width), dtype=np.uint8)
    for view, plane in zip(i420_planes(out), planes):
        view[:] = plane
    return out


def half_size(matte: np.ndarray) -> np.ndarray:
    """A matte at the chroma planes' size: each value the mean of its 2x2 block (an edge's blocks are blended)."""
    height, width = matte.shape[:2]
    return cv2.resize(matte, (width // 2, height // 2), interpolation=cv2.INTER_AREA)


def composite_i420(i420: np.ndarray, alpha: np.ndarray, layer: np.ndarray, invert: bool = False) -> np.ndarray:
    """`composite` of I420 data, drawn into `layer` (a new one each frame: `Effect.background_i420`) and returned:
    the frame's own YUV pixels where the matte holds; the chroma planes take the matte at their size (`half_size`)."""
    matte = as_matte(alpha)
    mattes = (matte, *(2 * [half_size(matte)]))
    for plane, weight, layer_plane in zip(i420_planes(i420), mattes, i420_planes(layer)):
        _draw(plane, weight, layer_plane, invert, out=layer_plane)
    return layer


def overlay(
    rgb: np.ndarray,
    part_alphas: list[np.ndarray],
    colours: list[tuple[int, int, int]] | None = None,
    opacity: float = 0.5,
) -> np.ndarray:
    """The frame with each part's matte tinted in its own colour, to check segmentations by eye.

    Pixel = (1 - opacity*a)*pixel + opacity*a*colour per part in order (rounded to uint8 after each
    part), so pixels outside every matte are unchanged. Colours default to PALETTE.
    """
    palette = list(colours) if colours else list(PALETTE)
    out = np.ascontiguousarray(rgb)
    tint = np.empty_like(out)
    for index, alpha in enumerate(part_alphas):
        weight = np.asarray(alpha, dtype=np.float32) * np.float32(opacity)
        tint[:] = palette[index % len(palette)]
        out = cv2.blendLinear(out, tint, 1.0 - weight, weight)  # weight 0 keeps the pixel exactly
    return out if part_alphas else out.copy()


def overlay_i420(i420: np.ndarray, part_mattes: np.ndarray, tints: list[tuple[int, int, int]],
                 opacity: float = 0.5) -> np.ndarray:
    """`overlay` of I420 data, with uint8 mattes (0..255): the same blend in the frame's own YUV (it is linear), each
    part's tint given in that YUV (`tints`, in PALETTE's order); the chroma planes take the mattes at their size."""
    out = i420.copy()
    views = i420_planes(out)
    for index, matte in enumerate(part_mattes):
        weight = matte.astype(np.float32) * np.float32(opacity / 255)
        half = half_size(weight)
        for view, plane_weight, value in zip(views, (weight, half, half), tints[index % len(tints)]):
            cv2.blendLinear(view, np.full_like(view, value), 1.0 - plane_weight, plane_weight, dst=view)
    return out

