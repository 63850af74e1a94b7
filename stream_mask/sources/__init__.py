"""Where frames come from: one module per family of inputs, found through the registry below, and the wrappers
(wrappers.py) that pace or mirror any of them.

  cameras.py  camera:0, camera:/dev/video2, 0 (OpenCV capture)
  streams.py  rtsp://, http(s)://, udp://, tcp://, srt://, rtmp:// (FFmpeg, with a timeout)
  images.py   one image, a folder or a glob of images
  files.py    anything else FFmpeg reads: video files, animated GIFs, pipes

A source yields `Frame`s (frames.py) in presentation order, each with its own timestamp, and for files with sound
the audio packets as demuxed. Live sources (cameras, live streams, files paced by --realtime) set
`SourceInfo.live`: their frames arrive in real time, so a consumer that falls behind should drop stale frames
rather than queue them. Every frame records `captured`, the `time.monotonic()` at which it was read or released,
for latency. Damaged input is skipped, as FFmpeg does (a packet that does not decode, an unreadable image in a
set): `Source.skipped` counts it and `Source.warnings` says what was left out, for the summary and sidecar.

A new family is one module (a function that tells its INPUTs, `takes(INPUT) -> bool`, and one that opens them,
`open(INPUT, **requests) -> Source`) and one `register_source` line below, in precedence order.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import StreamMaskError
from ..frames import Source
from ..urls import redact_url
from .cameras import is_camera_spec, open_camera
from .files import is_video_input, open_video_file
from .images import is_image_input, open_images
from .streams import is_stream_url, open_stream
from .wrappers import MirroredSource, PacedSource


@dataclass(frozen=True)
class SourceFamily:
    """One family of inputs: which INPUTs it takes, how it opens one, and which requests apply to it."""

    name: str
    takes: Callable[[str], bool]  # is INPUT ours? The first family (in precedence order) that says so opens it
    open: Callable[..., Source]  # open(INPUT, **requests), given only the requests below that the user made
    requests: tuple[str, ...] = ()  # of "size", "fps" (--size, --fps) and "live" (--live / --no-live)


FAMILIES: list[SourceFamily] = []


def register_source(family: SourceFamily) -> None:
    """Add a family of inputs, asked after every family registered before it."""
    FAMILIES.append(family)


# Precedence order. A video file is the last resort: it takes anything, and says so when INPUT does not exist.
register_source(SourceFamily("camera", is_camera_spec, open_camera, requests=("size", "fps")))
register_source(SourceFamily("network stream", is_stream_url, open_stream, requests=("live",)))
register_source(SourceFamily("images", is_image_input, open_images))
register_source(SourceFamily("video file", is_video_input, open_video_file))


def open_source(spec: str, realtime: bool = False, size: tuple[int, int] | None = None, fps: float | None = None,
                mirror: bool = False, live: bool | None = None) -> Source:
    """Open INPUT as given on the command line: a video file, an image, a folder or a glob of images, a camera
    (`camera:0`, `camera:/dev/video2`, or a plain integer such as `0`) or a network stream URL (rtsp://, http://...).

    `realtime` paces a file (or image set) so frames come at their own presentation times, like a camera; live
    inputs are paced already. `size` (w, h) and `fps` are requests to a camera. `mirror` flips frames left-right.
    `live` overrides whether a network stream is live (None: rtsp, udp, srt, rtmp, tcp and http(s) without a known
    duration are; see `open_stream`); it applies to stream URLs only.
    """
    family = next(family for family in FAMILIES if family.takes(spec))
    requests = {name: value for name, value in (("size", size), ("fps", fps), ("live", live)) if value is not None}
    _refuse_requests(family, spec, requests)
    path = Path(spec)
    if path.exists() and not path.is_dir() and not os.access(path, os.R_OK):  # whichever family would read it
        raise StreamMaskError(f"cannot read {spec}: permission denied")
    source = family.open(spec, **requests)
    if realtime and not source.info.live:
        source = PacedSource(source)
    if mirror:
        source = MirroredSource(source)
    return source


def _refuse_requests(family: SourceFamily, spec: str, requests: dict[str, object]) -> None:
    """One line for a request that does not apply to INPUT's family (--live to a file, --size to a stream)."""
    refused = set(requests) - set(family.requests)
    if "live" in refused:
        flag = "--live" if requests["live"] else "--no-live"
        raise StreamMaskError(f"{flag} applies to network streams (rtsp://, http://, udp://...), not to "
                              f"{redact_url(spec)}" + (": use --realtime to play a file like a camera"
                                                       if requests["live"] else ""))
    if refused:
        raise StreamMaskError("--size and --fps are requests to a camera; they do not apply to " + redact_url(spec))
