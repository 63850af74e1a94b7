"""Cameras through OpenCV's capture (V4L2 on Linux, AVFoundation, MSMF...): `camera:0`, `camera:/dev/video2`, or `0`."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..errors import StreamMaskError
from ..frames import Frame, Source, SourceInfo

CAMERA_PREFIX = "camera:"
DEFAULT_CAMERA_FPS = Fraction(30)  # assumed when a camera does not report its frame rate


class CameraSource(Source):
    """A camera through OpenCV's `cv2.VideoCapture` (any backend: V4L2 on Linux, AVFoundation, MSMF...).

    `device` is a camera index (0), a device path ("/dev/video2") or, through the same capture code, a video file
    that OpenCV can read. `size=(w, h)` and `fps` are requests: what the camera actually gave is read back after
    the first frame into `info` and the human line `info.report`. Frames are RGB, stamped with `time.monotonic()`
    relative to the first frame, in milliseconds (time base 1/1000), strictly increasing. When a read fails
    mid-run (camera unplugged) iteration just ends, with `ended_early` set, so outputs can be finalised.
    """

    def __init__(self, device: int | str, size: tuple[int, int] | None = None, fps: float | None = None,
                 description: str | None = None) -> None:
        self.description = description or (f"{CAMERA_PREFIX}{device}")
        self.ended_early = False
        self.is_device = not (isinstance(device, str) and _is_regular_file(device))
        if isinstance(device, str) and not os.path.exists(device):
            raise StreamMaskError(f"cannot open {self.description}: no such device "
                                  "(list devices with `v4l2-ctl --list-devices`)")
        self._capture = _open_capture(device)
        if not self._capture.isOpened():
            self._capture.release()
            raise StreamMaskError(f"cannot open {self.description}: no such camera, or it is in use "
                                  "(list devices with `v4l2-ctl --list-devices`)")
        if self.is_device:  # requests; a file ignores them
            if size is not None or fps is not None:
                # Most USB webcams reach 30 fps at 720p and above only in MJPG, not in raw YUYV.
                self._capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
            if size is not None:
                self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, int(size[0]))
                self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, int(size[1]))
            if fps is not None:
                self._capture.set(cv2.CAP_PROP_FPS, float(fps))
        ok, bgr = self._capture.read()
        if not ok or bgr is None:
            self._capture.release()
            raise StreamMaskError(f"cannot read from {self.description}: it opened but gave no picture")
        self._first: np.ndarray | None = bgr
        self._first_time = time.monotonic()
        height, width = bgr.shape[:2]
        given_fps = self._capture.get(cv2.CAP_PROP_FPS)
        rate = Fraction(given_fps).limit_denominator(1001) if given_fps and given_fps > 0 else DEFAULT_CAMERA_FPS
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)) if not self.is_device else 0
        report = f"{self.description} gave {width}x{height} at {_format_fps(rate)} fps"
        asked = []
        if size is not None:
            asked.append(f"{int(size[0])}x{int(size[1])}")
        if fps is not None:
            asked.append(f"{_format_fps(fps)} fps" if size is None else f"{_format_fps(fps)}")
        if asked:
            report += f" (asked {' at '.join(asked)})"
        self.info = SourceInfo(
            description=self.description, width=width, height=height, fps=rate, time_base=Fraction(1, 1000),
            frame_count=count if count > 0 else None, live=True, report=report,
        )

    @property
    def camera_report(self) -> str:
        return self.info.report

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        last_pts = -1
        while True:
            if self._first is not None:
                bgr, self._first = self._first, None
                captured = self._first_time
            else:
                if self._capture is None:
                    return
                ok, bgr = self._capture.read()
                captured = time.monotonic()
                if not ok or bgr is None:
                    self.ended_early = self.is_device
                    return
            pts = max(round((captured - self._first_time) * 1000), last_pts + 1)
            last_pts = pts
            if bgr.ndim == 2:
                rgb = cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
            else:
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB if bgr.shape[2] == 4 else cv2.COLOR_BGR2RGB)
            yield Frame(np.ascontiguousarray(rgb), index, pts, self.info.time_base, captured=captured)
            index += 1

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


def is_camera_spec(spec: str) -> bool:
    return spec.startswith(CAMERA_PREFIX) or (spec.isdigit() and not Path(spec).exists())


def open_camera(spec: str, size: tuple[int, int] | None = None, fps: float | None = None) -> CameraSource:
    """A camera spec (`camera:0`, `camera:/dev/video2`, or a plain integer); `size` (w, h) and `fps` are requests."""
    device: int | str = spec[len(CAMERA_PREFIX):] if spec.startswith(CAMERA_PREFIX) else spec
    if not device:
        raise StreamMaskError("camera: needs a number or a device path, e.g. camera:0 or camera:/dev/video2")
    if isinstance(device, str) and device.isdigit():
        device = int(device)
    description = spec if spec.startswith(CAMERA_PREFIX) else f"{CAMERA_PREFIX}{spec}"
    return CameraSource(device, size=size, fps=fps, description=description)


def _is_regular_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _open_capture(device: int | str) -> cv2.VideoCapture:
    """cv2.VideoCapture with any backend, OpenCV's own logging (a missing camera) kept off the terminal."""
    logging = getattr(cv2, "utils", None) and getattr(cv2.utils, "logging", None)
    previous = None
    if logging is not None:
        previous = logging.getLogLevel()
        logging.setLogLevel(getattr(logging, "LOG_LEVEL_SILENT", 0))  # our own message says it
    try:
        return cv2.VideoCapture(device, cv2.CAP_ANY)
    finally:
        if logging is not None and previous is not None:
            logging.setLogLevel(previous)


def _format_fps(rate: float | Fraction) -> str:
    value = float(rate)
    return f"{value:.0f}" if abs(value - round(value)) < 0.01 else f"{value:.2f}"
