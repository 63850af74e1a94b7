"""The video API (masker.VideoMasker, masked_frames): the command's own pipeline, frame by frame, in the caller's loop.

Real MediaPipe on a real clip. The command's FFV1 masks are the reference: the API fed the same decoded frames at
the source's own timestamps (read with PyAV) must give the same masks, bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from conftest import MEDIA, needs_shared, run_cli
from test_parts_and_threshold import write_lossless_video
from stream_mask import VideoMasker, masked_frames
from stream_mask.config import Finish
from stream_mask.errors import StreamMaskError

pytestmark = needs_shared

CLIP = MEDIA / "people" / "CiscoVT2people_320x192_12fps.mp4"  # 9 frames, 320x192, 12 fps, two people
PARKOUR = MEDIA / "davis_parkour" / "JPEGImages"  # 854x480: a small person, whom --refine sees better


def decoded(path: Path) -> list[tuple[np.ndarray, float]]:
    """Each frame of `path` as RGB with its timestamp in ms, as the command's sources give them (PyAV)."""
    with av.open(str(path)) as container:
        return [(frame.to_ndarray(format="rgb24"), float(frame.pts * frame.time_base) * 1000)
                for frame in container.decode(video=0)]


def read_masks(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]


@pytest.fixture(scope="module")
def frames() -> list[tuple[np.ndarray, float]]:
    return decoded(CLIP)


@pytest.fixture(scope="module")
def parkour(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Frames 1-8 of davis_parkour (in frame 0 the model misses him) as a 24 fps video that decodes back to exactly
    their pixels."""
    path = tmp_path_factory.mktemp("parkour") / "parkour.mkv"
    pictures = [cv2.cvtColor(cv2.imread(str(PARKOUR / f"{index:05d}.jpg")), cv2.COLOR_BGR2RGB) for index in range(1, 9)]
    write_lossless_video(path, pictures, fps=24)
    return path


@pytest.fixture(scope="module")
def parkour_frames(parkour: Path) -> list[tuple[np.ndarray, float]]:
    return decoded(parkour)


@pytest.fixture(scope="module")
def command(tmp_path_factory: pytest.TempPathFactory):
    """`command(clip, *options)`: the masks `stream-mask run clip -o out.mkv *options` writes (FFV1), each run once."""
    folder = tmp_path_factory.mktemp("command")
    made: dict[tuple[str, ...], list[np.ndarray]] = {}

    def masks(clip: Path, *options: str) -> list[np.ndarray]:
        key = (str(clip), *options)
        if key not in made:
            out = folder / f"out{len(made)}.mkv"
            result = run_cli("run", str(clip), "-o", str(out), *options)
            assert result.returncode == 0, result.stderr
            made[key] = read_masks(out)
        return made[key]

    return masks


@pytest.mark.parametrize("options, settings", [
    ((), {}),
    (("--smooth", "0.7"), {"smooth": 0.7}),
    (("--refine",), {"refine": 1}),
    (("--soft", "--edges", "guided", "--min-island", "40", "--feather", "2"),
     {"soft": True, "finish": Finish(guided=True, min_island=40, feather=2)}),
], ids=["plain", "smooth", "refine", "soft-finished"])
def test_the_api_masks_equal_the_commands_bit_for_bit(parkour, parkour_frames, command, options, settings) -> None:
    """The selfie model's masks through VideoMasker equal the command's FFV1 output frame for frame."""
    expected = command(parkour, "--model", "selfie", *options)
    with VideoMasker("selfie", **settings) as masker:
        got = [masker(rgb, timestamp_ms) for rgb, timestamp_ms in parkour_frames]
    assert len(got) == len(expected) == 8
    assert all(mask.dtype == np.uint8 and mask.shape == (480, 854) for mask in got)
    assert all((mask > 0).any() for mask in got)  # someone is found in every frame: a real comparison
    for index, (mine, theirs) in enumerate(zip(got, expected)):
        assert np.array_equal(mine, theirs), f"frame {index} differs from the command's"


def test_smoothing_and_refine_change_the_masks(parkour, command) -> None:
    """The options compared above do something on this clip, so their equality means something."""
    plain = command(parkour, "--model", "selfie")
    for options in (("--smooth", "0.7"), ("--refine",)):
        changed = command(parkour, "--model", "selfie", *options)
        assert any(not np.array_equal(a, b) for a, b in zip(plain, changed)), options


def test_several_parts_of_the_six_class_model_and_its_label_map(parkour, parkour_frames, command,
                                                                standin_model) -> None:
    """The 6-class stand-in: `--parts hair,face,clothes` equals matte(), each part alone equals planes(), and
    `--kind labels` equals labels()."""
    frames = parkour_frames
    union = command(parkour, "--model", str(standin_model), "--parts", "hair,face,clothes")
    labels = command(parkour, "--model", str(standin_model), "--kind", "labels")
    with VideoMasker(str(standin_model), parts=["hair", "face", "clothes"]) as masker:
        got = [masker.matte(rgb, timestamp_ms) for rgb, timestamp_ms in frames]
    with VideoMasker(str(standin_model), parts="hair,face,clothes") as masker:
        planes = [masker.planes(rgb, timestamp_ms) for rgb, timestamp_ms in frames]
    with VideoMasker(str(standin_model)) as masker:
        assert masker.classes == ["background", "hair", "body-skin", "face-skin", "clothes", "others"]
        maps = [masker.labels(rgb, timestamp_ms) for rgb, timestamp_ms in frames]
    for index in range(len(frames)):
        assert np.array_equal(got[index], union[index]), f"frame {index}: matte differs"
        assert list(planes[index]) == ["hair", "face", "clothes"]
        assert np.array_equal(np.maximum.reduce(list(planes[index].values())), union[index])
        assert maps[index].dtype == np.uint8 and maps[index].shape == (480, 854)
        assert np.array_equal(maps[index], labels[index]), f"frame {index}: label map differs"
    assert len(np.unique(np.concatenate(maps))) >= 4  # several classes on the real clip


def test_timestamps_must_strictly_increase(frames) -> None:
    (first, ts), (second, _) = frames[:2]
    with VideoMasker("selfie") as masker:
        masker(first, ts)
        for bad in (ts, ts - 10, ts + 0.2):  # equal, backwards, the same whole millisecond
            with pytest.raises(StreamMaskError, match="timestamps must .* increase"):
                masker(second, bad)
        with pytest.raises(StreamMaskError, match="timestamp must be a number"):
            masker(second, "100")
        assert masker(second, ts + 1).shape == (192, 320)  # a refused frame does not spoil the stream


def test_a_frame_of_another_size_restarts_the_temporal_state(frames) -> None:
    """Documented: a new size is a new scene. With smoothing and refine on, the first frame of the new size is
    masked as a fresh masker masks it, and the stream goes on at the new size."""
    bigger = [cv2.resize(rgb, (640, 384)) for rgb, _ in frames]
    with VideoMasker("selfie", smooth=0.7, refine=1) as going:
        for rgb, timestamp_ms in frames[:5]:
            going(rgb, timestamp_ms)
        after = [going(bigger[index], frames[index][1]) for index in (5, 6)]
    with VideoMasker("selfie", smooth=0.7, refine=1) as fresh:
        first = [fresh(bigger[index], frames[index][1]) for index in (5, 6)]
    assert after[0].shape == (384, 640)
    assert np.array_equal(after[0], first[0]) and np.array_equal(after[1], first[1])


def test_restart_begins_a_new_stream_on_the_open_models(frames) -> None:
    """restart(): the next frames are masked as a fresh masker masks them (smoothing and refine crops start again),
    with timestamps going on after the last one, which must still increase."""
    with VideoMasker("selfie", smooth=0.7, refine=1) as going:
        for rgb, timestamp_ms in frames[:5]:
            going(rgb, timestamp_ms)
        going.restart()
        last = going.last_timestamp_ms
        with pytest.raises(StreamMaskError, match="increase"):
            going(frames[5][0], last)
        after = [going(frames[index][0], last + 1000 + frames[index][1]) for index in (5, 6)]
    with VideoMasker("selfie", smooth=0.7, refine=1) as fresh:
        first = [fresh(frames[index][0], frames[index][1]) for index in (5, 6)]
    assert np.array_equal(after[0], first[0]) and np.array_equal(after[1], first[1])


def test_a_closed_masker_refuses_frames_and_closes_twice(frames) -> None:
    rgb, timestamp_ms = frames[0]
    masker = VideoMasker("selfie")
    masker.close()
    masker.close()
    for call in (masker, masker.matte, masker.planes, masker.labels, masker.composite):
        with pytest.raises(StreamMaskError, match="closed"):
            call(rgb, timestamp_ms)
    with VideoMasker("selfie") as masker:
        masker(rgb, timestamp_ms)
    with pytest.raises(StreamMaskError, match="closed"):
        masker(rgb, timestamp_ms + 100)


@pytest.mark.parametrize("bad", [
    np.zeros((192, 320, 3), dtype=np.float32),
    np.zeros((192, 320), dtype=np.uint8),
    np.zeros((192, 320, 4), dtype=np.uint8),
    np.zeros((0, 320, 3), dtype=np.uint8),
    [[[0, 0, 0]]],
], ids=["float", "grey", "rgba", "empty", "list"])
def test_a_frame_that_is_not_hxwx3_uint8_is_a_clear_error(bad) -> None:
    with VideoMasker("selfie") as masker, pytest.raises(StreamMaskError, match="HxWx3 uint8"):
        masker(bad, 0)


def test_bgr_frames_give_the_masks_of_the_same_picture_in_rgb(frames) -> None:
    with VideoMasker("selfie", refine=1) as rgb_masker, VideoMasker("selfie", refine=1, bgr=True) as bgr_masker:
        for rgb, timestamp_ms in frames[:4]:
            bgr = np.ascontiguousarray(rgb[..., ::-1])
            assert np.array_equal(rgb_masker(rgb, timestamp_ms), bgr_masker(bgr, timestamp_ms))
    with VideoMasker("selfie") as rgb_masker, VideoMasker("selfie", bgr=True) as bgr_masker:
        rgb, timestamp_ms = frames[0]
        composite = rgb_masker.composite(rgb, timestamp_ms, effect="color:#00ff00")
        from_bgr = bgr_masker.composite(np.ascontiguousarray(rgb[..., ::-1]), timestamp_ms, effect="color:#00ff00")
    assert composite.dtype == np.uint8 and composite.shape == (192, 320, 3)
    assert np.array_equal(from_bgr, composite[..., ::-1])  # a BGR masker hands pictures back in BGR
    assert (composite == (0, 255, 0)).all(axis=2).mean() > 0.05  # the background really is replaced


def test_an_opencv_capture_loop_through_the_api() -> None:
    """What the README's webcam loop does, on a file: cv2.VideoCapture's BGR frames and its timestamps, straight in."""
    capture = cv2.VideoCapture(str(CLIP))
    pictures, bgr_masks = [], []
    try:
        with VideoMasker("selfie", smooth=0.7, bgr=True) as masker:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                timestamp_ms = capture.get(cv2.CAP_PROP_POS_MSEC)
                pictures.append((cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), timestamp_ms))
                bgr_masks.append(masker(frame, timestamp_ms))
    finally:
        capture.release()
    assert len(pictures) == 9
    with VideoMasker("selfie", smooth=0.7) as masker:
        for (rgb, timestamp_ms), mask in zip(pictures, bgr_masks):
            assert np.array_equal(masker(rgb, timestamp_ms), mask)
    assert any((mask > 0).any() for mask in bgr_masks)


def test_masked_frames_over_a_clip(frames, command) -> None:
    """The notebook iterator: every frame, the source's timestamps, the command's masks; unpacks as (frame, mask)."""
    expected = command(CLIP, "--model", "selfie")
    items = list(masked_frames(CLIP, model="selfie"))
    assert len(items) == len(frames) == 9
    for index, (item, (rgb, timestamp_ms)) in enumerate(zip(items, frames)):
        frame, mask = item
        assert frame.dtype == np.uint8 and frame.shape == (192, 320, 3) and np.array_equal(frame, rgb)
        assert item.timestamp_ms == timestamp_ms and item.index == index
        assert np.array_equal(mask, expected[index]), f"frame {index} differs from the command's"


def test_masked_frames_of_a_missing_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(StreamMaskError, match="not found|no such|does not exist"):
        next(masked_frames(tmp_path / "missing.mp4", model="selfie"))


def test_options_are_checked_as_the_commands_are() -> None:
    for options, message in (({"confidence": 0}, "confidence must be between"),
                             ({"smooth": 1.0}, "--smooth must be between 0 and 1"),
                             ({"every": 0}, "--every must be 1 or more"),
                             ({"refine": -1}, "--refine must be 0 or more"),
                             ({"faces": 0}, "--faces must be 1 or more"),
                             ({"parts": ["tail"]}, "unknown part 'tail'")):
        with pytest.raises(StreamMaskError, match=message):
            VideoMasker("selfie", **options)


def test_the_package_exports_the_api_without_hiding_the_frames_module() -> None:
    import stream_mask.frames

    assert stream_mask.VideoMasker is VideoMasker and stream_mask.masked_frames is masked_frames
    assert stream_mask.frames.Frame.__name__ == "Frame"



def test_parts_for_one_call_and_face_landmark_parts(frames) -> None:
    """`matte(..., parts=...)` masks other parts for that frame as a masker made with them does; a face-landmark
    part asked for mid-stream starts the face landmarker from that frame on."""
    with VideoMasker("selfie") as switching, VideoMasker("selfie", parts="background") as background:
        for rgb, timestamp_ms in frames[:3]:
            assert np.array_equal(switching.matte(rgb, timestamp_ms, parts=["background"]),
                                  background(rgb, timestamp_ms))
        rgb, timestamp_ms = frames[3]
        lips = switching.matte(rgb, timestamp_ms, parts=["lips"])
    with VideoMasker("selfie", parts=["lips"]) as fresh:
        assert np.array_equal(lips, fresh(rgb, timestamp_ms)) and (lips > 0).any()
