"""stream_mask: mask parts of people in live streams, video files and still images with MediaPipe."""

import sys


class _OpenCVBeforePyAV:
    """OpenCV before PyAV, always: PyAV's wheel bundles its own libxcb, and when it is loaded first OpenCV's Qt
    preview window hangs on creation. This import hook loads cv2 just before the first `import av`, from whatever
    module, so the order holds for every entry point while `--help` and `models` (neither needs either) do not pay
    for OpenCV's import (~0.3 s)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "av" and "cv2" not in sys.modules:
            import cv2  # noqa: F401
        return None  # the ordinary finders import it


if "av" not in sys.modules:
    sys.meta_path.insert(0, _OpenCVBeforePyAV())

__version__ = "0.1.0"

# The video API, imported on first use: the command's `--help` and `models` must not load MediaPipe and PyAV.
_LAZY = {"VideoMasker": "masker", "masked_frames": "masker"}
__all__ = ["VideoMasker", "masked_frames"]


def __getattr__(name: str):  # noqa: ANN202 (PEP 562)
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
