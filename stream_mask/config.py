"""The settings of one run, validated once, then passed one way through the pipeline.

Every default and limit of a setting is written here once: the command line, the library and the sidecar read
them from here. settings.py is the schema that config files, presets and sidecars describe a run in."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import StreamMaskError


@dataclass(frozen=True)
class Finish:
    """Edge and shape clean-up applied to every matte (see edges.py and outputs.finished_mask); all off by default."""

    guided: bool = False  # snap the confidence's edges to the frame's edges before the threshold
    min_island: int = 0  # drop specks smaller than this many pixels
    fill_holes: int = 0  # fill enclosed holes up to this many pixels
    shrink: int = 0  # pixels
    grow: int = 0  # pixels
    feather: int = 0  # pixels of soft edge

    def __bool__(self) -> bool:
        return self != Finish()

    def __post_init__(self) -> None:
        for name in ("min_island", "fill_holes", "shrink", "grow", "feather"):
            if getattr(self, name) < 0:
                raise StreamMaskError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(self, name)}")

# H.264 video files (.mp4, .mov, colour .mkv): x264's quality (crf: lower is better and larger; 16 looks lossless)
# and speed (preset: faster is larger at the same quality). veryfast, because the slower presets make files no
# smaller at crf 16 and cost 1.5-2.4x the CPU; superfast costs ~30% less CPU for 1.5-2.4x the size, ultrafast half
# (2.5x the size): 1080p, `benchmarks/speed.py`'s clip, see the README's Speed section. Streams keep their own
# low-latency settings (sinks/network.py).
DEFAULT_H264_CRF = 16
DEFAULT_H264_PRESET = "veryfast"
H264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
H264_CRF_MAX = 51


@dataclass(frozen=True)
class H264:
    """How H.264 video files are encoded (x264's crf and preset)."""

    crf: int = DEFAULT_H264_CRF
    preset: str = DEFAULT_H264_PRESET

    def __post_init__(self) -> None:
        if not 0 <= self.crf <= H264_CRF_MAX:
            raise StreamMaskError(f"--h264-crf must be between 0 and {H264_CRF_MAX}, got {self.crf}")
        if self.preset not in H264_PRESETS:
            raise StreamMaskError(f"unknown --h264-preset {self.preset!r}: use {', '.join(H264_PRESETS)}")

    def options(self) -> dict[str, str]:
        """libx264's encoder options."""
        return {"crf": str(self.crf), "preset": self.preset}


CONFIDENCE_MIN, CONFIDENCE_MAX = 0.01, 1.0  # the original node's range
DEFAULT_CONFIDENCE = 0.40
DEFAULT_MODEL = "multiclass"
DEFAULT_SMOOTHING = 0.7  # --smooth without a strength, and every live input without --smooth
DEFAULT_REFINE_PASSES = 1  # --refine without a number
REFINE_PAD = 0.2  # a refine crop: the box grown by 20% of its size on each side (the original node's)
DEFAULT_FACES = 1  # MediaPipe's own default for num_faces
# --subjects N: a kept subject whose region is not seen for this long is released and the next main person taken
# (long enough to ride out a model missing someone for a few frames, short enough that a new subject follows soon)
SUBJECT_RELEASE_S = 1.0
ALL_SUBJECTS = 0  # --subjects all: everyone, the masks of a run without the option

# `stream-mask batch` (batch.py)
CORES_PER_RUN = 2  # a run's reader, model and writer threads keep about 2 cores busy (README "Many videos")
WORKER_RETRIES = 1  # a file whose worker process died (a crash, the OOM killer) is tried this many more times
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".mts", ".wmv", ".flv",
                    ".gif")  # what a folder given to batch is searched for

KINDS = ("mask", "alpha", "composite", "overlay", "labels")
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
        """--kind if given; else composite when an effect is given; else what the output's sink writes by default
        (a virtual camera or a stream: composite; .mov/.webm: alpha; else mask)."""
        if self.kind is not None:
            return self.kind
        if self.effect is not None:
            return "composite"
        from .sinks import default_kind  # PyAV loads only for a run: --help and `models` stay fast

        return default_kind(self.path)

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
    realtime: bool = False  # pace a file at its frame rate and drop stale frames, like a camera
    live: bool | None = None  # --live / --no-live: a network stream is live or a file; None: decided on opening it
    every: int = 1  # run the model on every Nth frame, reuse its masks in between (slow machines)
    refine: int = 0  # passes of the original node's refine_mask (a crop around the people); 0: none
    smooth: float | None = None  # temporal smoothing strength 0..1; None: on for live sources, off for files
    finish: Finish = Finish()  # edge and shape clean-up of every matte
    size: tuple[int, int] | None = None  # camera request: width, height
    fps: float | None = None  # camera request
    mirror: bool = False  # flip frames horizontally (selfie cameras)
    preview: bool = False  # show the live preview window (see preview.py)
    preview_parts: tuple[str, ...] | None = None  # what the window starts with when there is no output
    preview_effect: str | None = None
    faces: int = DEFAULT_FACES  # face-landmark parts: at most this many faces (MediaPipe's num_faces)
    subjects: int = ALL_SUBJECTS  # keep the N main people only (subjects.py); 0: everyone ("all")
    h264_crf: int = DEFAULT_H264_CRF  # H.264 video files' quality (see H264)
    h264_preset: str = DEFAULT_H264_PRESET  # and their encoding speed

    def __post_init__(self) -> None:
        check_model_settings(self.confidence, self.smooth, self.refine, self.every, self.faces)
        check_subjects(self.subjects)
        self.h264()
        if self.live is False and self.realtime:
            raise StreamMaskError("--realtime plays the input as live: it cannot go with --no-live")
        if not self.outputs and not self.preview:
            raise StreamMaskError("no output: give -o OUTPUT or --preview")

    def h264(self) -> H264:
        """How this run's H.264 video files are encoded."""
        return H264(self.h264_crf, self.h264_preset)

    def smoothing(self, live: bool) -> float:
        """--smooth's strength for an input that is `live` or not: as given, else on for live inputs (cameras,
        streams, --realtime: steadier masks) and off for files (the exact per-frame rule)."""
        return smoothing(self.smooth, live)


def default_workers() -> int:
    """`batch --workers` when not given: one worker per CORES_PER_RUN cores (1 on 2 cores: a second worker only
    competes for the same cores, benchmarks/batch.py)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // CORES_PER_RUN)


def smoothing(smooth: float | None, live: bool) -> float:
    """--smooth's strength (None: not given) for an input that is `live` or not (see RunConfig.smoothing)."""
    if smooth is not None:
        return smooth
    return DEFAULT_SMOOTHING if live else 0.0


def check_model_settings(confidence: float, smooth: float | None, refine: int, every: int, faces: int) -> None:
    """The limits of the model-side settings, for a run (RunConfig) and the library (masker.VideoMasker) alike."""
    check_confidence(confidence)
    if smooth is not None and not 0.0 <= smooth < 1.0:
        raise StreamMaskError(f"--smooth must be between 0 and 1 (0 is off), got {smooth}")
    if refine < 0:
        raise StreamMaskError(f"--refine must be 0 or more, got {refine}")
    if every < 1:
        raise StreamMaskError(f"--every must be 1 or more, got {every}")
    if faces < 1:
        raise StreamMaskError(f"--faces must be 1 or more, got {faces}")


# RunConfig fields that do not shape what an output holds, so its settings leave them out: how the run is watched
# (progress; the preview window, and what it starts with when there is no -o), whether an existing output may be
# replaced (overwrite), and where the model file was looked for (model_dir: the sidecar's model name and sha256 say
# which model made it). `outputs` is not one setting either: each output's settings hold its own fields instead.
UNRECORDED_FIELDS = ("progress", "overwrite", "preview", "preview_parts", "preview_effect", "model_dir")


def check_subjects(value: int) -> int:
    """--subjects: a whole number of people, 1 or more, or ALL_SUBJECTS (0: everyone)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StreamMaskError(f"--subjects must be 'all' (or 0) or a number of people, got {value!r}")
    return value


def parse_subjects(text: str) -> int:
    """`all` -> ALL_SUBJECTS, `2` -> 2; anything else is a user error."""
    if text.strip().lower() == "all":
        return ALL_SUBJECTS
    try:
        return check_subjects(int(text))
    except ValueError:
        raise StreamMaskError(f"--subjects must be 'all' (or 0) or a number of people, got {text!r}") from None


def check_confidence(value: float) -> float:
    """The threshold must lie in [0.01, 1.0]; anything else is a user error."""
    if not CONFIDENCE_MIN <= value <= CONFIDENCE_MAX:
        raise StreamMaskError(f"confidence must be between {CONFIDENCE_MIN} and {CONFIDENCE_MAX}, got {value}")
    return value


def parse_parts(text: str) -> tuple[str, ...]:
    """`face,hair` -> ('face', 'hair'); `none` or an empty string selects nothing."""
    names = tuple(name.strip().lower() for name in text.split(",") if name.strip())
    return () if names == ("none",) else names


def parse_size(text: str) -> tuple[int, int]:
    """`1280x720` -> (1280, 720)."""
    width, sep, height = text.lower().partition("x")
    if not (sep and width.strip().isdigit() and height.strip().isdigit()):
        raise ValueError(f"size must be WIDTHxHEIGHT, e.g. 1280x720, got {text!r}")
    return int(width), int(height)
