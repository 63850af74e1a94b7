"""--subjects N: keep only the N main people of a video, each followed from frame to frame.

People are the connected regions of the person confidence (everything but background) above the run's threshold,
found on a grid at most masks.BLOB_SIDE cells wide (masks.shrunk); regions under MIN_REGION_SHARE of the frame are
specks, not people.

Choosing: when a place is free, the region no subject holds with the highest score takes it:

    score = (region area / frame area) x (1 - d)

where d is the distance from the region's centroid to the frame's centre divided by the distance from the centre to a
corner (0 in the middle, 1 in a corner): the largest and most central person.

Following: each subject takes, in the next frame, the region that overlaps its last region most, if their IoU is
MATCH_IOU or more; failing that (a fast move at a low frame rate), the region whose bounding box holds the centroid
predicted from the subject's last motion. The score counts only when a place is free, so the choice does not jump
when someone else grows larger for a moment. A subject not seen for config.SUBJECT_RELEASE_S is released and its
place goes to the best-scored region no one holds; until then its place stays empty (nothing of anyone is kept for
it: a model that misses the subject for a few frames does not hand the place to someone else).

People who touch or overlap are one region: while a subject touches someone, both are kept; when they part, the
subject follows the piece that overlaps its last region most.

Applying: the subjects' regions, grown by one grid cell (no pixel of theirs is cut off), make a 0/1 mask at the
planes' size; every plane read is multiplied by it, and a background plane is raised to 1 outside it. So every part
stays a part (hair is the subjects' hair), face-landmark parts keep the faces inside the subjects' regions, and a
label map shows the others as background. With no subject chosen ("all") the planes pass untouched.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from . import masks
from .config import SUBJECT_RELEASE_S
from .errors import StreamMaskError
from .parts import Part, person_part

MIN_REGION_SHARE = 0.002  # regions smaller than this share of the frame are specks, not people
MATCH_IOU = 0.1  # a subject's region in the next frame overlaps its last one at least this much (IoU)
PICK_REACH = 0.05  # a click this close to a person (share of the frame's diagonal) picks them


@dataclass(frozen=True)
class Region:
    """One connected person region of a frame, on the grid."""

    cells: np.ndarray  # bool, the grid's shape
    area: int  # cells
    centroid: tuple[float, float]  # x, y in cells
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in cells, x1 and y1 exclusive

    def score(self, shape: tuple[int, ...]) -> float:
        """Area share x centrality (see the module's docstring)."""
        height, width = shape[:2]
        centre_x, centre_y = width / 2, height / 2
        distance = math.hypot(self.centroid[0] - centre_x, self.centroid[1] - centre_y) / math.hypot(centre_x, centre_y)
        return self.area / (width * height) * (1.0 - distance)

    def distance(self, x: float, y: float) -> float:
        """Cells from (x, y) to this region's box (0 inside it)."""
        x0, y0, x1, y1 = self.box
        return math.hypot(max(x0 - x, 0.0, x - x1), max(y0 - y, 0.0, y - y1))


def find_regions(person: np.ndarray) -> tuple[list[Region], tuple[int, ...]]:
    """The person regions of a boolean person mask, and the shape of the grid they were found on."""
    grid = masks.shrunk(person)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(grid, connectivity=8)
    smallest = MIN_REGION_SHARE * grid.size
    regions = []
    for index in range(1, count):  # 0 is the background
        x, y, w, h, area = (int(v) for v in stats[index])
        if area >= smallest:
            regions.append(Region(labels == index, area, (float(centroids[index][0]), float(centroids[index][1])),
                                  (x, y, x + w, y + h)))
    return regions, grid.shape


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


@dataclass
class Subject:
    """A kept person: where they were last seen, how they moved, when."""

    region: Region
    seen: float  # seconds
    velocity: tuple[float, float] = (0.0, 0.0)  # cells per second, from the last two sightings

    def predicted(self, seconds: float) -> tuple[float, float]:
        elapsed = seconds - self.seen
        return (self.region.centroid[0] + self.velocity[0] * elapsed,
                self.region.centroid[1] + self.velocity[1] * elapsed)

    def follow(self, region: Region, seconds: float) -> None:
        elapsed = seconds - self.seen
        if elapsed > 0:
            self.velocity = ((region.centroid[0] - self.region.centroid[0]) / elapsed,
                             (region.centroid[1] - self.region.centroid[1]) / elapsed)
        self.region, self.seen = region, seconds


class SubjectTracker:
    """Keeps the `count` main people of a stream (None: everyone), frame after frame; see the module's docstring.

    `keep` is called once per frame with its planes; `pick` (a click in the preview) and `keep_all` (its key) change
    the choice from the next frame on.
    """

    def __init__(self, count: int | None, person: Part, release_s: float = SUBJECT_RELEASE_S) -> None:
        self.count = count
        self._person = person
        self._background = person.channel if person.inverted else None  # a plane that is 1 where nobody is
        self._release_s = release_s
        self.subjects: list[Subject] = []
        self._picked: tuple[float, float] | None = None
        self._grid: tuple[int, ...] | None = None

    @classmethod
    def for_labels(cls, count: int | None, labels: Sequence[str]) -> SubjectTracker:
        person = person_part(labels)
        if person is None:
            raise StreamMaskError("--subjects needs a model with a person or background class")
        return cls(count, person)

    def pick(self, x: float, y: float) -> None:
        """Make the person at (x, y), in shares of the frame's width and height, the one subject."""
        self._picked = (x, y)

    def keep_all(self) -> None:
        """Everyone again."""
        self.count, self._picked = None, None
        self.subjects = []

    def restart(self) -> None:
        """Forget the subjects (a new scene); they are chosen again from the next frame."""
        self.subjects, self._picked = [], None

    def keep(self, planes: list[np.ndarray], channels: Iterable[int], seconds: float,
             confidence: float) -> list[np.ndarray]:
        """`planes` with the `channels` read limited to the subjects' regions (a new list); unchanged for "all"."""
        if self.count is None and self._picked is None:
            return planes
        regions, grid = find_regions(self._person.confidence(planes) > confidence)
        if grid != self._grid:
            self.subjects, self._grid = [], grid
        seen = self.choose(regions, grid, seconds)
        cells = np.zeros(grid, dtype=np.uint8)
        for region in seen:
            cells[region.cells] = 1
        cells = cv2.dilate(cells, np.ones((3, 3), np.uint8))
        height, width = planes[self._person.channel].shape[:2]
        kept = cv2.resize(cells, (width, height), interpolation=cv2.INTER_NEAREST).astype(np.float32)
        planes = list(planes)
        for channel in set(channels):
            if channel == self._background:
                planes[channel] = np.maximum(planes[channel], 1.0 - kept)
            else:
                planes[channel] = np.multiply(planes[channel], kept)
        return planes

    def choose(self, regions: list[Region], grid: tuple[int, ...], seconds: float) -> list[Region]:
        """Follow the subjects into this frame's `regions`, release the lost, fill free places; the regions kept."""
        if self._picked is not None:
            self._take_picked(regions, grid, seconds)
        matched: list[Region] = []
        for subject in self.subjects:
            region = self._match(subject, regions, seconds)
            if region is not None:
                subject.follow(region, seconds)
                matched.append(region)
        self.subjects = [s for s in self.subjects if seconds - s.seen <= self._release_s]
        free = [r for r in regions if not any(r is m for m in matched)]
        free.sort(key=lambda region: region.score(grid), reverse=True)
        for region in free[:max(0, (self.count or 0) - len(self.subjects))]:
            self.subjects.append(Subject(region, seconds))
            matched.append(region)
        return matched

    def _match(self, subject: Subject, regions: list[Region], seconds: float) -> Region | None:
        best = max(regions, key=lambda region: iou(subject.region.cells, region.cells), default=None)
        if best is not None and iou(subject.region.cells, best.cells) >= MATCH_IOU:
            return best
        x, y = subject.predicted(seconds)
        holding = [region for region in regions if region.distance(x, y) == 0]
        return max(holding, key=lambda region: region.area, default=None)

    def _take_picked(self, regions: list[Region], grid: tuple[int, ...], seconds: float) -> None:
        assert self._picked is not None
        x, y = self._picked[0] * grid[1], self._picked[1] * grid[0]
        self._picked = None
        inside = [r for r in regions if r.cells[min(int(y), grid[0] - 1), min(int(x), grid[1] - 1)]]
        reach = PICK_REACH * math.hypot(*grid)
        near = sorted((r for r in regions if r.distance(x, y) <= reach), key=lambda r: r.distance(x, y))
        chosen = inside or near
        if chosen:
            self.count, self.subjects = 1, [Subject(chosen[0], seconds)]
