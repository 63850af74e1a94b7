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
from dataclasses import dataclass, replace

import numpy as np

from .config import RunConfig
from .errors import StreamMaskError
from .frames import Source
from .landmarks import FaceParts, PartModels  # face-landmark parts
from .loop import run_loop
from .models import ResolvedModel, resolve_model
from .output_set import discard, open_outputs
from .outputs import Output
from .parts import LANDMARK_PARTS, is_landmark_only, person_part
from .planes import PlaneMaker
from .segmenter import Refiner, Segmenter
from .sidecar import describe
from .sources import open_source
from .stops import StopRequest
from .temporal import Stabiliser

LIVE_SMOOTHING = 0.7  # cameras, streams and --realtime smooth by default; files keep the exact rule


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
        outputs, preview = open_outputs(config, source.info, models.labels, model.name)
        started = time.perf_counter()
        try:
            loop = run_loop(source, maker, outputs, preview, stop, config.progress)
        except BaseException:
            discard(outputs)  # any error: nothing half-written is left
            raise
        finally:
            if preview is not None:
                preview.close()
        frames = min((output.sink.frames_written for output in outputs), default=loop.frames)
        if frames == 0:
            discard(outputs)
            if loop.interrupted:
                raise KeyboardInterrupt  # nothing to finalise: an ordinary Ctrl-C for the caller
            raise StreamMaskError("no frames to write")
        _publish(outputs, config, model, source, loop.interrupted)
        return RunStats(frames, time.perf_counter() - started, tuple(output.sink.path for output in outputs),
                        model.name, maker.calls, loop.interrupted, source.info.live, loop.dropped,
                        _percentile_ms(loop.latencies, 50), _percentile_ms(loop.latencies, 95),
                        source.ended_early, source.skipped, source.skipped_what, tuple(source.warnings))


def _plane_maker(config: RunConfig, model: ResolvedModel, models: PartModels, stack: contextlib.ExitStack) -> PlaneMaker:
    """The models plus what the run asks of them: refine passes, --smooth, --every."""
    refine = None
    if config.refine:
        refine = stack.enter_context(Refiner.for_labels(model.path, models.labels, config.confidence,
                                                        passes=config.refine))
    stabiliser = Stabiliser(config.smooth, person_part(models.labels)) if config.smooth else None
    return PlaneMaker(models, refine, stabiliser, config.every)


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
            discard(outputs[index:])
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
