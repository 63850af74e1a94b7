"""Output kinds through the real command: composites, overlays and label maps exactly on synthetic frames
(6-class stand-in model); several outputs from one pass of the model."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import run_cli
from standin_model import expected_confidences
from test_parts_and_threshold import blocks_frame, interior, write_lossless_video

GREEN = np.array([0, 255, 0], dtype=np.uint8)


@pytest.fixture(scope="module")
def bands(tmp_path_factory):
    """A 3-frame lossless video of the colour bands, moving one band per frame."""
    folder = tmp_path_factory.mktemp("bands")
    frames = [blocks_frame(shift) for shift in range(3)]
    write_lossless_video(folder / "bands.mkv", frames)
    return folder / "bands.mkv", frames


def read_pngs(folder, count, flags=cv2.IMREAD_UNCHANGED):
    images = [cv2.imread(str(folder / f"{index:05d}.png"), flags) for index in range(count)]
    return [cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 and image.shape[2] == 3 else image
            for image in images]


def run_ok(*args):
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("invert", [False, True])
def test_composite_effect_outside_source_inside_blend_at_edges(tmp_path, standin_model, bands, invert):
    video, frames = bands
    out = tmp_path / "comp"
    run_ok("run", str(video), "--parts", "hair", "--soft", "--effect", "color:#00ff00", *(["--invert"] if invert else []),
           "-o", str(out), "--model", str(standin_model), "--confidence", "0.3")
    keep = interior()
    for rgb, got in zip(frames, read_pngs(out, len(frames))):
        hair = expected_confidences(rgb)[..., 1]
        alpha = np.where(hair > 0.3, np.rint(hair * 255) / 255, 0.0)
        if invert:
            alpha = 1.0 - alpha
        want = alpha[..., None] * rgb + (1.0 - alpha[..., None]) * GREEN
        assert np.abs(got[keep].astype(float) - want[keep]).max() <= 1.0
        selected = (hair > 0.99) & keep
        unselected = (hair < 0.01) & keep
        inside, outside = (unselected, selected) if invert else (selected, unselected)
        assert np.array_equal(got[inside], rgb[inside])  # the source, exactly
        assert (got[outside] == GREEN).all()  # the effect, exactly
        blend = (hair > 0.4) & (hair < 0.6) & keep  # the hair/clothes blend band: a mix
        assert blend.any() and not (got[blend] == GREEN).all(axis=-1).any()


def test_overlay_tints_each_part_in_its_own_colour(tmp_path, standin_model, bands):
    video, frames = bands
    out = tmp_path / "overlay"
    run_ok("run", str(video), "--kind", "overlay", "--parts", "hair,face", "-o", str(out), "--model", str(standin_model))
    keep = interior()
    for rgb, got in zip(frames, read_pngs(out, len(frames))):
        probs = expected_confidences(rgb)
        hair, face, neither = probs[..., 1] > 0.4, probs[..., 3] > 0.4, (probs[..., [1, 3]] <= 0.4).all(-1)
        assert np.array_equal(got[neither & keep], rgb[neither & keep])
        tint_hair, tint_face = got[hair & keep].mean(0) - rgb[hair & keep].mean(0), got[face & keep].mean(0) - rgb[face & keep].mean(0)
        assert np.abs(tint_hair - tint_face).max() > 20  # two different colours


def test_label_map_holds_class_indices(tmp_path, standin_model, bands):
    video, frames = bands
    out = tmp_path / "labels.mkv"
    run_ok("run", str(video), "--kind", "labels", "-o", str(out), "--model", str(standin_model))
    import av

    with av.open(str(out)) as container:
        maps = [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]
    keep = interior()
    assert len(maps) == len(frames)
    for rgb, labels in zip(frames, maps):
        assert np.array_equal(labels[keep], np.argmax(expected_confidences(rgb), axis=-1)[keep])
        assert set(np.unique(labels)) <= set(range(6))


def test_label_map_refuses_lossy_containers(tmp_path, standin_model, bands):
    result = run_cli("run", str(bands[0]), "--kind", "labels", "-o", str(tmp_path / "labels.mp4"),
                     "--model", str(standin_model))
    assert result.returncode == 1
    assert result.stderr.strip() == f"stream-mask: error: a label map must be lossless: write {tmp_path / 'labels.mp4'} as .mkv or PNGs instead"
    assert list(tmp_path.iterdir()) == [bands[0].parent] or not (tmp_path / "labels.mp4").exists()


def test_three_outputs_one_model_call_per_frame(tmp_path, standin_model, bands):
    video, frames = bands
    result = run_ok("run", str(video), "--parts", "hair", "-o", str(tmp_path / "hair.mkv"),
                    "--parts", "face", "-o", str(tmp_path / "face.mkv"),
                    "--effect", "blur", "-o", str(tmp_path / "blurred.mp4"), "--model", str(standin_model))
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("3 frames in ") and ", 3 model calls -> " in summary
    for name, parts, kind in (("hair.mkv", ["hair"], "mask"), ("face.mkv", ["face"], "mask"), ("blurred.mp4", ["face"], "composite")):
        sidecar = json.loads((tmp_path / f"{name}.json").read_text())
        assert (sidecar["settings"]["output"][0]["parts"], sidecar["settings"]["output"][0]["kind"]) == (parts, kind)


def test_one_file_per_part_from_a_pattern(tmp_path, standin_model, bands):
    video, frames = bands
    result = run_ok("run", str(video), "--parts", "hair,face,clothes", "-o", str(tmp_path / "matte_{part}"),
                    "--model", str(standin_model))
    assert ", 3 model calls -> " in result.stdout
    keep = interior()
    for part, channel in (("hair", 1), ("face", 3), ("clothes", 4)):
        masks = read_pngs(tmp_path / f"matte_{part}", len(frames))
        for rgb, mask in zip(frames, masks):
            assert np.array_equal(mask[keep] == 255, (expected_confidences(rgb)[..., channel] > 0.4)[keep])


def test_effect_without_composite_is_an_error(tmp_path, standin_model, bands):
    result = run_cli("run", str(bands[0]), "--kind", "alpha", "--effect", "blur", "-o", str(tmp_path / "x.mov"),
                     "--model", str(standin_model))
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "--effect needs --kind composite" in result.stderr


def test_video_and_image_backgrounds(tmp_path, standin_model, bands):
    """`video:PATH` loops a background video (resized to cover); `image:PATH` shows a still."""
    video, frames = bands
    backdrop = [np.full((64, 64, 3), value, dtype=np.uint8) for value in (40, 80)]  # 2 frames: loops
    write_lossless_video(tmp_path / "backdrop.mkv", backdrop)
    cv2.imwrite(str(tmp_path / "still.png"), np.full((10, 30, 3), 200, dtype=np.uint8))
    run_ok("run", str(video), "--parts", "hair", "--effect", f"video:{tmp_path / 'backdrop.mkv'}", "-o", str(tmp_path / "v"),
           "--parts", "hair", "--effect", f"image:{tmp_path / 'still.png'}", "-o", str(tmp_path / "i"), "--model", str(standin_model))
    keep = interior()
    for index, (rgb, got_v, got_i) in enumerate(zip(frames, read_pngs(tmp_path / "v", 3), read_pngs(tmp_path / "i", 3))):
        outside = (expected_confidences(rgb)[..., 1] <= 0.4) & keep
        assert (got_v[outside] == (40, 80)[index % 2]).all()  # frame 0, 1, then 0 again
        assert (got_i[outside] == 200).all()
        inside = ~outside & keep
        assert np.array_equal(got_v[inside], rgb[inside]) and np.array_equal(got_i[inside], rgb[inside])
