"""The 6-class stand-in model loads in MediaPipe's ImageSegmenter and gives exact masks."""

from __future__ import annotations

import pathlib
import zipfile

import mediapipe as mp
import numpy as np
import pytest
from mediapipe.tasks.python.core.base_options import BaseOptions
from mediapipe.tasks.python.vision import image_segmenter
from mediapipe.tasks.python.vision.core.vision_task_running_mode import VisionTaskRunningMode
from standin_model import COLOURS, LABELS, SHARPNESS, build_standin_model, expected_confidences

HEIGHT, WIDTH = 480, 640
ROWS, COLS = 2, 4
# MediaPipe resizes the frame to 256x256 and the masks back, both bilinearly,
# which smears block edges by a few pixels; compare only further inside.
MARGIN = 16
TOLERANCE = 1e-3
HAIR, CLOTHES = LABELS.index("hair"), LABELS.index("clothes")
# Red and yellow are neighbouring cube corners: their midpoint is nearly equidistant
# from both and far from the rest, so it splits ~50/50 between hair and clothes.
BLEND = ((COLOURS[HAIR].astype(np.int32) + COLOURS[CLOTHES]) // 2).astype(np.uint8)


def _cells() -> list[tuple[slice, slice]]:
    """Interior of each block of the ROWS x COLS grid, row-major."""
    h, w = HEIGHT // ROWS, WIDTH // COLS
    return [
        (slice(r * h + MARGIN, (r + 1) * h - MARGIN), slice(c * w + MARGIN, (c + 1) * w - MARGIN))
        for r in range(ROWS)
        for c in range(COLS)
    ]


def _frame() -> np.ndarray:
    """Blocks 0-5 in the six class colours, block 6 the hair/clothes blend, block 7 background."""
    colours = [*COLOURS, BLEND, COLOURS[0]]
    h, w = HEIGHT // ROWS, WIDTH // COLS
    rgb = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
    for i, colour in enumerate(colours):
        r, c = divmod(i, COLS)
        rgb[r * h : (r + 1) * h, c * w : (c + 1) * w] = colour
    return rgb


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return build_standin_model(tmp_path_factory.mktemp("standin") / "standin_multiclass.tflite")


def _options(model_path: pathlib.Path, mode: VisionTaskRunningMode) -> image_segmenter.ImageSegmenterOptions:
    return image_segmenter.ImageSegmenterOptions(
        base_options=BaseOptions(model_asset_path=str(model_path)),
        running_mode=mode,
        output_confidence_masks=True,
        output_category_mask=True,
    )


def _to_arrays(result: image_segmenter.ImageSegmenterResult) -> tuple[np.ndarray, np.ndarray]:
    """(HxWx6 confidences, HxW categories), copied out of MediaPipe's buffers."""
    assert result.confidence_masks is not None and result.category_mask is not None
    # Masks come back HxWx1; reshape drops the channel axis.
    confidences = np.stack(
        [np.array(m.numpy_view()).reshape(HEIGHT, WIDTH) for m in result.confidence_masks], axis=-1
    )
    categories = np.array(result.category_mask.numpy_view()).reshape(HEIGHT, WIDTH)
    return confidences, categories


def _check(confidences: np.ndarray, categories: np.ndarray, rgb: np.ndarray) -> None:
    assert confidences.shape == (HEIGHT, WIDTH, len(LABELS))
    assert confidences.dtype == np.float32
    expected = expected_confidences(rgb)
    cells = _cells()
    for cls, (ys, xs) in enumerate(cells[: len(LABELS)]):
        assert (confidences[ys, xs].argmax(axis=-1) == cls).all(), LABELS[cls]
        assert (categories[ys, xs] == cls).all(), LABELS[cls]
        assert (confidences[ys, xs, cls] > 0.99).all(), LABELS[cls]
    for ys, xs in cells:
        np.testing.assert_allclose(confidences[ys, xs], expected[ys, xs], rtol=0, atol=TOLERANCE)

    # The blend splits between its two classes: clearly intermediate values, so
    # a threshold between them and the pure-colour value is meaningful.
    ys, xs = cells[len(LABELS)]
    for cls in (HAIR, CLOTHES):
        assert (confidences[ys, xs, cls] > 0.4).all() and (confidences[ys, xs, cls] < 0.6).all()
    assert (confidences[ys, xs, [HAIR, CLOTHES]].sum(axis=-1) > 0.99).all()


def test_reference_confidences() -> None:
    pure = expected_confidences(COLOURS.reshape(1, len(LABELS), 3))[0]
    assert (pure.argmax(axis=-1) == np.arange(len(LABELS))).all()
    assert (pure.diagonal() > 0.99).all()
    np.testing.assert_allclose(pure.sum(axis=-1), 1.0, atol=1e-6)

    blend = expected_confidences(BLEND.reshape(1, 1, 3))[0, 0]
    # Integer rounding puts the blend a hair closer to red, so hair edges ahead;
    # the ratio of the two is exp(SHARPNESS * (d_clothes - d_hair)).
    x = BLEND / 255.0
    d_hair, d_clothes = (((x - COLOURS[k] / 255.0) ** 2).sum() for k in (HAIR, CLOTHES))
    assert blend[HAIR] / blend[CLOTHES] == pytest.approx(np.exp(SHARPNESS * (d_clothes - d_hair)), rel=1e-5)
    assert 0.4 < blend[CLOTHES] < blend[HAIR] < 0.6


def test_model_file_carries_labels(model_path: pathlib.Path) -> None:
    assert model_path.read_bytes()[4:8] == b"TFL3"
    with zipfile.ZipFile(model_path) as zf:
        assert zf.read("labels.txt").decode().split() == list(LABELS)


def test_image_mode(model_path: pathlib.Path) -> None:
    rgb = _frame()
    with image_segmenter.ImageSegmenter.create_from_options(
        _options(model_path, VisionTaskRunningMode.IMAGE)
    ) as segmenter:
        assert tuple(segmenter.labels) == LABELS
        result = segmenter.segment(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        confidences, categories = _to_arrays(result)
    _check(confidences, categories, rgb)


def test_video_mode(model_path: pathlib.Path) -> None:
    rgb = _frame()
    mirrored = np.ascontiguousarray(rgb[:, ::-1])  # masks must follow the pixels from frame to frame
    with image_segmenter.ImageSegmenter.create_from_options(
        _options(model_path, VisionTaskRunningMode.VIDEO)
    ) as segmenter:
        assert tuple(segmenter.labels) == LABELS
        for i, (frame, flip) in enumerate([(rgb, False), (mirrored, True), (rgb, False)]):
            result = segmenter.segment_for_video(
                mp.Image(image_format=mp.ImageFormat.SRGB, data=frame), timestamp_ms=i * 33
            )
            confidences, categories = _to_arrays(result)
            if flip:  # the grid is symmetric, so mirroring back lines up the same cells
                confidences, categories = confidences[:, ::-1], categories[:, ::-1]
            _check(confidences, categories, rgb)
