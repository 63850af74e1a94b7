"""Temporal stabilisation of a video's confidence planes (`--smooth`): motion-aware smoothing, and a guard
that holds back one-off model glitches.

Per-frame segmentation fails in two ways over time. Edges shimmer with noise: the smoothing in
masks.smooth_confidence averages that away where consecutive frames agree. And now and then the model
misreads a whole frame or a few (on davis_parkour, frames 68-70 see half the frame as a person): no real
person grows or shrinks threefold in 1/24 s, so such a jump is held back, the previous planes staying
on screen, for at most MAX_HOLD_S; a change that lasts longer (a scene cut, someone stepping in front of
the camera) is then taken. The guard needs a person (or background) class to watch.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from . import masks
from .parts import Part

GLITCH_RATIO = 3.0  # the person's area multiplied or divided by this in one model frame: a glitch
MAX_HOLD_S = 0.25  # longest a glitch is held back; a change that lasts longer is real
MIN_AREA_SHARE = 0.002  # below this share of the frame, the person is too small for their area to mean much


class Stabiliser:
    """Smooths the planes a run reads, frame after frame, and holds back sudden glitches (see above).

    `step` takes one model frame's planes and returns them stabilised; planes nobody reads pass as they are.
    """

    def __init__(self, strength: float, person: Part | None) -> None:
        self.strength = strength
        self._person = person
        self._previous: dict[int, np.ndarray] = {}  # the last stabilised plane of each channel read
        self._area = 0  # the person's area in the last frame taken
        self._held_since: float | None = None  # when the glitch being held back began

    def step(self, planes: list[np.ndarray], channels: Iterable[int], seconds: float) -> list[np.ndarray]:
        """`planes` of the frame at `seconds`, with `channels` smoothed (or held back); a new list."""
        planes = list(planes)
        channels = list(channels)
        if self._glitch(planes, seconds) and all(channel in self._previous for channel in channels):
            for channel in channels:
                planes[channel] = self._previous[channel]
            return planes
        for channel in channels:
            planes[channel] = self._previous[channel] = masks.smooth_confidence(
                self._previous.get(channel), planes[channel], self.strength)
        return planes

    def _glitch(self, planes: list[np.ndarray], seconds: float) -> bool:
        """True while this frame's person area jumps from the last frame taken, for at most MAX_HOLD_S."""
        if self._person is None:
            return False
        person = self._person.confidence(planes)
        area = int(np.count_nonzero(person > 0.5))
        before = self._area
        jumped = before >= MIN_AREA_SHARE * person.size and not before / GLITCH_RATIO < area < before * GLITCH_RATIO
        if jumped:
            if self._held_since is None:
                self._held_since = seconds
            if seconds - self._held_since < MAX_HOLD_S:
                return True
        self._held_since = None
        self._area = area
        return False
