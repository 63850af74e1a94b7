"""One frame's confidence planes, made the way a run asks: the models, the refine pass, `--smooth`, `--every`."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .frames import Frame
from .landmarks import PartModels
from .segmenter import Refiner
from .temporal import Stabiliser


class PlaneMaker:
    """The model side of a run's frame loop.

    `planes(index, frame, channels)` runs the models on every `every`-th frame and hands back the same
    planes for the frames in between; `channels` are the planes something reads (only those are smoothed).
    """

    def __init__(self, models: PartModels, refine: Refiner | None = None, stabiliser: Stabiliser | None = None,
                 every: int = 1) -> None:
        self.models, self._refine, self._stabiliser, self._every = models, refine, stabiliser, every
        self._planes: list[np.ndarray] = []

    @property
    def calls(self) -> int:
        """Model calls so far, refine passes included."""
        return self.models.calls + (self._refine.calls if self._refine is not None else 0)

    @property
    def last_ms(self) -> float:
        """Inference time of the last model frame, for the live stats."""
        return self.models.last_ms

    def planes(self, index: int, frame: Frame, channels: Iterable[int]) -> list[np.ndarray]:
        if index % self._every and self._planes:
            return self._planes
        timestamp_ms = round(frame.seconds * 1000)
        planes = self.models.segment(frame.rgb, timestamp_ms)
        if self._refine is not None:
            planes = self._refine.refine(frame.rgb, planes, timestamp_ms)
        if self._stabiliser is not None:
            planes = self._stabiliser.step(planes, channels, frame.seconds)
        if self._every > 1:  # kept for the frames in between, while MediaPipe reuses its own buffers
            planes = [plane if plane.flags.owndata else np.array(plane) for plane in planes]
        self._planes = planes
        return planes
