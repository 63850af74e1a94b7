"""The ComfyUI nodes: the original node pack's two nodes with their exact interfaces, on our library.

- `APersonMaskGenerator`: the union of the chosen multiclass parts' confidences `> confidence`, and the
  original's refine_mask (one more pass on the mask's bounding box padded by 20%, pasted back).
- `APersonFaceLandmarkMaskGenerator`: filled face-landmark polygons (landmarks.FaceParts); `face` on is the
  face oval alone, pupils are the iris polygons; an image with no face gives an empty mask.

Class names, inputs (names, defaults, ranges, labels), RETURN_TYPES/RETURN_NAMES, FUNCTION and CATEGORY are the
original's, so saved workflows load unchanged; the one addition, `model`, comes last. IMAGE inputs are BxHxWx3
float tensors in 0..1, MASK outputs BxHxW float32 tensors of 0.0/1.0. torch is ComfyUI's own and is imported only
inside the node functions; ComfyUI itself is never imported: its `folder_paths` module is read only when ComfyUI
has loaded it, to find models/mediapipe/.
"""

from __future__ import annotations

import atexit
import sys
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..api import MaskGenerator, _as_uint8_batch, parts_from_flags
from ..config import (CONFIDENCE_MAX, CONFIDENCE_MIN, DEFAULT_CONFIDENCE, DEFAULT_FACES, DEFAULT_MODEL,
                      DEFAULT_REFINE_PASSES, DEFAULT_SMOOTHING, Finish)
from ..errors import StreamMaskError
from ..masker import VideoMasker
from ..models import REGISTRY, resolve_model
from ..outputs import open_effect
from ..parts import available_parts
from ..planes import LANDMARKER_MODEL
from ..runtime import FACE_LANDMARKER, SEGMENTER, open_runtime

CATEGORY = "A Person Mask Generator - David Bielejeski"  # the original's: its menu and saved workflows
MODEL_FOLDER = "mediapipe"  # ComfyUI's models/mediapipe/, where the original node kept its model
MAX_FACES = 10  # the original's number_of_faces range
KEPT_OPEN = 4  # models kept open at once (one per model file / face settings); the oldest is closed first

# Face-landmark node toggle -> our face-landmark part (face: the face oval; pupils: the iris polygons).
FACE_TOGGLES = {"left_eyebrow": "left_eyebrow", "right_eyebrow": "right_eyebrow", "left_eye": "left_eye",
                "right_eye": "right_eye", "left_pupil": "left_iris", "right_pupil": "right_iris", "lips": "lips"}


def _toggle(default: bool) -> tuple[str, dict[str, Any]]:
    return "BOOLEAN", {"default": default, "label_on": "enabled", "label_off": "disabled"}


def _confidence(tooltip: str) -> tuple[str, dict[str, Any]]:
    return "FLOAT", {"default": DEFAULT_CONFIDENCE, "min": CONFIDENCE_MIN, "max": CONFIDENCE_MAX, "step": 0.01,
                     "tooltip": tooltip}


def _part_toggles() -> dict[str, tuple[str, dict[str, Any]]]:
    """The original node's part toggles, in its order (face on)."""
    return {"face_mask": _toggle(True), "background_mask": _toggle(False), "hair_mask": _toggle(False),
            "body_mask": _toggle(False), "clothes_mask": _toggle(False)}


def _model_input() -> tuple[list[str], dict[str, Any]]:
    return model_choices(), {"default": DEFAULT_MODEL, "tooltip": "multiclass: 6 classes; selfie: person/background "
                             "only (fast; every part but background is the whole person); or a .tflite file put in "
                             "models/mediapipe/"}


# --- models: found where ComfyUI keeps them, kept open between runs ----------------------------------------


def comfy_model_dir() -> Path | None:
    """ComfyUI's models/mediapipe/ when ComfyUI is running and the folder exists; models are looked up there
    first, then as everywhere else (models.resolve_model: $STREAM_MASK_MODEL_DIR, the cache, a download)."""
    folder_paths = sys.modules.get("folder_paths")  # ComfyUI's own module, present only inside ComfyUI
    if folder_paths is None:
        return None
    folder = Path(folder_paths.models_dir) / MODEL_FOLDER
    return folder if folder.is_dir() else None


def model_choices() -> list[str]:
    """The `model` input's list: the official segmenters (multiclass first), then any other .tflite file in
    models/mediapipe/ by its name (a model of one's own). Read each time ComfyUI asks, so a new file shows up
    after a refresh."""
    names = [DEFAULT_MODEL, *(name for name, info in REGISTRY.items() if info.kind == SEGMENTER and name != DEFAULT_MODEL)]
    folder = comfy_model_dir()
    official = {info.filename for info in REGISTRY.values()}
    if folder is not None:
        names += sorted(path.name for path in folder.glob("*.tflite") if path.name not in official)
    return names


_open: OrderedDict[tuple[Any, ...], Any] = OrderedDict()


def _kept_open(key: tuple[Any, ...], opener: Callable[[], Any]) -> Any:
    """The model for `key`, opened on first use and kept open for the next runs of a workflow (the original node
    re-read its model file on every call); at most KEPT_OPEN at once."""
    if key in _open:
        _open.move_to_end(key)
        return _open[key]
    model = opener()
    _open[key] = model
    while len(_open) > KEPT_OPEN:
        _open.popitem(last=False)[1].close()
    return model


@atexit.register
def close_models() -> None:
    """Close every model kept open (MediaPipe tasks left open complain at exit)."""
    while _open:
        _open.popitem()[1].close()


def _segmenter(model: str) -> MaskGenerator:
    folder = comfy_model_dir()
    spec = model if model in REGISTRY or folder is None else str(folder / model)  # a file listed from the folder
    return _kept_open(("segmenter", spec, folder), lambda: MaskGenerator(spec, folder))


def _face_parts(faces: int, confidence: float) -> Any:
    """landmarks.FaceParts in IMAGE mode; `confidence` is its face detection confidence (as the original's)."""
    folder = comfy_model_dir()
    return _kept_open(("faces", folder, faces, confidence),
                      lambda: open_runtime(resolve_model(LANDMARKER_MODEL, folder), FACE_LANDMARKER, video=False,
                                           num_faces=faces, min_confidence=confidence))


# --- tensors --------------------------------------------------------------------------------------------


def _images(images: Any) -> np.ndarray:
    """A ComfyUI IMAGE (torch BxHxWxC float 0..1, on any device) as a numpy array, without importing torch."""
    return images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)


def _masks(batch: np.ndarray) -> Any:
    """BxHxW 0.0/1.0 float32 -> a ComfyUI MASK (torch tensor)."""
    import torch  # ComfyUI's own; the package does not depend on it

    return torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))


def _image(batch: np.ndarray) -> Any:
    """BxHxWx3 uint8 -> a ComfyUI IMAGE (torch float 0..1)."""
    import torch

    return torch.from_numpy(batch.astype(np.float32) / np.float32(255))


# --- the nodes ------------------------------------------------------------------------------------------


def segmenter_parts(flags: Sequence[str], labels: Sequence[str]) -> tuple[str, ...]:
    """The node's part toggles as the model's part names. A model that tells only a person from the background
    (selfie) has no face, hair, body or clothes: each of them is then the whole person."""
    offered = available_parts(labels)
    if all(name in offered for name in flags) or "person" not in offered:
        return tuple(flags)  # a part the model lacks: resolve_parts names the ones it has
    return tuple(dict.fromkeys(name if name == "background" else "person" for name in flags))


class APersonMaskGenerator:
    """Masks of the chosen parts (face, background, hair, body skin, clothes) for each image of a batch."""

    CATEGORY = CATEGORY
    RETURN_TYPES = ("MASK",)
    RETURN_NAMES = ("masks",)
    FUNCTION = "generate_mask"
    DESCRIPTION = "Masks of the chosen parts of the people in each image (MediaPipe's 6-class selfie segmenter)."

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, dict[str, Any]]:
        return {
            "required": {"images": ("IMAGE",)},
            "optional": {
                **_part_toggles(),
                "confidence": _confidence("a pixel is in the mask when a chosen part's confidence is above this"),
                "refine_mask": _toggle(True),
                "model": _model_input(),
            },
        }

    def generate_mask(self, images: Any, face_mask: bool = True, background_mask: bool = False,
                      hair_mask: bool = False, body_mask: bool = False, clothes_mask: bool = False,
                      confidence: float = DEFAULT_CONFIDENCE, refine_mask: bool = True,
                      model: str = DEFAULT_MODEL) -> tuple[Any]:
        batch = _images(images)
        flags = parts_from_flags(face_mask, background_mask, hair_mask, body_mask, clothes_mask)
        out = np.zeros(batch.shape[:3], dtype=np.float32)
        if not flags:
            return (_masks(out),)  # all black, as in the original; no model needed
        generator = _segmenter(model)
        out = generator(batch, segmenter_parts(flags, generator.labels), confidence, refine=refine_mask)
        return (_masks(out),)


class APersonFaceLandmarkMaskGenerator:
    """Masks of face features (face oval, eyebrows, eyes, pupils, lips) from MediaPipe's face landmarker."""

    CATEGORY = CATEGORY
    RETURN_TYPES = ("MASK",)
    RETURN_NAMES = ("masks",)
    FUNCTION = "generate_mask"
    DESCRIPTION = ("Masks of face features from MediaPipe's face landmarker; 'face' is the whole face oval (the "
                   "other toggles are then ignored). Left and right are the person's own.")

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, dict[str, Any]]:
        return {
            "required": {"images": ("IMAGE",)},
            "optional": {
                "face": _toggle(False),
                "left_eyebrow": _toggle(False),
                "right_eyebrow": _toggle(False),
                "left_eye": _toggle(True),
                "right_eye": _toggle(True),
                "left_pupil": _toggle(True),
                "right_pupil": _toggle(True),
                "lips": _toggle(True),
                "number_of_faces": ("INT", {"default": DEFAULT_FACES, "min": 1, "max": MAX_FACES, "step": 1}),
                "confidence": _confidence("face detection confidence: a face less certain than this is not masked"),
            },
        }

    def generate_mask(self, images: Any, face: bool = False, left_eyebrow: bool = False, right_eyebrow: bool = False,
                      left_eye: bool = True, right_eye: bool = True, left_pupil: bool = True,
                      right_pupil: bool = True, lips: bool = True, number_of_faces: int = DEFAULT_FACES,
                      confidence: float = DEFAULT_CONFIDENCE) -> tuple[Any]:
        toggles = {"left_eyebrow": left_eyebrow, "right_eyebrow": right_eyebrow, "left_eye": left_eye,
                   "right_eye": right_eye, "left_pupil": left_pupil, "right_pupil": right_pupil, "lips": lips}
        names = ["face_oval"] if face else [FACE_TOGGLES[toggle] for toggle, on in toggles.items() if on]
        batch = _as_uint8_batch(_images(images))
        out = np.zeros(batch.shape[:3], dtype=np.float32)
        if names:
            faces = _face_parts(number_of_faces, confidence)
            for index, rgb in enumerate(batch):  # no face found: every plane is empty
                out[index] = np.maximum.reduce(list(faces.masks(rgb, names=names).values()))
        return (_masks(out),)


class PersonMaskVideo:
    """The IMAGE batch as consecutive frames of one clip: MediaPipe's VIDEO mode with timestamps at `fps`, the
    command's temporal smoothing and tracked refine passes (what still images cannot have), the edge options, and a
    composite preview. Each batch is a clip of its own (smoothing and tracked crops start again) on models kept
    open between runs."""

    CATEGORY = CATEGORY
    RETURN_TYPES = ("MASK", "IMAGE")
    RETURN_NAMES = ("masks", "composite")
    FUNCTION = "generate_video_masks"
    DESCRIPTION = ("Masks of the chosen parts for a batch of consecutive video frames: temporal smoothing and "
                   "tracked refine passes make them steadier than the per-image node's; also a composite preview.")

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, dict[str, Any]]:
        finish = Finish()
        def pixels(default: int, tooltip: str) -> tuple[str, dict[str, Any]]:
            return "INT", {"default": default, "min": 0, "max": 4096, "step": 1, "tooltip": tooltip}

        return {
            "required": {
                "images": ("IMAGE",),
                "fps": ("FLOAT", {"default": 24.0, "min": 1.0, "max": 240.0, "step": 0.001,
                                  "tooltip": "the frame rate of the batch: timestamps for the video model"}),
            },
            "optional": {
                **_part_toggles(),
                "others_mask": _toggle(False),
                "confidence": _confidence("a pixel is in the mask when a chosen part's confidence is above this"),
                "refine": ("INT", {"default": DEFAULT_REFINE_PASSES, "min": 0, "max": 4, "step": 1,
                                   "tooltip": "passes on a crop around each person, followed from frame to frame"}),
                "smooth": ("FLOAT", {"default": DEFAULT_SMOOTHING, "min": 0.0, "max": 0.99, "step": 0.01,
                                     "tooltip": "temporal smoothing strength (0: off, the exact per-frame rule)"}),
                "soft": _toggle(False),
                "guided_edges": _toggle(finish.guided),
                "min_island": pixels(finish.min_island, "remove specks smaller than this many pixels"),
                "fill_holes": pixels(finish.fill_holes, "fill enclosed holes up to this many pixels"),
                "shrink": pixels(finish.shrink, "erode the mask by this many pixels"),
                "grow": pixels(finish.grow, "dilate the mask by this many pixels"),
                "feather": pixels(finish.feather, "soft edge about this many pixels wide"),
                "effect": ("STRING", {"default": "blur", "tooltip": "the composite's effect outside the parts: "
                                      "blur[:STRENGTH], color:#00ff00, desaturate, image:PATH"}),
                "model": _model_input(),
                # last, so that workflows saved before it load with their values in place
                "subjects": ("INT", {"default": 0, "min": 0, "max": 16, "step": 1,
                                     "tooltip": "keep only this many main people (the largest, most central), each "
                                                "followed from frame to frame; 0: everyone"}),
            },
        }

    def generate_video_masks(self, images: Any, fps: float, face_mask: bool = True, background_mask: bool = False,
                             hair_mask: bool = False, body_mask: bool = False, clothes_mask: bool = False,
                             others_mask: bool = False, confidence: float = DEFAULT_CONFIDENCE,
                             refine: int = DEFAULT_REFINE_PASSES, smooth: float = DEFAULT_SMOOTHING,
                             soft: bool = False, guided_edges: bool = False, min_island: int = 0,
                             fill_holes: int = 0, shrink: int = 0, grow: int = 0, feather: int = 0,
                             effect: str = "blur", model: str = DEFAULT_MODEL, subjects: int = 0) -> tuple[Any, Any]:
        batch = _as_uint8_batch(_images(images))
        flags = [*parts_from_flags(face_mask, background_mask, hair_mask, body_mask, clothes_mask),
                 *(["others"] if others_mask else [])]
        finish = Finish(guided=guided_edges, min_island=min_island, fill_holes=fill_holes, shrink=shrink, grow=grow,
                        feather=feather)
        folder = comfy_model_dir()
        spec = model if model in REGISTRY or folder is None else str(folder / model)
        look = open_effect(effect)
        if look.kind == "video":
            raise StreamMaskError("the video node's composite takes blur, color, desaturate or image effects")
        masks_out = np.zeros(batch.shape[:3], dtype=np.float32)
        composites = np.empty(batch.shape, dtype=np.uint8)
        masker = _kept_open(("video", spec, folder, confidence, smooth, refine, finish, soft, subjects),
                            lambda: VideoMasker(spec, (), confidence=confidence, smooth=smooth, refine=refine,
                                                finish=finish, soft=soft, subjects=subjects, model_dir=folder))
        masker.restart()  # a new clip on the open models; its timestamps go on a second after the last clip's
        start = 0.0 if masker.last_timestamp_ms is None else masker.last_timestamp_ms + 1000.0
        parts = segmenter_parts(flags, masker.classes) if flags else ()
        for index, rgb in enumerate(batch):
            masks_out[index] = masker.matte(rgb, start + index * 1000.0 / fps, parts) / np.float32(255)
            composites[index] = look.apply(rgb, masks_out[index])  # this frame's matte as its alpha
        return _masks(masks_out), _image(composites)


NODE_CLASS_MAPPINGS = {
    "APersonMaskGenerator": APersonMaskGenerator,
    "APersonFaceLandmarkMaskGenerator": APersonFaceLandmarkMaskGenerator,
    "PersonMaskVideo": PersonMaskVideo,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "APersonMaskGenerator": "A Person Mask Generator",
    "APersonFaceLandmarkMaskGenerator": "A Person Face Landmark Mask Generator",
    "PersonMaskVideo": "Person Mask (video)",
}
