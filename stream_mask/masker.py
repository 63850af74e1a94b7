"""The library for videos and live frames: the command's own pipeline, one frame at a time, in the caller's loop.

    from stream_mask import VideoMasker
    with VideoMasker(model="selfie", parts=["person"], smooth=0.7, refine=1) as masker:
        for rgb, timestamp_ms in my_frames:
            mask = masker(rgb, timestamp_ms)  # HxW uint8, 0 or 255

`VideoMasker` runs the models in VIDEO mode (MediaPipe tracks across frames) with the command's refine pass,
smoothing, `every`, threshold and edge finishing: it is what `stream-mask run` itself runs each frame on
(pipeline.py builds one, loop.py calls `VideoMasker.step`). `masked_frames` iterates over a file, camera or
stream and yields each frame with its mask. Every option and its default is the command's (config.py).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from numbers import Real

import cv2
import numpy as np

from .config import (DEFAULT_CONFIDENCE, DEFAULT_FACES, DEFAULT_MODEL, Finish, OutputSpec, RunConfig,
                     ALL_SUBJECTS, check_model_settings, check_subjects, parse_parts, smoothing)
from .errors import StreamMaskError
from .frames import Frame
from .models import ResolvedModel
from .outputs import CompositeOutput, FrameMattes, LiveSettings
from .parts import Part, landmark_names, person_part, resolve_parts
from .planes import Closing, ModelChoice, PartModels, PlaneMaker, needs_segmenter
from .subjects import SubjectTracker


class VideoMasker(Closing):
    """One stream's models and temporal state (VIDEO mode); one object per stream, `close()` it or use `with`.

    Each call is the next frame of the stream: `frame` is an HxWx3 uint8 array, RGB (or BGR, as
    `cv2.VideoCapture` reads it, with `bgr=True`; it is converted once), and `timestamp_ms` its time in
    milliseconds (int or float), which must strictly increase from call to call as whole milliseconds
    (MediaPipe's VIDEO mode: it is rounded). Anything else is a StreamMaskError, as is any call after `close()`.

    A frame of another size than the one before is a new scene: the temporal state restarts (smoothing, the
    refine pass's tracked crops, the planes kept for `every`), so its mask is made as a first frame's would be.

    Options, with the command's defaults and checks (config.py):
      model       registry name ("multiclass", "selfie", ...) or a .tflite path; `model_dir` where to find it
      parts       part names (a list, or "hair,face"); None: the model's default parts; []: nothing (all black)
      confidence  threshold: a pixel belongs to a part where its confidence is `> confidence`
      smooth      temporal smoothing strength 0..1 (0: off, the exact per-frame rule), as --smooth
      refine      passes of the refine pass on crops around each person (0: none), as --refine
      every       run the model on every Nth frame and reuse its planes in between, as --every
      finish      edge and shape clean-up (config.Finish: guided, min_island, fill_holes, shrink, grow, feather)
      soft        mattes carry the confidence's grey levels inside the mask instead of 0/255, as --soft
      faces       face-landmark parts: at most this many faces
      subjects    keep only this many main people, each followed from frame to frame (subjects.py); 0: everyone
    """

    def __init__(self, model: str = DEFAULT_MODEL, parts: Sequence[str] | str | None = None, *,
                 confidence: float = DEFAULT_CONFIDENCE, smooth: float = 0.0, refine: int = 0, every: int = 1,
                 finish: Finish = Finish(), soft: bool = False, faces: int = DEFAULT_FACES,
                 subjects: int = ALL_SUBJECTS, model_dir: str | os.PathLike | None = None, bgr: bool = False) -> None:
        check_model_settings(confidence, smooth, refine, every, faces)
        check_subjects(subjects)
        names = parse_parts(parts) if isinstance(parts, str) else None if parts is None else tuple(parts)
        landmarks = landmark_names(names)
        segment = needs_segmenter([names], bool(refine or subjects))
        choice = ModelChoice.resolve(model, model_dir, segment or not landmarks, landmarks)
        self._open(choice, names, confidence, smooth, refine, every, finish, soft, faces, bgr)
        if subjects:
            self.subjects = self._tracker(subjects)

    @classmethod
    def for_run(cls, config: RunConfig, choice: ModelChoice, live: bool) -> VideoMasker:
        """The command's masker: the models `choice` found for the run's outputs, the run's settings (its
        smoothing resolved for a `live` input or not); each output then picks its own parts from `step`."""
        masker = cls.__new__(cls)
        masker._open(choice, (), config.confidence, smoothing(config.smooth, live), config.refine, config.every,
                     config.finish, False, config.faces, False)
        if config.subjects:
            masker.subjects = masker._tracker(config.subjects)
        elif config.preview and person_part(masker.classes) is not None:
            masker.subjects = masker._tracker(ALL_SUBJECTS)  # everyone until a person is clicked in the window
        return masker

    def _tracker(self, count: int | None) -> SubjectTracker:
        try:
            return SubjectTracker.for_labels(count, self.classes)
        except BaseException:
            self.close()
            raise

    def _open(self, choice: ModelChoice, names: Sequence[str] | None, confidence: float, smooth: float, refine: int,
              every: int, finish: Finish, soft: bool, faces: int, bgr: bool) -> None:
        self._closed = True  # until everything is open: close() has nothing to do
        self.model: ResolvedModel = choice.model
        self.confidence, self.finish, self.soft, self.bgr = confidence, finish, soft, bgr
        self._models: PartModels = choice.open(video=True, faces=faces)
        try:
            self._maker = PlaneMaker(self._models, refine, confidence, smooth, every)
            try:
                self.parts: list[Part] = resolve_parts(names, self.classes, self.model.name)
            except BaseException:
                self._maker.close()
                raise
        except BaseException:
            self._models.close()
            raise
        self._composites: dict[tuple[str, bool], CompositeOutput] = {}
        self._index = 0  # frames so far: `every` counts them
        self._size: tuple[int, int] | None = None
        self._last_ms: int | None = None
        self.subjects: SubjectTracker | None = None  # --subjects, or the preview's click
        self._closed = False

    # --- what a caller reads --------------------------------------------------------------------

    @property
    def classes(self) -> list[str]:
        """The segmentation model's classes, in index order (the values of `labels()`); [] without one."""
        return self._models.labels

    @property
    def calls(self) -> int:
        """Model calls so far, refine passes included."""
        return self._maker.calls

    @property
    def last_ms(self) -> float:
        """Inference time of the last model frame, in milliseconds."""
        return self._maker.last_ms

    @property
    def last_timestamp_ms(self) -> int | None:
        """The last timestamp given (whole milliseconds), None before the first frame: the next must be later."""
        return self._last_ms

    def restart(self) -> None:
        """A new stream on the same open models (no reload but the face landmarker's): what carries over from frame to
        frame (smoothing, the refine pass's tracked crops, the planes kept for `every`, the faces followed) starts
        again. Timestamps must still go on increasing: MediaPipe's VIDEO mode counts them per model, so continue
        after `last_timestamp_ms`."""
        self._check_open()
        self._maker.restart()
        self._models.restart()
        if self.subjects is not None:
            self.subjects.restart()
        self._index = 0

    # --- one frame --------------------------------------------------------------------------------

    def __call__(self, frame: np.ndarray, timestamp_ms: float) -> np.ndarray:
        """HxW uint8: 255 on the parts (or, with `soft`, the confidence's grey levels 1..255 there), else 0."""
        return self.matte(frame, timestamp_ms)

    def matte(self, frame: np.ndarray, timestamp_ms: float, parts: Sequence[str] | str | None = None) -> np.ndarray:
        """As calling the masker: HxW uint8 matte of the masker's parts, or of `parts` for this frame only
        (a face-landmark part not asked for before starts the face landmarker from this frame on)."""
        chosen = self.parts if parts is None else self._resolve(parts)
        mattes = self._checked(frame, timestamp_ms, [part.channel for part in chosen])
        return mattes.matte(chosen, self.confidence, self.soft, self.finish)

    def planes(self, frame: np.ndarray, timestamp_ms: float) -> dict[str, np.ndarray]:
        """Part name -> HxW uint8 matte of that part alone (as `matte`), for each of the masker's parts."""
        mattes = self._checked(frame, timestamp_ms, [part.channel for part in self.parts])
        return {part.name: mattes.matte([part], self.confidence, self.soft, self.finish) for part in self.parts}

    def labels(self, frame: np.ndarray, timestamp_ms: float) -> np.ndarray:
        """HxW uint8: each pixel's most likely class, an index into `classes` (as `--kind labels`); a one-class
        model (selfie) gives 1 where its confidence is `> confidence`, else 0. Needs a segmentation model."""
        if not self.classes:
            raise StreamMaskError("a label map needs a segmentation model: this masker has only face-landmark parts")
        mattes = self._checked(frame, timestamp_ms, range(len(self.classes)))
        return mattes.labels(len(self.classes), self.confidence)

    def composite(self, frame: np.ndarray, timestamp_ms: float, effect: str = "blur",
                  invert: bool = False) -> np.ndarray:
        """HxWx3 uint8: the frame with `effect` outside the masker's parts (inside them with `invert`), in the
        frame's own channel order (BGR with `bgr=True`). Effects as --effect: blur[:S], color:#rrggbb,
        image:PATH, video:PATH, desaturate."""
        self._check_open()
        if (effect, invert) not in self._composites:  # an image read, a video opened: once
            spec = OutputSpec("<composite>", kind="composite", effect=effect, invert=invert)
            self._composites[effect, invert] = CompositeOutput(spec, self.parts, LiveSettings(self.confidence),
                                                               self.finish)
        mattes = self._checked(frame, timestamp_ms, [part.channel for part in self.parts])
        matte = mattes.matte(self.parts, self.confidence, self.soft, self.finish)
        picture = self._composites[effect, invert].render(mattes.rgb, matte)
        return cv2.cvtColor(picture, cv2.COLOR_RGB2BGR) if self.bgr else picture

    def step(self, frame: Frame, channels: Iterable[int]) -> FrameMattes:
        """The command's model step (loop.py): the planes of a decoded frame, `channels` being those read (only
        they are smoothed). Its timestamps are the source's, which may repeat (MediaPipe's call nudges them)."""
        self._check_open()
        return self._mattes(frame.rgb, frame.seconds * 1000, channels)

    # --- inside -------------------------------------------------------------------------------

    def _resolve(self, parts: Sequence[str] | str) -> list[Part]:
        names = parse_parts(parts) if isinstance(parts, str) else tuple(parts)
        chosen = resolve_parts(names, self.classes, self.model.name)
        asked = landmark_names(part.name for part in chosen if part.landmark)
        if not set(asked) <= set(self._models.landmark_names):
            self._models.ask([*self._models.landmark_names, *asked])
        return chosen

    def _check_open(self) -> None:
        if self._closed:
            raise StreamMaskError("this VideoMasker is closed")

    def _rgb(self, frame: np.ndarray) -> np.ndarray:
        self._check_open()
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3 \
                or not frame.shape[0] or not frame.shape[1]:
            what = f"{frame.dtype} array of shape {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise StreamMaskError(f"a frame must be an HxWx3 uint8 array ({'BGR' if self.bgr else 'RGB'}), got a {what}")
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if self.bgr else frame

    def _checked(self, frame: np.ndarray, timestamp_ms: float, channels: Iterable[int]) -> FrameMattes:
        """The caller's frame and timestamp checked (the API's contract is strict), then its planes."""
        rgb = self._rgb(frame)
        if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, Real) or not math.isfinite(timestamp_ms):
            raise StreamMaskError(f"a timestamp must be a number of milliseconds, got {timestamp_ms!r}")
        whole = round(timestamp_ms)
        if whole < 0 or (self._last_ms is not None and whole <= self._last_ms):
            after = f" after {self._last_ms} ms" if self._last_ms is not None else ""
            raise StreamMaskError(f"timestamps must be 0 or more and increase by a millisecond or more from frame "
                                  f"to frame: got {timestamp_ms} ms{after}")
        self._last_ms = whole
        return self._mattes(rgb, float(timestamp_ms), channels)

    def _mattes(self, rgb: np.ndarray, timestamp_ms: float, channels: Iterable[int]) -> FrameMattes:
        size = rgb.shape[:2]
        if size != self._size:
            if self._size is not None:
                self._maker.restart()  # a new size is a new scene: no smoothing across it, no crops from before
            self._size = size
        channels = list(channels)  # read twice
        planes = self._maker.planes(self._index, rgb, timestamp_ms, channels)
        if self.subjects is not None:
            planes = self.subjects.keep(planes, channels, timestamp_ms / 1000, self.confidence)
        self._index += 1
        return FrameMattes(planes, rgb)  # outputs asking for the same matte share one

    def close(self) -> None:
        """Release the models; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            for output in self._composites.values():
                output.close()
            self._maker.close()
        finally:
            self._models.close()


class MaskedFrame(tuple):
    """(frame, mask) as `masked_frames` yields it, with the frame's `timestamp_ms` and `index` in its source."""

    timestamp_ms: float
    index: int

    def __new__(cls, rgb: np.ndarray, mask: np.ndarray, timestamp_ms: float, index: int) -> MaskedFrame:
        item = super().__new__(cls, (rgb, mask))
        item.timestamp_ms, item.index = timestamp_ms, index
        return item

    @property
    def rgb(self) -> np.ndarray:
        return self[0]

    @property
    def mask(self) -> np.ndarray:
        return self[1]


def masked_frames(source: str | int | os.PathLike, parts: Sequence[str] | str | None = None, *,
                  smooth: float | None = None, size: tuple[int, int] | None = None, fps: float | None = None,
                  mirror: bool = False, **options) -> Iterator[MaskedFrame]:
    """Each frame of a video file, image set, camera (0, "camera:0") or stream URL with its mask, for notebooks:

        for frame, mask in masked_frames("clip.mp4", parts=["hair", "face"]):
            ...  # frame: HxWx3 uint8 RGB, mask: HxW uint8 (as VideoMasker's matte)

    Sources are opened as the command opens INPUT (`size`, `fps`: camera requests; `mirror` flips left-right);
    the model gets each frame at the source's own timestamp (`item.timestamp_ms`); audio is left alone.
    `smooth` None: as the command, on for live inputs and off for files. `options` are VideoMasker's.
    """
    from .sources import open_source  # the decoders: only for this

    if options.get("bgr"):
        raise StreamMaskError("masked_frames yields RGB frames: bgr does not apply")
    with open_source(str(source), size=size, fps=fps, mirror=mirror) as opened:
        live = opened.info.live
        with VideoMasker(parts=parts, smooth=smoothing(smooth, live), **options) as masker:
            for item in opened:
                if not isinstance(item, Frame):
                    continue  # an audio packet
                mattes = masker.step(item, [part.channel for part in masker.parts])
                mask = mattes.matte(masker.parts, masker.confidence, masker.soft, masker.finish)
                yield MaskedFrame(item.rgb, mask, item.seconds * 1000, item.index)
