"""Where masks, composites and alpha pictures go, one family a module, found through a registry.

Each family is a `Sink` subclass that declares which outputs it takes (`names`, `schemes`, `extensions`, or
`folders`: see `Sink.takes`), the kind it writes by default (`default_kind`) and opens them (`open`). A new kind of
output is one new module here and one `register_sink` line below; the order of registration is the precedence.
"""

from __future__ import annotations

from ..config import H264
from ..errors import StreamMaskError
from ..frames import SourceInfo
from ..urls import redact_url, url_scheme
from .base import PICTURES, Sink
from .images import ImageSequenceSink, ImageSink
from .network import NetworkSink
from .video import VideoSink
from .virtualcam import VirtualCameraSink

__all__ = ["Sink", "default_kind", "lossless", "names_a_file", "open_sink", "register_sink", "sink_class"]

_SINKS: list[type[Sink]] = []


def register_sink(cls: type[Sink]) -> type[Sink]:
    """Add a sink family after those registered before it (which take precedence)."""
    _SINKS.append(cls)
    return cls


# The built-in families. The word `virtualcam` and URLs first; a %d pattern or extensionless path (a folder) before
# the extensions, so that `masks/%05d.png` is a sequence, not one PNG.
register_sink(VirtualCameraSink)
register_sink(NetworkSink)
register_sink(ImageSequenceSink)
register_sink(VideoSink)
register_sink(ImageSink)


def sink_class(spec: str) -> type[Sink] | None:
    """The family that takes OUTPUT `spec`, or None."""
    return next((cls for cls in _SINKS if cls.takes(spec)), None)


def default_kind(spec: str) -> str:
    """The kind written to `spec` when neither --kind nor --effect says (an output no family takes: mask, and
    opening it says why not)."""
    return (sink_class(spec) or Sink).default_kind(spec)


def lossless(spec: str) -> bool:
    """Whether grey pictures written to `spec` read back exactly (an output no family takes: opening it says why)."""
    cls = sink_class(spec)
    return cls is None or cls.lossless(spec)


def names_a_file(spec: str) -> bool:
    """Whether `spec` is a path (two outputs must not share one) rather than a camera or a stream."""
    cls = sink_class(spec)
    return cls is None or cls.sidecar


def open_sink(spec: str, source: SourceInfo, overwrite: bool = False, picture: str = "gray",
              h264: H264 = H264()) -> Sink:
    """Open OUTPUT for pictures of kind "gray" (HxW uint8), "rgb" (HxWx3) or "rgba" (HxWx4, straight alpha), with
    the first registered family that takes it; H.264 video files are encoded with `h264`'s settings (crf, preset).

    A file output's name is claimed for the run (publish.Claim) before it is checked, and never replaces one of
    `source.files`, whatever `overwrite` says."""
    if picture not in PICTURES:
        raise ValueError(f"picture must be one of {PICTURES}, not {picture!r}")
    cls = sink_class(spec)
    if cls is not None:
        return cls.open(spec, source, overwrite, picture, h264)
    scheme = url_scheme(spec)
    if scheme is not None:
        schemes = ", ".join(f"{name}://" for cls in _SINKS for name in cls.schemes)
        raise StreamMaskError(f"cannot send to {redact_url(spec)}: outputs take {schemes} URLs, not {scheme}://")
    forms = [extension for cls in _SINKS for extension in cls.extensions]
    if any(cls.folders for cls in _SINKS):
        forms += ["a folder", "a %05d.png pattern"]
    known = ", ".join(forms)
    raise StreamMaskError(f"cannot write {spec}: output must be {known}")
