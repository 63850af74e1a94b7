"""Part names a user can ask for, mapped to a model's output channels.

The multiclass model's labels are `background, hair, body-skin, face-skin, clothes, others`; users
say `background, hair, body, face, clothes, others`, plus `person` for everything but background. The
selfie model has one channel (person probability), so its `background` is the complement. Any other
segmentation model offers its own labels as part names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import StreamMaskError


@dataclass(frozen=True)
class Part:
    """A maskable part: one output channel of the model, or its complement (`inverted`)."""

    name: str
    channel: int
    inverted: bool = False

    def confidence(self, planes: Sequence[np.ndarray]) -> np.ndarray:
        """This part's confidence plane, from the model's planes for one frame."""
        plane = planes[self.channel]
        return 1.0 - plane if self.inverted else plane


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

# Registry model name -> (its parts, the parts used when --parts is not given).
KNOWN_PARTS: dict[str, tuple[tuple[Part, ...], tuple[str, ...]]] = {
    "multiclass": (_MULTICLASS, ("face",)),  # face by default, as in the original node
    "selfie": (_SELFIE, ("person",)),
}


def available_parts(model_name: str | None, labels: Sequence[str]) -> dict[str, Part]:
    """Part name -> Part for a registry model (`model_name`), or for any model from its `labels`."""
    if model_name in KNOWN_PARTS:
        return {part.name: part for part in KNOWN_PARTS[model_name][0]}
    return {label.lower(): Part(label.lower(), index) for index, label in enumerate(labels)}


def default_parts(model_name: str | None, labels: Sequence[str]) -> tuple[str, ...]:
    """What a run masks when the user names no part."""
    if model_name in KNOWN_PARTS:
        return KNOWN_PARTS[model_name][1]
    foreground = [label.lower() for label in labels if label.lower() != "background"]
    if len(foreground) == 1:
        return (foreground[0],)
    raise StreamMaskError(f"this model has several parts ({', '.join(available_parts(None, labels))}): choose with --parts")


def resolve_parts(names: Sequence[str] | None, model_name: str | None, labels: Sequence[str]) -> list[Part]:
    """Turn part names into Parts for this model; None means the model's default parts.

    An empty list is allowed and gives an all-black mask, as in the original node.
    """
    parts = available_parts(model_name, labels)
    chosen = default_parts(model_name, labels) if names is None else names
    unknown = [name for name in chosen if name.lower() not in parts]
    if unknown:
        model = model_name or "this model"
        raise StreamMaskError(f"unknown part {unknown[0]!r} for {model}: use {', '.join(parts)}")
    resolved: list[Part] = []
    for name in chosen:
        part = parts[name.lower()]
        if part not in resolved:
            resolved.append(part)
    return resolved
