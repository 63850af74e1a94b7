"""Where masks, composites and alpha pictures go (moved from sinks.py; split by family next)."""

from .video import VIDEO_FORMATS, Sink, VirtualCameraSink, is_virtualcam, open_sink, parse_virtualcam

__all__ = ["VIDEO_FORMATS", "Sink", "VirtualCameraSink", "is_virtualcam", "open_sink", "parse_virtualcam"]
