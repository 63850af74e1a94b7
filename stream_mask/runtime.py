"""The model seam: what a model runtime does, and which runtime opens which model file.

A runtime turns an RGB frame at a timestamp into named confidence planes (HxW float32, 0..1, one per
name in `labels`). The MediaPipe ImageSegmenter (segmenter.py) and the face landmarker's parts
(landmarks.py) are the two today; planes.py combines them for a run and never asks which is which.
A new runtime (ONNX, say) is one new file implementing `ModelRuntime` plus one line in `RUNTIMES`.

Runtimes are named there as "module:Class" and imported only when a model is opened, so that finding and listing
model files (models.py, `stream-mask models`) neither loads MediaPipe nor imports this module's users back.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .errors import StreamMaskError

if TYPE_CHECKING:
    import numpy as np  # annotations only: `stream-mask models` and --help do not load numpy

    from .models import ResolvedModel

# What a model file is, which says which runtime opens it (a model's ModelInfo.kind; `--model` is a segmenter).
SEGMENTER = "segmenter"  # RGB frame -> one confidence plane per label
FACE_LANDMARKER = "face_landmarker"  # RGB frame -> face meshes, drawn as the face-landmark parts


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


# (model kind, file suffix) -> "module:Class" of the runtime, called as Class(path, video=..., **settings).
RUNTIMES: dict[tuple[str, str], str] = {
    (SEGMENTER, ".tflite"): "stream_mask.segmenter:Segmenter",
    (SEGMENTER, ".task"): "stream_mask.segmenter:Segmenter",
    (FACE_LANDMARKER, ".task"): "stream_mask.landmarks:FaceParts",
}


def open_runtime(model: ResolvedModel, kind: str, video: bool, **settings: Any) -> ModelRuntime:
    """`model` opened as a `kind` (models.SEGMENTER, models.FACE_LANDMARKER): VIDEO mode or IMAGE mode."""
    name = RUNTIMES.get((kind, model.path.suffix))
    if name is None:
        raise StreamMaskError(f"no runtime opens {model.path} as a {kind.replace('_', ' ')}")
    module, _, cls = name.partition(":")
    with _deferred(UNUSED_IMPORTS):
        runtime = getattr(importlib.import_module(module), cls)
    return runtime(model.path, video=video, **settings)


# `import mediapipe` imports every task and their helpers, among them matplotlib.pyplot (its drawing utilities) and
# sounddevice (its audio tasks): about 0.25 s of an idle machine's 0.32 s MediaPipe import, used by nothing here.
UNUSED_IMPORTS = ("matplotlib.pyplot", "sounddevice")


class _LazyFinder:
    """Finds `names` as usual but loads them lazily (importlib.util.LazyLoader): on first attribute use, if ever."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = frozenset(names)

    def find_spec(self, name: str, path: Sequence[str] | None = None, target: object = None) -> Any:
        if name not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


@contextlib.contextmanager
def _deferred(names: Sequence[str]) -> Iterator[None]:
    """While inside, modules named `names` that are not imported yet are imported lazily."""
    finder = _LazyFinder(names)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
