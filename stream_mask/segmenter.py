"""MediaPipe's ImageSegmenter behind a small interface: RGB frame in, one confidence plane per label out.

VIDEO mode (the default) is what a capture loop wants: MediaPipe requires strictly increasing
timestamps in milliseconds there, which `Segmenter.segment` guarantees whatever the source gave.
IMAGE mode serves unrelated still images (the library's batch API).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python.core.base_options import BaseOptions
from mediapipe.tasks.python.vision import image_segmenter
from mediapipe.tasks.python.vision.core.vision_task_running_mode import VisionTaskRunningMode

from . import masks
from .errors import StreamMaskError
from .parts import Part, person_part


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


class Segmenter:
    """One MediaPipe ImageSegmenter task; use as a context manager so the task is closed.

    `segment(rgb, timestamp_ms)` returns the confidence planes (HxW float32, one per label, in
    `labels` order). The planes are views into MediaPipe's result, valid until the next call.
    """

    def __init__(self, model_path: Path, video: bool = True) -> None:
        self.video = video
        mode = VisionTaskRunningMode.VIDEO if video else VisionTaskRunningMode.IMAGE
        options = image_segmenter.ImageSegmenterOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=mode,
            output_confidence_masks=True,
            output_category_mask=False,
        )
        try:
            with quiet_native_stderr():
                self._task = image_segmenter.ImageSegmenter.create_from_options(options)
        except (RuntimeError, ValueError) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise StreamMaskError(f"cannot load {model_path} as a MediaPipe segmentation model: {first_line}") from None
        self.labels: list[str] = list(self._task.labels)
        self._last_ms = -1
        self._result: image_segmenter.ImageSegmenterResult | None = None
        self.calls = 0  # frames segmented, reported in the run's stats
        self.last_ms = 0.0  # duration of the last call, for the live stats overlay

    def segment(self, rgb: np.ndarray, timestamp_ms: int = 0) -> list[np.ndarray]:
        """Confidence planes for one HxWx3 uint8 RGB frame; `timestamp_ms` is used in VIDEO mode."""
        # MediaPipe ignores numpy strides: a padded view (PyAV pads rows) would be read as garbage.
        started = time.perf_counter()
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if self.video:
            # MediaPipe rejects a timestamp that is not strictly greater than the previous one.
            timestamp_ms = max(int(timestamp_ms), self._last_ms + 1)
            self._last_ms = timestamp_ms
            self._result = self._task.segment_for_video(image, timestamp_ms)
        else:
            self._result = self._task.segment(image)
        self.calls += 1
        self.last_ms = (time.perf_counter() - started) * 1000
        planes = [mask.numpy_view() for mask in self._result.confidence_masks]
        # Masks may come back HxWx1; callers always get HxW.
        return [plane[:, :, 0] if plane.ndim == 3 else plane for plane in planes]

    def close(self) -> None:
        """Close the MediaPipe task (left open, it raises at interpreter exit)."""
        if self._task is not None:
            self._task.close()
            self._task = None

    def __enter__(self) -> Segmenter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Refiner:
    """The original node's refine_mask: another pass on a crop around the person(s), pasted back.

    The crop is the bounding box of the person mask padded by 20% on each side, so the model sees a
    small or distant person at a far higher resolution than in the whole frame. Each further pass
    crops around the previous pass's result. With `each_person` (what a run does), people far apart get
    a crop each (masks.person_boxes): one box covering two people at either side of the frame would be
    the whole frame, squeezed. Without it, one box around everything, exactly as the original node (the
    library API). In a video the boxes follow the people smoothly (masks.follow_boxes) instead of
    jumping with each frame's noise.
    """

    def __init__(self, model_path: Path, person: Part, confidence: float, video: bool = True, passes: int = 1,
                 each_person: bool = True, pad: float = 0.2, keep: float = 0.3) -> None:
        self._segmenter = Segmenter(model_path, video)
        self._person, self.confidence = person, confidence  # the person mask the crops are cut around
        self._passes, self._each_person, self._pad, self._keep = passes, each_person, pad, keep
        self._boxes: list[masks.Box] = []

    @classmethod
    def for_labels(cls, model_path: Path, labels: list[str], confidence: float, video: bool = True,
                   passes: int = 1, each_person: bool = True) -> Refiner:
        """A refiner that finds people as everything but background; models without it cannot refine."""
        person = person_part(labels)
        if person is None:
            raise StreamMaskError("refining needs a model with a person or background class")
        return cls(model_path, person, confidence, video, passes, each_person)

    @property
    def calls(self) -> int:
        return self._segmenter.calls

    def _crops(self, planes: list[np.ndarray]) -> list[masks.Box]:
        region = self._person.confidence(planes) > self.confidence
        if self._each_person:
            return masks.person_boxes(region, self._pad)
        box = masks.padded_box(region, self._pad)
        return [] if box is None else [box]

    def refine(self, rgb: np.ndarray, planes: list[np.ndarray], timestamp_ms: int = 0) -> list[np.ndarray]:
        """Planes with the crops around the people replaced by the model's pass on each crop."""
        for index in range(self._passes):
            boxes = self._crops(planes)
            if not boxes:
                break
            if self._segmenter.video and index == 0:  # later passes crop around this frame's own result
                boxes = self._boxes = masks.follow_boxes(self._boxes, boxes, self._keep)
            if index == 0:  # our own copies, once: MediaPipe's buffers are read-only and reused
                planes = [np.array(plane) for plane in planes]
            for box in boxes:
                x0, y0, x1, y1 = (round(v) for v in box)
                for plane, crop in zip(planes, self._segmenter.segment(rgb[y0:y1, x0:x1], timestamp_ms)):
                    plane[y0:y1, x0:x1] = crop
        return planes

    def close(self) -> None:
        self._segmenter.close()

    def __enter__(self) -> Refiner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
