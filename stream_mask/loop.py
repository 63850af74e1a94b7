"""The frame loop: reader thread, the model on the caller's thread, one writer thread per output.

Threading lives here and only here (the shape of supervision's video utilities): a reader thread
demuxes and decodes, the caller's thread runs the model and computes each output's matte, and every
output has a writer thread that renders its picture, encodes and muxes. Bounded queues keep memory
flat and let decoding, inference and encoding overlap on separate cores; the per-frame code itself
stays single-threaded. The loop only writes: whether the outputs are then published or discarded is
the caller's decision (pipeline.py).
"""

from __future__ import annotations

import collections
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import av
from tqdm import tqdm

from .errors import StreamMaskError
from .frames import Frame, Source
from .masker import VideoMasker
from .outputs import FrameMattes, Output
from .parts import Part
from .preview import LiveStatus
from .publish import reason
from .stops import StopRequest

QUEUE_SIZE = 8  # frames in flight between threads: enough to smooth jitter, small for memory
LIVE_QUEUE_SIZE = 2
READER_JOIN_SECONDS = 2.0
STOP_POLL_SECONDS = 0.1  # how soon a stop request ends a wait for the next frame (a camera, a stalled stream)
_END = object()


class Preview(Protocol):
    """A window shown on the model's thread (preview.PreviewWindow); its hotkeys change the run's LiveSettings."""

    latencies: list[float]  # seconds from capture to shown, per frame shown

    @property
    def parts(self) -> list[Part]:
        """What the window shows now (its hotkeys change them)."""
        ...

    def show(self, frame: Frame, mattes: FrameMattes, status: LiveStatus) -> bool:
        """Display this frame; False when the user asked to quit."""
        ...

    def close(self) -> None:
        ...


@dataclass(frozen=True)
class LoopResult:
    """What the loop did, for the run's figures."""

    interrupted: bool  # a stop request ended it before the source's end
    frames: int  # through the loop (what a preview-only run showed; the progress bar may be off)
    dropped: int  # live sources: frames skipped because a newer one had arrived
    latencies: tuple[float, ...]  # seconds from capture to written (or shown), per frame and output
    lost: dict[int, str] = field(default_factory=dict)  # optional outputs (streams) lost mid-run: index -> why


def run_loop(source: Source, masker: VideoMasker, outputs: Sequence[Output], preview: Preview | None,
             stop: StopRequest, progress: bool = False, on_frame: Callable[[], None] | None = None) -> LoopResult:
    """Make the planes of each frame of `source` and hand every output its matte, under a progress bar.

    Ends at the source's end, at a stop request, or when the preview asks to quit. On any exit, what was queued
    is written first and every thread has ended; an error of any thread (reader, model, writer) is raised here,
    except an optional output's (a stream whose peer left: `Sink.optional`), which ends that output only and is
    reported in `LoopResult.lost` (the loop ends when nothing is left to write to). The outputs' sinks must be
    open; they are left open (the caller publishes or discards them). `on_frame` is called after each frame.
    """
    bar = tqdm(total=source.info.frame_count, unit="frame", disable=None if progress else True,
               file=sys.stderr, leave=False)
    try:
        return _process(source, masker, outputs, bar, stop, preview, on_frame)
    finally:
        bar.close()


def _process(source: Source, masker: VideoMasker, outputs: Sequence[Output], bar: tqdm, stop: StopRequest,
             preview: Preview | None, on_frame: Callable[[], None] | None) -> LoopResult:
    reader = _Reader(source, source.info.live, stop)
    writers = [_Writer(output, source.info.live) for output in outputs]
    frames = 0
    try:
        for item in (frame for frame in reader if not _forward_audio(frame, writers)):
            mattes = masker.step(item, _channels_in_use(outputs, preview))  # shared by the outputs asking alike
            for output, writer in zip(outputs, writers):
                writer.put((item, output.matte(mattes)))
            bar.update()
            frames += 1
            if on_frame is not None:
                on_frame()
            if preview is None and all(writer.lost for writer in writers):
                break  # every output gone (a stream's peer left): nothing to do
            if preview is not None:
                status = LiveStatus(dropped=reader.dropped, inference_ms=masker.last_ms, stopping=lambda: stop.requested)
                if not preview.show(item, mattes, status):
                    break
        interrupted = stop.requested and not reader.finished
    finally:
        reader.close()
        _close_all(writers)
    latencies = [latency for writer in writers for latency in writer.latencies]
    if preview is not None:  # the window is a consumer too: a preview-only run's latency is its own
        latencies += preview.latencies
    lost = {index: str(writer.lost) for index, writer in enumerate(writers) if writer.lost is not None}
    return LoopResult(interrupted, frames, reader.dropped, tuple(latencies), lost)


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


def _channels_in_use(outputs: Sequence[Output], preview: Preview | None) -> set[int]:
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
        self.lost: StreamMaskError | None = None  # why an optional output ended (its sink aborted itself)
        self._thread = threading.Thread(target=self._run, name="stream-mask-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not _END:
                if isinstance(item, av.Packet):
                    self._sink.write_audio(item)
                else:
                    frame, matte = item
                    self._sink.write(frame, self._output.draw(frame, matte))
                    self.latencies.append(time.monotonic() - frame.captured)
        except (OSError, av.error.FFmpegError) as error:  # a full disk, a vanished folder: one line, not a traceback
            self._fail(StreamMaskError(f"cannot write {self._sink.path}: {reason(error)}"))
        except StreamMaskError as error:
            self._fail(error)
        except BaseException as error:  # re-raised on the caller's thread by put() or close()
            self._error = error
            self._drain()

    def _fail(self, error: StreamMaskError) -> None:
        if self._sink.optional:
            self.lost = error  # that output ends; the run goes on
        else:
            self._error = error
        self._drain()

    def _drain(self) -> None:
        while self._queue.get() is not _END:  # keep draining so put() never blocks
            pass

    def put(self, item: Any) -> None:
        if self._error is not None:
            raise self._error
        if self.lost is None:
            self._queue.put(item)

    def close(self) -> None:
        """Wait until everything queued is written."""
        self._queue.put(_END)
        self._thread.join()
        if self._error is not None:
            raise self._error
