"""stream_mask: mask parts of people in live streams, video files and still images with MediaPipe."""

# OpenCV before PyAV, always: PyAV's wheel bundles its own libxcb, and when it is loaded first OpenCV's
# Qt preview window hangs on creation. Importing cv2 here makes the order hold for every entry point.
import cv2  # noqa: F401

__version__ = "0.1.0"

# The video API, imported on first use: the command's `--help` and `models` must not load MediaPipe and PyAV.
_LAZY = {"VideoMasker": "masker", "masked_frames": "masker"}
__all__ = ["VideoMasker", "masked_frames"]


def __getattr__(name: str):  # noqa: ANN202 (PEP 562)
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
