"""Network streams (rtsp://, http(s)://, udp://, tcp://, srt://, rtmp://) through FFmpeg: the video file decoder,
with a timeout, low-latency options, messages that name the stream without its password, and live or not.

rtsp, udp, tcp, srt and rtmp feeds are live (frames arrive in real time: a consumer that falls behind drops stale
ones). An http(s) URL is live only when FFmpeg knows no duration (a live HLS playlist, an endless MPEG-TS feed); an
ordinary video file or a finished playlist is read like a file, every frame. --live / --no-live override either.
"""

from __future__ import annotations

import av

from ..errors import StreamMaskError
from ..urls import is_url, redact_url, url_scheme
from .files import VideoFileSource

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https", "udp", "tcp", "srt", "rtmp")  # inputs opened as streams
PUSHED_SCHEMES = ("rtsp", "rtsps", "udp", "tcp", "srt", "rtmp")  # live unless --no-live: low-latency decoding
STREAM_TIMEOUT = 10.0  # seconds a network stream may take to open, or to deliver more data, before we give up


class StreamSource(VideoFileSource):
    """A stream URL decoded like a file. Its errors name the stream without its password and say when it did not
    answer; a stream that breaks off or goes silent ends like an unplugged camera (`ended_early`)."""

    network = True

    def __init__(self, url: str, options: dict[str, str] | None = None, live: bool | None = None,
                 timeout: float = STREAM_TIMEOUT) -> None:
        super().__init__(url, options=options, live=live, timeout=timeout, description=redact_url(url))

    def _open_error(self, error: av.error.FFmpegError, shown: str, elapsed: float,
                    timeout: float | None) -> StreamMaskError:
        timed_out = timeout is not None and elapsed >= 0.9 * timeout
        reason = f"no answer within {timeout:g} s" if timed_out else _stream_error(error, timeout)
        return StreamMaskError(f"cannot open stream {shown}: {reason}")

    def _reason(self, error: av.error.FFmpegError) -> str:
        return _stream_error(error, self._timeout)


def is_stream_url(spec: str) -> bool:
    return is_url(spec, STREAM_SCHEMES)


def open_stream(url: str, timeout: float = STREAM_TIMEOUT, live: bool | None = None) -> StreamSource:
    """A network stream through FFmpeg; a dead URL fails within about `timeout` s. `live` None: see the module."""
    scheme = url_scheme(url)
    options: dict[str, str] = {}
    if scheme in PUSHED_SCHEMES:
        # Decode without waiting for reordering. Not `fflags nobuffer`: it drops the packets read while probing,
        # and with them the only keyframe of a feed that sends one at the start (it then never decodes); the live
        # reader drops that backlog's stale frames anyway. Not for http(s), which mostly serves files and HLS:
        # `low_delay` breaks B-frame order.
        options["flags"] = "low_delay"
        live = True if live is None else live
    if scheme in ("rtsp", "rtsps"):
        options["rtsp_transport"] = "tcp"  # no lost UDP packets, and it passes NAT and firewalls
    return StreamSource(url, options=options, live=live, timeout=timeout)


def _stream_error(error: av.error.FFmpegError, timeout: float | None) -> str:
    """What a stream's FFmpeg error says, in words."""
    if isinstance(error, av.error.ExitError) and timeout is not None:  # FFmpeg's interrupt: our timeout fired
        return f"no answer within {timeout:g} s"
    return error.strerror or str(error)
