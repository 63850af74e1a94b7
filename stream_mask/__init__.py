"""stream_mask: mask parts of people in live streams, video files and still images with MediaPipe."""

# OpenCV before PyAV, always: PyAV's wheel bundles its own libxcb, and when it is loaded first OpenCV's
# Qt preview window hangs on creation. Importing cv2 here makes the order hold for every entry point.
import cv2  # noqa: F401

__version__ = "0.1.0"
