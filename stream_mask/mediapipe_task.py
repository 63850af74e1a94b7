"""What every MediaPipe vision task here shares: loading it quietly, feeding it frames, closing it.

A runtime built on a MediaPipe task (segmenter.Segmenter, landmarks.FaceParts) subclasses `MediaPipeTask`
and only says which task it is and how to read its result. VIDEO mode tracks across frames and needs
strictly increasing timestamps in milliseconds, which `_run` guarantees whatever the source gave; IMAGE
mode treats every frame afresh (the library's still images).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python.core.base_options import BaseOptions
from mediapipe.tasks.python.vision.core.vision_task_running_mode import VisionTaskRunningMode

from .errors import StreamMaskError

_Task = TypeVar("_Task", bound="MediaPipeTask")


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Hide what MediaPipe's C++ core prints to fd 2 while a task is created (TFLite/glog banners).

    Environment variables such as GLOG_minloglevel do not reach it, so the file descriptor itself is
    pointed at /dev/null for the duration; Python exceptions still carry MediaPipe's errors.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class MediaPipeTask:
    """One MediaPipe vision task; use as a context manager so the task is closed (left open, it raises at exit).

    `what` names the model in the one-line load error ("a MediaPipe segmentation model"); `options` and
    `task` are the task's options and task classes, `settings` its own options besides the model and mode.
    """

    def __init__(self, model_path: Path, video: bool, what: str, options: Any, task: Any, **settings: Any) -> None:
        self.video = video
        mode = VisionTaskRunningMode.VIDEO if video else VisionTaskRunningMode.IMAGE
        built = options(base_options=BaseOptions(model_asset_path=str(model_path)), running_mode=mode, **settings)
        self._task: Any = None
        try:
            with quiet_native_stderr():
                self._task = task.create_from_options(built)
        except (RuntimeError, ValueError) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise StreamMaskError(f"cannot load {model_path} as {what}: {first_line}") from None
        self._timestamp_ms = -1
        self.calls = 0  # frames run, reported in the run's stats
        self.last_ms = 0.0  # duration of the last call, for the live stats overlay

    def _infer(self, image: mp.Image, timestamp_ms: int) -> Any:
        """The task's own call: its VIDEO-mode method with `timestamp_ms` if `self.video`, else its IMAGE-mode one."""
        raise NotImplementedError

    def _run(self, rgb: np.ndarray, timestamp_ms: int) -> Any:
        """The task's result for one HxWx3 uint8 RGB frame, timed and counted."""
        started = time.perf_counter()
        # MediaPipe ignores numpy strides: a padded view (PyAV pads rows) would be read as garbage.
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if self.video:
            # MediaPipe rejects a timestamp that is not strictly greater than the previous one.
            timestamp_ms = max(int(timestamp_ms), self._timestamp_ms + 1)
            self._timestamp_ms = timestamp_ms
        result = self._infer(image, timestamp_ms)
        self.calls += 1
        self.last_ms = (time.perf_counter() - started) * 1000
        return result

    def close(self) -> None:
        if self._task is not None:
            self._task.close()
            self._task = None

    def __enter__(self: _Task) -> _Task:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
