"""One run: source -> segmenter (VIDEO mode, once per frame) -> every output's matte -> its sink.

Threading lives here and only here (the shape of supervision's video utilities): a reader thread
demuxes and decodes, the caller's thread runs the model and computes each output's matte, and every
output has a writer thread that renders its picture, encodes and muxes. Bounded queues keep memory
flat and let decoding, inference and encoding overlap on separate cores; the per-frame code itself
stays single-threaded.
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import av
import numpy as np
from tqdm import tqdm

from .config import PART_FIELD, RunConfig
from .errors import StreamMaskError
from .frames import Frame, Source, SourceInfo
from .landmarks import FaceParts, PartModels  # face-landmark parts
from .models import ResolvedModel, resolve_model
from .outputs import FrameMattes, Output, make_output
from .parts import LANDMARK_PARTS, Part, available_parts, is_landmark_only, person_part, resolve_parts
from .planes import PlaneMaker
from .preview import LiveStatus
from .publish import reason
from .segmenter import Refiner, Segmenter
from .sidecar import describe
from .sinks import names_a_file
from .sources import open_source
from .stops import StopRequest
from .temporal import Stabiliser

QUEUE_SIZE = 8  # frames in flight between threads: enough to smooth jitter, small for memory
LIVE_QUEUE_SIZE = 2
LIVE_SMOOTHING = 0.7  # cameras, streams and --realtime smooth by default; files keep the exact rule
READER_JOIN_SECONDS = 2.0
STOP_POLL_SECONDS = 0.1  # how soon a stop request ends a wait for the next frame (a camera, a stalled stream)
_END = object()


@dataclass(frozen=True)
class RunStats:
    """What a run did, for the summary line and for callers of the library."""

    frames: int
    seconds: float
    outputs: tuple[str, ...]
    model: str
    model_calls: int  # MediaPipe segmentations: one per frame, however many outputs
    interrupted: bool = False
    live: bool = False  # camera, stream or --realtime: frames may be dropped to keep latency low
    dropped: int = 0  # frames skipped because a newer one had arrived
    latency_p50_ms: float = 0.0  # capture -> written (or shown, by the preview), per frame and output
    latency_p95_ms: float = 0.0
    source_lost: bool = False  # a camera unplugged or a stream cut mid-run (the outputs are finalised)
    skipped: int = 0  # damaged input left out: video packets that did not decode, image files that cannot be read
    skipped_what: str = "damaged packets"
    warnings: tuple[str, ...] = ()  # what the user should hear about the input (stderr), one line each

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        line = f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps), {self.model_calls} model calls"
        if self.live:
            line += (f", {self.dropped} dropped, latency p50 {self.latency_p50_ms:.0f} ms "
                     f"p95 {self.latency_p95_ms:.0f} ms")
        if self.skipped:
            line += f", {self.skipped} {self.skipped_what if self.skipped > 1 else self.skipped_what[:-1]} skipped"
        line += f" -> {', '.join(self.outputs) or 'preview'}"
        if self.source_lost:
            line += " (input lost: outputs finalised)"
        if self.interrupted:
            line = f"interrupted: {line} (partial, finalised and playable)"
        return line


def _percentile_ms(values: list[float], percent: int) -> float:
    if not values:
        return 0.0
    return 1000 * float(np.percentile(values, percent))


def run(config: RunConfig, stop: StopRequest | None = None) -> RunStats:
    """Execute one `stream-mask run`; raises StreamMaskError for anything the user can fix.

    A stop request (`stop`: the command routes SIGINT, SIGTERM and SIGHUP to it) after the first frame ends the
    loop, finalises what was written and returns with `interrupted` set; before it, nothing is written and
    KeyboardInterrupt propagates. Without `stop`, a run on the main thread treats Ctrl-C so itself (and puts the
    caller's handler back after).
    """
    if stop is None:
        with StopRequest().handling([signal.SIGINT]) as stop:
            return run(config, stop)
    # The input first: a missing input is what the user must hear about, not a model it would need.
    opened_source = open_source(config.input, realtime=config.realtime, size=config.size, fps=config.fps,
                                mirror=config.mirror, live=config.live)
    try:
        model, face_model, landmark_names = _resolve_models(config)  # face-landmark parts: only the models needed
    except BaseException:
        opened_source.close()
        raise
    with opened_source as source, _open_models(model, face_model, landmark_names, config) as models, contextlib.ExitStack() as stack:
        if config.smooth is None:  # resolved here, so that the sidecar records what was done
            config = replace(config, smooth=LIVE_SMOOTHING if source.info.live else 0.0)
        if source.info.report and config.progress:
            print(f"stream-mask: {source.info.report}", file=sys.stderr)  # what the camera gave, vs. asked
        maker = _plane_maker(config, model, models, stack)
        stop.defer()  # from here on a signal is a request the loop answers: outputs are finalised, never torn
        outputs, preview = _open_outputs(config, source.info, models.labels, model.name)
        started = time.perf_counter()
        timing = _Timing()
        interrupted = _loop(source, maker, outputs, preview, timing, config.progress, stop)
        frames = min((output.sink.frames_written for output in outputs), default=timing.frames)
        if frames == 0:
            _discard(outputs)
            if interrupted:
                raise KeyboardInterrupt  # nothing to finalise: an ordinary Ctrl-C for the caller
            raise StreamMaskError("no frames to write")
        _publish(outputs, config, model, source, interrupted)
        return RunStats(frames, time.perf_counter() - started, tuple(output.sink.path for output in outputs),
                        model.name, maker.calls, interrupted, source.info.live, timing.dropped,
                        _percentile_ms(timing.latencies, 50), _percentile_ms(timing.latencies, 95),
                        source.ended_early, source.skipped, source.skipped_what, tuple(source.warnings))


def _plane_maker(config: RunConfig, model: ResolvedModel, models: PartModels, stack: contextlib.ExitStack) -> PlaneMaker:
    """The models plus what the run asks of them: refine passes, --smooth, --every."""
    refine = None
    if config.refine:
        refine = stack.enter_context(Refiner.for_labels(model.path, models.labels, config.confidence,
                                                        passes=config.refine))
    stabiliser = Stabiliser(config.smooth, person_part(models.labels)) if config.smooth else None
    return PlaneMaker(models, refine, stabiliser, config.every)


def _open_outputs(config: RunConfig, source: SourceInfo, labels: list[str],
                  model_name: str) -> tuple[list[Output], Preview | None]:
    """Every output's sink opened (nothing left behind if one fails), and the preview window if asked."""
    outputs = _make_outputs(config, labels, model_name)
    opened: list[Output] = []
    try:
        for output in outputs:
            output.open(source, config.overwrite)
            opened.append(output)
        preview = _open_preview(config, labels, model_name, outputs) if config.preview else None
    except BaseException:
        _discard(opened)
        raise
    return outputs, preview


def _loop(source: Source, maker: PlaneMaker, outputs: list[Output], preview: Preview | None, timing: _Timing,
          progress: bool, stop: StopRequest) -> bool:
    """The frame loop under a progress bar; True if a stop request ended it. Any error discards the outputs."""
    bar = tqdm(total=source.info.frame_count, unit="frame", disable=None if progress else True,
               file=sys.stderr, leave=False)
    try:
        return _process(source, maker, outputs, bar, timing, stop, preview)
    except BaseException:
        _discard(outputs)
        raise
    finally:
        bar.close()
        if preview is not None:
            preview.close()


def _publish(outputs: list[Output], config: RunConfig, model: ResolvedModel, source: Source,
             interrupted: bool) -> None:
    """Finalise every output, with the sidecar that says how it was made. An output that cannot be finalised (a
    full disk) leaves nothing behind and does not keep the others from theirs; then one error names them all."""
    problems, written = [], []
    for index, output in enumerate(outputs):
        sidecar = None
        if output.sink.sidecar:  # files only: a virtual camera has nowhere to put one
            sidecar = describe(config, output.spec, model, [part.name for part in output.parts], source.info,
                               output.sink.frames_written, interrupted, (source.skipped, source.skipped_what))
        try:
            output.close()
            output.sink.close(sidecar)
            written.append(output.sink.path)
        except StreamMaskError as error:
            problems.append(str(error))
        except BaseException:
            _discard(outputs[index:])
            raise
    if problems:
        raise StreamMaskError("; ".join(problems) + (f" ({', '.join(written)} written)" if written else ""))


# --- face-landmark parts: which models a run needs --------------------------------------------------


def _resolve_models(config: RunConfig) -> tuple[ResolvedModel, ResolvedModel | None, list[str]]:
    """(the model named in the sidecar and summary, the face landmarker if needed, the landmark parts asked for).

    The segmenter is left out when every output asks only for face-landmark parts (no label map, no
    --refine, no preview); the first model is then the face landmarker itself.
    """
    wanted = [spec.parts for spec in config.outputs]
    if config.preview and not config.outputs:
        wanted.append(config.preview_parts)
    names = [name for parts in wanted for name in parts or () if name in LANDMARK_PARTS]
    face_model = resolve_model("face_landmarker", config.model_dir) if names else None
    segment = (bool(config.refine) or config.preview or not all(is_landmark_only(parts) for parts in wanted)
               or any(spec.resolved_kind() == "labels" for spec in config.outputs))
    if segment or face_model is None:
        return resolve_model(config.model, config.model_dir), face_model, names
    return face_model, face_model, names


def _open_models(model: ResolvedModel, face_model: ResolvedModel | None, names: list[str], config: RunConfig) -> PartModels:
    """The segmenter (unless `model` is the face landmarker) and the face landmarker (if asked), as one."""
    segmenter = Segmenter(model.path, video=True) if model is not face_model else None
    try:
        faces = FaceParts(face_model.path, video=True, num_faces=config.faces) if face_model else None
    except BaseException:
        if segmenter is not None:
            segmenter.close()
        raise
    return PartModels(segmenter, faces, names)


def _open_preview(config: RunConfig, labels: list[str], model_name: str, outputs: list[Output]) -> Preview:
    """The window starts with the first output's parts and effect (the model's defaults without one)."""
    from .preview import PreviewWindow  # opens a GUI toolkit: only when asked

    first = next((output for output in outputs if output.selectable), None)
    parts = first.parts if first else resolve_parts(config.preview_parts, labels, model_name)
    effect = next((output.spec.effect for output in outputs if output.spec.effect), config.preview_effect)
    return PreviewWindow(list(available_parts(labels).values()), parts, config.confidence, effect, config.finish)


def _make_outputs(config: RunConfig, labels: list[str], model_name: str) -> list[Output]:
    """One Output per spec; a `{part}` path becomes one output per selected part."""
    outputs = []
    for spec in config.outputs:
        parts = resolve_parts(spec.parts, labels, model_name)
        if PART_FIELD not in spec.path:
            outputs.append(make_output(spec, parts, config.confidence, config.finish, labels))
            continue
        for part in parts:
            single = replace(spec, path=spec.path.replace(PART_FIELD, part.name), parts=(part.name,))
            outputs.append(make_output(single, [part], config.confidence, config.finish, labels))
    paths = [os.path.realpath(output.spec.path) if names_a_file(output.spec.path) else output.spec.path
             for output in outputs]
    if len(set(paths)) != len(paths):
        raise StreamMaskError("two outputs have the same path")
    return outputs


def _discard(outputs: list[Output]) -> None:
    for output in outputs:
        output.close()
        if output.sink is not None:
            output.sink.abort()


class Preview(Protocol):
    """A window shown on the model's thread (preview.PreviewWindow); its hotkeys may change the outputs."""

    parts: list[Part]  # what the window shows; its hotkeys change them
    latencies: list[float]  # seconds from capture to shown, per frame shown

    def show(self, frame: Frame, mattes: FrameMattes, outputs: list[Output], status: LiveStatus) -> bool:
        """Display this frame; False when the user asked to quit."""
        ...

    def close(self) -> None:
        ...


@dataclass
class _Timing:
    """What the run's figures are made of."""

    frames: int = 0  # through the loop (what a preview-only run showed; the progress bar may be off)
    dropped: int = 0
    latencies: list[float] = field(default_factory=list)


def _process(source: Source, maker: PlaneMaker, outputs: list[Output], bar: tqdm, timing: _Timing,
             stop: StopRequest, preview: Preview | None = None) -> bool:
    """Make the planes of each frame of `source` and hand every output its matte; True if `stop` ended it.

    On any exit, what was queued is written first. Stops early when the preview asks to quit.
    """
    reader = _Reader(source, source.info.live, stop)
    writers = [_Writer(output, source.info.live) for output in outputs]
    try:
        for index, item in enumerate(frame for frame in reader if not _forward_audio(frame, writers)):
            planes = maker.planes(index, item, _channels_in_use(outputs, preview))
            mattes = FrameMattes(planes, item.rgb)  # outputs asking for the same matte share one
            for output, writer in zip(outputs, writers):
                writer.put((item, output.matte(mattes)))
            bar.update()
            timing.frames += 1
            if preview is not None:
                status = LiveStatus(dropped=reader.dropped, inference_ms=maker.last_ms, stopping=lambda: stop.requested)
                if not preview.show(item, mattes, outputs, status):
                    break
        return stop.requested and not reader.finished
    finally:
        reader.close()
        try:
            _close_all(writers)
        finally:
            timing.dropped = reader.dropped
            timing.latencies = [latency for writer in writers for latency in writer.latencies]
            if preview is not None:  # the window is a consumer too: a preview-only run's latency is its own
                timing.latencies += preview.latencies


def _close_all(writers: list[_Writer]) -> None:
    """Wait for every writer, then raise the first one's error: no writer may still be writing when the sinks
    are closed or aborted (one output's full disk must not leave another's encoder running)."""
    errors = []
    for writer in writers:
        try:
            writer.close()
        except BaseException as error:
            errors.append(error)
    if errors:
        raise errors[0]


def _channels_in_use(outputs: list[Output], preview: Preview | None) -> set[int]:
    """The planes read this frame: the outputs' and the preview's (its hotkeys change its parts)."""
    channels = {channel for output in outputs for channel in output.channels()}
    if preview is not None:
        channels |= {part.channel for part in preview.parts}
    return channels


def _forward_audio(item: Any, writers: list[_Writer]) -> bool:
    """Hand an audio packet to every output; True if `item` was one."""
    if not isinstance(item, av.Packet):
        return False
    for writer in writers:
        writer.put(item)
    return True


class _Reader:
    """Demuxes and decodes `source` on a thread; iterate to receive its frames and audio packets.

    For a file, a bounded queue: the reader waits for the model, nothing is lost. For a live source
    (camera, stream, --realtime), latest-frame-wins: a frame still waiting when a newer one arrives is
    dropped (and counted), so latency stays bounded when the model is slower than the source. Audio
    packets are never dropped.
    """

    def __init__(self, source: Source, live: bool, stop: StopRequest) -> None:
        self._source = source
        self._live = live
        self._stop_request = stop  # the run's: iteration ends at once (not the reader's own _stop below)
        self.finished = False  # the source's end was reached
        self._items: collections.deque[Any] = collections.deque()
        self._ready = threading.Condition()
        self._stop = False
        self._error: BaseException | None = None
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="stream-mask-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._source:
                if isinstance(item, Frame) and not item.captured:
                    item.captured = time.monotonic()
                if not self._offer(item):
                    return
        except BaseException as error:  # re-raised on the caller's thread
            self._error = error
        finally:
            self._offer(_END)

    def _offer(self, item: Any) -> bool:
        """Queue `item` unless the caller has stopped listening; True if queued."""
        with self._ready:
            if not self._live:
                self._ready.wait_for(lambda: self._stop or len(self._items) < QUEUE_SIZE)
            elif isinstance(item, Frame):
                # A live source never waits (that would delay capture): the frame not yet taken goes.
                waiting = len(self._items)
                self._items = collections.deque(x for x in self._items if not isinstance(x, Frame))
                self.dropped += waiting - len(self._items)
            if self._stop:
                return False
            self._items.append(item)
            self._ready.notify_all()
            return True

    def __iter__(self) -> Iterator[Any]:
        while not self._stop_request.requested:
            with self._ready:
                # A signal cannot wake this wait (its handler only sets a flag): look again every so often.
                if not self._ready.wait_for(lambda: bool(self._items), timeout=STOP_POLL_SECONDS):
                    continue
                item = self._items.popleft()
                self._ready.notify_all()
            if item is _END:
                self.finished = True
                break
            yield item
        if self.finished and self._error is not None:
            raise self._error

    def close(self) -> None:
        with self._ready:
            self._stop = True
            self._ready.notify_all()
        # A source blocked in I/O (a stalled pipe or stream) cannot be woken: give up on the daemon
        # thread rather than hang the run; the container is closed by the caller afterwards.
        self._thread.join(timeout=READER_JOIN_SECONDS)


class _Writer:
    """Renders, encodes and muxes one output on its own thread: audio packets and (frame, matte) pairs."""

    def __init__(self, output: Output, live: bool) -> None:
        self._output = output
        self._sink = output.sink
        # Live: a short queue, so a slow encoder makes the reader drop frames instead of adding latency.
        self._queue: queue.Queue[Any] = queue.Queue(LIVE_QUEUE_SIZE if live else QUEUE_SIZE)
        self.latencies: list[float] = []  # seconds from capture to written, per frame
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="stream-mask-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not _END:
                if isinstance(item, av.Packet):
                    self._sink.write_audio(item)
                else:
                    frame, matte = item
                    self._sink.write(frame, self._output.render(frame.rgb, matte))
                    self.latencies.append(time.monotonic() - frame.captured)
        except (OSError, av.error.FFmpegError) as error:  # a full disk, a vanished folder: one line, not a traceback
            self._error = StreamMaskError(f"cannot write {self._sink.path}: {reason(error)}")
            self._drain()
        except BaseException as error:  # re-raised on the caller's thread by put() or close()
            self._error = error
            self._drain()

    def _drain(self) -> None:
        while self._queue.get() is not _END:  # keep draining so put() never blocks
            pass

    def put(self, item: Any) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def close(self) -> None:
        """Wait until everything queued is written."""
        self._queue.put(_END)
        self._thread.join()
        if self._error is not None:
            raise self._error
