"""One run: source -> segmenter (VIDEO mode, once per frame) -> every output's matte -> its sink.

Setup and publish: the input, the models and the outputs are opened here, the frame loop (loop.py,
where all threading lives) runs them, and then every output is published with its sidecar, or
discarded when the run failed.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace

import numpy as np

from .config import RunConfig, smoothing
from .errors import StreamMaskError
from .frames import Source
from .loop import run_loop
from .masker import VideoMasker
from .models import ResolvedModel
from .output_set import discard, open_outputs
from .outputs import Output
from .planes import ModelChoice, choose_models
from .sidecar import describe
from .sources import open_source
from .stops import StopRequest


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


class KeptModels:
    """Models kept open from run to run (a batch worker's): a run whose models and model settings are the last
    run's starts a new clip on them (VideoMasker.restart) instead of loading them again."""

    def __init__(self) -> None:
        self._key: tuple[object, ...] | None = None
        self._masker: VideoMasker | None = None

    def masker(self, config: RunConfig, choice: ModelChoice, live: bool) -> VideoMasker:
        """The open masker `VideoMasker.for_run` would give for this run."""
        key = (choice, config.confidence, smoothing(config.smooth, live), config.refine, config.every,
               config.finish, config.faces, config.subjects)
        if self._masker is not None and key == self._key:
            self._masker.restart()
            return self._masker
        self.close()
        self._masker, self._key = VideoMasker.for_run(config, choice, live), key
        return self._masker

    def close(self) -> None:
        if self._masker is not None:
            masker, self._masker, self._key = self._masker, None, None
            masker.close()

    def __enter__(self) -> KeptModels:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run(config: RunConfig, stop: StopRequest | None = None, *, models: KeptModels | None = None,
        on_frame: Callable[[], None] | None = None, keep_partial: bool = True) -> RunStats:
    """Execute one `stream-mask run`; raises StreamMaskError for anything the user can fix.

    A stop request (`stop`: the command routes SIGINT, SIGTERM and SIGHUP to it) after the first frame ends the
    loop, finalises what was written and returns with `interrupted` set (with `keep_partial` False, discards it and
    raises KeyboardInterrupt: a batch redoes the file instead); before it, nothing is written and
    KeyboardInterrupt propagates. Without `stop`, a run on the main thread treats Ctrl-C so itself (and puts the
    caller's handler back after). `models`: keep the models open for the next run (a batch worker's).
    `on_frame` is called after each frame (a batch's overall progress).
    """
    if stop is None:
        with StopRequest().handling([signal.SIGINT]) as stop:
            return run(config, stop, models=models, on_frame=on_frame, keep_partial=keep_partial)
    # The input first: a missing input is what the user must hear about, not a model it would need.
    opened_source = open_source(config.input, realtime=config.realtime, size=config.size, fps=config.fps,
                                mirror=config.mirror, live=config.live)
    try:
        choice = choose_models(config)  # face-landmark parts: only the models needed
    except BaseException:
        opened_source.close()
        raise
    model = choice.model
    with opened_source as source, _masker(config, choice, source.info.live, models) as masker:
        if config.smooth is None:  # resolved here, so that the sidecar records what was done
            config = replace(config, smooth=config.smoothing(source.info.live))
        if source.info.report and config.progress:
            print(f"stream-mask: {source.info.report}", file=sys.stderr)  # what the camera gave, vs. asked
        stop.defer()  # from here on a signal is a request the loop answers: outputs are finalised, never torn
        outputs, preview = open_outputs(config, source.info, masker.classes, model.name, masker.subjects)
        started = time.perf_counter()
        try:
            loop = run_loop(source, masker, outputs, preview, stop, config.progress, on_frame)
            if loop.interrupted and not keep_partial:
                raise KeyboardInterrupt
        except BaseException:
            discard(outputs)  # any error: nothing half-written is left
            raise
        finally:
            if preview is not None:
                preview.close()
        lost = [f"{why} (after {outputs[index].sink.frames_written} frames)" for index, why in loop.lost.items()]
        discard([outputs[index] for index in loop.lost])  # each ended by its own failure; released for sure
        outputs = [output for index, output in enumerate(outputs) if index not in loop.lost]
        frames = min((output.sink.frames_written for output in outputs), default=loop.frames)
        if frames == 0:
            discard(outputs)
            if loop.interrupted and not lost:
                raise KeyboardInterrupt  # nothing to finalise: an ordinary Ctrl-C for the caller
            raise StreamMaskError("; ".join(lost) or "no frames to write")
        _publish(outputs, config, model, source, loop.interrupted, lost)
        return RunStats(frames, time.perf_counter() - started, tuple(output.sink.path for output in outputs),
                        model.name, masker.calls, loop.interrupted, source.info.live, loop.dropped,
                        _percentile_ms(loop.latencies, 50), _percentile_ms(loop.latencies, 95),
                        source.ended_early, source.skipped, source.skipped_what, tuple(source.warnings))


def _masker(config: RunConfig, choice: ModelChoice, live: bool,
            models: KeptModels | None) -> AbstractContextManager[VideoMasker]:
    """The run's masker: its own (closed at the end), or the kept one (left open)."""
    if models is None:
        return VideoMasker.for_run(config, choice, live)
    return contextlib.nullcontext(models.masker(config, choice, live))


def _publish(outputs: list[Output], config: RunConfig, model: ResolvedModel, source: Source,
             interrupted: bool, lost: list[str]) -> None:
    """Finalise every output, with the sidecar that says how it was made. An output that cannot be finalised (a
    full disk) leaves nothing behind and does not keep the others from theirs; then one error names them all,
    with the outputs `lost` mid-run (a stream whose peer left)."""
    problems, written = list(lost), []
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
            discard(outputs[index:])
            raise
    if problems:
        raise StreamMaskError("; ".join(problems) + (f" ({', '.join(written)} written)" if written else ""))


