"""One run: source -> segmenter (VIDEO mode) -> parts + threshold -> sink.

Threading lives here and only here (the shape of supervision's video utilities): a reader thread
demuxes and decodes, the caller's thread runs the model and the mask operations, a writer thread
encodes and muxes. Bounded queues keep memory flat and let decode, inference and encode overlap on
separate cores; the per-frame code itself stays single-threaded.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import av
from tqdm import tqdm

from . import masks
from .config import RunConfig
from .errors import StreamMaskError
from .models import resolve_model
from .parts import Part, resolve_parts
from .segmenter import Segmenter
from .sidecar import describe, write_sidecar
from .sinks import Sink, open_sink
from .sources import Frame, Source, open_source

QUEUE_SIZE = 8  # frames in flight between threads: enough to smooth jitter, small for memory
READER_JOIN_SECONDS = 2.0
_END = object()


@dataclass(frozen=True)
class RunStats:
    """What a run did, for the summary line and for callers of the library."""

    frames: int
    seconds: float
    output: str
    model: str
    model_calls: int
    interrupted: bool = False

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        line = f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps) -> {self.output}"
        if self.interrupted:
            line = f"interrupted: {line} (partial, finalised and playable)"
        return line


def run(config: RunConfig) -> RunStats:
    """Execute one `stream-mask run`; raises StreamMaskError for anything the user can fix.

    Ctrl-C after the first frame finalises what was written and returns with `interrupted` set; before
    it, nothing is written and KeyboardInterrupt propagates.
    """
    model = resolve_model(config.model, config.model_dir)
    with open_source(config.input) as source, Segmenter(model.path, video=True) as segmenter:
        parts = resolve_parts(config.parts, segmenter.labels, model.name)
        sink = open_sink(config.output, source.info, overwrite=config.overwrite)
        started = time.perf_counter()
        bar = tqdm(total=source.info.frame_count, unit="frame", disable=None if config.progress else True,
                   file=sys.stderr, leave=False)
        interrupted = False
        try:
            _process(source, segmenter, parts, config, sink, bar)
        except KeyboardInterrupt:
            interrupted = True
        except BaseException:
            sink.abort()
            raise
        finally:
            bar.close()
        frames = sink.frames_written
        if frames == 0:
            sink.abort()
            if interrupted:
                raise KeyboardInterrupt  # nothing to finalise: an ordinary Ctrl-C for the caller
            raise StreamMaskError("no frames to write")
        sink.close()
        write_sidecar(sink.path, describe(config, model, [part.name for part in parts], source.info, frames, interrupted))
        return RunStats(frames, time.perf_counter() - started, sink.path, model.name, segmenter.calls, interrupted)


def _process(source: Source, segmenter: Segmenter, parts: list[Part], config: RunConfig, sink: Sink, bar: tqdm) -> None:
    """Segment every frame of `source` into `sink`; on any exit, what was queued is written first."""
    make_mask = masks.soft_mask if config.soft else masks.binary_mask
    reader, writer = _Reader(source), _Writer(sink)
    try:
        for item in reader:
            if isinstance(item, av.Packet):
                writer.put(item)
                continue
            planes = segmenter.segment(item.rgb, round(item.seconds * 1000))
            mask = make_mask([part.confidence(planes) for part in parts], config.confidence, item.rgb.shape[:2])
            writer.put((item, mask))
            bar.update()
    finally:
        reader.close()
        writer.close()


class _Reader:
    """Demuxes and decodes `source` on a thread into a bounded queue; iterate to receive the items."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_SIZE)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="stream-mask-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._source:
                if not self._offer(item):
                    return
        except BaseException as error:  # re-raised on the caller's thread
            self._error = error
        finally:
            self._offer(_END)

    def _offer(self, item: Any) -> bool:
        """Queue `item` unless the caller has stopped listening; True if queued."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Any]:
        while (item := self._queue.get()) is not _END:
            yield item
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        self._stop.set()
        # A source blocked in I/O (a stalled pipe or stream) cannot be woken: give up on the daemon
        # thread rather than hang the run; the container is closed by the caller afterwards.
        self._thread.join(timeout=READER_JOIN_SECONDS)


class _Writer:
    """Encodes and muxes on a thread what `put` hands it: audio packets and (frame, picture) pairs."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_SIZE)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="stream-mask-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not _END:
                if isinstance(item, av.Packet):
                    self._sink.write_audio(item)
                else:
                    self._sink.write(*item)
        except BaseException as error:  # re-raised on the caller's thread by put() or close()
            self._error = error
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
