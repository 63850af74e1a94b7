"""Network streams: `-o rtmp://...` (FLV), `-o udp://...` and `-o srt://...` (MPEG-TS).

H.264 made for latency (no B-frames, no look-ahead) with a keyframe every second, so a viewer who joins late starts
within a second; the source's audio as AAC. Nothing touches the disk: no partial, no sidecar, nothing published.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import av
import numpy as np

from ..config import H264
from ..errors import StreamMaskError
from ..frames import Frame, SourceInfo
from ..publish import undone_on_failure
from ..urls import redact_url, url_scheme
from .video import EncodingSink, VideoFormat

CONTAINERS = {"rtmp": "flv", "udp": "mpegts", "srt": "mpegts"}  # URL scheme -> FFmpeg muxer
_X264_LIVE = {"preset": "veryfast", "tune": "zerolatency", "crf": "20"}
KEYFRAME_SECONDS = 1.0
_ERRORS = (OSError, av.error.FFmpegError, ValueError)


class NetworkSink(EncodingSink):
    """A composite (by default) or mask stream sent to a peer: an RTMP server, a UDP or SRT receiver."""

    schemes = tuple(CONTAINERS)
    sidecar = False
    optional = True  # a peer that leaves ends the stream, not a recording made beside it
    what = "the stream"

    @classmethod
    def default_kind(cls, spec: str) -> str:
        return "composite"  # like a virtual camera: a blurred background is what people send

    @classmethod
    def open(cls, spec: str, source: SourceInfo, overwrite: bool, picture: str, h264: H264 = H264()) -> NetworkSink:
        return cls(spec, source, picture)

    def __init__(self, url: str, source: SourceInfo, picture: str = "rgb") -> None:
        self.path = redact_url(url)  # for messages and the summary line: no password
        self.picture = picture
        if picture == "rgba":
            raise StreamMaskError(f"{self.path}: a network stream has no alpha channel: use --kind composite (or mask)")
        fps = float(source.fps) if source.fps else 30.0
        options = {**_X264_LIVE, "g": str(max(1, round(fps * KEYFRAME_SECONDS)))}
        fmt = VideoFormat(CONTAINERS[url_scheme(url)], "libx264", "yuv420p", options, frozenset({"aac"}), "aac")
        if fmt.container == "mpegts" and "pkt_size=" not in url:  # whole TS packets per datagram (7 x 188 bytes)
            url += ("&" if "?" in url else "?") + "pkt_size=1316"
        with self._sending():
            # Every packet leaves at once (no buffering in FFmpeg's I/O layer): latency first.
            self._container = av.open(url, "w", format=fmt.container, container_options={"flush_packets": "1"})
            self._add_streams(source, fmt, picture)
            self._video.codec_context.open()
            try:
                # Connects now (RTMP's handshake too): a peer that refuses stops the run before any work. PyAV opens
                # an output URL without options or interrupt callback, holding the GIL: no timeout can be set, and a
                # server that accepts and never answers holds the run here, signals included (README: known limit).
                self._container.start_encoding()
            except av.error.ProtocolNotFoundError:
                raise StreamMaskError(
                    f"cannot send to {self.path}: this FFmpeg build has no {url_scheme(url).upper()} protocol (PyAV's "
                    f"wheels come without libsrt): use udp:// or rtmp://, or a PyAV built on an FFmpeg with libsrt"
                ) from None

    @contextlib.contextmanager
    def _sending(self) -> Iterator[None]:
        """An error of the connection (refused, reset) closes it and becomes one line."""
        with undone_on_failure(self.abort, self.path, _ERRORS, doing="send to"):
            yield

    def write(self, frame: Frame, picture: np.ndarray) -> None:
        with self._sending():
            super().write(frame, picture)

    def write_audio(self, packet: av.Packet) -> None:
        with self._sending():
            super().write_audio(packet)

    def close(self, sidecar: dict[str, Any] | None = None) -> None:
        """Flush the encoders and end the stream (an RTMP server then ends it for its viewers)."""
        if self._container is not None:
            with self._sending():
                self._flush()
                self._container = None

    def abort(self) -> None:
        self._close_container()
