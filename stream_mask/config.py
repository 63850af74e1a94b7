"""The settings of one run, validated once, then passed one way through the pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import StreamMaskError

CONFIDENCE_MIN, CONFIDENCE_MAX = 0.01, 1.0  # the original node's range
DEFAULT_CONFIDENCE = 0.40
DEFAULT_MODEL = "multiclass"

KINDS = ("mask", "alpha", "composite", "overlay", "labels")
ALPHA_EXTENSIONS = (".mov", ".webm")  # containers people use for video with transparency
PART_FIELD = "{part}"  # in an output path: one output per selected part


@dataclass(frozen=True)
class OutputSpec:
    """One thing a run writes. Several can share one pass of the model."""

    path: str
    kind: str | None = None  # None: chosen from the path (see `resolved_kind`)
    parts: tuple[str, ...] | None = None  # None: the model's default parts; (): nothing (all black)
    soft: bool = False  # grey levels from the confidence instead of 0/255 (see masks.soft_mask)
    effect: str | None = None  # composite: blur[:S], color:#rrggbb, image:PATH, video:PATH, desaturate
    invert: bool = False  # composite: apply the effect to the selected parts instead of the rest

    def resolved_kind(self) -> str:
        """--kind if given; else composite when an effect is given, alpha for .mov/.webm, else mask."""
        if self.kind is not None:
            return self.kind
        if self.effect is not None:
            return "composite"
        return "alpha" if Path(self.path).suffix.lower() in ALPHA_EXTENSIONS else "mask"

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in KINDS:
            raise StreamMaskError(f"unknown output kind {self.kind!r}: use {', '.join(KINDS)}")
        if self.effect is not None and self.resolved_kind() != "composite":
            raise StreamMaskError(f"--effect needs --kind composite, not {self.resolved_kind()} ({self.path})")
        if self.invert and self.resolved_kind() != "composite":
            raise StreamMaskError(f"--invert applies to composites only ({self.path})")


@dataclass(frozen=True)
class RunConfig:
    """What `stream-mask run` was asked to do."""

    input: str
    outputs: tuple[OutputSpec, ...]
    confidence: float = DEFAULT_CONFIDENCE
    model: str = DEFAULT_MODEL  # registry name or path to a .tflite
    model_dir: str | None = None
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        check_confidence(self.confidence)
        if not self.outputs:
            raise StreamMaskError("no output: give -o OUTPUT")


def check_confidence(value: float) -> float:
    """The threshold must lie in [0.01, 1.0]; anything else is a user error."""
    if not CONFIDENCE_MIN <= value <= CONFIDENCE_MAX:
        raise StreamMaskError(f"confidence must be between {CONFIDENCE_MIN} and {CONFIDENCE_MAX}, got {value}")
    return value


def parse_parts(text: str) -> tuple[str, ...]:
    """`face,hair` -> ('face', 'hair'); `none` or an empty string selects nothing."""
    names = tuple(name.strip().lower() for name in text.split(",") if name.strip())
    return () if names == ("none",) else names
