"""--subjects N: keep only the N main people of a video, each followed from frame to frame.

People are the connected regions of the person confidence (everything but background) above the run's threshold,
found on a grid at most masks.BLOB_SIDE cells wide (masks.shrunk); regions under MIN_REGION_SHARE of the frame are
specks, not people. People who touch are one connected region: it is split where it holds two or more bodies, cores
deeper than SPLIT_DEPTH of its greatest depth (distance from its edge) of at least SPLIT_SHARE of the largest core's
area (a head or a limb is never that large), each cell going to the nearest core.

Choosing: while a place is free, every region no subject holds is a candidate, followed from frame to frame as a
subject is (below), and its score summed over the frames it is seen in:

    score = (region area / frame area) x (1 - d)

where d is the distance from the region's centroid to the frame's centre divided by the distance from the centre to a
corner (0 in the middle, 1 in a corner): the largest and most central person. The candidate with the highest sum is
shown at once; config.SUBJECT_RELEASE_S after the place came free it becomes the subject. Summing over that time,
not judging one frame, keeps a frame in which the model misses the main person from handing the place to a bystander.

Following: each person takes, in the next frame, the region sharing most cells with their last region, if those are
MATCH_OVERLAP or more of the smaller of the two (a person the model found only a piece of, then all of, is still
followed); failing that (a fast move at a low frame rate), the region whose bounding box holds the centroid
predicted from their last motion. Once chosen, scores no longer count, so the choice does not jump when someone
else grows larger for a moment. A subject not seen for config.SUBJECT_RELEASE_S is released and its place is chosen
again as above; until then its place stays empty (nothing of anyone else is kept for it: a model that misses the
subject for a few frames does not hand the place to someone else).

Pieces: the model often finds one person in pieces (a limb, the legs apart from the body). A region nobody continues
into that shares cells with someone's last region split off them: it is theirs. A region apart from everyone is
someone new, but a person found on their own for less than FRAGMENT_S (since first seen, or seen again after a
frame without them) may be a piece of someone: unless the subjects are as new, they are not taken out yet (their
cells go to the nearest person), and when they merge back into someone they are part of them. So on a clip of one person, `--subjects 1` keeps what `all` keeps.

People who touch without two such cores stay one region. When people who were apart come to touch, each is the share
of the region nearest to where they were if that share holds a body core (as a split finds them), and so told
apart; a share without one is a piece and goes to the others.

Applying: every cell of the grid goes to the nearest person seen in the frame, specks and pieces included; the cells
of the subjects, grown by one grid cell (no pixel of theirs is cut off), make a 0/1 mask. Within the box around the
others' cells, every plane read is multiplied by it and a background plane raised to 1 outside it. When nobody else
is seen (one person alone, in pieces or not) the planes pass untouched. So every part stays a part (hair is the subjects' hair), face-landmark parts keep the faces inside
the subjects' regions, and a label map shows the others as background. With no subject chosen ("all") the planes
pass untouched.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from . import masks
from .config import ALL_SUBJECTS, SUBJECT_RELEASE_S
from .errors import StreamMaskError
from .parts import Part, person_part

MIN_REGION_SHARE = 0.002  # regions smaller than this share of the frame are specks, not people
# Touching people: a region splits where it has two bodies, cores deeper than this share of its deepest point's
# distance from its edge, of at least half the largest core's area; a head or a limb is never that.
SPLIT_DEPTH = 0.4
SPLIT_SHARE = 0.5
# Someone continues into the region sharing most cells with their last region, if those are at least this share of
# the smaller of the two
MATCH_OVERLAP = 0.1
FRAGMENT_S = 0.2  # someone found on their own for less time than this may be a piece of someone else
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


def find_regions(person: np.ndarray) -> tuple[list[Region], np.ndarray]:
    """The person regions of a person mask (bool, or a 0/255 mask of masks.above), and the grid they were found on (uint8, 1 on every blob,
    specks included)."""
    grid = masks.shrunk(person)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(grid, connectivity=8)
    smallest = MIN_REGION_SHARE * grid.size
    regions = []
    for index in range(1, count):  # 0 is the background
        x, y, w, h, area = (int(v) for v in stats[index])
        if area >= smallest:
            regions += split(labels == index, (x, y, x + w, y + h))
    return regions, grid


def region_of(cells: np.ndarray) -> Region:
    rows, cols = np.nonzero(cells)
    return Region(cells, int(rows.size), (float(cols.mean()), float(rows.mean())),
                  (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1))


def split(cells: np.ndarray, box: tuple[int, int, int, int]) -> list[Region]:
    """One connected region (its cells, and its box x0, y0, x1, y1), or its pieces when it holds two or more bodies
    (SPLIT_DEPTH, SPLIT_SHARE): each cell goes to the nearest body core. Worked out within the box."""
    x0, y0, x1, y1 = box
    crop = np.pad(cells[y0:y1, x0:x1], 1)  # the frame's edge is not the region's: depth counts from empty cells only
    count, labels, stats, _ = cv2.connectedComponentsWithStats(deep(crop), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    bodies = [labels == index + 1 for index in range(count - 1) if areas[index] >= SPLIT_SHARE * areas.max()]
    if len(bodies) < 2:
        return [region_of(cells)]
    pieces = []
    for piece in nearest(crop, bodies):
        if piece.any():
            whole = np.zeros_like(cells)
            whole[y0:y1, x0:x1] = piece[1:-1, 1:-1]
            pieces.append(region_of(whole))
    return pieces


def deep(cells: np.ndarray) -> np.ndarray:
    """The cells deeper than SPLIT_DEPTH of the greatest depth (distance from the nearest empty cell), uint8 0/1:
    where bodies are (a limb is thinner)."""
    depth = cv2.distanceTransform(cells.astype(np.uint8), cv2.DIST_L2, 3)
    return (depth > SPLIT_DEPTH * float(depth.max())).astype(np.uint8)


def cores(region: Region) -> np.ndarray:
    """`deep` of a region, on the whole grid (bool)."""
    x0, y0, x1, y1 = region.box
    found = np.zeros_like(region.cells)
    found[y0:y1, x0:x1] = deep(np.pad(region.cells[y0:y1, x0:x1], 1))[1:-1, 1:-1] > 0
    return found


def nearest(cells: np.ndarray, seeds: list[np.ndarray]) -> list[np.ndarray]:
    """`cells` divided among `seeds`: each cell to the seed nearest to it."""
    distances = np.stack([cv2.distanceTransform((~seed).astype(np.uint8), cv2.DIST_L2, 3) for seed in seeds])
    closest = np.argmin(distances, axis=0)
    return [cells & (closest == index) for index in range(len(seeds))]


def shares(region: Region, before: list[Region]) -> list[Region | None]:
    """`region` divided among people whose regions `before` merged into it: each cell to the nearest of them (None
    for one nearest to no cell)."""
    return [region_of(piece) if piece.any() else None for piece in nearest(region.cells, [old.cells for old in before])]


def common(a: Region, b: Region) -> int:
    """The cells two regions share (counted within the overlap of their boxes)."""
    x0, y0 = max(a.box[0], b.box[0]), max(a.box[1], b.box[1])
    x1, y1 = min(a.box[2], b.box[2]), min(a.box[3], b.box[3])
    if x0 >= x1 or y0 >= y1:
        return 0
    return int(np.count_nonzero(a.cells[y0:y1, x0:x1] & b.cells[y0:y1, x0:x1]))


def union(a: Region, b: Region) -> Region:
    return region_of(a.cells | b.cells)


@dataclass
class Person:
    """Someone followed from frame to frame: the region last seen as theirs alone, how they moved, when."""

    region: Region
    seen: float  # seconds
    since: float = math.inf  # when first seen on their own (seconds), to tell a person from a fragment
    velocity: tuple[float, float] = (0.0, 0.0)  # cells per second, from the last two sightings
    total: float = 0.0  # their score summed over the frames seen since a subject's place came free
    subject: bool = False

    def tracked(self, seconds: float) -> float:
        """How long they have been found on their own (a subject: always long enough to be someone)."""
        return math.inf if self.subject else seconds - self.since

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
    """Keeps the `count` main people of a stream (0: everyone), frame after frame; see the module's docstring.

    `keep` is called once per frame with its planes; `pick` (a click in the preview) and `keep_all` (its key) change
    the choice from the next frame on.
    """

    def __init__(self, count: int, person: Part, release_s: float = SUBJECT_RELEASE_S) -> None:
        self.count = count  # ALL_SUBJECTS (0): everyone
        self._person = person
        self._background = person.channel if person.inverted else None  # a plane that is 1 where nobody is
        self._release_s = release_s
        self.people: list[Person] = []  # everyone seen lately, the subjects among them
        self._choosing_since: float | None = None  # when a subject's place came free
        self._previous = -math.inf  # the last frame's time
        self._picked: tuple[float, float] | None = None
        self._grid: tuple[int, ...] | None = None

    @property
    def subjects(self) -> list[Person]:
        return [person for person in self.people if person.subject]

    @classmethod
    def for_labels(cls, count: int, labels: Sequence[str]) -> SubjectTracker:
        person = person_part(labels)
        if person is None:
            raise StreamMaskError("--subjects needs a model with a person or background class")
        return cls(count, person)

    def pick(self, x: float, y: float) -> None:
        """Make the person at (x, y), in shares of the frame's width and height, the one subject."""
        self._picked = (x, y)

    def keep_all(self) -> None:
        """Everyone again."""
        self.count, self._picked = ALL_SUBJECTS, None
        self._forget()

    def restart(self) -> None:
        """Forget the subjects (a new scene); they are chosen again from the next frame."""
        self._picked = None
        self._forget()

    def _forget(self) -> None:
        self.people, self._choosing_since = [], None

    def keep(self, planes: list[np.ndarray], channels: Iterable[int], seconds: float,
             confidence: float) -> list[np.ndarray]:
        """`planes` with the `channels` read limited to the cells nearest the subjects (a new list); unchanged for
        "all" or when nobody else is seen."""
        if self.count == ALL_SUBJECTS and self._picked is None:
            return planes
        plane = planes[self._person.channel]
        regions, grid = find_regions(masks.above(plane, confidence, self._person.inverted))
        if grid.shape != self._grid:  # a new picture size: choose again
            self._forget()
            self._grid = grid.shape
        kept, others = self.choose(regions, grid.shape, seconds)
        if not others:  # nobody else in the picture: all of it is the subjects' (their pieces, specks)
            return planes
        cells = np.zeros(grid.shape, dtype=np.float32)
        if kept:  # every cell goes to the nearest person seen; those nearest a subject are kept
            for zone in nearest(np.ones(grid.shape, bool), [region.cells for region in kept + others])[:len(kept)]:
                cells[zone] = 1.0
            cells = cv2.dilate(cells, np.ones((3, 3), np.uint8))  # a margin for rounding at the cells' edges
        dropped = np.nonzero(grid & (cells == 0))
        if dropped[0].size == 0:
            return planes
        # Only the box around what is taken out is touched (the cells' margin covers any rounding at their edges).
        (height, width), (rows, cols) = plane.shape[:2], grid.shape
        y0, y1 = dropped[0].min() * height // rows, -(-(dropped[0].max() + 1) * height // rows)
        x0, x1 = dropped[1].min() * width // cols, -(-(dropped[1].max() + 1) * width // cols)
        kept = cv2.resize(cells, (width, height), interpolation=cv2.INTER_NEAREST)[y0:y1, x0:x1]
        planes = list(planes)
        for channel in set(channels):
            box = planes[channel] = np.array(planes[channel], dtype=np.float32)  # ours: MediaPipe's are read-only
            if channel == self._background:
                np.maximum(box[y0:y1, x0:x1], 1.0 - kept, out=box[y0:y1, x0:x1])
            else:
                box[y0:y1, x0:x1] *= kept
        return planes

    def choose(self, regions: list[Region], grid: tuple[int, ...],
               seconds: float) -> tuple[list[Region], list[Region]]:
        """Follow everyone into this frame's `regions`, release the lost, fill free places; the regions of the people
        kept, and of the others seen in this frame."""
        where = self._follow(regions, seconds)
        if self._picked is not None:
            self._take_picked(regions, where, grid)
        self.people = [person for person in self.people if seconds - person.seen <= self._release_s]
        shown = self.subjects
        free = self.count - len(shown)
        if free <= 0:
            self._choosing_since = None
        else:  # a free place: the others' scores are summed from now, the best shown, and chosen after a while
            others = [person for person in self.people if not person.subject]
            if self._choosing_since is None:
                self._choosing_since = seconds
                for person in others:
                    person.total = 0.0
            for person in others:
                if id(person) in where:
                    person.total += where[id(person)].score(grid)
            best = sorted(others, key=lambda person: person.total, reverse=True)[:free]
            if seconds - self._choosing_since >= self._release_s:
                for person in best:
                    person.subject = True
                self._choosing_since = None
            shown = shown + best
        kept = [where[id(person)] for person in shown if id(person) in where]
        # Someone found for less than FRAGMENT_S (and less than those kept) may be a piece of them: not taken out yet
        known = min([FRAGMENT_S] + [person.tracked(seconds) for person in shown])
        mine = {id(region) for region in kept} | {id(person) for person in shown}
        others = [where[id(person)] for person in self.people
                  if id(person) in where and not {id(person), id(where[id(person)])} & mine
                  and person.tracked(seconds) >= known]
        return kept, others

    def _follow(self, regions: list[Region], seconds: float) -> dict[int, Region]:
        """Move everyone to the region they continue into (id(person) -> region). A region nobody continues into is
        a piece of the person whose last region it overlaps (the model found them in pieces), or else someone new.
        People whose regions merged into one (touching) each follow their own share of it, to be told apart again
        when they part."""
        missed = [person for person in self.people if person.seen < self._previous]  # not in the last frame
        self._previous = seconds
        claims: dict[int, list[Person]] = {}
        for person in self.people:
            index = self._match(person, regions, seconds)
            if index is not None:
                claims.setdefault(index, []).append(person)
        owners: dict[int, Person | None] = {}
        for index, region in enumerate(regions):
            if index not in claims:
                shared = [common(person.region, region) for person in self.people]
                owners[index] = self.people[int(np.argmax(shared))] if any(shared) else None
        where: dict[int, Region] = {}
        for index, claimants in claims.items():
            if len(claimants) == 1:
                claimants[0].follow(regions[index], seconds)
                where[id(claimants[0])] = regions[index]
            else:
                self._touching(regions[index], claimants, seconds, where)
        for index, owner in owners.items():
            if owner is None:  # someone new
                person = Person(regions[index], seconds, since=seconds)
                self.people.append(person)
                where[id(person)] = regions[index]
            elif id(owner) in where:
                where[id(owner)] = owner.region = union(where[id(owner)], regions[index])
            else:
                owner.follow(regions[index], seconds)
                where[id(owner)] = regions[index]
        for person in missed:
            if id(person) in where:  # found again: on their own only from now
                person.since = seconds
        return where

    @staticmethod
    def _touching(region: Region, claimants: list[Person], seconds: float, where: dict[int, Region]) -> None:
        """Several people continue into one region: each is the share of it nearest to where they were, if that
        share holds a body (cores as `split` finds them); a share without one is a piece of someone (a limb the
        model found apart for a while) and goes to the others, its person no longer seen as themselves (a subject
        among them keeps the whole region). With one body, it is the whole region."""
        # Someone found for less than FRAGMENT_S is a piece the model found apart; if all are, the one found longest
        bodies = ([person for person in claimants if person.tracked(seconds) >= FRAGMENT_S]
                  or [max(claimants, key=lambda person: person.tracked(seconds))])
        core = cores(region) if len(bodies) > 1 else None
        while len(bodies) > 1:
            pieces = shares(region, [person.region for person in bodies])
            held = [np.count_nonzero(piece.cells & core) if piece is not None else 0 for piece in pieces]
            real = [person for person, cells in zip(bodies, held) if cells and cells >= SPLIT_SHARE * max(held)]
            real = real or [bodies[int(np.argmax(held))]]
            if len(real) == len(bodies):
                for person, piece in zip(bodies, pieces):
                    person.follow(piece, seconds)
                    where[id(person)] = piece
                break
            bodies = real
        if len(bodies) == 1:
            bodies[0].follow(region, seconds)
            where[id(bodies[0])] = region
        for person in claimants:
            if person.subject and id(person) not in where:
                person.seen = seconds
                where[id(person)] = region

    def _match(self, person: Person, regions: list[Region], seconds: float) -> int | None:
        """The index of the region `person` continues into: the most overlapping one, or the one holding their
        predicted centroid; None if neither."""
        shared = [common(person.region, region) for region in regions]
        best = int(np.argmax(shared)) if shared else 0
        if shared and shared[best] >= MATCH_OVERLAP * min(person.region.area, regions[best].area):
            return best
        x, y = person.predicted(seconds)
        holding = [index for index, region in enumerate(regions) if region.distance(x, y) == 0]
        return max(holding, key=lambda index: regions[index].area, default=None)

    def _take_picked(self, regions: list[Region], where: dict[int, Region], grid: tuple[int, ...]) -> None:
        """The person in the picked region (or the nearest within PICK_REACH) becomes the one subject."""
        assert self._picked is not None
        x, y = self._picked[0] * grid[1], self._picked[1] * grid[0]
        self._picked = None
        inside = [r for r in regions if r.cells[min(int(y), grid[0] - 1), min(int(x), grid[1] - 1)]]
        reach = PICK_REACH * math.hypot(*grid)
        near = sorted((r for r in regions if r.distance(x, y) <= reach), key=lambda r: r.distance(x, y))
        chosen = (inside or near or [None])[0]
        picked = next((person for person in self.people
                       if chosen is not None and id(person) in where and common(where[id(person)], chosen)), None)
        if picked is not None:
            self.count, self._choosing_since = 1, None
            for person in self.people:
                person.subject = person is picked
