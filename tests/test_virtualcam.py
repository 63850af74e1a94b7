"""`-o virtualcam`: frames to a virtual camera through pyvirtualcam.

No virtual camera device exists on a test machine, so the tests register a recording backend
(tests/recording_camera.py) with pyvirtualcam's public `register_backend`: the real library, with a stand-in
for the device. `virtualcam:recorder` selects it, through the sink API and through the real command (run in
a subprocess that registers the backend before calling `stream_mask.cli.main`). The error path uses
pyvirtualcam's real default backend, which finds no v4l2loopback device here.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

pyvirtualcam = pytest.importorskip("pyvirtualcam")
from pyvirtualcam.util import encode_fourcc  # noqa: E402

import recording_camera  # noqa: E402
from conftest import MEDIA, MODELS, needs_shared  # noqa: E402
from recording_camera import RecordingCamera  # noqa: E402
from stream_mask.config import OutputSpec  # noqa: E402
from stream_mask.errors import StreamMaskError  # noqa: E402
from stream_mask.frames import Frame, SourceInfo  # noqa: E402
from stream_mask.sinks import open_sink  # noqa: E402
from stream_mask.sinks.virtualcam import VirtualCameraSink, parse_virtualcam  # noqa: E402

CLIP = MEDIA / "people" / "CiscoVT2people_320x192_12fps.mp4"  # 320x192, 12 fps, 9 frames
RGB_FOURCC = encode_fourcc("raw ")  # pyvirtualcam.PixelFormat.RGB
no_device_here = pytest.mark.skipif(
    platform.system() != "Linux" or bool(glob.glob("/dev/video*")),
    reason="needs a Linux machine without any /dev/video device (no v4l2loopback loaded)",
)


@pytest.fixture(autouse=True)
def recorder(monkeypatch):
    """The recording backend, registered for one test (pyvirtualcam's registry restored after it)."""
    monkeypatch.setattr("pyvirtualcam.camera.BACKENDS", dict(pyvirtualcam.camera.BACKENDS))
    recording_camera.register()
    RecordingCamera.opened.clear()
    yield RecordingCamera.opened
    RecordingCamera.opened.clear()


@pytest.fixture
def real_backends(monkeypatch):
    """Only pyvirtualcam's own backends: `virtualcam` with no backend named tries them all, the recorder too."""
    monkeypatch.delitem(pyvirtualcam.camera.BACKENDS, recording_camera.NAME)


def info(width: int = 32, height: int = 24, fps: Fraction = Fraction(12)) -> SourceInfo:
    return SourceInfo("test", width, height, fps, 1 / fps, 3)


def frame(index: int) -> Frame:
    return Frame(index=index, pts=index, time_base=Fraction(1, 12), rgb=np.zeros((24, 32, 3), np.uint8))


def received(camera: RecordingCamera) -> np.ndarray:
    return np.array(camera.frames).reshape(len(camera.frames), camera.height, camera.width, 3)


def test_rgb_frames_arrive_as_sent(recorder):
    rng = np.random.default_rng(0)
    pictures = [rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(3)]
    sink = open_sink("virtualcam:recorder", info(), picture="rgb")
    assert isinstance(sink, VirtualCameraSink) and sink.sidecar is False
    for index, picture in enumerate(pictures):
        sink.write(frame(index), picture)
    sink.close()
    (camera,) = recorder
    assert (camera.width, camera.height, camera.fps, camera.fourcc) == (32, 24, 12.0, RGB_FOURCC)
    assert sink.frames_written == 3 and camera.closed == 1
    np.testing.assert_array_equal(received(camera), np.array(pictures))
    sink.close()  # a second close (pipeline error paths) is harmless
    assert camera.closed == 1


def test_a_mask_is_sent_as_grey_rgb(recorder):
    mask = np.zeros((24, 32), np.uint8)
    mask[5:15, 8:20] = 255
    sink = open_sink("virtualcam:recorder", info(), picture="gray")
    sink.write(frame(0), mask)
    sink.abort()
    (camera,) = recorder
    (got,) = received(camera)
    for channel in range(3):
        np.testing.assert_array_equal(got[:, :, channel], mask)
    assert camera.closed == 1


def test_rgba_is_refused_before_a_camera_opens(recorder):
    with pytest.raises(StreamMaskError, match="no alpha.*--kind composite") as caught:
        open_sink("virtualcam:recorder", info(), picture="rgba")
    assert "\n" not in str(caught.value) and recorder == []


def test_wrong_pictures_are_refused(recorder):
    sink = open_sink("virtualcam:recorder", info(), picture="rgb")
    with pytest.raises(StreamMaskError, match="64x24, the virtual camera is 32x24"):
        sink.write(frame(0), np.zeros((24, 64, 3), np.uint8))
    with pytest.raises(StreamMaskError, match="takes rgb pictures"):
        sink.write(frame(0), np.zeros((24, 32, 4), np.uint8))
    sink.close()
    assert recorder[0].frames == []


def test_spec_forms():
    backends = ["recorder", "v4l2loopback", "obs"]
    assert parse_virtualcam("virtualcam", backends) == (None, None)
    assert parse_virtualcam("virtualcam:/dev/video10", backends) == (None, "/dev/video10")
    assert parse_virtualcam("virtualcam:obs", backends) == ("obs", None)
    assert parse_virtualcam("virtualcam:v4l2loopback:/dev/video3", backends) == ("v4l2loopback", "/dev/video3")
    assert parse_virtualcam("virtualcam:OBS Virtual Camera", backends) == (None, "OBS Virtual Camera")


def test_device_and_fps_reach_the_backend(recorder):
    sink = open_sink("virtualcam:recorder:cam7", info(fps=Fraction(30000, 1001)), picture="rgb")
    sink.close()
    assert recorder[0].device() == "cam7" and recorder[0].fps == 29.97


def test_the_bare_word_wins_over_a_folder(tmp_path, monkeypatch, recorder):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "virtualcam").mkdir()
    monkeypatch.setattr("pyvirtualcam.camera.BACKENDS", {"only": RecordingCamera})  # what backend=None tries
    sink = open_sink("virtualcam", info(), picture="rgb")
    assert isinstance(sink, VirtualCameraSink)
    sink.close()
    assert type(open_sink("./virtualcam", info(), picture="rgb")).__name__ == "ImageSequenceSink"


def test_virtual_cameras_default_to_a_blurred_composite():
    assert OutputSpec("virtualcam").resolved_kind() == "composite"
    assert OutputSpec("virtualcam:/dev/video10").resolved_kind() == "composite"
    assert OutputSpec("virtualcam", kind="mask").resolved_kind() == "mask"
    assert OutputSpec("virtualcam", effect="color:#00ff00").resolved_kind() == "composite"
    assert OutputSpec("./virtualcam").resolved_kind() == "mask"
    assert OutputSpec("out.mov").resolved_kind() == "alpha"


def test_without_pyvirtualcam_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)  # import fails as if not installed
    with pytest.raises(StreamMaskError) as caught:
        open_sink("virtualcam", info(), picture="rgb")
    assert str(caught.value) == '-o virtualcam needs pyvirtualcam: pip install "stream-mask[virtualcam]"'


@no_device_here
@pytest.mark.parametrize("spec", ["virtualcam:/dev/video10", "virtualcam:v4l2loopback:/dev/video10"])
def test_no_device_says_how_to_create_one(real_backends, spec):
    with pytest.raises(StreamMaskError) as caught:
        open_sink(spec, info(), picture="rgb")
    assert str(caught.value) == (
        "cannot open a virtual camera ('v4l2loopback' backend: Device /dev/video10 does not exist.): create one with "
        'v4l2loopback: sudo modprobe v4l2loopback devices=1 video_nr=10 exclusive_caps=1 card_label="stream-mask", '
        "then -o virtualcam (or -o virtualcam:/dev/videoN for a given device)"
    )


@no_device_here
def test_no_default_device_keeps_pyvirtualcams_reason_on_one_line(real_backends):
    sink = None
    with pytest.raises(StreamMaskError) as caught:
        sink = open_sink("virtualcam", info(), picture="rgb")
    assert sink is None
    message = str(caught.value)
    assert "\n" not in message and "No v4l2 loopback device found" in message
    assert 'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="stream-mask"' in message


# The real command. -----------------------------------------------------------------------------------------


def run_with_recorder(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`stream-mask run CLIP ARGS` in a subprocess whose pyvirtualcam knows the recording backend."""
    tests = Path(__file__).resolve().parent
    code = ("import sys, recording_camera; recording_camera.register(); from stream_mask.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "STREAM_MASK_MODEL_DIR": str(MODELS), "STREAM_MASK_MODEL_MIRROR": "http://127.0.0.1:9",
           "RECORDING_CAMERA_DIR": str(tmp_path), "PYTHONPATH": os.pathsep.join(filter(None, [str(tests), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-c", code, "run", str(CLIP), "--model", "selfie", "--model-dir", str(MODELS),
                           "-q", *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)


def decoded(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.array([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@needs_shared
def test_command_sends_a_blurred_composite_by_default(tmp_path):
    result = run_with_recorder(tmp_path, "-o", "virtualcam:recorder")
    assert result.returncode == 0, result.stderr
    camera = json.loads((tmp_path / "camera.json").read_text())
    assert camera == {"width": 320, "height": 192, "fps": 12.0, "fourcc": RGB_FOURCC, "device": "recorder0", "closed": 1}
    frames = np.load(tmp_path / "frames.npy").reshape(-1, 192, 320, 3)
    source = decoded(CLIP)
    assert frames.dtype == np.uint8 and len(frames) == len(source) == 9  # one per input frame
    # A composite: colour, neither the input nor a grey mask; the blurred background changes the picture.
    assert not np.array_equal(frames[..., 0], frames[..., 1])
    difference = np.abs(frames.astype(int) - source.astype(int)).mean()
    assert 1 < difference < 60


@needs_shared
def test_command_sends_a_mask_as_grey_rgb(tmp_path):
    result = run_with_recorder(tmp_path, "-o", "virtualcam:recorder", "--kind", "mask")
    assert result.returncode == 0, result.stderr
    frames = np.load(tmp_path / "frames.npy").reshape(-1, 192, 320, 3)
    assert len(frames) == 9
    assert np.array_equal(frames[..., 0], frames[..., 1]) and np.array_equal(frames[..., 0], frames[..., 2])
    assert set(np.unique(frames)) == {0, 255}


@needs_shared
def test_command_refuses_alpha_for_a_camera(tmp_path):
    result = run_with_recorder(tmp_path, "-o", "virtualcam:recorder", "--kind", "alpha")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "stream-mask: error: virtualcam:recorder: a virtual camera has no alpha channel" in result.stderr
    assert not (tmp_path / "camera.json").exists()


@needs_shared
@no_device_here
def test_command_without_a_device_says_how_to_create_one(tmp_path):
    from conftest import run_cli

    result = run_cli("run", str(CLIP), "--model", "selfie", "--model-dir", str(MODELS), "-q", "-o", "virtualcam",
                     cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("stream-mask: error: cannot open a virtual camera ('v4l2loopback' backend: No v4l2 loopback device")
    assert 'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="stream-mask"' in result.stderr
    assert list(tmp_path.iterdir()) == []


@needs_shared
def test_command_leaves_no_sidecar_for_a_camera(tmp_path):
    result = run_with_recorder(tmp_path, "-o", "virtualcam:recorder")
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["camera.json", "frames.npy"]
