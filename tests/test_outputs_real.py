"""Every output kind through the real command on real footage (selfie model), read back with PyAV.

The input is the first second of the shared 720p gesture clip, stream-copied (H.264 + AAC, 25 frames), so
the outputs are checked against a real decode: frame count, size, alpha equal to the mask, colour equal to
the input where the format is lossless, audio timing; plus odd sizes and the display matrix (rotation).
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from conftest import MEDIA, needs_shared, run_cli, stream_copy

pytestmark = needs_shared

CLIP = MEDIA / "people" / "gesture_recognizer_test_video.mp4"
SECONDS = 1.0
FRAME = 1 / 25  # one frame of the clip, in seconds
# Measured on this clip (FFmpeg 8.1 / PyAV 18.1): ProRes 4444 with 16-bit alpha keeps the binary matte exactly
# (error 0); VP9 yuva420p crf 20 codes the alpha plane lossily: max error 17 levels, on up to ~9 500 pixels of a
# frame (along the matte's edges), mean error per frame at most 0.026 levels.
ALPHA_MAX_ERROR = {"a.mov": 0, "a.webm": 24}
ALPHA_MEAN_ERROR = {"a.mov": 0.0, "a.webm": 0.05}
# Measured: every output's decoded audio starts at 0.000 s like the input's and lasts 1.002667 s (47 AAC packets
# of 1024 samples), Opus in WebM included (its 312-sample pre-skip is signalled and dropped by the decoder).
# The bound is Matroska's timestamp resolution, 1 ms.
AUDIO_START_TOLERANCE = {".mkv": 0.001, ".mp4": 0.001, ".mov": 0.001, ".webm": 0.001}


def _decode(path: Path, vp9_alpha: bool = False) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if not vp9_alpha:
            return list(container.decode(stream))
        decoder = av.CodecContext.create("libvpx-vp9", "r")  # FFmpeg's native vp9 decoder drops the alpha
        return [frame for packet in container.demux(stream) for frame in decoder.decode(packet)]


def _audio_span(path: Path) -> tuple[str, float, float]:
    """Codec, first decoded timestamp and decoded duration (seconds) of the audio stream."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        frames = list(container.decode(stream))
        rate = stream.codec_context.sample_rate
        start = float(frames[0].pts * frames[0].time_base)
        return stream.codec_context.name, start, sum(frame.samples for frame in frames) / rate


def _pngs(folder: Path, count: int) -> list[np.ndarray]:
    names = sorted(p.name for p in folder.glob("*.png"))  # beside them: stream_mask.json
    assert names == [f"{index:05d}.png" for index in range(count)]
    return [cv2.cvtColor(cv2.imread(str(folder / name), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA) for name in names]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    """The 1 s clip and its frames decoded to RGB, as the command decodes them."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    stream_copy(CLIP, path, SECONDS)
    frames = [frame.to_ndarray(format="rgb24") for frame in _decode(path)]
    assert len(frames) == 25
    return path, frames


@pytest.fixture(scope="module")
def outputs(clip, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight outputs of every kind from one run of the command."""
    folder = tmp_path_factory.mktemp("outputs")
    result = run_cli("run", str(clip[0]), "--model", "selfie", "-q",
                     "-o", str(folder / "m.mkv"),
                     "--kind", "alpha", "-o", str(folder / "a.mkv"),
                     "-o", str(folder / "a.mov"),
                     "-o", str(folder / "a.webm"),
                     "--kind", "alpha", "-o", str(folder / "apng"),
                     "--effect", "blur", "-o", str(folder / "c.mp4"),
                     "--kind", "overlay", "-o", str(folder / "o.mp4"),
                     "--kind", "labels", "-o", str(folder / "l.mkv"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("25 frames in ")
    return folder


@pytest.fixture(scope="module")
def masks(outputs: Path) -> list[np.ndarray]:
    frames = [frame.to_ndarray(format="gray") for frame in _decode(outputs / "m.mkv")]
    values = set(np.unique(np.stack(frames)))
    assert values == {0, 255}  # a binary matte with a person in it: the comparisons below mean something
    return frames


VIDEOS = ["m.mkv", "a.mkv", "a.mov", "a.webm", "c.mp4", "o.mp4", "l.mkv"]


@pytest.mark.parametrize("name", VIDEOS)
def test_every_video_has_each_frame_at_full_size_and_the_audio(clip, outputs, name) -> None:
    frames = _decode(outputs / name, vp9_alpha=name.endswith(".webm"))
    assert len(frames) == len(clip[1])
    assert {(frame.width, frame.height) for frame in frames} == {(1280, 720)}
    _, in_start, in_duration = _audio_span(clip[0])
    codec, start, duration = _audio_span(outputs / name)
    suffix = Path(name).suffix
    assert codec == ("opus" if suffix == ".webm" else "aac")
    assert abs(start - in_start) <= AUDIO_START_TOLERANCE[suffix], (start, in_start)
    assert abs(duration - in_duration) <= FRAME, (duration, in_duration)


def test_lossless_alpha_is_the_mask_and_colour_is_the_input_exactly(clip, outputs, masks) -> None:
    frames = _decode(outputs / "a.mkv")
    assert frames[0].format.name == "bgra"
    pngs = _pngs(outputs / "apng", len(masks))
    for index, (rgb, mask, frame, png) in enumerate(zip(clip[1], masks, frames, pngs)):
        rgba = frame.to_ndarray(format="rgba")
        assert np.array_equal(rgba[..., 3], mask), f"a.mkv frame {index}"
        assert np.array_equal(rgba[..., :3], rgb), f"a.mkv frame {index}"
        assert np.array_equal(png[..., 3], mask), f"png {index}"
        assert np.array_equal(png[..., :3], rgb), f"png {index}"


@pytest.mark.parametrize("name", ["a.mov", "a.webm"])
def test_lossy_alpha_is_the_mask_within_a_small_error(clip, outputs, masks, name) -> None:
    frames = _decode(outputs / name, vp9_alpha=name.endswith(".webm"))
    assert frames[0].format.name.startswith("yuva")
    errors = [np.abs(frame.to_ndarray(format="rgba")[..., 3].astype(int) - mask) for frame, mask in zip(frames, masks)]
    assert max(error.max() for error in errors) <= ALPHA_MAX_ERROR[name]
    assert max(error.mean() for error in errors) <= ALPHA_MEAN_ERROR[name]
    colour = np.abs(frames[12].to_ndarray(format="rgb24").astype(int) - clip[1][12]).mean()
    assert colour < 3  # BT.709 round trip of real footage


def test_composite_and_overlay_differ_from_the_input_only_where_they_should(clip, outputs, masks) -> None:
    rgb, mask = clip[1][12], masks[12]
    composite = _decode(outputs / "c.mp4")[12].to_ndarray(format="rgb24").astype(int)
    overlay = _decode(outputs / "o.mp4")[12].to_ndarray(format="rgb24").astype(int)
    inside, outside = mask == 255, mask == 0
    inside = cv2.erode(inside.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)  # away from blended edges
    outside = cv2.erode(outside.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    assert np.abs(composite[inside] - rgb[inside]).mean() < 3  # the person is kept
    def detail(picture: np.ndarray) -> float:  # high frequencies, which a blur removes
        return float(np.abs(cv2.Laplacian(picture.astype(np.float32), cv2.CV_32F))[outside].mean())

    assert detail(composite) < 0.5 * detail(rgb)  # the background is blurred
    assert np.abs(overlay[outside] - rgb[outside]).mean() < 3  # the background is untouched
    assert np.abs(overlay[inside] - rgb[inside]).mean() > 10  # the person is tinted


def test_label_map_is_one_exactly_where_the_mask_is(outputs, masks) -> None:
    labels = [frame.to_ndarray(format="gray") for frame in _decode(outputs / "l.mkv")]
    assert len(labels) == len(masks)
    for index, (label, mask) in enumerate(zip(labels, masks)):
        assert set(np.unique(label)) <= {0, 1}
        assert np.array_equal(label == 1, mask == 255), f"frame {index}"


def _encode(path: Path, frames: list[np.ndarray], codec: str, pix_fmt: str, rotation: int | None = None) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pix_fmt
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def test_odd_size_is_kept_exactly_through_the_command(clip, tmp_path) -> None:
    frames = [cv2.resize(rgb, (321, 181), interpolation=cv2.INTER_AREA) for rgb in clip[1][:4]]
    source = tmp_path / "odd.mkv"
    _encode(source, frames, "ffv1", "yuv444p")  # 4:4:4: an odd size is coded as is
    result = run_cli("run", str(source), "--model", "selfie", "-q", "-o", str(tmp_path / "m.mkv"),
                     "-o", str(tmp_path / "a.mov"), "--kind", "alpha", "-o", str(tmp_path / "png"))
    assert result.returncode == 0, result.stderr
    masks = [frame.to_ndarray(format="gray") for frame in _decode(tmp_path / "m.mkv")]
    assert {mask.shape for mask in masks} == {(181, 321)}
    alphas = [frame.to_ndarray(format="rgba")[..., 3] for frame in _decode(tmp_path / "a.mov")]
    assert len(alphas) == len(masks) == 4
    assert all(np.array_equal(alpha, mask) for alpha, mask in zip(alphas, masks))
    pngs = _pngs(tmp_path / "png", 4)
    assert {png.shape for png in pngs} == {(181, 321, 4)}
    assert all(np.array_equal(png[..., 3], mask) for png, mask in zip(pngs, masks))


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotation_of_the_input_is_kept_on_every_video_output(clip, tmp_path, rotation) -> None:
    """Phone videos carry a display matrix: masks must carry the same so they line up in players and editors."""
    frames = [cv2.resize(rgb, (320, 180), interpolation=cv2.INTER_AREA) for rgb in clip[1][:3]]
    source = tmp_path / "phone.mp4"
    _encode(source, frames, "libx264", "yuv420p", rotation=rotation)
    assert _decode(source)[0].rotation % 360 == rotation % 360  # 180 reads back as -180
    names = ["m.mkv", "m.mp4", "a.mov", "a.webm", "a.mkv", "c.mp4"]
    result = run_cli("run", str(source), "--model", "selfie", "-q", "-o", str(tmp_path / "m.mkv"),
                     "-o", str(tmp_path / "m.mp4"), "-o", str(tmp_path / "a.mov"), "-o", str(tmp_path / "a.webm"),
                     "--kind", "alpha", "-o", str(tmp_path / "a.mkv"), "--effect", "blur", "-o", str(tmp_path / "c.mp4"))
    assert result.returncode == 0, result.stderr
    for name in names:
        decoded = _decode(tmp_path / name)  # the container's decoder: a bare libvpx context sees no side data
        assert [frame.rotation % 360 for frame in decoded] == [rotation % 360] * 3, name
        assert (decoded[0].width, decoded[0].height) == (320, 180)  # coded upright as the input; players rotate


def test_unrotated_input_gives_unrotated_outputs(clip, outputs) -> None:
    assert _decode(clip[0])[0].rotation == 0
    with av.open(str(outputs / "m.mkv")) as container:
        frame = next(container.decode(video=0))
        assert frame.rotation == 0 and not list(frame.side_data.keys())
