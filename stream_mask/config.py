"""The settings of one run, validated once, then passed one way through the pipeline."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import StreamMaskError

CONFIDENCE_MIN, CONFIDENCE_MAX = 0.01, 1.0  # the original node's range
DEFAULT_CONFIDENCE = 0.40
DEFAULT_MODEL = "multiclass"


@dataclass(frozen=True)
class RunConfig:
    """What `stream-mask run` was asked to do."""

    input: str
    output: str
    parts: tuple[str, ...] | None = None  # None: the model's default parts; (): nothing (all black)
    confidence: float = DEFAULT_CONFIDENCE
    model: str = DEFAULT_MODEL  # registry name or path to a .tflite
    model_dir: str | None = None
    soft: bool = False  # grey levels from the confidence instead of 0/255 (see masks.soft_mask)
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        check_confidence(self.confidence)


def check_confidence(value: float) -> float:
    """The threshold must lie in [0.01, 1.0]; anything else is a user error."""
    if not CONFIDENCE_MIN <= value <= CONFIDENCE_MAX:
        raise StreamMaskError(f"confidence must be between {CONFIDENCE_MIN} and {CONFIDENCE_MAX}, got {value}")
    return value


def parse_parts(text: str) -> tuple[str, ...]:
    """`face,hair` -> ('face', 'hair'); `none` or an empty string selects nothing."""
    names = tuple(name.strip().lower() for name in text.split(",") if name.strip())
    return () if names == ("none",) else names
