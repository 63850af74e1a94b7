"""One run: source -> segmenter (VIDEO mode, once per frame) -> every output's matte -> its sink.

Threading lives here and only here (the shape of supervision's video utilities): a reader thread
demuxes and decodes, the caller's thread runs the model and computes each output's matte, and every
output has a writer thread that renders its picture, encodes and muxes. Bounded queues keep memory
flat and let decoding, inference and encoding overlap on separate cores; the per-frame code itself
stays single-threaded.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import av
from tqdm import tqdm

from .config import PART_FIELD, RunConfig
from .errors import StreamMaskError
from .models import resolve_model
from .outputs import Output, make_output
from .parts import resolve_parts
from .segmenter import Segmenter
from .sidecar import describe, write_sidecar
from .sources import Frame, Source, open_source

QUEUE_SIZE = 8  # frames in flight between threads: enough to smooth jitter, small for memory
READER_JOIN_SECONDS = 2.0
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

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        line = (f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps), "
                f"{self.model_calls} model calls -> {', '.join(self.outputs)}")
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
        outputs = _make_outputs(config, segmenter.labels, model.name)
        opened: list[Output] = []
        try:
            for output in outputs:
                output.open(source.info, config.overwrite)
                opened.append(output)
        except BaseException:
            _discard(opened)
            raise
        started = time.perf_counter()
        bar = tqdm(total=source.info.frame_count, unit="frame", disable=None if config.progress else True,
                   file=sys.stderr, leave=False)
        interrupted = False
        try:
            _process(source, segmenter, outputs, bar)
        except KeyboardInterrupt:
            interrupted = True
        except BaseException:
            _discard(outputs)
            raise
        finally:
            bar.close()
        frames = min(output.sink.frames_written for output in outputs)
        if frames == 0:
            _discard(outputs)
            if interrupted:
                raise KeyboardInterrupt  # nothing to finalise: an ordinary Ctrl-C for the caller
            raise StreamMaskError("no frames to write")
        for output in outputs:
            output.close()
            output.sink.close()
            write_sidecar(output.sink.path, describe(config, output.spec, model, [part.name for part in output.parts],
                                                     source.info, output.sink.frames_written, interrupted))
        return RunStats(frames, time.perf_counter() - started, tuple(output.sink.path for output in outputs),
                        model.name, segmenter.calls, interrupted)


def _make_outputs(config: RunConfig, labels: list[str], model_name: str) -> list[Output]:
    """One Output per spec; a `{part}` path becomes one output per selected part."""
    outputs = []
    for spec in config.outputs:
        parts = resolve_parts(spec.parts, labels, model_name)
        if PART_FIELD not in spec.path:
            outputs.append(make_output(spec, parts, config.confidence))
            continue
        for part in parts:
            single = replace(spec, path=spec.path.replace(PART_FIELD, part.name), parts=(part.name,))
            outputs.append(make_output(single, [part], config.confidence))
    paths = [output.spec.path for output in outputs]
    if len(set(paths)) != len(paths):
        raise StreamMaskError("two outputs have the same path")
    return outputs


def _discard(outputs: list[Output]) -> None:
    for output in outputs:
        output.close()
        if output.sink is not None:
            output.sink.abort()


def _process(source: Source, segmenter: Segmenter, outputs: list[Output], bar: tqdm) -> None:
    """Segment every frame of `source` once into every output; on any exit, what was queued is written."""
    reader = _Reader(source)
    writers = [_Writer(output) for output in outputs]
    try:
        for item in reader:
            if isinstance(item, av.Packet):
                for writer in writers:
                    writer.put(item)
                continue
            planes = segmenter.segment(item.rgb, round(item.seconds * 1000))
            shape = item.rgb.shape[:2]
            for output, writer in zip(outputs, writers):
                writer.put((item, output.matte(planes, shape)))
            bar.update()
    finally:
        reader.close()
        for writer in writers:
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
    """Renders, encodes and muxes one output on its own thread: audio packets and (frame, matte) pairs."""

    def __init__(self, output: Output) -> None:
        self._output = output
        self._sink = output.sink
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
                    frame, matte = item
                    self._sink.write(frame, self._output.render(frame.rgb, matte))
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
