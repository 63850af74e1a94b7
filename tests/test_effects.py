"""Effect layers, composites and overlays on synthetic arrays (no model)."""

from __future__ import annotations


import cv2
import numpy as np
import pytest

from stream_mask.effects import (
    PALETTE,
    Effect,
    composite,
    cover_resize,
    _blur_plan,
    _small,
    gaussian_blur,
    masked_blur,
    overlay,
    parse_effect,
)
from stream_mask.errors import StreamMaskError
from stream_mask.outputs import open_effect

RNG = np.random.default_rng(11)
H, W = 48, 64


def frame(height: int = H, width: int = W) -> np.ndarray:
    return RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)


def three_zone_alpha() -> np.ndarray:
    """Rows 0-15 selected (1), rows 16-31 not (0), rows 32-47 a soft edge (0.5)."""
    alpha = np.zeros((H, W), dtype=np.float32)
    alpha[:16] = 1.0
    alpha[32:] = 0.5
    return alpha


def test_composite_keeps_the_source_inside_and_the_layer_outside_exactly():
    rgb, layer, alpha = frame(), frame(), three_zone_alpha()
    out = composite(rgb, alpha, layer)
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    assert np.array_equal(out[:16], rgb[:16])
    assert np.array_equal(out[16:32], layer[16:32])
    mean = (rgb[32:].astype(np.int32) + layer[32:]) / 2
    assert np.abs(out[32:] - mean).max() <= 1


def test_composite_invert_swaps_the_roles():
    rgb, layer, alpha = frame(), frame(), three_zone_alpha()
    out = composite(rgb, alpha, layer, invert=True)
    assert np.array_equal(out[:16], layer[:16])
    assert np.array_equal(out[16:32], rgb[16:32])
    assert np.array_equal(out, composite(rgb, 1.0 - alpha, layer))


def test_composite_extremes_are_exact_for_every_value():
    rgb = np.arange(256, dtype=np.uint8).repeat(3).reshape(16, 16, 3)
    layer = rgb[::-1].copy()
    assert np.array_equal(composite(rgb, np.ones((16, 16), np.float32), layer), rgb)
    assert np.array_equal(composite(rgb, np.zeros((16, 16), np.float32), layer), layer)


def test_composite_refuses_mismatched_sizes():
    with pytest.raises(StreamMaskError):
        composite(frame(), np.ones((H, W + 1), np.float32), frame())


@pytest.mark.parametrize("text", ["color:#00ff00", "color:00ff00", "color:green", "colour:#00FF00"])
def test_colour_specs(text):
    effect = parse_effect(text)
    assert effect.kind == "color" and effect.colour == (0, 255, 0)
    layer = effect.background(frame())
    assert layer.shape == (H, W, 3) and (layer == (0, 255, 0)).all()


def test_other_specs():
    assert parse_effect("blur").strength == 15.0
    assert parse_effect("blur:7.5") == Effect("blur", strength=7.5)
    assert parse_effect("color:#102030").colour == (16, 32, 48)
    assert parse_effect("desaturate").kind == "desaturate"
    video = parse_effect("video:clips/beach.mp4")
    assert (video.kind, video.path) == ("video", "clips/beach.mp4")
    with pytest.raises(StreamMaskError, match="pipeline"):
        video.background(frame())


@pytest.mark.parametrize(
    "text",
    ["", "sharpen", "blur:0", "blur:-3", "blur:abc", "blur:nan", "color", "color:#00ff0", "color:purple",
     "color:#gg0000", "image:", "video:", "desaturate:2"],
)
def test_bad_specs_raise_one_line_listing_the_forms(text):
    with pytest.raises(StreamMaskError) as info:
        parse_effect(text)
    message = str(info.value)
    assert "\n" not in message
    for form in ("blur:STRENGTH", "color:#rrggbb", "image:PATH", "video:PATH", "desaturate"):
        assert form in message


def test_missing_image_fails_when_the_effect_is_opened(tmp_path):
    with pytest.raises(StreamMaskError, match="cannot read"):
        open_effect(f"image:{tmp_path / 'nope.png'}")


def test_image_is_cover_resized_and_centre_cropped(tmp_path):
    # 100 wide x 50 high: left quarter red, middle half green, right quarter blue (RGB).
    rgb = np.zeros((50, 100, 3), dtype=np.uint8)
    rgb[:, :25] = (255, 0, 0)
    rgb[:, 25:75] = (0, 255, 0)
    rgb[:, 75:] = (0, 0, 255)
    path = tmp_path / "bg.png"
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    effect = open_effect(f"image:{path}")
    layer = effect.background(frame(64, 64))
    assert layer.shape == (64, 64, 3)
    # Scaled to 128x64 (height fills), the centre 64 columns are the green middle half: no bars, no stretch.
    assert (layer[:, 2:-2] == (0, 255, 0)).all()
    assert (layer.max(axis=2) > 200).all()  # nothing black anywhere
    assert effect.background(frame(64, 64)) is layer  # cached per frame size
    assert effect.background(frame(32, 80)).shape == (32, 80, 3)


def test_cover_resize_keeps_aspect_on_a_tall_frame():
    image = np.zeros((50, 100, 3), dtype=np.uint8)
    image[:, 40:60] = 255  # a centred stripe 20% of the width
    out = cover_resize(image, 100, 40)  # scale 2 -> 200x100, crop the centre 40 columns
    assert out.shape == (100, 40, 3)
    assert (out[:, 2:-2] == 255).all()


def test_desaturate_gives_equal_channels():
    layer = parse_effect("desaturate").background(frame())
    assert layer.shape == (H, W, 3) and layer.dtype == np.uint8
    assert np.array_equal(layer[..., 0], layer[..., 1]) and np.array_equal(layer[..., 1], layer[..., 2])
    assert layer.std() > 0


def test_blur_layer_has_no_halo_around_a_bright_person():
    height, width = 360, 640
    rgb = np.full((height, width, 3), 20, dtype=np.uint8)
    alpha = np.zeros((height, width), dtype=np.float32)
    alpha[80:280, 240:400] = 1.0
    rgb[alpha == 1.0] = 240
    effect = parse_effect("blur:15")
    layer = effect.background(rgb, alpha)
    naive = gaussian_blur(rgb, 15)
    ring = np.zeros_like(alpha, dtype=bool)
    ring[70:290, 230:410] = True
    ring[80:280, 240:400] = False  # 10 pixels just outside the person
    assert layer[ring].max() <= 22  # stays the dark background colour
    assert naive[ring].mean() > 60  # a plain blur glows there
    out = effect.apply(rgb, alpha)
    assert np.array_equal(out[alpha == 1.0], rgb[alpha == 1.0])
    assert out[ring].max() <= 22


def test_blur_layer_of_a_uniform_frame_is_the_frame_and_inverted_blur_drops_the_background():
    rgb = np.full((72, 128, 3), 90, dtype=np.uint8)
    assert np.array_equal(parse_effect("blur").background(rgb), rgb)
    # Inverted: the person is blurred and the background stays sharp, so the background is left out.
    rgb[:, :64] = 200
    alpha = np.zeros((72, 128), dtype=np.float32)
    alpha[:, :64] = 1.0
    layer = parse_effect("blur:4").background(rgb, alpha, invert=True)
    assert np.abs(layer[:, :64].astype(int) - 200).max() <= 2


def scene(height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A textured frame (smoothed noise plus a gradient), a 0/255 ellipse (a person) and a soft-edged version."""
    noise = cv2.GaussianBlur(RNG.integers(0, 256, (height, width, 3), dtype=np.uint8), (0, 0), 3)
    gradient = np.linspace(0, 120, width, dtype=np.float32)[None, :, None]
    rgb = np.clip(noise * 0.6 + gradient, 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:height, :width]
    inside = ((xx - width / 2) / (width / 5)) ** 2 + ((yy - height / 2) / (height / 2.5)) ** 2 < 1
    binary = np.where(inside, np.uint8(255), np.uint8(0))
    return rgb, binary, cv2.GaussianBlur(binary, (0, 0), 4)


def float_masked_blur(rgb: np.ndarray, weight: np.ndarray, strength: float) -> np.ndarray:
    """The same normalised convolution, all in float32 (the reference for the integer version)."""
    height, width = rgb.shape[:2]
    sigma, factor = _blur_plan(height, width, strength)
    w = weight.astype(np.float32) / 255
    num = cv2.GaussianBlur(_small(rgb.astype(np.float32) * w[..., None], factor), (0, 0), sigma / factor)
    den = cv2.GaussianBlur(_small(w, factor), (0, 0), sigma / factor)
    plain = cv2.GaussianBlur(_small(rgb.astype(np.float32), factor), (0, 0), sigma / factor)
    out = np.where((den > 1e-3)[..., None], num / np.maximum(den, 1e-3)[..., None], plain)
    small = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR) if factor > 1 else small


@pytest.mark.parametrize("size", [(720, 1280), (563, 1001), (90, 160)])
def test_the_integer_masked_blur_is_within_2_grey_levels_of_float_where_it_is_seen(size):
    """Where the weight is ~0 (hidden by the composite) both divide by almost nothing and may differ more."""
    rgb, binary, soft = scene(*size)
    for matte in (binary, soft):
        for invert in (False, True):  # the layer outside the person, and inside it (--invert)
            weight = matte if invert else 255 - matte
            for strength in (15.0, 4.0):
                ours = composite(rgb, matte, masked_blur(rgb, weight, strength), invert)
                reference = composite(rgb, matte, float_masked_blur(rgb, weight, strength), invert)
                assert np.abs(ours.astype(int) - reference).max() <= 2


def test_a_uint8_matte_composites_as_its_float_alpha_does():
    rgb, binary, soft = scene(120, 200)
    layer = parse_effect("blur").background(rgb)
    for invert in (False, True):
        # 0/255: a masked copy, the same pixels as the float blend (exactly the source or the layer)
        assert np.array_equal(composite(rgb, binary, layer, invert), composite(rgb, binary / np.float32(255), layer, invert))
        assert np.array_equal(composite(rgb, soft, layer, invert), composite(rgb, soft / np.float32(255), layer, invert))
        effect = parse_effect("blur")
        assert np.array_equal(effect.apply(rgb, binary, invert), effect.apply(rgb, binary / np.float32(255), invert))
    colour = parse_effect("color:green")
    out = colour.apply(rgb, binary)
    assert np.array_equal(out[binary == 255], rgb[binary == 255])
    assert (out[binary == 0] == (0, 255, 0)).all()
    assert (colour.background(rgb) == (0, 255, 0)).all()  # the cached layer is not written into


def test_overlay_tints_only_inside_the_matte():
    rgb = frame()
    face = np.zeros((H, W), dtype=np.float32)
    face[:10, :10] = 1.0
    hair = np.zeros((H, W), dtype=np.float32)
    hair[20:30, 20:30] = 1.0
    out = overlay(rgb, [face, hair])
    outside = (face == 0) & (hair == 0)
    assert np.array_equal(out[outside], rgb[outside])
    for matte, colour in ((face, PALETTE[0]), (hair, PALETTE[1])):
        want = (rgb[matte == 1].astype(np.float32) + colour) / 2
        assert np.abs(out[matte == 1] - want).max() <= 1
    custom = overlay(rgb, [face], colours=[(0, 0, 0)], opacity=1.0)
    assert (custom[:10, :10] == 0).all()


def test_palette_has_eight_distinct_colours():
    assert len(set(PALETTE)) == len(PALETTE) == 8
