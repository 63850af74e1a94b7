"""One frame's confidence planes, made the way a run asks: which models, the refine pass, `--smooth`, `--every`.

Videos (masker.VideoMasker, VIDEO mode: the command's model side and the video API) and still images
(api.MaskGenerator, IMAGE mode) both build their models here: `choose_models` / `ModelChoice.resolve` find the model files a set of parts needs,
`ModelChoice.open` opens them as one `PartModels`, and a `PlaneMaker` adds the refine pass, smoothing and
`--every`. The models themselves are runtimes (runtime.ModelRuntime); nothing here asks which kind.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from . import masks
from .config import DEFAULT_CONFIDENCE, DEFAULT_FACES, REFINE_PAD, RunConfig
from .errors import StreamMaskError
from .models import REGISTRY, ResolvedModel, resolve_model
from .parts import LANDMARK_PARTS, Part, is_landmark_only, landmark_names, person_part
from .runtime import FACE_LANDMARKER, SEGMENTER, ModelRuntime, open_runtime
from .temporal import Stabiliser

_Self = TypeVar("_Self", bound="Closing")

LANDMARKER_MODEL = next(info.name for info in REGISTRY.values() if info.kind == FACE_LANDMARKER)


# --- which models a set of parts needs ------------------------------------------------------------


def needs_segmenter(wanted: Iterable[Sequence[str] | None], always: bool = False) -> bool:
    """Whether the parts each output asks for (None: the model's defaults) need the segmentation model.

    All parts but the face-landmark ones do, and so does whatever sets `always` (refine passes, a
    preview, a label map).
    """
    return always or not all(is_landmark_only(parts) for parts in wanted)


def choose_models(config: RunConfig) -> ModelChoice:
    """The models a run needs: the segmenter is left out when every output asks only for face-landmark
    parts (no label map, no --refine, no preview); the face landmarker runs only if a part needs it."""
    wanted = [spec.parts for spec in config.outputs]
    if config.preview and not config.outputs:
        wanted.append(config.preview_parts)
    landmarks = landmark_names(name for parts in wanted for name in parts or ())
    always = (bool(config.refine) or config.preview or bool(config.subjects)
              or any(spec.resolved_kind() == "labels" for spec in config.outputs))
    return ModelChoice.resolve(config.model, config.model_dir, needs_segmenter(wanted, always) or not landmarks,
                               landmarks)


@dataclass(frozen=True)
class ModelChoice:
    """The model files a set of parts needs, found and verified (models.resolve_model), not yet opened."""

    model: ResolvedModel  # the one the sidecar and summary name: the segmenter, or the face landmarker alone
    segmenter: ResolvedModel | None  # None: only face-landmark parts are asked for
    landmarker: ResolvedModel | None  # None: found when a face-landmark part is first asked for (the library)
    landmarks: tuple[str, ...] = ()  # the face-landmark parts asked for up front
    model_dir: str | os.PathLike | None = None

    @classmethod
    def resolve(cls, model: str, model_dir: str | os.PathLike | None, segment: bool,
                landmarks: Sequence[str] = ()) -> ModelChoice:
        """The segmentation `model` if `segment`; the face landmarker (found first) for `landmarks` or without it."""
        landmarker = resolve_model(LANDMARKER_MODEL, model_dir) if landmarks or not segment else None
        segmenter = resolve_model(model, model_dir) if segment else None
        chosen = segmenter or landmarker
        assert chosen is not None
        return cls(chosen, segmenter, landmarker, tuple(landmarks), model_dir)

    def open(self, video: bool, faces: int = DEFAULT_FACES) -> PartModels:
        """The models opened in VIDEO mode (a run) or IMAGE mode (still images); `faces` caps the faces drawn."""
        segmenter = self.segmenter

        def open_segmenter() -> ModelRuntime:
            assert segmenter is not None
            return open_runtime(segmenter, SEGMENTER, video)

        def open_faces(parts: Sequence[str]) -> ModelRuntime:
            landmarker = self.landmarker or resolve_model(LANDMARKER_MODEL, self.model_dir)
            return open_runtime(landmarker, FACE_LANDMARKER, video, num_faces=faces, parts=parts)

        return PartModels(open_segmenter if segmenter is not None else None, open_faces, video, self.landmarks)


class Closing:
    """Closed at the end of a `with` block (the models, the refine pass, the plane maker, and the APIs built on them)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- the models of a run, as one ------------------------------------------------------------------


class PartModels(Closing):
    """The models a run needs, as one: the segmenter's planes, then one plane per face-landmark part.

    `segment(rgb, timestamp_ms)` returns the segmenter's confidence planes (none without a segmenter)
    followed by the planes of `LANDMARK_PARTS` in order, so a landmark Part's channel is
    `len(labels) + LANDMARK_PARTS.index(name)` (see parts.resolve_parts). Only the asked landmark
    parts are drawn; the others are a shared read-only zero plane. Each model runs only if needed.
    `open_segmenter` opens a fresh segmenter (the refine pass has its own).
    """

    def __init__(self, open_segmenter: Callable[[], ModelRuntime] | None,
                 open_faces: Callable[[Sequence[str]], ModelRuntime], video: bool, landmarks: Sequence[str] = ()) -> None:
        self.open_segmenter, self._open_faces, self.video = open_segmenter, open_faces, video
        self.segmenter = open_segmenter() if open_segmenter is not None else None
        self.faces: ModelRuntime | None = None
        self.labels: list[str] = list(self.segmenter.labels) if self.segmenter is not None else []
        self.landmark_names: tuple[str, ...] = ()
        self.last_ms = 0.0
        self._closed_calls = 0  # of a face landmarker replaced by one that draws more parts
        try:
            self.ask(landmarks)
        except BaseException:
            self.close()
            raise

    def ask(self, names: Iterable[str]) -> None:
        """Draw these face-landmark parts from the next frame on (none: the face landmarker does not run).

        The face landmarker is opened the first time; a later call (the library's, IMAGE mode) asking for
        a part it does not draw opens one that draws both.
        """
        self.landmark_names = landmark_names(names)
        drawn = self.faces.labels if self.faces is not None else ()
        if set(self.landmark_names) <= set(drawn):
            return
        faces = self._open_faces(landmark_names([*drawn, *self.landmark_names]))
        if self.faces is not None:
            self._closed_calls += self.faces.calls
            self.faces.close()
        self.faces = faces

    def restart(self) -> None:
        """A new stream on these models. The face landmarker's VIDEO mode follows faces from frame to frame and has
        no reset, so it is opened again (a new clip would start from the last one's faces); the segmenter keeps
        nothing from frame to frame and stays."""
        if self.faces is not None and self.video:
            faces = self._open_faces(self.faces.labels)
            self._closed_calls += self.faces.calls
            self.faces.close()
            self.faces = faces

    @property
    def calls(self) -> int:
        return ((self.segmenter.calls if self.segmenter is not None else 0) + self._closed_calls
                + (self.faces.calls if self.faces is not None else 0))

    def segment(self, rgb: np.ndarray, timestamp_ms: int = 0) -> list[np.ndarray]:
        planes = self.segmenter.segment(rgb, timestamp_ms) if self.segmenter is not None else []
        self.last_ms = self.segmenter.last_ms if self.segmenter is not None else 0.0
        if not self.landmark_names or self.faces is None:
            return planes
        drawn = dict(zip(self.faces.labels, self.faces.segment(rgb, timestamp_ms)))
        self.last_ms += self.faces.last_ms
        zero = np.broadcast_to(np.float32(0), rgb.shape[:2])
        return [*planes, *(drawn[name] if name in self.landmark_names else zero for name in LANDMARK_PARTS)]

    def close(self) -> None:
        try:
            if self.segmenter is not None:
                self.segmenter.close()
        finally:
            if self.faces is not None:
                self.faces.close()


# --- the refine pass ------------------------------------------------------------------------------


class Refiner(Closing):
    """--refine: the original node's refine_mask grown for video, another pass on crops around the people, pasted
    back into the planes.

    A crop is the bounding box of a person padded by 20% on each side, so the model sees a small or distant
    person at a far higher resolution than in the whole frame. Each further pass crops around the previous
    pass's result. People far apart get a crop each (masks.person_boxes): one box covering two people at either
    side of the frame would be the whole frame, squeezed. In a video the boxes follow the people smoothly
    (masks.follow_boxes) instead of jumping with each frame's noise. (The library's still-image refine is the
    original's own single box: api.MaskGenerator.) `open_segmenter` opens the segmenter the crops go through.
    """

    def __init__(self, open_segmenter: Callable[[], ModelRuntime], person: Part, confidence: float, video: bool = True,
                 passes: int = 1, pad: float = REFINE_PAD, keep: float = 0.3) -> None:
        self._segmenter = open_segmenter()
        self._person, self.confidence = person, confidence  # the person mask the crops are cut around
        self._video, self._passes, self._pad, self._keep = video, passes, pad, keep
        self._boxes: list[masks.Box] = []

    @classmethod
    def for_labels(cls, open_segmenter: Callable[[], ModelRuntime], labels: Sequence[str], confidence: float,
                   video: bool = True, passes: int = 1) -> Refiner:
        """A refiner that finds people as everything but background; models without it cannot refine."""
        person = person_part(labels)
        if person is None:
            raise StreamMaskError("refining needs a model with a person or background class")
        return cls(open_segmenter, person, confidence, video, passes)

    @property
    def calls(self) -> int:
        return self._segmenter.calls

    def _crops(self, planes: list[np.ndarray]) -> list[masks.Box]:
        person = masks.above(planes[self._person.channel], self.confidence, self._person.inverted)
        return masks.person_boxes(person, self._pad)

    def refine(self, rgb: np.ndarray, planes: list[np.ndarray], timestamp_ms: int = 0) -> list[np.ndarray]:
        """Planes with the crops around the people replaced by the model's pass on each crop.

        Only the segmenter's own planes change; planes after them (face-landmark parts) pass through."""
        for index in range(self._passes):
            boxes = self._crops(planes)
            if not boxes:
                break
            if self._video and index == 0:  # later passes crop around this frame's own result
                boxes = self._boxes = masks.follow_boxes(self._boxes, boxes, self._keep)
            if index == 0:  # our own copies, once: MediaPipe's buffers are read-only and reused
                count = len(self._segmenter.labels)
                planes = [np.array(plane) if channel < count else plane for channel, plane in enumerate(planes)]
            for box in boxes:
                x0, y0, x1, y1 = (round(v) for v in box)
                for plane, crop in zip(planes, self._segmenter.segment(rgb[y0:y1, x0:x1], timestamp_ms)):
                    plane[y0:y1, x0:x1] = crop
        return planes

    def restart(self) -> None:
        """Forget the boxes followed so far."""
        self._boxes = []

    def close(self) -> None:
        self._segmenter.close()


# --- one frame's planes ---------------------------------------------------------------------------


class PlaneMaker(Closing):
    """The model side of a run's frame loop: the models, then `refine` passes, `smooth`, `every`.

    `planes(index, rgb, timestamp_ms, channels)` runs the models on every `every`-th frame and hands back the same
    planes for the frames in between; `channels` are the planes something reads (only those are smoothed).
    `segment(rgb)` is one frame on its own (the library's still images). Closing it closes the refine
    pass's segmenter; the models are their opener's to close.
    """

    def __init__(self, models: PartModels, refine: int = 0, confidence: float = DEFAULT_CONFIDENCE,
                 smooth: float = 0.0, every: int = 1) -> None:
        self.models, self._every = models, every
        self.refiner: Refiner | None = None
        if refine:
            if models.open_segmenter is None:
                raise StreamMaskError("refine needs a segmentation model")
            self.refiner = Refiner.for_labels(models.open_segmenter, models.labels, confidence, models.video,
                                              passes=refine)
        self._stabiliser = Stabiliser(smooth, person_part(models.labels)) if smooth else None
        self._planes: list[np.ndarray] = []

    @property
    def calls(self) -> int:
        """Model calls so far, refine passes included."""
        return self.models.calls + (self.refiner.calls if self.refiner is not None else 0)

    @property
    def last_ms(self) -> float:
        """Inference time of the last model frame, for the live stats."""
        return self.models.last_ms

    def segment(self, rgb: np.ndarray, timestamp_ms: int = 0) -> list[np.ndarray]:
        """The models' planes for one frame, refined if asked."""
        planes = self.models.segment(rgb, timestamp_ms)
        if self.refiner is not None:
            planes = self.refiner.refine(rgb, planes, timestamp_ms)
        return planes

    def planes(self, index: int, rgb: np.ndarray, timestamp_ms: float, channels: Iterable[int]) -> list[np.ndarray]:
        """The planes of the `index`-th frame of a stream, at `timestamp_ms` (MediaPipe sees it rounded)."""
        if index % self._every and self._planes:
            return self._planes
        planes = self.segment(rgb, round(timestamp_ms))
        if self._stabiliser is not None:
            planes = self._stabiliser.step(planes, channels, timestamp_ms / 1000)
        if self._every > 1:  # kept for the frames in between, while MediaPipe reuses its own buffers
            planes = [plane if plane.flags.owndata else np.array(plane) for plane in planes]
        self._planes = planes
        return planes

    def restart(self) -> None:
        """Forget the frames before (smoothing, the refine crops, the planes kept for `every`): a new picture size."""
        if self._stabiliser is not None:
            self._stabiliser = Stabiliser(self._stabiliser.strength, person_part(self.models.labels))
        if self.refiner is not None:
            self.refiner.restart()
        self._planes = []

    def close(self) -> None:
        if self.refiner is not None:
            self.refiner.close()
