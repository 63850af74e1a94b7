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

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import mediapipe as mp
import numpy as np
from mediapipe.tasks.python.vision import face_landmarker

from .config import DEFAULT_FACES
from .errors import StreamMaskError
from .mediapipe_task import MediaPipeTask
from .parts import LANDMARK_PARTS, landmark_names


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
    return {name: contours[name] for name in LANDMARK_PARTS}  # a part without a contour fails here, at import


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


class FaceParts(MediaPipeTask):
    """One MediaPipe FaceLandmarker task as a model runtime (runtime.ModelRuntime); use as a context manager.

    `segment(rgb, timestamp_ms)` returns one HxW float32 plane per name in `labels` (the `parts` asked
    for, in LANDMARK_PARTS order): 1.0 inside the part's polygon on any detected face, 0.0 outside.
    VIDEO mode (the default) tracks faces across frames; IMAGE mode detects in each image afresh.
    """

    def __init__(self, model_path: Path, video: bool = True, num_faces: int = DEFAULT_FACES,
                 min_confidence: float = 0.5, parts: Sequence[str] = LANDMARK_PARTS) -> None:
        if num_faces < 1:
            raise StreamMaskError(f"--faces must be 1 or more, got {num_faces}")
        super().__init__(model_path, video, "a MediaPipe face landmarker", face_landmarker.FaceLandmarkerOptions,
                         face_landmarker.FaceLandmarker, num_faces=num_faces,
                         min_face_detection_confidence=min_confidence, min_face_presence_confidence=min_confidence,
                         min_tracking_confidence=min_confidence)
        self.labels = list(landmark_names(parts))  # only these are drawn
        self.faces = 0  # faces found in the last frame

    def _infer(self, image: mp.Image, timestamp_ms: int) -> Any:
        return self._task.detect_for_video(image, timestamp_ms) if self.video else self._task.detect(image)

    def landmarks(self, rgb: np.ndarray, timestamp_ms: int = 0) -> list[np.ndarray]:
        """One 478x2 float32 array of pixel coordinates (x, y) per detected face."""
        result = self._run(rgb, timestamp_ms)
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

    def segment(self, rgb: np.ndarray, timestamp_ms: int = 0) -> list[np.ndarray]:
        """The planes of `labels`, in order (the model runtime's call)."""
        planes = self.masks(rgb, timestamp_ms, self.labels)
        return [planes[name] for name in self.labels]
