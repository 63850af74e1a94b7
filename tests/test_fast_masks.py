"""The fast paths of the per-class work give exactly the original rule's pixels, on real model output.

The reference is the original rule written out with numpy in each test: a part is `plane > confidence`
(`1 - plane > confidence` for a complement such as the 6-class model's `person`), parts are joined by
`any`, and a label map is `np.argmax` over the class planes (the first class on a tie). It is computed
per frame from MediaPipe's planes in IMAGE mode at full resolution, for the selfie model and the 6-class
stand-in, on frames of every clip in ../shared/media, and compared bit for bit with masks.py's functions
and with what the real command writes.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from conftest import MEDIA, SELFIE, needs_shared, run_cli
from test_parts_and_threshold import write_lossless_video
from stream_mask import masks
from stream_mask.segmenter import Segmenter

pytestmark = needs_shared

CLIPS = sorted([*(MEDIA / "people").glob("*.mp4"), *(MEDIA / "people").glob("*.gif"),
                MEDIA / "davis_parkour" / "parkour_24fps_from_frames.mp4"])
FRAMES = 4  # per clip, spread over its length
THRESHOLDS = [0.4, 0.01, 0.5, 0.99, 1.0]


def spread_frames(path: Path, count: int = FRAMES) -> list[np.ndarray]:
    """`count` RGB frames from over the whole clip, decoded as the command decodes them (PyAV, rgb24)."""
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return [frames[index] for index in np.linspace(0, len(frames) - 1, count).round().astype(int)]


@pytest.fixture(scope="module")
def clip_frames() -> dict[str, list[np.ndarray]]:
    assert len(CLIPS) >= 5
    return {path.name: spread_frames(path) for path in CLIPS}


def image_mode_planes(model: Path, frames: list[np.ndarray]) -> list[list[np.ndarray]]:
    """MediaPipe's confidence planes of each frame, IMAGE mode, full resolution (our own copies)."""
    with Segmenter(model, video=False) as segmenter:
        return [[np.array(plane) for plane in segmenter.segment(rgb)] for rgb in frames]


@pytest.fixture(scope="module")
def real_planes(clip_frames, standin_model) -> dict[str, list[list[np.ndarray]]]:
    """'selfie' and 'standin' -> every clip frame's planes, in clip order."""
    frames = [rgb for clip in clip_frames.values() for rgb in clip]
    return {"selfie": image_mode_planes(SELFIE, frames), "standin": image_mode_planes(standin_model, frames)}


def rule(plane: np.ndarray, confidence: float, complement: bool = False) -> np.ndarray:
    """The original rule for one part, with numpy."""
    return ((1.0 - plane) if complement else plane) > confidence


def label_rule(planes: list[np.ndarray]) -> np.ndarray:
    return np.argmax(np.stack(planes), axis=0).astype(np.uint8)


def tie_values(plane: np.ndarray) -> list[float]:
    """Confidences that occur in the plane itself: there `plane > confidence` must be False (strictly greater)."""
    inside = plane[(plane > 0.01) & (plane < 1.0)]
    return [float(np.median(inside)), float(inside.min()), float(inside.max())] if inside.size else []


@pytest.mark.parametrize("model", ["selfie", "standin"])
def test_each_part_threshold_is_the_rule_pixel_for_pixel(real_planes, model) -> None:
    """Every plane of every frame, at the usual thresholds, the extremes and at values the plane holds (ties),
    as the part itself and as its complement, and through numpy's float64 and float32 scalars."""
    compared = ties = 0
    for planes in real_planes[model]:
        for plane in planes:
            for confidence in [*THRESHOLDS, *tie_values(plane), np.float64(0.4), np.float32(0.4)]:
                for complement in (False, True):
                    got = masks.above(plane, confidence, complement)
                    want = rule(plane, confidence, complement)
                    assert got.dtype == np.uint8 and np.array_equal(got == 255, want) and not got[~want].any(), \
                        (model, confidence, complement)
                    compared += 1
                ties += int((plane == np.float32(confidence)).any())
    assert compared > 100 and ties > 20  # real comparisons, ties among them


def test_parts_joined_and_the_union_are_the_rule(real_planes) -> None:
    """Several parts of the stand-in, `person` (a complement) among them: binary_mask is any() of the rule,
    union_confidence is np.maximum.reduce."""
    combos = [([1, 3, 4], [False] * 3), ([3], [False]), ([0], [True]), ([0, 1], [True, False]),
              ([2, 3, 4, 5], [False] * 4), ([1, 0], [False, True])]
    for planes in real_planes["standin"]:
        for channels, complements in combos:
            chosen = [planes[channel] for channel in channels]
            want = np.any([rule(p, 0.4, c) for p, c in zip(chosen, complements)], axis=0)
            got = masks.binary_mask(chosen, 0.4, chosen[0].shape, complements)
            assert np.array_equal(got == 255, want) and set(np.unique(got)) <= {0, 255}
        union = masks.union_confidence([planes[1], planes[3], planes[4]])
        assert np.array_equal(union, np.maximum.reduce([planes[1], planes[3], planes[4]]))


def test_label_map_is_argmax_ties_included(real_planes) -> None:
    """The stand-in's planes as they are, rounded to sixteenths (many exact ties between classes, the
    first class must win as with np.argmax) and with one class a copy of another (a tie everywhere)."""
    tied = 0
    for planes in real_planes["standin"]:
        rounded = [np.round(plane * 16).astype(np.float32) / np.float32(16) for plane in planes]
        copied = [*planes[:4], planes[2], planes[5]]  # clothes == body-skin exactly: body-skin wins
        for variant in (planes, rounded, copied):
            assert np.array_equal(masks.label_map(variant, 0.4), label_rule(variant))
        top_two = np.sort(np.stack(rounded), axis=0)[-2:]
        tied += int((top_two[0] == top_two[1]).sum())
        assert not (masks.label_map(copied, 0.4) == 4).any()
    assert tied > 1000
    for planes in real_planes["selfie"]:  # one class: 1 above the threshold, else 0
        assert np.array_equal(masks.label_map(planes, 0.4), rule(planes[0], 0.4).astype(np.uint8))


def read_masks(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]


@pytest.mark.parametrize("clip", [path.name for path in CLIPS])
def test_the_commands_masks_are_the_rule_on_every_clip(tmp_path, clip_frames, standin_model, clip) -> None:
    """The real command, default flags and the per-class outputs, on frames of each clip: the stand-in's
    default part (face), `person`, three parts and the label map, and the selfie model's default, each equal
    to the rule computed per frame in IMAGE mode at full resolution."""
    frames = clip_frames[clip]
    source = tmp_path / "clip.mkv"
    write_lossless_video(source, frames)  # decodes back to exactly these pixels
    outs = {name: tmp_path / f"{name}.mkv" for name in ("face", "person", "three", "labels", "selfie")}
    result = run_cli("run", str(source), "--model", str(standin_model), "-o", str(outs["face"]),
                     "--parts", "person", "-o", str(outs["person"]), "--parts", "hair,face,clothes",
                     "-o", str(outs["three"]), "--kind", "labels", "-o", str(outs["labels"]))
    assert result.returncode == 0, result.stderr
    result = run_cli("run", str(source), "--model", "selfie", "-o", str(outs["selfie"]))
    assert result.returncode == 0, result.stderr
    got = {name: read_masks(path) for name, path in outs.items()}
    standin, selfie = image_mode_planes(standin_model, frames), image_mode_planes(SELFIE, frames)
    for index in range(len(frames)):
        planes = standin[index]
        want = {"face": rule(planes[3], 0.4), "person": rule(planes[0], 0.4, complement=True),
                "three": np.any([rule(planes[c], 0.4) for c in (1, 3, 4)], axis=0),
                "selfie": rule(selfie[index][0], 0.4)}
        for name, mask in want.items():
            assert np.array_equal(got[name][index], np.where(mask, 255, 0).astype(np.uint8)), (clip, index, name)
        assert np.array_equal(got["labels"][index], label_rule(planes)), (clip, index, "labels")
    assert any(got["person"][index].any() and not got["person"][index].all() for index in range(len(frames)))
