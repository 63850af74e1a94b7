"""Face-landmark parts: filled polygons from MediaPipe's FaceLandmarker (478-point face mesh with irises).

Each part is the filled polygon (cv2.fillPoly) of one of MediaPipe's own face contours
(`FaceLandmarksConnections`), drawn for every detected face (up to `num_faces`):

- `face_oval`: the outline of the face (forehead to chin, within the hairline; no ears, no neck)
- `left_eye`, `right_eye`: the eye opening (between the eyelid margins)
- `left_eyebrow`, `right_eyebrow`: the eyebrow, between its upper and lower contour
- `left_iris`, `right_iris`: the iris (the 4-point iris contour, a small quadrilateral)
- `lips`: the outer lip contour, filled (the lips and, if the mouth is open, the opening between them)
- `mouth`: the inner lip contour, filled: the mouth opening only (empty when the mouth is closed)

Left and right are the person's own, as in MediaPipe: in an unmirrored photo of a person facing the
camera, `left_eye` is on the right side of the image.

A part is given to the rest of the pipeline as a confidence-like plane, 1.0 inside the polygon and
0.0 outside, so thresholds, soft masks, outputs and overlays treat it like a segmenter part.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np
from mediapipe.tasks.python.core.base_options import BaseOptions
from mediapipe.tasks.python.vision import face_landmarker
from mediapipe.tasks.python.vision.core.vision_task_running_mode import VisionTaskRunningMode

from .config import DEFAULT_FACES
from .errors import StreamMaskError
from .parts import LANDMARK_PARTS
from .segmenter import Segmenter, quiet_native_stderr


_C = face_landmarker.FaceLandmarksConnections
_OUTER_LIP, _INNER_LIP = 61, 78  # a landmark on each lip contour (the mouth corners)


def _chains(connections: Iterable[object]) -> list[tuple[list[int], bool]]:
    """Undirected edges -> ordered vertex chains, each with True if it closes on itself."""
    neighbours: dict[int, list[int]] = {}
    for edge in connections:
        a, b = edge.start, edge.end  # type: ignore[attr-defined]
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    seen: set[int] = set()
    chains = []
    # Open chains first (start at an end: a vertex with one neighbour), then closed loops.
    starts = [v for v, n in neighbours.items() if len(n) == 1] + list(neighbours)
    for start in starts:
        if start in seen:
            continue
        chain, previous, current = [start], None, start
        seen.add(start)
        while True:
            following = [v for v in neighbours[current] if v != previous and v not in seen]
            if not following:
                break
            previous, current = current, following[0]
            chain.append(current)
            seen.add(current)
        chains.append((chain, len(chain) > 2 and start in neighbours[current]))
    return chains


def _contours() -> dict[str, list[list[int]]]:
    """Part name -> its landmark chains (one closed loop, or two open chains to join into one polygon)."""
    lips: dict[str, list[list[int]]] = {}
    for chain, _ in _chains(_C.FACE_LANDMARKS_LIPS):
        if _OUTER_LIP in chain:
            lips["lips"] = [chain]
        elif _INNER_LIP in chain:
            lips["mouth"] = [chain]
    sources = {
        "face_oval": _C.FACE_LANDMARKS_FACE_OVAL,
        "left_eye": _C.FACE_LANDMARKS_LEFT_EYE,
        "right_eye": _C.FACE_LANDMARKS_RIGHT_EYE,
        "left_eyebrow": _C.FACE_LANDMARKS_LEFT_EYEBROW,
        "right_eyebrow": _C.FACE_LANDMARKS_RIGHT_EYEBROW,
        "left_iris": _C.FACE_LANDMARKS_LEFT_IRIS,
        "right_iris": _C.FACE_LANDMARKS_RIGHT_IRIS,
    }
    contours = {name: [chain for chain, _ in _chains(edges)] for name, edges in sources.items()}
    contours.update(lips)
    assert set(contours) == set(LANDMARK_PARTS), sorted(contours)
    return contours


CONTOURS = _contours()


def polygon(chains: Sequence[Sequence[int]], points: np.ndarray) -> np.ndarray:
    """Kx2 pixel polygon of one part from a face's Nx2 landmark points.

    Two open chains (an eyebrow's upper and lower edges) are joined end to end, the second one in
    the direction that keeps the outline from crossing itself.
    """
    first = points[list(chains[0])]
    if len(chains) == 1:
        return first
    second = points[list(chains[1])]
    if np.linalg.norm(first[-1] - second[-1]) < np.linalg.norm(first[-1] - second[0]):
        second = second[::-1]
    return np.concatenate([first, second])


class FaceParts:
    """One MediaPipe FaceLandmarker task; use as a context manager so the task is closed.

    `masks(rgb, timestamp_ms, names)` returns {name: HxW float32 plane, 1.0 inside the part's polygon
    on any detected face, 0.0 outside}. VIDEO mode (the default) tracks faces across frames and needs
    increasing timestamps (made strictly increasing here); IMAGE mode detects in each image afresh.
    """

    def __init__(self, model_path: Path, video: bool = True, num_faces: int = DEFAULT_FACES,
                 min_confidence: float = 0.5) -> None:
        if num_faces < 1:
            raise StreamMaskError(f"--faces must be 1 or more, got {num_faces}")
        self.video = video
        options = face_landmarker.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=VisionTaskRunningMode.VIDEO if video else VisionTaskRunningMode.IMAGE,
            num_faces=num_faces,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
        )
        try:
            with quiet_native_stderr():
                self._task = face_landmarker.FaceLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise StreamMaskError(f"cannot load {model_path} as a MediaPipe face landmarker: {first_line}") from None
        self._last_ms = -1
        self.calls = 0
        self.last_ms = 0.0
        self.faces = 0  # faces found in the last frame

    def landmarks(self, rgb: np.ndarray, timestamp_ms: int = 0) -> list[np.ndarray]:
        """One 478x2 float32 array of pixel coordinates (x, y) per detected face."""
        started = time.perf_counter()
        # MediaPipe ignores numpy strides: always hand it a contiguous copy or the array itself.
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if self.video:
            timestamp_ms = max(int(timestamp_ms), self._last_ms + 1)
            self._last_ms = timestamp_ms
            result = self._task.detect_for_video(image, timestamp_ms)
        else:
            result = self._task.detect(image)
        self.calls += 1
        self.last_ms = (time.perf_counter() - started) * 1000
        height, width = rgb.shape[:2]
        faces = [np.array([(point.x * width, point.y * height) for point in face], dtype=np.float32)
                 for face in result.face_landmarks]
        self.faces = len(faces)
        return faces

    def masks(self, rgb: np.ndarray, timestamp_ms: int = 0, names: Sequence[str] = LANDMARK_PARTS) -> dict[str, np.ndarray]:
        """{name: HxW float32 plane} for the named parts (1.0 inside on any face, else 0.0)."""
        unknown = [name for name in names if name not in CONTOURS]
        if unknown:
            raise StreamMaskError(f"unknown face-landmark part {unknown[0]!r}: use {', '.join(LANDMARK_PARTS)}")
        faces = self.landmarks(rgb, timestamp_ms)
        shape = rgb.shape[:2]
        planes = {}
        for name in names:
            plane = np.zeros(shape, dtype=np.float32)
            polygons = [np.round(polygon(CONTOURS[name], face)).astype(np.int32) for face in faces]
            if polygons:
                cv2.fillPoly(plane, polygons, 1.0)  # a list of polygons: one per face, filled separately
            planes[name] = plane
        return planes

    def close(self) -> None:
        if self._task is not None:
            self._task.close()
            self._task = None

    def __enter__(self) -> FaceParts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PartModels:
    """The models a run needs, as one: the segmenter's planes, then one plane per face-landmark part.

    `segment(rgb, timestamp_ms)` returns the segmenter's confidence planes (none without a segmenter)
    followed by the planes of `LANDMARK_PARTS` in order, so a landmark Part's channel is
    `len(labels) + LANDMARK_PARTS.index(name)` (see parts.resolve_parts). Only the requested landmark
    parts are drawn; the others are a shared read-only zero plane. Each model runs only if needed.
    """

    def __init__(self, segmenter: Segmenter | None, faces: FaceParts | None, landmark_names: Sequence[str] = ()) -> None:
        self.segmenter, self.faces = segmenter, faces
        self.landmark_names = [name for name in LANDMARK_PARTS if name in landmark_names]
        self.labels: list[str] = segmenter.labels if segmenter is not None else []
        self.last_ms = 0.0

    @property
    def calls(self) -> int:
        return (self.segmenter.calls if self.segmenter else 0) + (self.faces.calls if self.faces else 0)

    def segment(self, rgb: np.ndarray, timestamp_ms: int = 0) -> list[np.ndarray]:
        planes = self.segmenter.segment(rgb, timestamp_ms) if self.segmenter is not None else []
        self.last_ms = self.segmenter.last_ms if self.segmenter is not None else 0.0
        if self.faces is None:
            return planes
        drawn = self.faces.masks(rgb, timestamp_ms, self.landmark_names)
        self.last_ms += self.faces.last_ms
        zero = np.broadcast_to(np.float32(0), rgb.shape[:2])
        return [*planes, *(drawn.get(name, zero) for name in LANDMARK_PARTS)]

    def close(self) -> None:
        try:
            if self.segmenter is not None:
                self.segmenter.close()
        finally:
            if self.faces is not None:
                self.faces.close()

    def __enter__(self) -> PartModels:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
