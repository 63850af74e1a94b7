"""Face-landmark parts (landmarks.py) with the real FaceLandmarker on real people, alone and mixed with segmenter parts."""

from __future__ import annotations

import json

import av
import cv2
import numpy as np
import pytest

from conftest import MEDIA, MODELS, SELFIE, needs_shared, run_cli
from stream_mask.parts import LANDMARK_PARTS, resolve_parts

pytestmark = needs_shared

PEOPLE = MEDIA / "people"
LANDMARKER = MODELS / "face_landmarker.task"
TWO_FACES = PEOPLE / "head-pose-face-detection-female-and-male.gif"


def read_rgb(name: str) -> np.ndarray:
    return np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(PEOPLE / name)), cv2.COLOR_BGR2RGB))


def read_grey(path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.ndim == 2, path
    return image


def first_frame(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def centroid(plane: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(plane)
    return float(xs.mean()), float(ys.mean())


def inside(part: np.ndarray, region: np.ndarray, tolerance: int) -> int:
    """Pixels of `part` farther than `tolerance` px from `region`."""
    grown = cv2.dilate((region > 0).astype(np.uint8), np.ones((2 * tolerance + 1,) * 2, np.uint8))
    return int(np.count_nonzero((part > 0) & (grown == 0)))


@pytest.fixture(scope="module", params=["astronaut.png", "business-person.png"])
def face_planes(request) -> dict[str, np.ndarray]:
    from stream_mask.landmarks import FaceParts

    with FaceParts(LANDMARKER, video=False) as faces:
        planes = faces.masks(read_rgb(request.param), 0, LANDMARK_PARTS)
        assert faces.faces == 1
    return planes


# --- the contours, without a model ---------------------------------------------------------------


def test_contours_are_one_polygon_per_part():
    from stream_mask.landmarks import CONTOURS

    assert set(CONTOURS) == set(LANDMARK_PARTS)
    assert len(CONTOURS["left_eyebrow"]) == 2  # MediaPipe gives an eyebrow's upper and lower edges, joined here
    for name in ("face_oval", "left_eye", "right_eye", "left_iris", "lips", "mouth"):
        assert len(CONTOURS[name]) == 1, name
    assert 61 in CONTOURS["lips"][0] and 0 in CONTOURS["lips"][0]  # outer contour: mouth corner, top of the upper lip
    assert 78 in CONTOURS["mouth"][0] and 13 in CONTOURS["mouth"][0]  # inner contour
    assert len(CONTOURS["face_oval"][0]) == 36 and len(CONTOURS["left_iris"][0]) == 4


def test_eyebrow_chains_join_without_crossing():
    from stream_mask.landmarks import polygon

    points = np.zeros((10, 2), np.float32)
    points[[0, 1, 2]] = [(0, 0), (5, -2), (10, 0)]  # lower edge, left to right
    points[[3, 4, 5]] = [(0, -3), (5, -5), (10, -3)]  # upper edge, also left to right
    outline = polygon([[0, 1, 2], [3, 4, 5]], points)
    assert outline.tolist() == [[0, 0], [5, -2], [10, 0], [10, -3], [5, -5], [0, -3]]


# --- real faces --------------------------------------------------------------------------------------


def test_every_part_is_inside_the_face(face_planes):
    for name, plane in face_planes.items():
        assert plane.dtype == np.float32 and set(np.unique(plane)) == {0.0, 1.0}, name
        assert np.count_nonzero(plane) > 10, name
        assert inside(plane, face_planes["face_oval"], tolerance=3) == 0, name
    for eye in ("left", "right"):
        assert inside(face_planes[f"{eye}_iris"], face_planes[f"{eye}_eye"], tolerance=3) == 0
    assert inside(face_planes["mouth"], face_planes["lips"], tolerance=1) == 0


def test_parts_are_where_a_face_has_them(face_planes):
    c = {name: centroid(plane) for name, plane in face_planes.items()}
    for side in ("left", "right"):
        assert c[f"{side}_eyebrow"][1] < c[f"{side}_eye"][1] < c["lips"][1]
        assert c[f"{side}_eye"][1] < c["face_oval"][1] < c["lips"][1]
    # The person's own left (MediaPipe's convention): on the right of an unmirrored image of a facing person.
    for part in ("eye", "eyebrow", "iris"):
        assert c[f"left_{part}"][0] > c["face_oval"][0] > c[f"right_{part}"][0], part
    assert abs(c["lips"][0] - c["face_oval"][0]) < 0.1 * np.sqrt(np.count_nonzero(face_planes["face_oval"]))


@pytest.mark.parametrize("faces", [1, 2])
def test_faces_limits_the_count(faces):
    from stream_mask.landmarks import FaceParts

    with FaceParts(LANDMARKER, video=False, num_faces=faces) as landmarker:
        oval = landmarker.masks(first_frame(TWO_FACES), 0, ["face_oval"])["face_oval"]
    count, _ = cv2.connectedComponents(oval.astype(np.uint8))
    assert count - 1 == faces  # minus the background component


# --- runs: CLI and library -------------------------------------------------------------------------


def test_cli_union_with_segmenter_parts(tmp_path):
    image = PEOPLE / "astronaut.png"
    for name, parts in (("both", "person,lips"), ("person", "person"), ("lips", "lips")):
        result = run_cli("run", image, "-o", tmp_path / f"{name}.png", "--parts", parts, "--model", "selfie", "-q")
        assert result.returncode == 0, result.stderr
    both, person, lips = (read_grey(tmp_path / f"{name}.png") for name in ("both", "person", "lips"))
    assert np.count_nonzero(lips) > 100 and np.count_nonzero(person) > np.count_nonzero(lips)
    assert np.array_equal(both, np.maximum(person, lips))


def test_landmark_only_run_loads_no_segmentation_model(tmp_path):
    # The default model (multiclass) is neither in ../shared/models nor in this empty cache, and the
    # download mirror is unreachable: the run works only if the segmenter is never asked for.
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = run_cli("run", TWO_FACES, "-o", tmp_path / "ovals.mkv", "--parts", "face_oval,lips", "--faces", "2",
                     "-q", env=env)
    assert result.returncode == 0, result.stderr
    frames = int(result.stdout.split()[0])
    assert frames > 10 and f", {frames} model calls -> " in result.stdout  # one landmarker call per frame
    sidecar = json.loads((tmp_path / "ovals.mkv.json").read_text())
    assert sidecar["model"]["name"] == "face_landmarker" and sidecar["settings"]["output"][0]["parts"] == ["face_oval", "lips"]
    with av.open(str(tmp_path / "ovals.mkv")) as container:
        mask = next(container.decode(video=0)).to_ndarray(format="gray")
    count, _ = cv2.connectedComponents((mask > 0).astype(np.uint8))
    assert count - 1 == 2  # two faces (each lips polygon lies inside its face oval)


def test_label_map_ignores_landmark_planes(tmp_path):
    image = PEOPLE / "astronaut.png"
    for name, extra in (("plain", ()), ("mixed", ("--parts", "lips", "-o", str(tmp_path / "lips.png")))):
        result = run_cli("run", image, "--model", "selfie", *extra, "--kind", "labels", "-o", tmp_path / f"{name}.png", "-q")
        assert result.returncode == 0, result.stderr
    assert np.array_equal(read_grey(tmp_path / "plain.png"), read_grey(tmp_path / "mixed.png"))
    assert set(np.unique(read_grey(tmp_path / "mixed.png"))) == {0, 1}


def test_bad_part_lists_landmark_parts(tmp_path):
    result = run_cli("run", PEOPLE / "astronaut.png", "-o", tmp_path / "m.png", "--model", "selfie", "--parts", "nose")
    assert result.returncode == 1
    assert "unknown part 'nose'" in result.stderr and "person, background, face_oval, left_eye" in result.stderr
    assert "lips, mouth" in result.stderr
    assert not (tmp_path / "m.png").exists()


def test_bad_faces(tmp_path):
    result = run_cli("run", PEOPLE / "astronaut.png", "-o", tmp_path / "m.png", "--parts", "lips", "--faces", "0")
    assert result.returncode == 1 and "--faces must be 1 or more" in result.stderr


def test_resolve_parts_channels_follow_the_labels():
    parts = resolve_parts(["person", "mouth"], ["selfie"])
    assert [(p.name, p.channel, p.landmark) for p in parts] == [("person", 0, False), ("mouth", 1 + 8, True)]
    assert [p.channel for p in resolve_parts(["face_oval"], [])] == [0]


def test_api_landmark_parts(monkeypatch, tmp_path):
    from stream_mask.api import generate_masks

    monkeypatch.setenv("STREAM_MASK_MODEL_DIR", str(MODELS))
    monkeypatch.setenv("STREAM_MASK_MODEL_MIRROR", "http://127.0.0.1:9")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no multiclass model anywhere: lips alone needs none
    images = np.stack([read_rgb("astronaut.png")] * 2)
    lips = generate_masks(images, parts=["lips"])
    assert lips.shape == (2, 512, 512) and lips.dtype == np.float32 and np.count_nonzero(lips[0]) > 100
    assert np.array_equal(lips[0], lips[1])
    person = generate_masks(images, parts=["person"], model=str(SELFIE))
    both = generate_masks(images, parts=["person", "lips"], model=str(SELFIE))
    assert np.array_equal(both, np.maximum(person, lips))
    two = generate_masks(first_frame(TWO_FACES)[None], parts=["face_oval"], faces=2)
    assert cv2.connectedComponents(two[0].astype(np.uint8))[0] - 1 == 2


@pytest.mark.parametrize("parts", ["person,lips,left_eye", "face_oval,mouth", "person"])
def test_api_and_command_give_the_same_masks(tmp_path, monkeypatch, parts):
    """The library (IMAGE mode) and the command (VIDEO mode, one frame) build their models in one place
    (planes.py): on a still image they give the same mask, with segmenter parts, face-landmark parts or both."""
    from stream_mask.api import generate_masks

    monkeypatch.setenv("STREAM_MASK_MODEL_DIR", str(MODELS))
    for name in ("astronaut.png", "business-person.png"):
        mask = generate_masks(read_rgb(name)[None], parts.split(","), model=str(SELFIE))[0]
        out = tmp_path / f"{name}.mask.png"
        result = run_cli("run", PEOPLE / name, "-o", out, "--parts", parts, "--model", str(SELFIE), "-q")
        assert result.returncode == 0, result.stderr
        command = read_grey(out)
        assert set(np.unique(command)) == {0, 255} and np.count_nonzero(mask) > 100
        assert np.array_equal(command == 255, mask == 1.0), (name, np.count_nonzero((command == 255) != (mask == 1.0)))


def test_generator_kept_open_draws_what_each_call_asks(monkeypatch):
    """One MaskGenerator across calls asking for different face-landmark parts (its face landmarker is
    reopened to draw more parts) gives what one-shot calls give, and nothing of an earlier call's parts."""
    from stream_mask.api import MaskGenerator, generate_masks

    monkeypatch.setenv("STREAM_MASK_MODEL_DIR", str(MODELS))
    images = read_rgb("astronaut.png")[None]
    asks = (["lips"], ["face_oval"], ["person"], ["person", "left_eye"], ["lips"])
    with MaskGenerator(str(SELFIE)) as generator:
        kept = [generator(images, parts) for parts in asks]
    for parts, mask in zip(asks, kept):
        assert np.count_nonzero(mask) > 100
        assert np.array_equal(mask, generate_masks(images, parts, model=str(SELFIE))), parts
    assert not np.array_equal(kept[0], kept[1])
