"""A model runtime that is not MediaPipe, for tests of the model seam (runtime.py).

A "colour-key model" is an .npz file with labels and one colour per label; a pixel's confidence for a
label is the stand-in model's softmax over its distance to the colours (standin_model.expected_confidences),
computed in NumPy. It is what a new runtime takes: this one file plus `register()`, one registration.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from standin_model import COLOURS, LABELS, SHARPNESS
from stream_mask.runtime import RUNTIMES, SEGMENTER

SUFFIX = ".npz"


class ColourKeyRuntime:
    """runtime.ModelRuntime for a colour-key model file."""

    def __init__(self, path: Path, video: bool = True) -> None:
        with np.load(path) as model:
            self.labels = [str(label) for label in model["labels"]]
            self._colours = model["colours"].astype(np.float64) / 255.0
            self._sharpness = float(model["sharpness"])
        self.video, self.calls, self.last_ms = video, 0, 0.0

    def segment(self, rgb: np.ndarray, timestamp_ms: int = 0) -> list[np.ndarray]:
        x = rgb.astype(np.float64) / 255.0
        logits = self._sharpness * (2.0 * x @ self._colours.T - (self._colours**2).sum(axis=1))
        p = np.exp(logits - logits.max(axis=-1, keepdims=True))
        p = (p / p.sum(axis=-1, keepdims=True)).astype(np.float32)
        self.calls += 1
        return [p[:, :, index] for index in range(len(self.labels))]

    def close(self) -> None:
        pass


def register() -> None:
    RUNTIMES[(SEGMENTER, SUFFIX)] = f"{__name__}:ColourKeyRuntime"


def write_model(path: Path) -> Path:
    """The stand-in model's labels and colours as a colour-key model."""
    np.savez(path, labels=np.array(LABELS), colours=COLOURS, sharpness=SHARPNESS)
    return path
