"""`-o udp://...`, `-o rtmp://...`, `-o srt://...`: network streams through the real command, to a real peer.

The peer is a PyAV reader on a thread of the test: a UDP receiver bound before the run starts (UDP keeps nothing
for a late reader), or an RTMP server (FFmpeg's rtmp protocol listens). Each run also writes the lossless mask
(`-o m.mkv`), which tells the person from the background in the frames received.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from conftest import MEDIA, needs_shared, run_cli, stream_copy
from stream_mask.config import OutputSpec

pytestmark = needs_shared

CLIP = MEDIA / "people" / "CiscoVT2people_320x192_12fps.mp4"  # 320x192, 12 fps, 9 frames, no audio
AUDIO_CLIP = MEDIA / "people" / "gesture_recognizer_test_video.mp4"  # 720p 25 fps with AAC: its first second
OPEN_SECONDS = 300  # the peer waits this long for the run to start sending (model loading on a busy machine)
SILENT_SECONDS = 10  # UDP has no end: the peer stops after this long without a packet
# A peer that takes the stream's parameters from its first packets: FFmpeg's default waits for 5 s of stream, and a
# UDP stream shorter than that has no end to cut the wait short (RTMP's has: the sender leaves).
UDP_PEER_OPTIONS = {"probesize": "32768", "analyzeduration": "1"}


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def bound(port: int, table: str) -> bool:
    """Whether a socket on this machine is bound to UDP `port` (table "udp") or listens on TCP `port` ("tcp")."""
    for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and (table == "udp" or fields[3] == "0A"):  # 0A: TCP LISTEN
            return True
    return False


class Peer:
    """Reads `url` with PyAV on a thread, from before the run starts: the pictures and audio it receives."""

    def __init__(self, url: str, port: int, table: str, options: dict[str, str], leave_after: int = 0) -> None:
        self.frames: list[np.ndarray] = []
        self.audio_codec: str | None = None
        self.audio_seconds = 0.0
        self.ended_by: BaseException | None = None  # how reading stopped (UDP: the silence; RTMP: the sender left)
        self._url, self._options, self._leave_after = url, options, leave_after  # 0: read to the end
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while not bound(port, table):
            assert self._thread.is_alive(), f"the peer stopped before listening: {self.ended_by!r}"
            assert time.monotonic() < deadline, "the peer never listened"
            time.sleep(0.02)

    def _read(self) -> None:
        try:
            with av.open(self._url, options=self._options, timeout=(OPEN_SECONDS, SILENT_SECONDS)) as container:
                for packet in container.demux():
                    for frame in packet.decode():
                        if isinstance(frame, av.VideoFrame):
                            self.frames.append(frame.to_ndarray(format="rgb24"))
                            if len(self.frames) == self._leave_after:
                                return  # hangs up
                        else:
                            self.audio_codec = packet.stream.codec_context.name
                            self.audio_seconds += frame.samples / frame.sample_rate
        except av.error.FFmpegError as error:
            self.ended_by = error

    def join(self) -> None:
        self._thread.join(OPEN_SECONDS + 60)
        assert not self._thread.is_alive(), "the peer is still reading"


def udp_peer() -> tuple[str, Peer]:
    port = free_port(socket.SOCK_DGRAM)
    return f"udp://127.0.0.1:{port}", Peer(f"udp://127.0.0.1:{port}", port, "udp", UDP_PEER_OPTIONS)


def rtmp_peer() -> tuple[str, Peer]:
    port = free_port(socket.SOCK_STREAM)
    url = f"rtmp://127.0.0.1:{port}/live/stream"
    return url, Peer(url, port, "tcp", {"listen": "1"})


PEERS = {"udp": udp_peer, "rtmp": rtmp_peer}


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def sent(clip: Path, protocol: str, tmp_path: Path, *options: str) -> tuple[Peer, list[np.ndarray], list[np.ndarray]]:
    """Run `stream-mask run CLIP OPTIONS -o URL -o m.mkv` to a peer: (the peer, the input frames, the masks)."""
    url, peer = PEERS[protocol]()
    result = run_cli("run", str(clip), *options, "-o", url, "-o", "m.mkv", "--model", "selfie", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    peer.join()
    assert result.stdout.strip().endswith(f"-> {url}, m.mkv")
    # Nothing but the mask file and its sidecar: a stream leaves no file, no sidecar, no claim behind.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["m.mkv", "m.mkv.json"]
    masks = [mask[..., 0] for mask in decode(tmp_path / "m.mkv")]
    return peer, decode(clip), masks


def regions(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The person and the background, each away from the soft edge between them."""
    kernel = np.ones((9, 9), np.uint8)
    return (cv2.erode((mask == 255).astype(np.uint8), kernel).astype(bool),
            cv2.erode((mask == 0).astype(np.uint8), kernel).astype(bool))


def detail(picture: np.ndarray, where: np.ndarray) -> float:
    """High frequencies, which a blur removes."""
    return float(np.abs(cv2.Laplacian(picture.astype(np.float32), cv2.CV_32F))[where].mean())


def assert_composite(received: list[np.ndarray], inputs: list[np.ndarray], masks: list[np.ndarray]) -> None:
    assert len(received) == len(inputs)  # loopback, a stream far smaller than the socket's buffer: nothing lost
    for picture, rgb, mask in zip(received, inputs, masks):
        assert picture.shape == rgb.shape  # the exact size
        person, background = regions(mask)
        assert person.sum() > 0.05 * mask.size and background.sum() > 0.05 * mask.size
        assert np.abs(picture[person].astype(int) - rgb[person]).mean() < 6  # the person, as in the input
        assert detail(picture, background) < 0.5 * detail(rgb, background)  # the background, blurred


@pytest.mark.parametrize("protocol", ["udp", "rtmp"])
def test_a_stream_sends_the_composite_by_default(protocol, tmp_path):
    peer, inputs, masks = sent(CLIP, protocol, tmp_path)
    assert_composite(peer.frames, inputs, masks)
    assert peer.audio_codec is None  # the clip has no sound


@pytest.mark.parametrize("protocol", ["udp", "rtmp"])
def test_kind_mask_sends_the_grey_mask(protocol, tmp_path):
    peer, inputs, masks = sent(CLIP, protocol, tmp_path, "--kind", "mask")
    assert len(peer.frames) == len(inputs)
    for picture, mask in zip(peer.frames, masks):
        assert picture.shape == (*mask.shape, 3)
        assert np.ptp(picture.astype(int), axis=2).max() <= 2  # grey: R = G = B, but for rounding
        assert np.abs(picture[..., 0].astype(int) - mask).mean() < 3  # the mask, through lossy H.264
        assert 0.05 < (picture[..., 0] > 127).mean() < 0.95


def test_rtmp_carries_the_source_audio_as_aac(tmp_path_factory, tmp_path):
    clip = tmp_path_factory.mktemp("clip") / "talk.mp4"
    stream_copy(AUDIO_CLIP, clip, 1.0)  # 25 frames at 1280x720, 47 AAC packets
    peer, inputs, masks = sent(clip, "rtmp", tmp_path)
    assert_composite(peer.frames, inputs, masks)
    assert peer.audio_codec == "aac"
    assert peer.audio_seconds == pytest.approx(1.0, abs=0.05)


def test_a_server_that_hangs_up_mid_run_is_a_one_line_error(tmp_path):
    port = free_port(socket.SOCK_STREAM)
    url = f"rtmp://127.0.0.1:{port}/live/stream"
    peer = Peer(url, port, "tcp", {"listen": "1", **UDP_PEER_OPTIONS}, leave_after=3)
    clip = MEDIA / "davis_parkour" / "parkour_24fps_from_frames.mp4"  # 100 frames: 4 s at --realtime
    result = run_cli("run", str(clip), "--realtime", "-o", url, "--model", "selfie", "-q", cwd=tmp_path)
    peer.join()
    assert len(peer.frames) == 3
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"stream-mask: error: cannot send to {url}: "), result.stderr
    assert list(tmp_path.iterdir()) == []


def test_rtmp_with_no_server_is_a_one_line_error_without_the_password(tmp_path):
    port = free_port(socket.SOCK_STREAM)  # nothing listens there: the connection is refused
    result = run_cli("run", str(CLIP), "-o", f"rtmp://user:secret@127.0.0.1:{port}/live/stream", "--model", "selfie",
                     cwd=tmp_path)
    assert result.returncode == 1
    url = f"rtmp://user:***@127.0.0.1:{port}/live/stream"
    assert result.stderr.strip() == f"stream-mask: error: cannot send to {url}: Connection refused"
    assert list(tmp_path.iterdir()) == []


def _has_srt() -> bool:
    container = av.open(f"srt://127.0.0.1:{free_port(socket.SOCK_DGRAM)}", "w", format="mpegts")
    try:
        stream = container.add_stream("mpeg2video", rate=25)
        stream.width, stream.height = 16, 16
        container.start_encoding()
    except av.error.ProtocolNotFoundError:
        return False
    except av.error.FFmpegError:
        return True
    finally:
        container.close()
    return True


@pytest.mark.skipif(_has_srt(), reason="this PyAV's FFmpeg has SRT: the error case does not arise")
def test_srt_without_libsrt_in_ffmpeg_is_a_clear_one_line_error(tmp_path):
    result = run_cli("run", str(CLIP), "-o", "srt://127.0.0.1:9000", "--model", "selfie", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stream-mask: error: cannot send to srt://127.0.0.1:9000: ")
    assert "no SRT" in lines[0] and "udp://" in lines[0] and "rtmp://" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_an_output_url_no_sink_takes_is_a_one_line_error(tmp_path):
    result = run_cli("run", str(CLIP), "-o", "rtsp://127.0.0.1/live", "--model", "selfie", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == ("stream-mask: error: cannot send to rtsp://127.0.0.1/live: outputs take "
                                     "rtmp://, udp://, srt:// URLs, not rtsp://")


def test_streams_are_composites_unless_told_otherwise():
    assert OutputSpec("rtmp://host/live/key").resolved_kind() == "composite"
    assert OutputSpec("udp://127.0.0.1:5000").resolved_kind() == "composite"
    assert OutputSpec("srt://host:9000", kind="mask").resolved_kind() == "mask"


def test_a_stream_lost_mid_run_does_not_take_the_recording_beside_it(tmp_path):
    """The server leaves after 3 frames: the stream ends, the recording made in the same run goes on to the end and
    is published with its sidecar; the run still says, in one line and exit 1, that the stream was lost."""
    port = free_port(socket.SOCK_STREAM)
    url = f"rtmp://127.0.0.1:{port}/live/stream"
    peer = Peer(url, port, "tcp", {"listen": "1", **UDP_PEER_OPTIONS}, leave_after=3)
    clip = MEDIA / "davis_parkour" / "parkour_24fps_from_frames.mp4"  # 100 frames: 4 s at --realtime
    result = run_cli("run", str(clip), "--realtime", "-o", url, "-o", "m.mkv", "--model", "selfie", "-q", cwd=tmp_path)
    peer.join()
    assert len(peer.frames) == 3
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"stream-mask: error: cannot send to {url}: "), result.stderr
    assert lines[0].endswith("(m.mkv written)"), result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["m.mkv", "m.mkv.json"]
    with av.open(str(tmp_path / "m.mkv")) as container:
        written = sum(1 for _ in container.decode(video=0))
    assert written >= 3 and written == json.loads((tmp_path / "m.mkv.json").read_text())["frames"]


@pytest.mark.parametrize("url", ["udp://127.0.0.1:9", "rtmp://user:secret@127.0.0.1:9/live/stream"])
def test_a_label_map_is_not_sent_to_a_lossy_stream(tmp_path, url):
    result = run_cli("run", str(CLIP), "--kind", "labels", "-o", url, "--model", "selfie", cwd=tmp_path)
    assert result.returncode == 1
    shown = url.replace("secret", "***")
    assert result.stderr.strip() == f"stream-mask: error: a label map must be lossless: write {shown} as .mkv or PNGs instead"
    assert list(tmp_path.iterdir()) == []
