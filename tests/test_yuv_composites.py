"""Composites drawn in the input's own YUV (frames.I420): the real command on real footage, encoded losslessly
(`--h264-crf 0`) so that the decoded output is exactly what was drawn.

Where the person is, the output's YUV pixels are the input's, bit for bit; elsewhere the effect is the one the RGB
path draws (effects.Effect.apply on the decoded RGB, then the sink's own conversion), within a grey level on
average; the output is tagged with the matrix the input was decoded with. Inputs that are not 8-bit 4:2:0 limited
range of even size take the RGB path, as before.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter

from conftest import MEDIA, needs_shared, run_cli
from stream_mask import effects
from stream_mask.outputs import open_effect

pytestmark = needs_shared

FRAMES = 8
CLIP = MEDIA / "people" / "gesture_recognizer_test_video.mp4"  # 1280x720, tagged BT.709
SIZE = (640, 360)


def make_clip(path: Path, colorspace: int | None, pix_fmt: str = "yuv420p", size: tuple[int, int] = SIZE) -> Path:
    """The first FRAMES frames of CLIP scaled to `size`, as H.264 in `pix_fmt`, tagged with `colorspace` (an
    AVColorSpace value; None: untagged) and converted with that matrix (BT.601 when untagged)."""
    matrix = {1: Colorspace.ITU709, 5: Colorspace.ITU601, None: Colorspace.ITU601}[colorspace]
    convert = VideoReformatter()
    with av.open(str(CLIP)) as src, av.open(str(path), "w") as dst:
        stream = dst.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = *size, pix_fmt
        stream.options = {"crf": "18", "preset": "ultrafast"}
        if colorspace is not None:
            stream.codec_context.colorspace = colorspace
            stream.codec_context.color_range = int(ColorRange.MPEG)
        for index, frame in zip(range(FRAMES), src.decode(video=0)):
            rgb = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            out = convert.reformat(rgb, width=size[0], height=size[1], format=pix_fmt, dst_colorspace=matrix,
                                   dst_color_range=ColorRange.JPEG if pix_fmt.startswith("yuvj") else ColorRange.MPEG)
            out.pts = index
            dst.mux(stream.encode(out))
        dst.mux(stream.encode(None))
    return path


def decoded(path: Path, fmt: str | None = None) -> tuple[list[np.ndarray], int]:
    """Every frame as an ndarray (`fmt`, or the stream's own format) and the stream's colorspace tag."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [frame.to_ndarray(format=fmt) for frame in container.decode(stream)], stream.codec_context.colorspace


def composite_run(tmp_path: Path, clip: Path, *flags: str) -> tuple[Path, Path]:
    """A lossless mask and a lossless composite (`flags`: its effect, --invert; --feather is the run's)."""
    mask, out = tmp_path / "mask.mkv", tmp_path / "composite.mp4"
    result = run_cli("run", str(clip), "--model", "selfie", "-o", str(mask), *flags, "--h264-crf", "0",
                     "-o", str(out), "-q")
    assert result.returncode == 0, result.stderr
    return mask, out


def rgb_path(rgb: np.ndarray, matte: np.ndarray, effect: str, invert: bool, matrix: Colorspace) -> np.ndarray:
    """The composite as the RGB path draws and converts it (I420 data)."""
    frame = av.VideoFrame.from_ndarray(open_effect(effect).apply(rgb, matte, invert), format="rgb24")
    return VideoReformatter().reformat(frame, format="yuv420p", dst_colorspace=matrix, dst_color_range=ColorRange.MPEG,
                                       threads=1).to_ndarray()


@pytest.mark.parametrize(("colorspace", "matrix"), [(1, Colorspace.ITU709), (5, Colorspace.ITU601),
                                                    (None, Colorspace.ITU601)], ids=["bt709", "bt601", "untagged"])
def test_the_person_keeps_the_inputs_own_yuv_and_the_output_its_matrix(tmp_path: Path, colorspace: int | None,
                                                                       matrix: Colorspace) -> None:
    clip = make_clip(tmp_path / "in.mp4", colorspace)
    mask, out = composite_run(tmp_path, clip, "--effect", "blur")
    sources, _ = decoded(clip)
    sources_rgb, _ = decoded(clip, "rgb24")
    mattes, _ = decoded(mask, "gray")
    outputs, tag = decoded(out)
    assert tag == (colorspace or 6)  # untagged input: decoded as BT.601, said so (SMPTE170M)
    assert len(outputs) == len(sources) == FRAMES
    height = SIZE[1]
    shown = 0
    for source, rgb, matte, output in zip(sources, sources_rgb, mattes, outputs):
        person = matte == 255
        assert np.array_equal(output[:height][person], source[:height][person])  # luma: bit for bit
        chroma_person = effects.half_size(matte) == 255
        for plane in (slice(height, height * 5 // 4), slice(height * 5 // 4, None)):
            flat_out = output[plane].reshape(height // 2, SIZE[0] // 2)
            flat_in = source[plane].reshape(height // 2, SIZE[0] // 2)
            assert np.array_equal(flat_out[chroma_person], flat_in[chroma_person])
        reference = rgb_path(rgb, matte, "blur", False, matrix)
        assert np.abs(output.astype(int) - reference).mean() < 1.0
        shown += int(person.sum())
    assert shown > 0.05 * FRAMES * SIZE[0] * SIZE[1]  # there was a person to keep


@pytest.mark.parametrize("flags", [("--effect", "color:#00ff00"), ("--effect", "desaturate", "--invert"),
                                   ("--effect", "blur:30", "--feather", "6"), ("--effect", "image:{image}")],
                         ids=["colour", "desaturate-inverted", "blur-feathered", "image"])
def test_every_effect_draws_in_yuv_what_the_rgb_path_draws(tmp_path: Path, flags: tuple[str, ...]) -> None:
    flags = tuple(flag.format(image=MEDIA / "people" / "astronaut.png") for flag in flags)
    clip = make_clip(tmp_path / "in.mp4", 1)
    mask, out = composite_run(tmp_path, clip, *flags)
    sources_rgb, _ = decoded(clip, "rgb24")
    mattes, _ = decoded(mask, "gray")
    outputs, _ = decoded(out)
    effect = flags[1]
    for rgb, matte, output in zip(sources_rgb, mattes, outputs):
        reference = rgb_path(rgb, matte, effect, "--invert" in flags, Colorspace.ITU709)
        error = np.abs(output.astype(int) - reference)
        # Desaturation keeps the video's own luma (BT.709 weights) where the RGB path takes OpenCV's BT.601 grey.
        assert error.mean() < (2.5 if effect == "desaturate" else 1.0), effect
        assert np.percentile(error, 99) <= (12 if effect == "desaturate" else 8), effect


@pytest.mark.parametrize(("pix_fmt", "size"), [("yuvj420p", SIZE), ("yuv444p", (641, 361))], ids=["full-range", "4:4:4-odd-size"])
def test_other_inputs_take_the_rgb_path_in_bt709(tmp_path: Path, pix_fmt: str, size: tuple[int, int]) -> None:
    clip = make_clip(tmp_path / "in.mp4", 1, pix_fmt, size)
    mask, out = composite_run(tmp_path, clip, "--effect", "blur")
    sources_rgb, _ = decoded(clip, "rgb24")
    mattes, _ = decoded(mask, "gray")
    outputs, tag = decoded(out, "rgb24")
    assert tag == 1
    for rgb, matte, output in zip(sources_rgb, mattes, outputs):
        person = cv2.erode(matte, np.ones((5, 5), np.uint8)) == 255
        output = output[:rgb.shape[0], :rgb.shape[1]]
        assert np.abs(output[person].astype(int) - rgb[person]).mean() < 1.5


def test_an_overlay_draws_in_yuv_what_the_rgb_path_draws(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", 5)
    mask, out = composite_run(tmp_path, clip, "--kind", "overlay")
    sources_rgb, _ = decoded(clip, "rgb24")
    mattes, _ = decoded(mask, "gray")
    outputs, tag = decoded(out)
    assert tag == 5
    for rgb, matte, output in zip(sources_rgb, mattes, outputs):
        tinted = effects.overlay(rgb, [matte.astype(np.float32) / 255])
        frame = av.VideoFrame.from_ndarray(tinted, format="rgb24")
        reference = VideoReformatter().reformat(frame, format="yuv420p", dst_colorspace=Colorspace.ITU601,
                                                dst_color_range=ColorRange.MPEG, threads=1).to_ndarray()
        error = np.abs(output.astype(int) - reference)
        assert error.mean() < 1.0
        assert np.percentile(error, 99) <= 3
