"""Library API for still-image batches, with the meaning of the original "A Person Mask Generator" node.

    from stream_mask.api import generate_masks, parts_from_flags
    masks = generate_masks(images, parts_from_flags(face_mask=True, hair_mask=True), confidence=0.4)

`images` is NxHxWx3 (float 0..1 or uint8, RGB); the result is NxHxW float32 holding 0.0 or 1.0: the
union of the chosen parts' confidence masks, each thresholded with `> confidence`. No part chosen
gives all-black masks. Each image is segmented on its own (MediaPipe IMAGE mode).

The face-landmark parts (`face_oval, left_eye, right_eye, left_eyebrow, right_eyebrow, left_iris,
right_iris, lips, mouth`; see landmarks.py) can be asked for with any model, alone or with the model's
parts (union); `faces` caps the faces masked per image. Asking only for them loads no segmentation model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from . import masks
from .config import DEFAULT_CONFIDENCE, DEFAULT_FACES, DEFAULT_MODEL, REFINE_PAD, check_confidence
from .errors import StreamMaskError
from .parts import Part, resolve_parts
from .planes import Closing, ModelChoice, PlaneMaker, needs_segmenter


def parts_from_flags(
    face_mask: bool = True,
    background_mask: bool = False,
    hair_mask: bool = False,
    body_mask: bool = False,
    clothes_mask: bool = False,
) -> tuple[str, ...]:
    """The original node's booleans as part names for the multiclass model (face on by default)."""
    flags = {"face": face_mask, "background": background_mask, "hair": hair_mask, "body": body_mask, "clothes": clothes_mask}
    return tuple(name for name, wanted in flags.items() if wanted)


class MaskGenerator(Closing):
    """A segmentation model kept open across batches; close it (or use `with`) when done."""

    def __init__(self, model: str = DEFAULT_MODEL, model_dir: str | os.PathLike | None = None, faces: int = DEFAULT_FACES,
                 segment: bool = True) -> None:
        """`faces`: at most this many faces for the face-landmark parts. `segment=False`: no segmentation
        model at all, only the face-landmark parts (then `model` is the face landmarker)."""
        if faces < 1:
            raise StreamMaskError(f"faces must be 1 or more, got {faces}")
        choice = ModelChoice.resolve(model, model_dir, segment)  # the face landmarker: when a call asks for it
        self.model = choice.model
        self._models = choice.open(video=False, faces=faces)  # the same wiring as a run's, in IMAGE mode
        self._maker = PlaneMaker(self._models)

    @property
    def labels(self) -> list[str]:
        return self._models.labels

    def __call__(self, images: np.ndarray | Sequence[np.ndarray], parts: Sequence[str] | None = None,
                 confidence: float = DEFAULT_CONFIDENCE, soft: bool = False, refine: bool = False) -> np.ndarray:
        """NxHxWx3 images -> NxHxW float32 masks of 0.0/1.0 (see the module docstring).

        `soft=True` gives the combined confidence (in 1/255 steps) where it is `> confidence`, else 0.
        `refine=True` is the original node's refine_mask: the mask made again from a second pass on its own
        bounding box padded by 20% (clamped to the image), pasted into an empty mask.
        """
        check_confidence(confidence)
        chosen = resolve_parts(parts, self.labels, self.model.name)
        batch = _as_uint8_batch(images)
        self._models.ask(part.name for part in chosen if part.landmark)  # a segmenter label of the same name wins
        out = np.zeros(batch.shape[:3], dtype=np.float32)
        for index, rgb in enumerate(batch):
            if not chosen:
                continue  # all black, as in the original node; no need to run the model
            out[index] = self._mask(rgb, chosen, confidence, soft)
            if refine:
                out[index] = self._refined(rgb, out[index], chosen, confidence, soft)
        return out

    def _mask(self, rgb: np.ndarray, chosen: Sequence[Part], confidence: float, soft: bool) -> np.ndarray:
        planes = self._maker.segment(rgb)
        if soft:
            selected = [part.confidence(planes) for part in chosen]
            return masks.soft_mask(selected, confidence, rgb.shape[:2]) / np.float32(255)
        mask = masks.binary_mask([planes[part.channel] for part in chosen], confidence, rgb.shape[:2],
                                 [part.inverted for part in chosen])
        return (mask > 0).astype(np.float32)

    def _refined(self, rgb: np.ndarray, mask: np.ndarray, chosen: Sequence[Part], confidence: float,
                 soft: bool) -> np.ndarray:
        """The original node's refine_mask (the command's --refine instead crops around each person and follows
        them from frame to frame: planes.Refiner)."""
        box = masks.padded_box(mask > 0, REFINE_PAD)
        if box is None:
            return mask
        x0, y0, x1, y1 = box
        refined = np.zeros_like(mask)
        refined[y0:y1, x0:x1] = self._mask(np.ascontiguousarray(rgb[y0:y1, x0:x1]), chosen, confidence, soft)
        return refined

    def close(self) -> None:
        try:
            self._maker.close()
        finally:
            self._models.close()


def generate_masks(
    images: np.ndarray | Sequence[np.ndarray],
    parts: Sequence[str] | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    model: str = DEFAULT_MODEL,
    model_dir: str | os.PathLike | None = None,
    soft: bool = False,
    refine: bool = False,
    faces: int = DEFAULT_FACES,
) -> np.ndarray:
    """One-shot form of `MaskGenerator`: opens the model, masks the batch, closes the model.

    Only face-landmark parts (and no refine): the segmentation model is not loaded at all."""
    with MaskGenerator(model, model_dir, faces=faces, segment=needs_segmenter([parts], refine)) as generator:
        return generator(images, parts, confidence, soft, refine)


def _as_uint8_batch(images: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Accept NxHxWx3 (or x4, alpha ignored) uint8 or float 0..1; return contiguous NxHxWx3 uint8 RGB."""
    batch = np.asarray(images)
    if batch.ndim != 4 or batch.shape[3] not in (3, 4):
        raise StreamMaskError(f"images must be an NxHxWx3 array, got shape {batch.shape}")
    batch = batch[..., :3]
    if batch.dtype != np.uint8:
        batch = np.clip(np.rint(batch.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(batch)
