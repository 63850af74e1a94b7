"""Part selection and the threshold rule, asserted exactly with the 6-class stand-in model.

The stand-in classifies each pixel by its nearest of six colours, so a synthetic frame made of colour
blocks has known per-class confidences (`expected_confidences`), and every part, union of parts and
threshold edge can be checked pixel for pixel on the block interiors.
"""

from __future__ import annotations

import itertools

import av
import numpy as np
import pytest

from conftest import run_cli
from standin_model import COLOURS, expected_confidences
from stream_mask.api import MaskGenerator, generate_masks, parts_from_flags
from stream_mask.errors import StreamMaskError

BLOCK = 64
MARGIN = 10  # MediaPipe resizes to 256x256 and back: compare away from block edges
PART_CHANNELS = {"background": [0], "hair": [1], "body": [2], "face": [3], "clothes": [4], "others": [5]}


def blocks_frame(shift: int = 0) -> np.ndarray:
    """Seven 64-px bands: the six class colours, then a hair/clothes blend; rolled by `shift` bands."""
    blend = ((COLOURS[1].astype(int) + COLOURS[4]) // 2).astype(np.uint8)
    colours = np.roll(np.vstack([COLOURS, blend]), shift, axis=0)
    return np.repeat(np.repeat(colours[None], 2 * BLOCK, axis=0), BLOCK, axis=1)  # 128 x 448 x 3


def interior() -> np.ndarray:
    """Pixels far enough from every band edge for MediaPipe's resampling to be exact."""
    keep = np.zeros((2 * BLOCK, 7 * BLOCK), dtype=bool)
    for band in range(7):
        keep[MARGIN:-MARGIN, band * BLOCK + MARGIN:(band + 1) * BLOCK - MARGIN] = True
    return keep


def expected_mask(rgb: np.ndarray, parts: list[str], confidence: float) -> np.ndarray:
    probs = expected_confidences(rgb)
    planes = [1.0 - probs[..., 0] if part == "person" else probs[..., PART_CHANNELS[part][0]] for part in parts]
    if not planes:
        return np.zeros(rgb.shape[:2], dtype=bool)
    return np.any([plane > confidence for plane in planes], axis=0)


@pytest.fixture(scope="module")
def generator(standin_model):
    with MaskGenerator(str(standin_model)) as gen:
        yield gen


def test_standin_offers_the_multiclass_part_names(generator):
    assert generator.labels == ["background", "hair", "body-skin", "face-skin", "clothes", "others"]
    with pytest.raises(StreamMaskError, match="use background, hair, body, face, clothes, others, person"):
        generator(blocks_frame()[None], ["skin"])


@pytest.mark.parametrize("parts", [[p] for p in [*PART_CHANNELS, "person"]] + [["hair", "face"], ["body", "clothes", "others"]])
def test_each_part_and_union_of_parts(generator, parts):
    rgb = blocks_frame()
    got = generator(rgb[None], parts, confidence=0.4)[0]
    want = expected_mask(rgb, parts, 0.4)
    assert got.dtype == np.float32 and set(np.unique(got)) <= {0.0, 1.0}
    keep = interior()
    assert np.array_equal(got[keep] == 1.0, want[keep])
    assert want[keep].any() or parts == []


def test_default_part_is_face_as_in_the_original_node(generator):
    rgb = blocks_frame()
    assert np.array_equal(generator(rgb[None])[0], generator(rgb[None], ["face"])[0])
    assert parts_from_flags() == ("face",)
    assert parts_from_flags(face_mask=False, hair_mask=True, clothes_mask=True) == ("hair", "clothes")


def test_threshold_is_strictly_greater_than(generator):
    rgb = blocks_frame()
    blend_band = (slice(MARGIN, -MARGIN), slice(6 * BLOCK + MARGIN, 7 * BLOCK - MARGIN))
    hair_in_blend = float(expected_confidences(rgb[blend_band])[..., 1].mean())
    assert 0.3 < hair_in_blend < 0.7  # the blend is genuinely uncertain
    below = generator(rgb[None], ["hair"], confidence=hair_in_blend - 0.002)[0]
    above = generator(rgb[None], ["hair"], confidence=hair_in_blend + 0.002)[0]
    assert below[blend_band].all() and not above[blend_band].any()
    # Pure hair pixels stay in at any threshold below their confidence.
    hair_band = (slice(MARGIN, -MARGIN), slice(BLOCK + MARGIN, 2 * BLOCK - MARGIN))
    assert above[hair_band].all()


def test_no_part_selected_gives_black(generator):
    masks = generator(np.stack([blocks_frame(), blocks_frame(2)]), [], confidence=0.4)
    assert masks.shape == (2, 128, 448) and not masks.any()


def test_float_and_uint8_batches_agree(standin_model):
    batch = np.stack([blocks_frame(s) for s in range(3)])
    as_uint8 = generate_masks(batch, ["hair", "clothes"], 0.4, model=str(standin_model))
    as_float = generate_masks(batch.astype(np.float32) / 255.0, ["hair", "clothes"], 0.4, model=str(standin_model))
    assert as_uint8.shape == (3, 128, 448)
    assert np.array_equal(as_uint8, as_float)


@pytest.mark.parametrize("confidence", [0.0, 1.01, -1])
def test_confidence_out_of_range(generator, confidence):
    with pytest.raises(StreamMaskError, match="confidence must be between 0.01 and 1.0"):
        generator(blocks_frame()[None], ["hair"], confidence)


def write_lossless_video(path, frames, fps=10):
    """An RGB video that decodes back to exactly these pixels (FFV1, bgr0)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "bgr0"
        for rgb in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode(None))


def test_cli_video_matches_the_rule_frame_by_frame(tmp_path, standin_model):
    """Through the real command: every mask frame belongs to its own input frame (bands move each frame)."""
    frames = [blocks_frame(shift) for shift in range(7)]
    source = tmp_path / "bands.mkv"
    write_lossless_video(source, frames)
    out = tmp_path / "mask.mkv"
    result = run_cli("run", str(source), "-o", str(out), "--model", str(standin_model), "--parts", "hair,face",
                     "--confidence", "0.5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("7 frames in ")
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "ffv1"
        decoded = [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]
    assert len(decoded) == len(frames)
    keep = interior()
    for rgb, mask in zip(frames, decoded):
        assert set(np.unique(mask)) <= {0, 255}
        assert np.array_equal(mask[keep] == 255, expected_mask(rgb, ["hair", "face"], 0.5)[keep])


def test_cli_image_folder_to_png_folder_keeps_names(tmp_path, standin_model):
    import cv2

    images = tmp_path / "images"
    images.mkdir()
    for shift, name in zip(range(3), ["b", "a", "c"]):
        cv2.imwrite(str(images / f"{name}.png"), cv2.cvtColor(blocks_frame(shift), cv2.COLOR_RGB2BGR))
    out = tmp_path / "masks"
    result = run_cli("run", str(images), "-o", str(out), "--model", str(standin_model), "--parts", "person")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png", "stream_mask.json"]
    for shift, name in zip(range(3), ["b", "a", "c"]):
        mask = cv2.imread(str(out / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        assert mask.ndim == 2 and mask.dtype == np.uint8
        want = expected_mask(blocks_frame(shift), ["person"], 0.4)
        assert np.array_equal(mask[interior()] == 255, want[interior()])


def test_every_combination_of_two_parts_is_a_union(generator):
    rgb = blocks_frame()
    keep = interior()
    singles = {p: generator(rgb[None], [p])[0] for p in PART_CHANNELS}
    for a, b in itertools.combinations(PART_CHANNELS, 2):
        both = generator(rgb[None], [a, b])[0]
        assert np.array_equal(both[keep], np.maximum(singles[a], singles[b])[keep])


def test_cli_soft_matte_carries_the_confidence(tmp_path, standin_model):
    frames = [blocks_frame()]
    source = tmp_path / "bands.mkv"
    write_lossless_video(source, frames)
    out = tmp_path / "soft.mkv"
    result = run_cli("run", str(source), "-o", str(out), "--model", str(standin_model), "--parts", "hair",
                     "--soft", "--confidence", "0.3")
    assert result.returncode == 0, result.stderr
    with av.open(str(out)) as container:
        soft = next(container.decode(video=0)).to_ndarray(format="gray")
    hair = expected_confidences(frames[0])[..., 1]
    want = np.where(hair > 0.3, np.rint(hair * 255), 0)
    keep = interior()
    assert np.abs(soft[keep].astype(int) - want[keep]).max() <= 1
    blend = soft[MARGIN:-MARGIN, 6 * BLOCK + MARGIN:7 * BLOCK - MARGIN]
    assert 100 < blend.mean() < 155  # genuinely grey where the model is unsure


def test_library_soft_masks(generator):
    rgb = blocks_frame()
    soft = generator(rgb[None], ["hair"], 0.3, soft=True)[0]
    binary = generator(rgb[None], ["hair"], 0.3)[0]
    assert soft.dtype == np.float32 and 0.0 <= soft.min() and soft.max() <= 1.0
    assert np.array_equal(soft > 0, binary > 0)


def test_every_output_gets_a_sidecar_to_reproduce_it(tmp_path, standin_model):
    import json

    source = tmp_path / "bands.mkv"
    write_lossless_video(source, [blocks_frame(s) for s in range(3)])
    for output, sidecar in ((tmp_path / "m.mkv", tmp_path / "m.mkv.json"),
                            (tmp_path / "pngs", tmp_path / "pngs" / "stream_mask.json"),
                            (tmp_path / "seq" / "m_%03d.png", tmp_path / "seq" / "stream_mask.json")):
        output.parent.mkdir(exist_ok=True)
        result = run_cli("run", str(source), "-o", str(output), "--model", str(standin_model), "--confidence", "0.3")
        assert result.returncode == 0, result.stderr
        data = json.loads(sidecar.read_text())
        assert data["settings"]["output"][0]["parts"] == ["face"]  # the default, made explicit
        assert data["settings"]["confidence"] == 0.3 and data["settings"]["output"][0]["soft"] is False
        assert data["model"]["name"] == "standin_multiclass" and len(data["model"]["sha256"]) == 64
        assert data["frames"] == 3 and data["interrupted"] is False
        assert data["versions"]["mediapipe"] and data["versions"]["av"]
    assert sorted(p.name for p in (tmp_path / "seq").iterdir()) == ["m_000.png", "m_001.png", "m_002.png", "stream_mask.json"]


def test_sidecar_records_the_quality_settings(tmp_path, standin_model):
    import json

    source = tmp_path / "bands.mkv"
    write_lossless_video(source, [blocks_frame()])
    out = tmp_path / "m.mkv"
    result = run_cli("run", str(source), "-o", str(out), "--model", str(standin_model), "--refine", "2", "--grow", "3")
    assert result.returncode == 0, result.stderr
    settings = json.loads((tmp_path / "m.mkv.json").read_text())["settings"]
    assert settings["refine"] == 2 and settings["smooth"] == 0.0  # a file: smoothing resolved to off
    assert settings["finish"]["grow"] == 3 and settings["finish"]["guided"] is False
