"""What each output of a run makes from the model's planes: a matte, then the picture its sink encodes.

Work is split by thread: `matte()` runs on the model's thread and copies out of MediaPipe's planes
the little it needs (they are reused by the next frame); `render()` runs on the output's own writer
thread, so the heavier colour work of several outputs (composites, overlays) spreads over the cores.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from . import edges, effects, masks
from .config import CONFIDENCE_MAX, CONFIDENCE_MIN, H264, Finish, OutputSpec, check_confidence
from .errors import StreamMaskError
from .frames import Frame, I420, SourceInfo
from .parts import Part
from .sinks import Sink, lossless, open_sink
from .sources.files import VideoFileSource
from .sources.images import read_image
from .subjects import SubjectTracker
from .urls import redact_url

def finished_mask(planes: Sequence[np.ndarray], confidence: float, soft: bool, finish: Finish,
                  rgb: np.ndarray) -> np.ndarray:
    """The matte of these confidence planes (HxW uint8): the threshold rule, then the finishing steps.

    Order: guided edges on the confidence, threshold, islands, holes, shrink, grow, then feather
    (binary) or the confidence's grey levels inside the cleaned mask (soft).
    """
    shape = rgb.shape[:2]
    if not finish:
        return (masks.soft_mask if soft else masks.binary_mask)(planes, confidence, shape)
    union = masks.union_confidence(planes)
    if union is None:
        return np.zeros(shape, dtype=np.uint8)
    if finish.guided:
        union = edges.refine_edges(union, rgb)
    mask = masks.binary_mask([union], confidence, shape)
    if finish.min_island:
        mask = edges.remove_islands(mask, finish.min_island)
    if finish.fill_holes:
        mask = edges.fill_holes(mask, finish.fill_holes)
    mask = edges.grow(edges.shrink(mask, finish.shrink), finish.grow)
    if soft:
        grey = np.rint(np.asarray(union, dtype=np.float32) * 255).astype(np.uint8)
        mask = np.where(mask > 0, np.maximum(grey, 1), 0).astype(np.uint8)
    if finish.feather:
        ramp = np.rint(edges.feather(mask, finish.feather) * 255).astype(np.uint8)
        mask = np.minimum(mask, ramp) if soft else ramp
    return mask


class FrameMattes:
    """One frame's planes, and the finished mattes made from them: each is made once per frame however
    many outputs (and the preview) ask for the same parts, threshold and finishing."""

    def __init__(self, planes: Sequence[np.ndarray], rgb: np.ndarray) -> None:
        self.planes, self.rgb = planes, rgb
        self._made: dict[tuple, np.ndarray] = {}

    def matte(self, parts: Sequence[Part], confidence: float, soft: bool, finish: Finish) -> np.ndarray:
        key = (tuple(parts), confidence, soft, finish)
        if key not in self._made:
            if soft or finish:
                selected = [part.confidence(self.planes) for part in parts]
                self._made[key] = finished_mask(selected, confidence, soft, finish, self.rgb)
            else:  # the default: each part thresholded on its own plane (a complement without making 1 - plane)
                self._made[key] = masks.binary_mask([self.planes[part.channel] for part in parts], confidence,
                                                    self.rgb.shape[:2], [part.inverted for part in parts])
        return self._made[key]

    def labels(self, count: int, confidence: float) -> np.ndarray:
        """The label map of the first `count` planes (the segmenter's classes): masks.label_map, once per frame."""
        key = ("labels", count, confidence)
        if key not in self._made:
            self._made[key] = masks.label_map(self.planes[:count], confidence)
        return self._made[key]


class LiveSettings:
    """What the preview's hotkeys change while a run goes, held once for the run: the window and every output
    read it each frame (on the model's thread, where the keys are handled too).

    A part key toggles that part in the window and in each selectable output's own choice (outputs may start
    with different parts); the confidence is one for all, and so is the choice of people (`subjects`: a click
    in the window picks one, a key goes back to all; None when the model cannot tell people apart).
    """

    def __init__(self, confidence: float, parts: Sequence[Part] = (), subjects: SubjectTracker | None = None) -> None:
        self.confidence = check_confidence(confidence)
        self.parts = list(parts)  # the window's
        self.subjects = subjects
        self._toggled: list[Part] = []  # every part key pressed, in order

    def toggle(self, part: Part) -> None:
        self.parts = _toggle(self.parts, part)
        self._toggled.append(part)

    def step_confidence(self, step: float) -> None:
        """Raise or lower the confidence by `step`, kept within its limits."""
        self.confidence = check_confidence(round(min(CONFIDENCE_MAX, max(CONFIDENCE_MIN, self.confidence + step)), 2))

    def parts_of(self, chosen: Sequence[Part]) -> list[Part]:
        """An output's parts now: its `chosen` ones with every part key pressed so far applied in turn."""
        parts = list(chosen)
        for part in self._toggled:
            parts = _toggle(parts, part)
        return parts


def _toggle(parts: list[Part], part: Part) -> list[Part]:
    return [p for p in parts if p != part] if part in parts else [*parts, part]


class Output:
    """One output: its kind, the parts it shows, and the sink that encodes its pictures."""

    picture = "gray"  # what `render` returns: "gray" HxW, "rgb" HxWx3 or "rgba" HxWx4 (uint8)
    selectable = True  # the preview's part hotkeys change its parts

    def __init__(self, spec: OutputSpec, parts: list[Part], live: LiveSettings, finish: Finish = Finish()) -> None:
        self.spec = spec
        self.chosen = parts  # before any hotkey
        self.live = live
        self.finish = finish
        self.sink: Sink | None = None

    @property
    def parts(self) -> list[Part]:
        """The parts shown now (the preview's part keys toggle them)."""
        return self.live.parts_of(self.chosen) if self.selectable else self.chosen

    @property
    def confidence(self) -> float:
        return self.live.confidence

    def open(self, source: SourceInfo, overwrite: bool, h264: H264 = H264()) -> Sink:
        self.sink = open_sink(self.spec.path, source, overwrite=overwrite, picture=self.picture, h264=h264)
        return self.sink

    def channels(self) -> set[int]:
        """The model planes this output reads."""
        return {part.channel for part in self.parts}

    def matte(self, frame: FrameMattes) -> np.ndarray:
        """HxW uint8: 255 (or the soft grey level) on the selected parts."""
        return frame.matte(self.parts, self.confidence, self.spec.soft, self.finish)

    def render(self, rgb: np.ndarray, matte: np.ndarray) -> np.ndarray:
        return matte

    def draw(self, frame: Frame, matte: np.ndarray) -> np.ndarray | I420:
        """What the sink encodes for this frame: `render`'s picture (a composite may draw in the frame's own YUV)."""
        return self.render(frame.rgb, matte)

    def close(self) -> None:
        """Release what rendering holds open (a background video)."""


class AlphaOutput(Output):
    """The frame with the matte as its alpha channel (straight, not premultiplied)."""

    picture = "rgba"

    def render(self, rgb: np.ndarray, matte: np.ndarray) -> np.ndarray:
        return np.dstack((rgb, matte))


class CompositeOutput(Output):
    """The frame with an effect outside the selected parts (inside them with --invert)."""

    picture = "rgb"

    def __init__(self, spec: OutputSpec, parts: list[Part], live: LiveSettings, finish: Finish = Finish()) -> None:
        super().__init__(spec, parts, live, finish)
        self.effect = open_effect(spec.effect or "blur")
        self._video = _LoopingVideo(self.effect.path) if self.effect.kind == "video" else None

    def render(self, rgb: np.ndarray, matte: np.ndarray) -> np.ndarray:
        # The uint8 matte as it is: effects work on it in integers (a 0/255 one is a masked copy, not a blend).
        if self._video is None:
            return self.effect.apply(rgb, matte, self.spec.invert)
        layer = effects.cover_resize(next(self._video), rgb.shape[0], rgb.shape[1])
        return effects.composite(rgb, matte, layer, self.spec.invert)

    def draw(self, frame: Frame, matte: np.ndarray) -> np.ndarray | I420:
        """In the frame's own YUV when the sink encodes that (frames.I420): the person's pixels are the input's,
        untouched by two colour conversions, and the RGB -> YUV conversion of every frame is saved."""
        if frame.yuv is None or not self.sink.takes_i420:
            return self.render(frame.rgb, matte)
        if self._video is None:
            layer = self.effect.background_i420(frame.yuv, matte, self.spec.invert, self.sink.to_i420)
        else:
            height, width = frame.rgb.shape[:2]
            layer = self.sink.to_i420(effects.cover_resize(next(self._video), height, width))
        return I420(effects.composite_i420(frame.yuv, matte, layer, self.spec.invert))

    def close(self) -> None:
        if self._video is not None:
            self._video.close()


class OverlayOutput(Output):
    """The frame with each selected part tinted in its own colour, for checking a result."""

    picture = "rgb"
    _tints: list[tuple[int, ...]] | None = None

    def matte(self, frame: FrameMattes) -> np.ndarray:
        parts = self.parts
        if not parts:
            return np.zeros((0, *frame.rgb.shape[:2]), dtype=np.uint8)
        return np.stack([frame.matte([part], self.confidence, self.spec.soft, self.finish) for part in parts])

    def render(self, rgb: np.ndarray, matte: np.ndarray) -> np.ndarray:
        return effects.overlay(rgb, [m.astype(np.float32) * np.float32(1 / 255) for m in matte])

    def draw(self, frame: Frame, matte: np.ndarray) -> np.ndarray | I420:
        """In the frame's own YUV when the sink encodes that (as CompositeOutput.draw)."""
        if frame.yuv is None or not self.sink.takes_i420:
            return self.render(frame.rgb, matte)
        if self._tints is None:  # the palette in the output's YUV, converted as the sink converts
            tints = [effects.i420_planes(self.sink.to_i420(np.full((2, 2, 3), colour, dtype=np.uint8)))
                     for colour in effects.PALETTE]
            self._tints = [tuple(int(plane[0, 0]) for plane in planes) for planes in tints]
        return I420(effects.overlay_i420(frame.yuv, matte, self._tints))


class LabelsOutput(Output):
    """Every class at once: each pixel holds the index of its most likely class (lossless only).

    Its parts are the segmenter's classes in index order (see make_output). A one-channel model (selfie)
    gives 1 where its confidence is `> confidence`, else 0.
    """

    selectable = False  # always every class

    def __init__(self, spec: OutputSpec, parts: list[Part], live: LiveSettings, finish: Finish = Finish()) -> None:
        super().__init__(spec, parts, live, finish)
        if not lossless(spec.path):  # class indices must survive exactly
            raise StreamMaskError(f"a label map must be lossless: write {redact_url(spec.path)} as .mkv or PNGs instead")

    def matte(self, frame: FrameMattes) -> np.ndarray:
        return frame.labels(len(self.parts), self.confidence)


KIND_CLASSES: dict[str, type[Output]] = {
    "mask": Output,
    "alpha": AlphaOutput,
    "composite": CompositeOutput,
    "overlay": OverlayOutput,
    "labels": LabelsOutput,
}


def make_output(spec: OutputSpec, parts: list[Part], live: LiveSettings, finish: Finish = Finish(),
                labels: Sequence[str] = ()) -> Output:
    """The output for `spec`, showing `parts`; a label map shows every class of the segmenter (`labels`)."""
    kind = spec.resolved_kind()
    if kind == "labels":
        parts = [Part(label, index) for index, label in enumerate(labels)]
    return KIND_CLASSES[kind](spec, parts, live, finish)


def open_effect(spec: str) -> effects.Effect:
    """The effect of a CLI string, with the image of an `image:PATH` effect read now, so that a missing or
    unreadable file fails before any frame is processed (a `video:PATH` one is decoded by its output)."""
    effect = effects.parse_effect(spec)
    if effect.kind == "image":
        effect.image = read_image(Path(effect.path or ""))
    return effect


class _LoopingVideo:
    """Frames of a background video, from the start again at its end."""

    def __init__(self, path: str | None) -> None:
        if not path or not Path(path).is_file():
            raise StreamMaskError(f"background video not found: {path}")
        self._path = path
        self._frames = self._start()

    def _start(self) -> Iterator[np.ndarray]:
        self._source = VideoFileSource(self._path)
        return (item.rgb for item in self._source if isinstance(item, Frame))

    def __next__(self) -> np.ndarray:
        try:
            return next(self._frames)
        except StopIteration:
            self._source.close()
            self._frames = self._start()
            return next(self._frames)

    def close(self) -> None:
        self._source.close()
