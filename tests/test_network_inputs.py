"""Network inputs through the real command: which are live, and feeds that send one keyframe only.

An http(s) URL of an ordinary video file is a file (every frame, in order); a live HLS playlist (no
#EXT-X-ENDLIST) is live; `--live` / `--no-live` override. A real HTTP server on 127.0.0.1 serves copies of real
clips; a real PyAV sender process streams MPEG-TS over UDP on 127.0.0.1.
"""

from __future__ import annotations

import functools
import http.server
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import pytest

from test_cli_errors import LONG_VIDEO, SHORT_VIDEO, _command, decode_all, error_line, isolated_env, run_cli
from test_live_sources import remux_faststart

__all__ = ["isolated_env"]  # the fixture: every command here runs offline with a private cache


def write_hls(source: Path, folder: Path, live: bool) -> str:
    """`source`'s video packets as an HLS playlist in `folder`; a live one has no #EXT-X-ENDLIST. Its name."""
    name = "vod.m3u8"
    with av.open(str(source)) as inp, av.open(str(folder / name), "w", format="hls",
                                             options={"hls_time": "1", "hls_list_size": "0"}) as out:
        video = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = video
                out.mux(packet)
    if not live:
        return name
    playlist = (folder / name).read_text()
    assert "#EXT-X-ENDLIST" in playlist
    (folder / "live.m3u8").write_text(playlist.replace("#EXT-X-ENDLIST\n", ""))
    return "live.m3u8"


@pytest.fixture
def served(tmp_path):
    """A real HTTP server on 127.0.0.1 serving tmp_path/www; yields (folder, base URL)."""
    folder = tmp_path / "www"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def frames_and_summary(result) -> tuple[int, str]:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    line = result.stdout.splitlines()[-1]
    return int(line.split(" frames in ")[0]), line


def test_video_file_over_http_keeps_every_frame(served, tmp_path):
    """The bare command on an http URL of a 720p clip: every frame, like the same file on disk (not 56 of 247)."""
    folder, url = served
    remux_faststart(LONG_VIDEO, folder / "juggle.mp4")
    target = tmp_path / "m.mkv"
    frames, line = frames_and_summary(run_cli("run", f"{url}/juggle.mp4", "-o", target, "--model", "selfie", "-q"))
    assert frames == 247 and "dropped" not in line, line
    assert decode_all(target) == (247, 1280, 720)
    sidecar = json.loads((tmp_path / "m.mkv.json").read_text())
    assert sidecar["input"]["live"] is False and sidecar["input"]["frames_expected"] == 247
    assert sidecar["settings"]["smooth"] == 0.0  # a file: the exact rule, as for the file on disk


def test_live_forces_live_handling_of_a_file_url(served, tmp_path):
    folder, url = served
    remux_faststart(SHORT_VIDEO, folder / "clip.mp4")
    frames, line = frames_and_summary(run_cli("run", f"{url}/clip.mp4", "--live", "-o", tmp_path / "m.mkv",
                                              "--model", "selfie", "-q"))
    assert " dropped, latency p50 " in line, line  # the live summary
    sidecar = json.loads((tmp_path / "m.mkv.json").read_text())
    assert sidecar["input"]["live"] is True and sidecar["settings"]["live"] is True
    assert sidecar["settings"]["smooth"] == 0.7  # smoothing on by default, as for every live input


def test_live_hls_playlist_is_live_unless_told_otherwise(served, tmp_path):
    folder, url = served
    playlist = write_hls(SHORT_VIDEO, folder, live=True)
    frames, line = frames_and_summary(run_cli("run", f"{url}/{playlist}", "-o", tmp_path / "live.mkv",
                                              "--model", "selfie", "-q"))
    assert " dropped, latency p50 " in line, line
    assert json.loads((tmp_path / "live.mkv.json").read_text())["input"]["live"] is True

    frames, line = frames_and_summary(run_cli("run", f"{url}/{playlist}", "--no-live", "-o", tmp_path / "all.mkv",
                                              "--model", "selfie", "-q"))
    assert frames == 9 and "dropped" not in line, line
    assert decode_all(tmp_path / "all.mkv")[0] == 9


def test_finished_hls_playlist_is_a_file(served, tmp_path):
    folder, url = served
    playlist = write_hls(SHORT_VIDEO, folder, live=False)
    frames, line = frames_and_summary(run_cli("run", f"{url}/{playlist}", "-o", tmp_path / "m.mkv",
                                              "--model", "selfie", "-q"))
    assert frames == 9 and "dropped" not in line, line


@pytest.mark.parametrize(("args", "words"), [
    (("--live",), ("--live applies to network streams", "--realtime")),
    (("--no-live",), ("--no-live applies to network streams",)),
    (("--no-live", "--realtime"), ("--realtime", "--no-live")),
], ids=["live-file", "no-live-file", "no-live-realtime"])
def test_live_flags_on_a_file_are_one_line_errors(tmp_path, args, words):
    error_line(run_cli("run", SHORT_VIDEO, *args, "-o", tmp_path / "m.mkv", "--model", "selfie"), *words)
    assert not (tmp_path / "m.mkv").exists()


SENDER = """
import sys, time
from fractions import Fraction
import av
url, count, source = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with av.open(source) as clip:
    pictures = [frame.to_ndarray(format="rgb24") for frame in clip.decode(video=0)]
with av.open(url, "w", format="mpegts") as out:
    stream = out.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = pictures[0].shape[1], pictures[0].shape[0], "yuv420p"
    # One keyframe, at the start (as some encoders and screen senders do): no later one to resync on.
    stream.options = {"g": "100000", "keyint_min": "100000", "sc_threshold": "0", "preset": "veryfast", "bf": "0"}
    started = time.monotonic()
    for index in range(count):
        frame = av.VideoFrame.from_ndarray(pictures[index % len(pictures)], format="rgb24")
        frame.pts, frame.time_base = index, Fraction(1, 25)
        out.mux(stream.encode(frame))
        time.sleep(max(0.0, started + (index + 1) / 25 - time.monotonic()))  # real time
    out.mux(stream.encode(None))
"""


def udp_port_bound(port: int) -> bool:
    """Whether something on this machine listens on UDP `port` (IPv4)."""
    lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    return any(line.split()[1].endswith(f":{port:04X}") for line in lines)


def test_udp_feed_with_one_keyframe_at_the_start_decodes(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    target = tmp_path / "m.mkv"
    receiver = subprocess.Popen(_command("run", f"udp://127.0.0.1:{port}", "-o", target, "--model", "selfie", "-q"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sender = None
    try:
        deadline = time.monotonic() + 120
        while not udp_port_bound(port):  # the receiver listens before anything is sent (UDP keeps nothing)
            assert receiver.poll() is None, receiver.communicate()
            assert time.monotonic() < deadline, "the receiver never listened"
            time.sleep(0.05)
        sender = subprocess.run([sys.executable, "-c", SENDER, f"udp://127.0.0.1:{port}?pkt_size=1316", "50",
                                 str(SHORT_VIDEO)], capture_output=True, text=True, timeout=120)
        assert sender.returncode == 0, sender.stderr
        stdout, stderr = receiver.communicate(timeout=120)  # it ends when the feed has been silent for 10 s
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.communicate()
    assert receiver.returncode == 0, stderr
    assert "Traceback" not in stderr
    written = int(stdout.splitlines()[-1].split(" frames in ")[0])
    assert written >= 1 and decode_all(target) == (written, 320, 192)
