"""Temporal stabilisation of a video's confidence planes (`--smooth`): motion-aware smoothing, and a guard
that holds back one-off model glitches.

Per-frame segmentation fails in two ways over time. Edges shimmer with noise: the smoothing in
masks.smooth_confidence averages that away where consecutive frames agree. And now and then the model
misreads a whole frame or a few (on davis_parkour, frames 68-70 see half the frame as a person): no real
person grows or shrinks threefold in 1/24 s, so such a jump is held back, the previous planes staying
on screen, for at most MAX_HOLD_S; a change that lasts longer (a scene cut, someone stepping in front of
the camera) is then taken.

A jump is judged against a robust reference, the median of the person's area over the frames taken in
the last REFERENCE_S, not against the last frame alone: the model also loses a person over a few frames
(someone turning, spinning, passing through shadow; each step too small to hold) and then finds them
again at once. That jump goes back towards the reference: it is a recovery, never held. Only a jump away
from both the last frame taken and the reference is a glitch. The guard needs a person (or background)
class to watch.

The smoothing is a soft hold, so it follows the same rule pixel by pixel: it slows only the changes that
take the person's area further from the reference. In a frame whose area is below it, pixels joining the
person are taken at once (the model finding someone again, or part of them) and only pixels leaving are
smoothed; above it, the reverse. Judging by the frame's net change alone would slow every find in a frame
where the model finds one part and loses another, and that lag falls on the frames it already sees worst.
"""

from __future__ import annotations

import collections
import math
import statistics
from collections.abc import Iterable

import numpy as np

from . import masks
from .parts import Part

GLITCH_RATIO = 3.0  # the person's area multiplied or divided by this in one model frame: a glitch
MAX_HOLD_S = 0.25  # longest a glitch is held back; a change that lasts longer is real
# The reference spans twice the longest hold: right after a hold it still holds as much of what came before
# the jump, and a lasting change becomes the reference once it has lasted the hold and as long again.
REFERENCE_S = 2 * MAX_HOLD_S
MIN_AREA_SHARE = 0.002  # below this share of the frame, the person is too small for their area to mean much


class Stabiliser:
    """Smooths the planes a run reads, frame after frame, and holds back sudden glitches (see above).

    `step` takes one model frame's planes and returns them stabilised; planes nobody reads pass as they are.
    """

    def __init__(self, strength: float, person: Part | None) -> None:
        self.strength = strength
        self._person = person
        self._previous: dict[int, np.ndarray] = {}  # the last stabilised plane of each channel read
        # (area, seconds it stood for) of the frames taken over the last REFERENCE_S; time held is not counted
        self._taken: collections.deque[tuple[int, float]] = collections.deque()
        self._seconds: float | None = None  # when the last frame (taken or held) was shown
        self._held_since: float | None = None  # when the glitch being held back began

    def step(self, planes: list[np.ndarray], channels: Iterable[int], seconds: float) -> list[np.ndarray]:
        """`planes` of the frame at `seconds`, with `channels` smoothed (or held back); a new list."""
        planes = list(planes)
        channels = list(channels)
        glitch, towards = self._judge(planes, seconds)
        if glitch and all(channel in self._previous for channel in channels):
            for channel in channels:
                planes[channel] = self._previous[channel]
            return planes
        for channel in channels:
            current = planes[channel]
            smoothed = masks.smooth_confidence(self._previous.get(channel), current, self.strength)
            rising = self._rising_towards(channel, towards)
            if rising > 0:  # rising confidence takes the person back towards the reference: taken at once
                np.maximum(smoothed, current, out=smoothed)
            elif rising < 0:  # falling confidence does
                np.minimum(smoothed, current, out=smoothed)
            planes[channel] = self._previous[channel] = smoothed
        return planes

    def _rising_towards(self, channel: int, towards: int) -> int:
        """+1 if this channel's rising confidence moves the person's area `towards` the reference (+1: up, -1:
        down), -1 if its falling confidence does, 0 if it is not a part of the person (or the area is there)."""
        if not towards or self._person is None:
            return 0
        if channel == self._person.channel:
            return -towards if self._person.inverted else towards
        # A person who is "everything but background" is made of every other class (hair, face, clothes, ...).
        return towards if self._person.inverted else 0

    def _judge(self, planes: list[np.ndarray], seconds: float) -> tuple[bool, int]:
        """(hold this frame back, +1/-1 if the person's area is below/above the reference, else 0).

        A glitch jumps by GLITCH_RATIO or more from the last frame taken and from the reference, away
        from the reference; it is held for at most MAX_HOLD_S.
        """
        if self._person is None:
            return False, 0
        person = self._person.confidence(planes)
        area = int(np.count_nonzero(person > 0.5))
        shown_for = 0.0 if self._seconds is None else max(0.0, seconds - self._seconds)
        self._seconds = seconds
        if not self._taken:
            self._take(area, shown_for)
            return False, 0
        before = self._taken[-1][0]
        reference = statistics.median(a for a, _ in self._taken)
        smallest = MIN_AREA_SHARE * person.size
        returning = _towards(area, before, reference)
        if not returning and _jumps(before, area, smallest) and _jumps(reference, area, smallest):  # a glitch
            if self._held_since is None:
                self._held_since = seconds
            if seconds - self._held_since < MAX_HOLD_S:
                return True, 0
        self._held_since = None
        self._take(area, shown_for)
        return False, (area < reference) - (area > reference)  # the sign of reference - area

    def _take(self, area: int, seconds: float) -> None:
        self._taken.append((area, seconds))
        total = sum(s for _, s in self._taken)
        while len(self._taken) > 1 and total - self._taken[0][1] >= REFERENCE_S:
            total -= self._taken.popleft()[1]


def _jumps(before: float, area: int, smallest: float) -> bool:
    """Whether `area` is GLITCH_RATIO or more times `before` (or as many times smaller); a tiny `before` never
    counts (a person appearing from nothing)."""
    return before >= smallest and not before / GLITCH_RATIO < area < before * GLITCH_RATIO


def _towards(area: int, before: float, reference: float) -> bool:
    """Whether `area` is closer to `reference` than `before` was, by ratio (one pixel added: no log of 0)."""
    def distance(value: float) -> float:
        return abs(math.log((value + 1) / (reference + 1)))
    return distance(area) < distance(before)
