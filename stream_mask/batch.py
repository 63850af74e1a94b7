"""`stream-mask batch`: many files, each one `stream-mask run`, resumable, on local worker processes or on Ray.

- Plan: the inputs (files, folders searched for videos, globs) and, for each, its outputs from the -o patterns
  ({stem}, {name}, {parent}); two inputs that would write one output are refused before anything runs.
- Each file is `pipeline.run` in a worker that keeps its models open from file to file (pipeline.KeptModels).
  An output is done when its sidecar records the settings this batch would record, the same model, and the same
  input file (size and mtime_ns): such a file is skipped, so a batch started again finishes the rest.
- A file that fails is reported with its reason and the batch goes on; a worker process that dies (a crash, the
  OOM killer) is replaced and its file tried again (WORKER_RETRIES; on Ray, Ray's own actor restarts).
- Nothing partial is published: a stopped batch discards the files in progress (keep_partial=False); a killed one
  leaves hidden partials that the next run to claim the name removes (publish.py).
"""

from __future__ import annotations

import glob
import json
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from .config import CORES_PER_RUN, VIDEO_EXTENSIONS, WORKER_RETRIES, RunConfig
from .errors import StreamMaskError
from .publish import partial_path, publish_file, tidy
from .settings import OUTPUTS_KEY, to_settings
from .sidecar import file_identity, sidecar_path
from .stops import StopRequest

if TYPE_CHECKING:
    from .pipeline import KeptModels

PROGRESS_SECONDS = 0.25  # how often a worker reports the frames it has done
POLL_SECONDS = 0.2  # how soon the batch notices a stop request while it waits for its workers


@dataclass(frozen=True)
class FileResult:
    """What became of one input."""

    input: str
    status: str  # "done", "skipped" (its outputs were done already), "failed", "stopped" (left for the next run)
    outputs: tuple[str, ...] = ()
    frames: int = 0
    seconds: float = 0.0
    reason: str = ""  # why it failed


# --- the plan -------------------------------------------------------------------------------------------------


def find_inputs(specs: Sequence[str], recursive: bool = False) -> list[str]:
    """The files of INPUTS: files as given, folders searched for videos (VIDEO_EXTENSIONS; their subfolders with
    `recursive`), globs (`**` with `recursive`). Hidden files and stream-mask outputs (a file with a sidecar) in a
    folder are left out, so that outputs written inside the input folder are not taken as inputs next time."""
    found: list[str] = []
    for spec in specs:
        if os.path.isdir(spec):
            pattern = os.path.join(spec, "**", "*") if recursive else os.path.join(spec, "*")
            found += sorted(path for path in glob.glob(pattern, recursive=recursive)
                            if Path(path).suffix.lower() in VIDEO_EXTENSIONS and _searchable(path))
        elif os.path.lexists(spec):
            found.append(spec)
        elif glob.has_magic(spec):
            matches = sorted(path for path in glob.glob(spec, recursive=recursive) if os.path.isfile(path))
            if not matches:
                raise StreamMaskError(f"no files match {spec}")
            found += matches
        else:
            raise StreamMaskError(f"input not found: {spec}")
    unique: dict[str, str] = {}
    for path in found:
        unique.setdefault(os.path.realpath(path), path)
    if not unique:
        raise StreamMaskError(f"no videos in {', '.join(specs)} ({', '.join(VIDEO_EXTENSIONS)}"
                              f"{'' if recursive else '; --recursive searches subfolders'})")
    return list(unique.values())


def _searchable(path: str) -> bool:
    return os.path.isfile(path) and not Path(path).name.startswith(".") and not sidecar_path(path).exists()


def plan(inputs: Sequence[str], make_config: Callable[[str], RunConfig]) -> list[RunConfig]:
    """One run per input (`make_config(input)`: the batch's settings with that input, its outputs' {stem}, {name}
    and {parent} filled in). Refuses, before anything runs, two inputs that would write one output (a pattern
    without {stem} or {name}, or one that drops what tells them apart)."""
    configs, writers = [], {}
    for input_path in inputs:
        config = make_config(input_path)
        for spec in config.outputs:
            key = os.path.realpath(spec.path)
            if key in writers:
                raise StreamMaskError(f"{writers[key]} and {input_path} would both write {spec.path}: put "
                                      f"{{stem}} or {{name}} (and {{parent}} for files of the same name in "
                                      f"different folders) in -o")
            writers[key] = input_path
        configs.append(replace(config, progress=False, preview=False))
    return configs


def frame_count(input_path: str) -> int | None:
    """How many frames the input has, if its container says so (for the progress bar's total)."""
    from .sources import open_source

    try:
        with open_source(input_path) as source:
            return source.info.frame_count
    except (StreamMaskError, OSError):
        return None  # the worker says why it cannot be read


# --- one file, in a worker ------------------------------------------------------------------------------------


def process_file(config: RunConfig, models: KeptModels, stop: StopRequest,
                 report_frames: Callable[[int], None] | None = None) -> FileResult:
    """Run one file on open `models` (pipeline.KeptModels), unless its outputs are done already; `report_frames`
    (a callable taking a number of frames) hears of progress. A stop request discards the file's outputs."""
    from .output_set import output_parts
    from .pipeline import run
    from .planes import choose_models

    started = time.perf_counter()
    try:
        stop.defer()  # a stop request between two files must not raise at an arbitrary point
        if stop.requested:
            raise KeyboardInterrupt
        choice = choose_models(config)
        masker = models.masker(config, choice, False)
        files = replace(config, smooth=config.smoothing(False))  # as the sidecar records a file's run
        planned = output_parts(files, masker.classes, choice.model.name)
        done = [_is_done(spec.path, to_settings(files, replace(spec, parts=tuple(part.name for part in parts))),
                         choice.model.sha256, config.input) for spec, parts in planned]
        paths = tuple(spec.path for spec, _ in planned)
        if all(done) and not config.overwrite:
            for path in paths:  # a batch killed just after publishing one may have left its claim
                tidy(Path(path), [sidecar_path(path)])
            return FileResult(config.input, "skipped", paths)
        for path in paths:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Outputs of this batch already done are replaced with the same; anything else there needs --overwrite.
        ours = any(done) and all(is_done or not os.path.lexists(spec.path) for is_done, (spec, _) in zip(done, planned))
        counter = _FrameCounter(report_frames)
        stats = run(replace(config, overwrite=config.overwrite or ours), stop, models=models, on_frame=counter,
                    keep_partial=False)
        counter.flush()
        return FileResult(config.input, "done", stats.outputs, stats.frames, time.perf_counter() - started)
    except StreamMaskError as error:
        return FileResult(config.input, "failed", reason=str(error), seconds=time.perf_counter() - started)
    except KeyboardInterrupt:
        return FileResult(config.input, "stopped", seconds=time.perf_counter() - started)


def _is_done(path: str, settings: dict[str, Any], model_sha256: str, input_path: str) -> bool:
    """Whether `path` holds a complete output made with `settings` and this model, from this very input file."""
    if not os.path.exists(path):
        return False
    try:
        with open(sidecar_path(path)) as file:
            recorded = json.load(file)
        identity = file_identity(input_path)
        return (not recorded["interrupted"] and recorded["model"]["sha256"] == model_sha256 and bool(identity)
                and all(recorded["input"].get(name) == value for name, value in identity.items())
                and _compared(recorded["settings"]) == _compared(settings))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False  # no sidecar, or not one of ours: not done


def _compared(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings without the names of files (spelt as each run was given them: the identity compares the input)."""
    outputs = [{name: value for name, value in table.items() if name != "path"} for table in settings[OUTPUTS_KEY]]
    return {**{name: value for name, value in settings.items() if name != "input"}, OUTPUTS_KEY: outputs}


class _FrameCounter:
    """`on_frame` for a run: counts frames and hands them to `report` at most every PROGRESS_SECONDS."""

    def __init__(self, report: Callable[[int], None] | None) -> None:
        self.report, self.count, self.last = report, 0, time.monotonic()

    def __call__(self) -> None:
        self.count += 1
        if self.report is not None and time.monotonic() - self.last >= PROGRESS_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.report is not None and self.count:
            self.report(self.count)
        self.count, self.last = 0, time.monotonic()


# --- local worker processes -----------------------------------------------------------------------------------


def _local_worker(conn: Any) -> None:
    """A worker process: runs the files it is sent, one at a time, on models it keeps open; sends back
    ("frames", n) as it goes and ("result", FileResult) for each file. SIGTERM stops the file in progress
    (discarded); Ctrl-C is the batch's to handle (it sends SIGTERM); the batch's death is a SIGTERM too."""
    from .pipeline import KeptModels

    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = StopRequest()
    stop.defer()  # a signal is a request, answered between frames: never an exception in the middle of a write
    with stop.handling([signal.SIGTERM]), KeptModels() as models:
        while not stop.requested:
            try:
                config = conn.recv()
            except (EOFError, OSError):
                return
            if config is None:
                return
            conn.send(("result", process_file(config, models, stop, lambda frames: conn.send(("frames", frames)))))


def _die_with_parent() -> None:
    """Linux: SIGTERM this process when the batch dies, even by SIGKILL (else it would finish its file alone)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() == 1:  # the batch died before the call
            os.kill(os.getpid(), signal.SIGTERM)


class _Worker:
    def __init__(self, context: Any) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_local_worker, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.job: tuple[RunConfig, int] | None = None  # the file it runs, and how many times it was tried

    def give(self, config: RunConfig, tries: int) -> None:
        self.job = (config, tries)
        self.conn.send(config)


def local_events(configs: Sequence[RunConfig], workers: int, stop: StopRequest) -> Iterator[tuple[str, Any]]:
    """Run `configs` on `workers` local processes; yields ("frames", n) and ("result", FileResult)."""
    import multiprocessing
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")  # no fork of a process with threads and MediaPipe in it
    pending = deque((config, 0) for config in configs)
    pool = [_Worker(context) for _ in range(max(1, min(workers, len(configs))))]
    stopping = False
    try:
        while pending or any(worker.job for worker in pool):
            if stop.requested and not stopping:
                stopping = True
                yield from (("result", FileResult(config.input, "stopped")) for config, _ in pending)
                pending.clear()
                for worker in pool:
                    if worker.job:
                        worker.process.terminate()  # SIGTERM: the file in progress is discarded
            for worker in pool:
                if worker.job is None and pending:
                    worker.give(*pending.popleft())
            busy = [worker for worker in pool if worker.job]
            ready = wait([worker.conn for worker in busy] + [worker.process.sentinel for worker in busy],
                         POLL_SECONDS)
            for index, worker in enumerate(pool):
                if worker.job is None or (worker.conn not in ready and worker.process.sentinel not in ready):
                    continue
                try:
                    while worker.conn.poll():
                        kind, value = worker.conn.recv()
                        if kind == "result":
                            worker.job = None
                        yield kind, value
                except (EOFError, OSError):
                    pass
                if worker.job is not None and not worker.process.is_alive():  # died without an answer
                    config, tries = worker.job
                    worker.process.join()
                    why = f"its worker process died ({_exit_reason(worker.process.exitcode)})"
                    if stopping:
                        yield "result", FileResult(config.input, "stopped")
                    elif tries < WORKER_RETRIES:
                        pending.appendleft((config, tries + 1))
                    else:
                        yield "result", FileResult(config.input, "failed", reason=why)
                    worker.job = None
                    pool[index] = _Worker(context) if pending else worker
    finally:
        for worker in pool:
            if worker.process.is_alive():
                try:
                    worker.conn.send(None)
                except OSError:
                    worker.process.terminate()
        for worker in pool:
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit code {code}"


# --- Ray --------------------------------------------------------------------------------------------------------


class RayWorker:
    """A Ray actor: runs files on models it keeps open (the local worker's counterpart)."""

    def __init__(self) -> None:
        from .pipeline import KeptModels

        self.models = KeptModels()
        self.stop = StopRequest()

    def process(self, config: RunConfig) -> FileResult:
        return process_file(config, self.models, self.stop)


def ray_events(configs: Sequence[RunConfig], workers: int | None, address: str, stop: StopRequest
               ) -> Iterator[tuple[str, Any]]:
    """Run `configs` as tasks of Ray actors (at most `workers`; None: as many as the cluster's CPUs allow),
    started on `address` ("": start or join a local Ray). Inputs and outputs must be paths every node sees.
    A lost worker is restarted and its file tried again by Ray (max_restarts, max_task_retries)."""
    try:
        import ray
    except ImportError:
        raise StreamMaskError("--ray needs Ray: pip install 'stream-mask[ray]'") from None

    env = {name: value for name, value in os.environ.items() if name.startswith("STREAM_MASK_")}
    try:
        ray.init(address=address or None, runtime_env={"env_vars": env} if env else None,
                 log_to_driver=False, logging_level="ERROR", configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise StreamMaskError(f"cannot join Ray at {address or 'a local Ray'}: {error}") from None
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        count = max(1, min(workers or cpus // CORES_PER_RUN, len(configs)))
        actor = ray.remote(num_cpus=min(CORES_PER_RUN, cpus), max_restarts=WORKER_RETRIES,
                           max_task_retries=WORKER_RETRIES)(RayWorker)
        idle = [actor.remote() for _ in range(count)]
        pending, running = deque(configs), {}  # running: a task's future -> (its file, its actor)
        while pending or running:
            if stop.requested:
                for config in [*pending, *(config for config, _ in running.values())]:
                    yield "result", FileResult(config.input, "stopped")
                return  # the actors go with ray.shutdown; a file in progress leaves only a hidden partial
            while idle and pending:
                worker, config = idle.pop(), pending.popleft()
                running[worker.process.remote(absolute(config))] = (config, worker)  # runs in another folder
            done, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
            for future in done:
                config, worker = running.pop(future)
                idle.append(worker)
                try:
                    result = ray.get(future)
                except ray.exceptions.RayError as error:
                    result = FileResult(config.input, "failed", reason=f"lost on Ray: {type(error).__name__}")
                result = replace(result, input=config.input)  # as the user named it
                if result.frames:
                    yield "frames", result.frames
                yield "result", result
    finally:
        ray.shutdown()


# --- the command ------------------------------------------------------------------------------------------------


def absolute(config: RunConfig) -> RunConfig:
    """The run with its files named absolutely (a Ray worker runs in another folder)."""
    outputs = tuple(replace(spec, path=os.path.abspath(spec.path)) for spec in config.outputs)
    model_dir = os.path.abspath(config.model_dir) if config.model_dir else None
    return replace(config, input=os.path.abspath(config.input), outputs=outputs, model_dir=model_dir)


def run_batch(inputs: Sequence[str], make_config: Callable[[str], RunConfig], *, recursive: bool = False,
              workers: int = 1, ray: str | None = None, report: str | None = None, verbose: bool = False,
              progress: bool = True, stop: StopRequest | None = None) -> list[FileResult]:
    """Everything `stream-mask batch` does but print the summary: plan (`make_config(input)`: one file's run), run,
    report. `ray`: None runs on local worker processes, else the Ray address ("" for a local Ray)."""
    stop = stop or StopRequest()
    configs = plan(find_inputs(inputs, recursive), make_config)
    counts = {config.input: frame_count(config.input) for config in configs}
    total = None if None in counts.values() else sum(counts.values())
    stop.defer()  # from here a stop request is answered: files in progress discarded, the rest left for next time
    started = time.perf_counter()
    if ray is None:
        events = local_events(configs, workers, stop)
    else:
        events = ray_events(configs, workers if workers else None, ray, stop)
    results: list[FileResult] = []
    with tqdm(total=total, unit="frame", disable=None if progress else True, file=sys.stderr,
              dynamic_ncols=True) as bar:
        bar.set_description(f"0/{len(configs)} files")
        for kind, value in events:
            if kind == "frames":
                bar.update(value)
                continue
            results.append(value)
            if value.status == "skipped" and bar.total is not None:
                bar.total -= counts[value.input]
                bar.refresh()
            bar.set_description(f"{len(results)}/{len(configs)} files")
            if verbose:
                bar.write(describe_result(value), file=sys.stderr)
    if report:
        write_report(report, results, time.perf_counter() - started)
    return results


def describe_result(result: FileResult) -> str:
    """One file's line (-v, and the failed files in the summary)."""
    if result.status == "failed":
        return f"failed: {result.input}: {result.reason}"
    if result.status == "done":
        return f"done: {result.input} -> {', '.join(result.outputs)} ({result.frames} frames, {result.seconds:.1f} s)"
    return f"{result.status}: {result.input}"


def summary(results: Sequence[FileResult], seconds: float) -> str:
    """The counts, then a line per failed file."""
    counts = {status: sum(result.status == status for result in results)
              for status in ("done", "skipped", "failed", "stopped")}
    line = f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed"
    if counts["stopped"]:
        line = f"interrupted: {line}, {counts['stopped']} left (the same command finishes them)"
    frames = sum(result.frames for result in results)
    lines = [f"{line} in {seconds:.1f} s ({frames} frames)"]
    lines += [describe_result(result) for result in results if result.status == "failed"]
    return "\n".join(lines)


def write_report(path: str, results: Sequence[FileResult], seconds: float) -> None:
    """--report FILE: the counts and every file's result as JSON, written whole or not at all."""
    data = {"counts": {status: sum(result.status == status for result in results)
                       for status in ("done", "skipped", "failed", "stopped")},
            "seconds": round(seconds, 3), "files": [asdict(result) for result in results]}
    target = Path(path)
    partial = partial_path(target)
    try:
        partial.write_text(json.dumps(data, indent=2) + "\n")
        publish_file(partial, target, overwrite=True)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise StreamMaskError(f"cannot write the report {path}: {error.strerror or error}") from None
