"""stream_mask: mask parts of people in live streams, video files and still images with MediaPipe."""

__version__ = "0.1.0"
