"""Library API for still-image batches, with the meaning of the original "A Person Mask Generator" node.

    from stream_mask.api import generate_masks, parts_from_flags
    masks = generate_masks(images, parts_from_flags(face_mask=True, hair_mask=True), confidence=0.4)

`images` is NxHxWx3 (float 0..1 or uint8, RGB); the result is NxHxW float32 holding 0.0 or 1.0: the
union of the chosen parts' confidence masks, each thresholded with `> confidence`. No part chosen
gives all-black masks. Each image is segmented on its own (MediaPipe IMAGE mode).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from . import masks
from .config import DEFAULT_CONFIDENCE, DEFAULT_MODEL, check_confidence
from .errors import StreamMaskError
from .models import resolve_model
from .parts import person_part, resolve_parts
from .segmenter import Refiner, Segmenter


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


class MaskGenerator:
    """A segmentation model kept open across batches; close it (or use `with`) when done."""

    def __init__(self, model: str = DEFAULT_MODEL, model_dir: str | os.PathLike | None = None) -> None:
        self.model = resolve_model(model, model_dir)
        self._segmenter = Segmenter(self.model.path, video=False)
        self._refiner: Refiner | None = None  # opened on the first refine=True call

    @property
    def labels(self) -> list[str]:
        return self._segmenter.labels

    def __call__(self, images: np.ndarray | Sequence[np.ndarray], parts: Sequence[str] | None = None,
                 confidence: float = DEFAULT_CONFIDENCE, soft: bool = False, refine: bool = False) -> np.ndarray:
        """NxHxWx3 images -> NxHxW float32 masks of 0.0/1.0 (see the module docstring).

        `soft=True` gives the combined confidence (in 1/255 steps) where it is `> confidence`, else 0.
        `refine=True` is the original node's refine_mask: a second pass on a crop around the person(s)
        (their bounding box padded by 20%), pasted back.
        """
        check_confidence(confidence)
        chosen = resolve_parts(parts, self._segmenter.labels, self.model.name)
        person = person_part(self._segmenter.labels) if refine else None
        if refine and person is None:
            raise StreamMaskError("refine needs a model with a person or background class")
        if refine and self._refiner is None:
            self._refiner = Refiner(self.model.path, video=False)
        batch = _as_uint8_batch(images)
        out = np.zeros(batch.shape[:3], dtype=np.float32)
        for index, rgb in enumerate(batch):
            if not chosen:
                continue  # all black, as in the original node; no need to run the model
            planes = self._segmenter.segment(rgb)
            if person is not None and self._refiner is not None:
                planes = self._refiner.refine(rgb, planes, person.confidence(planes) > confidence)
            selected = [part.confidence(planes) for part in chosen]
            if soft:
                out[index] = masks.soft_mask(selected, confidence, rgb.shape[:2]) / np.float32(255)
            else:
                out[index] = masks.binary_mask(selected, confidence, rgb.shape[:2]) > 0
        return out

    def close(self) -> None:
        self._segmenter.close()
        if self._refiner is not None:
            self._refiner.close()

    def __enter__(self) -> MaskGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def generate_masks(
    images: np.ndarray | Sequence[np.ndarray],
    parts: Sequence[str] | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    model: str = DEFAULT_MODEL,
    model_dir: str | os.PathLike | None = None,
    soft: bool = False,
    refine: bool = False,
) -> np.ndarray:
    """One-shot form of `MaskGenerator`: opens the model, masks the batch, closes the model."""
    with MaskGenerator(model, model_dir) as generator:
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
