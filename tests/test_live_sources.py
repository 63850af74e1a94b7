"""Live sources: cameras, network streams, and files paced like a camera, with real media and a real server.

There is no camera on the test machine, so `CameraSource` is exercised by opening a real video file through
the very same `cv2.VideoCapture` capture loop a webcam uses (same read, colour conversion, timestamps and
report code); a camera index that does not exist checks the opening failure. Network streams are read from
a real HTTP server on 127.0.0.1 serving a copy of a real clip.
"""

from __future__ import annotations

import functools
import http.server
import socket
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import MEDIA, needs_shared
from stream_mask.errors import StreamMaskError
from stream_mask import sources
from stream_mask.frames import Frame, Source, SourceInfo
from stream_mask.sources import SourceFamily, open_source
from stream_mask.sources.cameras import CameraSource
from stream_mask.sources.files import VideoFileSource
from stream_mask.sources.streams import open_stream
from stream_mask.sources.wrappers import MirroredSource, PacedSource

CLIP = MEDIA / "people" / "CiscoVT2people_320x192_12fps.mp4"  # 9 frames, 320x192, 12 fps

pytestmark = needs_shared


def frames_of(source) -> list[Frame]:
    with source:
        return [item for item in source if isinstance(item, Frame)]


def pyav_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_camera_capture_loop_on_a_real_file():
    reference = pyav_frames(CLIP)
    source = CameraSource(str(CLIP), description="camera:test")
    frames = frames_of(source)
    assert len(frames) == len(reference) == 9
    assert source.info.live is True
    assert (source.info.width, source.info.height) == (320, 192)
    assert source.info.time_base == Fraction(1, 1000) and source.info.fps == 12
    assert source.info.report == "camera:test gave 320x192 at 12 fps" == source.camera_report
    assert not source.ended_early  # a file ending is not a camera lost
    pts = [frame.pts for frame in frames]
    assert pts[0] == 0 and all(b > a for a, b in zip(pts, pts[1:]))
    captured = [frame.captured for frame in frames]
    assert all(b >= a for a, b in zip(captured, captured[1:])) and captured[0] > 0
    for frame, expected in zip(frames, reference):
        assert frame.rgb.shape == (192, 320, 3) and frame.rgb.dtype == np.uint8 and frame.rgb.flags.c_contiguous
        # RGB, not BGR: the two decoders agree within rounding; swapped channels would differ by far more.
        assert np.abs(frame.rgb.astype(int) - expected.astype(int)).mean() < 3
        assert np.abs(frame.rgb[..., ::-1].astype(int) - expected.astype(int)).mean() > 3 * \
            np.abs(frame.rgb.astype(int) - expected.astype(int)).mean()


def test_missing_camera_is_a_one_line_error_quickly():
    started = time.monotonic()
    with pytest.raises(StreamMaskError) as error:
        open_source("camera:57")
    assert time.monotonic() - started < 5
    message = str(error.value)
    assert "\n" not in message and message.startswith("cannot open camera:57")


def test_size_and_fps_are_for_cameras_only():
    with pytest.raises(StreamMaskError, match="camera"):
        open_source(str(CLIP), size=(640, 480))


def test_paced_file_releases_frames_at_their_presentation_times():
    source = open_source(str(CLIP), realtime=True)
    assert isinstance(source, PacedSource) and source.info.live and source.info.frame_count == 9
    released = []
    started = time.monotonic()
    with source:
        for item in source:
            released.append((time.monotonic(), item))
    elapsed = time.monotonic() - started
    frames = [item for _, item in released]
    assert len(frames) == 9
    assert 0.66 <= elapsed <= 0.80, elapsed  # 8 frame intervals of 1/12 s
    first = released[0][0]
    for k, (when, frame) in enumerate(released):
        assert when - first >= k / 12 - 0.002
        assert frame.captured <= when and frame.captured - first >= k / 12 - 0.002
    unpaced = frames_of(open_source(str(CLIP)))
    assert [f.pts for f in frames] == [f.pts for f in unpaced]
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(frames, unpaced))


def test_one_argument_open_source_is_unchanged():
    source = open_source(str(CLIP))
    assert isinstance(source, VideoFileSource) and not source.info.live and source.info.report == ""
    source.close()


def test_mirror_flips_files_and_cameras():
    plain = frames_of(open_source(str(CLIP)))
    mirrored_source = open_source(str(CLIP), mirror=True)
    assert isinstance(mirrored_source, MirroredSource)
    mirrored = frames_of(mirrored_source)
    assert len(mirrored) == 9
    for a, b in zip(plain, mirrored):
        assert b.rgb.flags.c_contiguous and np.array_equal(b.rgb, a.rgb[:, ::-1]) and b.pts == a.pts
    camera = frames_of(CameraSource(str(CLIP)))
    camera_mirrored = frames_of(MirroredSource(CameraSource(str(CLIP))))
    assert all(np.array_equal(b.rgb, a.rgb[:, ::-1]) for a, b in zip(camera, camera_mirrored))


class StripesSource(Source):
    """A family of the test's own, through the real `Source` interface: `stripes:N` is N frames with a white left
    column, numbered by their grey level."""

    def __init__(self, spec: str) -> None:
        self._count = int(spec.split(":", 1)[1])
        self.info = SourceInfo(description=spec, width=8, height=4, fps=Fraction(10), time_base=Fraction(1, 10),
                               frame_count=self._count)

    def __iter__(self):
        for index in range(self._count):
            rgb = np.full((4, 8, 3), index, dtype=np.uint8)
            rgb[:, 0] = 255
            yield Frame(rgb, index, index, self.info.time_base)


def test_a_new_input_family_is_one_registration(monkeypatch):
    """The families are asked in precedence order; one registered ahead of them opens its own inputs, with the
    wrappers and the one-line refusals every family gets, and leaves every other input to the others."""
    assert [family.name for family in sources.FAMILIES] == ["camera", "network stream", "images", "video file"]
    family = SourceFamily("stripes", lambda spec: spec.startswith("stripes:"), StripesSource)
    monkeypatch.setattr(sources, "FAMILIES", [family, *sources.FAMILIES])
    plain = frames_of(open_source("stripes:3"))
    assert [frame.rgb[0, 1, 0] for frame in plain] == [0, 1, 2] and (plain[0].rgb[:, 0] == 255).all()
    mirrored_source = open_source("stripes:3", mirror=True, realtime=True)
    assert isinstance(mirrored_source, MirroredSource) and isinstance(mirrored_source.inner, PacedSource)
    assert all((frame.rgb[:, -1] == 255).all() for frame in frames_of(mirrored_source))
    with pytest.raises(StreamMaskError, match="^--size and --fps are requests to a camera; they do not apply to"):
        open_source("stripes:3", size=(640, 480))
    with pytest.raises(StreamMaskError, match="^--live applies to network streams"):
        open_source("stripes:3", live=True)
    with open_source(str(CLIP)) as other:  # every other input: the families after it
        assert isinstance(other, VideoFileSource)


def remux_faststart(source: Path, target: Path) -> None:
    with av.open(str(source)) as inp, av.open(str(target), "w", options={"movflags": "faststart"}) as out:
        video = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = video
            out.mux(packet)


@pytest.fixture
def http_server(tmp_path):
    """A real HTTP server on 127.0.0.1 serving a copy of the clip; yields its base URL.

    The copy is remuxed (packets copied, not re-encoded) with its index first (`movflags=faststart`), as files
    meant for streaming are: http.server cannot answer the range request a player needs for an index at the end.
    """
    remux_faststart(CLIP, tmp_path / "clip.mp4")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_url_source_reads_every_frame_from_a_local_http_server(http_server):
    reference = pyav_frames(CLIP)
    source = open_source(f"{http_server}/clip.mp4")
    assert isinstance(source, VideoFileSource)
    # A video file over http is read like a file: its length is known, nothing is dropped.
    assert not source.info.live and source.info.frame_count == 9 and (source.info.width, source.info.height) == (320, 192)
    frames = frames_of(source)
    assert len(frames) == 9
    assert all(np.array_equal(f.rgb, r) for f, r in zip(frames, reference))
    assert all(b.pts > a.pts for a, b in zip(frames, frames[1:]))


def test_closed_port_is_a_one_line_error_quickly():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(StreamMaskError) as error:
        open_source(f"http://user:secret@127.0.0.1:{port}/clip.mp4")
    assert time.monotonic() - started < 3
    message = str(error.value)
    assert "\n" not in message and message.startswith("cannot open stream") and "secret" not in message


def test_silent_server_times_out_with_a_one_line_error():
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        started = time.monotonic()
        with pytest.raises(StreamMaskError) as error:
            open_stream(f"http://127.0.0.1:{silent.getsockname()[1]}/clip.mp4", timeout=1.0)
        elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 4
    assert str(error.value).endswith("no answer within 1 s") and "\n" not in str(error.value)
