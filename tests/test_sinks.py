"""Sinks write grey, RGB and RGBA pictures into every (extension, picture) format of the table, read back with PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from stream_mask.errors import StreamMaskError
from stream_mask.frames import Frame, SourceInfo
from stream_mask.sinks import open_sink
from stream_mask.sinks.video import VIDEO_FORMATS
from stream_mask.sources.files import VideoFileSource

SHARED_CLIP = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "people" / "gesture_recognizer_test_video.mp4"
FRAMES = 10
TIME_BASE = Fraction(1, 25)

# What the decoder reports, by the family of the pix_fmt written.
FAMILY = {"gray": "gray", "yuv420p": "yuv420p", "yuva420p": "yuva420p", "yuva444p10le": "yuva444p", "bgra": "bgra"}
# Largest alpha error after a round trip (0..255): 0 for lossless kinds and for binary blocks in VP9/ProRes.
ALPHA_TOLERANCE = {"ffv1": 0, "prores_ks": 1, "libvpx-vp9": 2}


def _info(width: int, height: int) -> SourceInfo:
    return SourceInfo("synthetic", width, height, Fraction(25), TIME_BASE, FRAMES)


def _rgba(index: int, width: int, height: int) -> np.ndarray:
    """A moving colour ramp with a moving checkerboard of 0/255 alpha blocks."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([(x * 3 + index * 8) % 256, (y * 2 + index * 5) % 256, ((x + y) // 2 + index * 11) % 256], axis=-1)
    alpha = np.where((x // 16 + y // 16 + index) % 2 == 0, 255, 0)
    return np.dstack([rgb, alpha]).astype(np.uint8)


def _picture(kind: str, index: int, width: int, height: int) -> np.ndarray:
    rgba = _rgba(index, width, height)
    return {"gray": rgba[..., 0].copy(), "rgb": rgba[..., :3].copy(), "rgba": rgba}[kind]


def _write(path: Path, kind: str, width: int, height: int) -> None:
    sink = open_sink(str(path), _info(width, height), picture=kind)
    for index in range(FRAMES):
        frame = Frame(_rgba(index, width, height)[..., :3].copy(), index, index, TIME_BASE)
        sink.write(frame, _picture(kind, index, width, height))
    sink.close()


def _decode(path: Path, codec: str) -> list[av.VideoFrame]:
    """All video frames. VP9 goes through libvpx: FFmpeg's native vp9 decoder drops the alpha plane."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if codec != "libvpx-vp9":
            return list(container.decode(stream))
        decoder = av.CodecContext.create("libvpx-vp9", "r")
        # demux() ends with an empty packet, which flushes the decoder.
        return [frame for packet in container.demux(stream) for frame in decoder.decode(packet)]


COMBINATIONS = sorted(VIDEO_FORMATS, key=lambda key: (key[1], key[0]))


@pytest.mark.parametrize(("extension", "kind"), COMBINATIONS, ids=[f"{k}{e}" for e, k in COMBINATIONS])
def test_video_round_trip(tmp_path: Path, extension: str, kind: str) -> None:
    fmt = VIDEO_FORMATS[extension, kind]
    width, height = 320, 180
    path = tmp_path / f"out{extension}"
    _write(path, kind, width, height)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # the partial file was renamed into place
    frames = _decode(path, fmt.codec)
    assert len(frames) == FRAMES
    assert (frames[0].width, frames[0].height) == (width, height)
    assert frames[0].format.name.startswith(FAMILY[fmt.pix_fmt])
    middle = frames[FRAMES // 2]
    expected = _rgba(FRAMES // 2, width, height)
    if kind == "rgba":
        for index, frame in enumerate(frames):  # every frame: a threaded-swscale bug once hit 8 pixels per slice
            alpha = frame.to_ndarray(format="rgba")[..., 3]
            alpha_error = np.abs(alpha.astype(int) - _rgba(index, width, height)[..., 3]).max()
            assert alpha_error <= ALPHA_TOLERANCE[fmt.codec], f"frame {index}"
        decoded = middle.to_ndarray(format="rgba")
        colour_error = np.abs(decoded[..., :3].astype(int) - expected[..., :3]).mean()
        assert colour_error == 0 if fmt.codec == "ffv1" else colour_error < 6
    elif kind == "rgb":
        decoded = middle.to_ndarray(format="rgb24")
        assert np.abs(decoded.astype(int) - expected[..., :3]).mean() < 6
    else:
        decoded = middle.to_ndarray(format="gray")
        error = np.abs(decoded.astype(int) - expected[..., 0]).mean()
        assert error == 0 if fmt.codec == "ffv1" else error < 6


def test_colour_is_tagged_and_converted_as_bt709(tmp_path: Path) -> None:
    path = tmp_path / "flat.mp4"
    sink = open_sink(str(path), _info(64, 64), picture="rgb")
    flat = np.empty((64, 64, 3), np.uint8)
    flat[:] = (200, 50, 30)
    for index in range(3):
        sink.write(Frame(flat, index, index, TIME_BASE), flat)
    sink.close()
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        assert container.streams.video[0].codec_context.colorspace == 1  # AVCOL_SPC_BT709
    assert np.abs(frame.to_ndarray(format="rgb24")[32, 32].astype(int) - (200, 50, 30)).max() <= 2


@pytest.mark.parametrize(("extension", "kind"), [k for k in COMBINATIONS if VIDEO_FORMATS[k].codec != "libx264"],
                         ids=[f"{k}{e}" for e, k in COMBINATIONS if VIDEO_FORMATS[(e, k)].codec != "libx264"])
def test_odd_size_is_kept_exactly(tmp_path: Path, extension: str, kind: str) -> None:
    """4:4:4, grey and VP9 formats code 321x181 as is; only H.264 4:2:0 pads (tested below)."""
    path = tmp_path / f"odd{extension}"
    _write(path, kind, 321, 181)
    frames = _decode(path, VIDEO_FORMATS[extension, kind].codec)
    assert len(frames) == FRAMES
    assert {(f.width, f.height) for f in frames} == {(321, 181)}
    if kind == "rgba":
        for index, frame in enumerate(frames):
            alpha = frame.to_ndarray(format="rgba")[..., 3]
            error = np.abs(alpha.astype(int) - _rgba(index, 321, 181)[..., 3]).max()
            assert error <= ALPHA_TOLERANCE[VIDEO_FORMATS[extension, kind].codec], f"frame {index}"


def test_odd_size_h264_is_padded_by_one(tmp_path: Path) -> None:
    path = tmp_path / "odd.mp4"
    _write(path, "rgb", 321, 181)
    frames = _decode(path, "libx264")
    assert (frames[0].width, frames[0].height) == (322, 182)


def test_png_sequence_and_single_png_keep_alpha(tmp_path: Path) -> None:
    folder = tmp_path / "seq"
    folder.mkdir()
    _write(folder / "%05d.png", "rgba", 321, 181)
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"{i:05d}.png" for i in range(FRAMES)]
    for index, name in enumerate(names):
        bgra = cv2.imread(str(folder / name), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA), _rgba(index, 321, 181))

    single = tmp_path / "one.png"
    info = SourceInfo("one.png", 321, 181, Fraction(25), TIME_BASE, 1, is_image=True)
    sink = open_sink(str(single), info, picture="rgba")
    sink.write(Frame(_rgba(3, 321, 181)[..., :3].copy(), 0, 0, TIME_BASE), _rgba(3, 321, 181))
    sink.close()
    bgra = cv2.imread(str(single), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA), _rgba(3, 321, 181))

    video_folder = tmp_path / "numbered"  # a folder output for a video source numbers the PNGs
    _write(video_folder, "rgba", 64, 48)
    assert len(list(video_folder.iterdir())) == FRAMES


def test_wrong_picture_kind_or_extension_is_one_line_error(tmp_path: Path) -> None:
    sink = open_sink(str(tmp_path / "a.mkv"), _info(64, 48), picture="rgba")
    with pytest.raises(StreamMaskError, match="takes rgba pictures, got 48x64x3") as error:
        sink.write(Frame(np.zeros((48, 64, 3), np.uint8), 0, 0, TIME_BASE), np.zeros((48, 64, 3), np.uint8))
    assert "\n" not in str(error.value)
    sink.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StreamMaskError, match=r"cannot write rgba pictures to .*a\.mp4: output must be \.mov, \.webm, \.mkv"):
        open_sink(str(tmp_path / "a.mp4"), _info(64, 48), picture="rgba")
    with pytest.raises(StreamMaskError, match="cannot write gray pictures to .*a.webm"):
        open_sink(str(tmp_path / "a.webm"), _info(64, 48))
    with pytest.raises(ValueError):
        open_sink(str(tmp_path / "a.mkv"), _info(64, 48), picture="bgr")


@pytest.mark.skipif(not SHARED_CLIP.exists(), reason=f"shared footage not found: {SHARED_CLIP}")
@pytest.mark.parametrize(("extension", "codec"), [(".webm", "opus"), (".mov", "aac")])
def test_aac_audio_becomes_opus_in_webm_and_is_copied_into_mov(tmp_path: Path, extension: str, codec: str) -> None:
    path = tmp_path / f"alpha{extension}"
    with VideoFileSource(str(SHARED_CLIP)) as source:
        assert source.info.audio is not None and source.info.audio.codec_context.name == "aac"
        audio = source.info.audio
        source_seconds = float(audio.duration * audio.time_base)
        width, height = source.info.width // 4, source.info.height // 4  # small: ProRes 4444 at 720p is 0.6 MB/frame
        small = SourceInfo(source.info.description, width, height, source.info.fps, source.info.time_base,
                           source.info.frame_count, audio)
        sink = open_sink(str(path), small, picture="rgba")
        frames = 0
        for item in source:
            if isinstance(item, av.Packet):
                sink.write_audio(item)
                continue
            rgb = cv2.resize(item.rgb, (width, height), interpolation=cv2.INTER_AREA)
            sink.write(item, np.dstack([rgb, np.full((height, width), 255, np.uint8)]))
            frames += 1
        sink.close()
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == codec
        if codec == "opus":
            assert stream.codec_context.sample_rate == 48000
        samples = sum(frame.samples for frame in container.decode(stream))
        assert abs(samples / stream.codec_context.sample_rate - source_seconds) < 0.1
    assert len(_decode(path, VIDEO_FORMATS[extension, "rgba"].codec)) == frames
