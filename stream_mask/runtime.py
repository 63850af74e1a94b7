"""The model seam: what a model runtime does, and which runtime opens which model file.

A runtime turns an RGB frame at a timestamp into named confidence planes (HxW float32, 0..1, one per
name in `labels`). The MediaPipe ImageSegmenter (segmenter.py) and the face landmarker's parts
(landmarks.py) are the two today; planes.py combines them for a run and never asks which is which.
A new runtime (ONNX, say) is one new file implementing `ModelRuntime` plus one line in `RUNTIMES`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from .errors import StreamMaskError
from .landmarks import FaceParts
from .models import FACE_LANDMARKER, SEGMENTER, ResolvedModel
from .segmenter import Segmenter


class ModelRuntime(Protocol):
    """One model, opened; `close()` it (or use `with`) when done."""

    labels: Sequence[str]  # the name of each plane `segment` returns, in order
    calls: int  # frames run so far, reported in the run's stats
    last_ms: float  # duration of the last call, for the live stats overlay

    def segment(self, rgb: np.ndarray, timestamp_ms: int = 0) -> list[np.ndarray]:
        """The planes for one HxWx3 uint8 RGB frame (valid until the next call); timestamps only grow in VIDEO mode."""
        ...

    def close(self) -> None:
        ...


# (model kind, file suffix) -> runtime class, called as runtime(path, video=..., **settings).
RUNTIMES: dict[tuple[str, str], Callable[..., ModelRuntime]] = {
    (SEGMENTER, ".tflite"): Segmenter,
    (SEGMENTER, ".task"): Segmenter,
    (FACE_LANDMARKER, ".task"): FaceParts,
}


def open_runtime(model: ResolvedModel, kind: str, video: bool, **settings: Any) -> ModelRuntime:
    """`model` opened as a `kind` (models.SEGMENTER, models.FACE_LANDMARKER): VIDEO mode or IMAGE mode."""
    runtime = RUNTIMES.get((kind, model.path.suffix))
    if runtime is None:
        raise StreamMaskError(f"no runtime opens {model.path} as a {kind.replace('_', ' ')}")
    return runtime(model.path, video=video, **settings)
