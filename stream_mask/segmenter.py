"""MediaPipe's ImageSegmenter as a model runtime (runtime.ModelRuntime): RGB frame in, one confidence plane per label out.

VIDEO mode (the default) is what a capture loop wants; IMAGE mode serves unrelated still images (the
library's batch API). Loading, timestamps and closing are mediapipe_task.MediaPipeTask's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python.vision import image_segmenter

from .mediapipe_task import MediaPipeTask


class Segmenter(MediaPipeTask):
    """One MediaPipe ImageSegmenter task; use as a context manager so the task is closed.

    `segment(rgb, timestamp_ms)` returns the confidence planes (HxW float32, one per label, in
    `labels` order). The planes are views into MediaPipe's result, valid until the next call.
    """

    def __init__(self, model_path: Path, video: bool = True) -> None:
        super().__init__(model_path, video, "a MediaPipe segmentation model", image_segmenter.ImageSegmenterOptions,
                         image_segmenter.ImageSegmenter, output_confidence_masks=True, output_category_mask=False)
        self.labels: list[str] = list(self._task.labels)
        self._result: image_segmenter.ImageSegmenterResult | None = None  # what the planes are views into

    def _infer(self, image: mp.Image, timestamp_ms: int) -> Any:
        return self._task.segment_for_video(image, timestamp_ms) if self.video else self._task.segment(image)

    def segment(self, rgb: np.ndarray, timestamp_ms: int = 0) -> list[np.ndarray]:
        """Confidence planes for one HxWx3 uint8 RGB frame; `timestamp_ms` is used in VIDEO mode."""
        self._result = self._run(rgb, timestamp_ms)
        planes = [mask.numpy_view() for mask in self._result.confidence_masks]
        # Masks may come back HxWx1; callers always get HxW.
        return [plane[:, :, 0] if plane.ndim == 3 else plane for plane in planes]
