"""Part names a user can ask for, mapped to a model's output channels.

Parts are chosen by the model's labels, not its file: any model labelled like the multiclass model
(`background, hair, body-skin, face-skin, clothes, others`; e.g. a re-export or fine-tune) offers
`background, hair, body, face, clothes, others`, plus `person` for everything but background. A model
labelled like the selfie model (one channel, `selfie`) offers `person` and its complement `background`.
Any other segmentation model offers its own labels as part names.

Whatever the model, the face-landmark parts (`LANDMARK_PARTS`, drawn by landmarks.FaceParts) can be
asked for too, alone or mixed with the segmenter's parts; a segmenter label of the same name wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import StreamMaskError


@dataclass(frozen=True)
class Part:
    """A maskable part: one output channel of the model, or its complement (`inverted`)."""

    name: str
    channel: int
    inverted: bool = False
    landmark: bool = False  # a face-landmark part: its plane follows the segmenter's (see planes.PartModels)

    def confidence(self, planes: Sequence[np.ndarray]) -> np.ndarray:
        """This part's confidence plane, from the model's planes for one frame."""
        plane = planes[self.channel]
        return 1.0 - plane if self.inverted else plane


# Face-landmark parts, in the order of their planes after the segmenter's (see landmarks.py).
LANDMARK_PARTS = ("face_oval", "left_eye", "right_eye", "left_eyebrow", "right_eyebrow", "left_iris", "right_iris",
                  "lips", "mouth")

_MULTICLASS = (
    Part("background", 0),
    Part("hair", 1),
    Part("body", 2),
    Part("face", 3),
    Part("clothes", 4),
    Part("others", 5),
    Part("person", 0, inverted=True),
)
_SELFIE = (Part("person", 0), Part("background", 0, inverted=True))

# A model's labels -> (its parts, the parts used when --parts is not given).
KNOWN_PARTS: dict[tuple[str, ...], tuple[tuple[Part, ...], tuple[str, ...]]] = {
    ("background", "hair", "body-skin", "face-skin", "clothes", "others"): (_MULTICLASS, ("face",)),  # as the original node
    ("selfie",): (_SELFIE, ("person",)),
}


def _known(labels: Sequence[str]) -> tuple[tuple[Part, ...], tuple[str, ...]] | None:
    return KNOWN_PARTS.get(tuple(label.lower() for label in labels))


def available_parts(labels: Sequence[str]) -> dict[str, Part]:
    """Part name -> Part for a model with these output labels."""
    known = _known(labels)
    if known:
        return {part.name: part for part in known[0]}
    return {label.lower(): Part(label.lower(), index) for index, label in enumerate(labels)}


def default_parts(labels: Sequence[str]) -> tuple[str, ...]:
    """What a run masks when the user names no part."""
    known = _known(labels)
    if known:
        return known[1]
    foreground = [label.lower() for label in labels if label.lower() != "background"]
    if len(foreground) == 1:
        return (foreground[0],)
    raise StreamMaskError(f"this model has several parts ({', '.join(available_parts(labels))}): choose with --parts")


def landmark_parts(labels: Sequence[str]) -> dict[str, Part]:
    """Part name -> Part for the face-landmark parts, whose planes follow the `labels` planes."""
    return {name: Part(name, len(labels) + index, landmark=True) for index, name in enumerate(LANDMARK_PARTS)}


def landmark_names(names: Iterable[str] | None) -> tuple[str, ...]:
    """The face-landmark parts among `names` (any case), each once, in LANDMARK_PARTS order.

    The one answer to "which parts does the face landmarker draw": everything else asks here.
    """
    asked = {name.lower() for name in names or ()}
    return tuple(name for name in LANDMARK_PARTS if name in asked)


def is_landmark_only(names: Sequence[str] | None) -> bool:
    """True if `names` are all face-landmark parts (and at least one): no segmenter is needed for them."""
    asked = {name.lower() for name in names or ()}
    return bool(asked) and len(landmark_names(asked)) == len(asked)


def resolve_parts(names: Sequence[str] | None, labels: Sequence[str], model_name: str = "this model",
                  landmarks: bool = True) -> list[Part]:
    """Turn part names into Parts for a model with these labels; None means the model's default parts.

    An empty list is allowed and gives an all-black mask, as in the original node. With `landmarks`,
    the face-landmark parts are offered too (after the model's own; the model's win on a clash).
    """
    parts = available_parts(labels)
    if landmarks:
        for name, part in landmark_parts(labels).items():
            parts.setdefault(name, part)
    chosen = default_parts(labels) if names is None else names
    unknown = [name for name in chosen if name.lower() not in parts]
    if unknown:
        raise StreamMaskError(f"unknown part {unknown[0]!r} for the {model_name!r} model: use {', '.join(parts)}")
    resolved: list[Part] = []
    for name in chosen:
        part = parts[name.lower()]
        if part not in resolved:
            resolved.append(part)
    return resolved


def person_part(labels: Sequence[str]) -> Part | None:
    """Everything but background, for models that have it (used to find people, e.g. to refine)."""
    known = available_parts(labels)
    if "person" in known:
        return known["person"]
    if "background" in known:
        return Part("person", known["background"].channel, inverted=True)
    return None
