"""The `stream-mask` command: argument parsing and one-line errors; the work is in pipeline.py."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .config import (CONFIDENCE_MAX, CONFIDENCE_MIN, CORES_PER_RUN, DEFAULT_CONFIDENCE, DEFAULT_H264_CRF,
                     DEFAULT_H264_PRESET, DEFAULT_REFINE_PASSES, DEFAULT_SMOOTHING, H264_CRF_MAX, H264_PRESETS, KINDS,
                     SUBJECT_RELEASE_S, RunConfig, default_workers, parse_parts, parse_size, parse_subjects)
from .errors import StreamMaskError
from .models import format_model_table, model_statuses
from .settings import OUTPUTS_KEY, Settings, check_input, merge, to_run_config, to_settings
from .stops import StopRequest

EXAMPLES = """examples:
  stream-mask run talk.mp4 -o face.mkv                      face mask (multiclass model), lossless
  stream-mask run talk.mp4 -o hair.mp4 --parts hair,face    H.264 that any player shows
  stream-mask run clip.mov -o masks/%05d.png --model selfie --parts person
  stream-mask models                                        where the models are, verified or not
"""

BATCH_EXAMPLES = """examples:
  stream-mask batch clips/ -o "masks/{stem}.mkv"              every video in clips/, resumable
  stream-mask batch shoot/ --recursive -o "masks/{parent}/{stem}.mkv" --report report.json
  stream-mask batch "clips/*.mp4" -o "{stem}_{part}.mkv" --parts hair,face --ray 10.0.0.1:6379
({stem}: the input's name without extension, {name}: with it, {parent}: its folder's name)
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, like every other error of the command."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"stream-mask: error: {message} (see --help)\n")


OUTPUT_OPTIONS_HELP = """
several outputs, one pass of the model (options before an -o belong to it):
  stream-mask run talk.mp4 --parts hair -o hair.mkv --parts face -o face.mkv --effect blur -o blurred.mp4
  stream-mask run talk.mp4 --parts hair,face,clothes -o "matte_{part}.mkv" --kind labels -o classes.mkv
"""


class _OutputOption(argparse.Action):
    """A per-output option: held until the next -o takes it (see _AddOutput)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        pending = dict(getattr(namespace, "pending", None) or {})
        pending[self.dest] = True if self.nargs == 0 else values
        namespace.pending = pending


class _AddOutput(argparse.Action):
    """-o PATH: a new output that takes the per-output options given since the previous -o."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        outputs = list(getattr(namespace, "outputs", None) or [])
        outputs.append((values, dict(getattr(namespace, "pending", None) or {})))
        namespace.outputs, namespace.pending = outputs, {}


# Run-level flags whose value is the setting of the same name (the rest: -q, --edges and the finish flags, below).
RUN_FLAGS = ("input", "confidence", "model", "model_dir", "overwrite", "realtime", "live", "every", "refine", "smooth",
             "size", "fps", "mirror", "preview", "faces", "subjects", "h264_crf", "h264_preset")
FINISH_FLAGS = ("min_island", "fill_holes", "shrink", "grow", "feather")


def given_settings(args: argparse.Namespace) -> tuple[Settings, Settings]:
    """What the `run` command line gives, as settings (flags not given are absent: a config file's values stand),
    and the per-output flags given with no -o, which apply to every output of a config file."""
    settings: Settings = {name: getattr(args, name) for name in RUN_FLAGS if getattr(args, name, None) is not None}
    if args.quiet:
        settings["progress"] = False
    finish = {name: getattr(args, name) for name in FINISH_FLAGS if getattr(args, name) is not None}
    if args.edges is not None:
        finish["guided"] = args.edges == "guided"
    if finish:
        settings["finish"] = finish
    outputs = [{"path": path, **options} for path, options in args.outputs or []]
    pending = dict(getattr(args, "pending", None) or {})
    if outputs and pending:  # options after the last -o belong to it (so `-o x --parts hair` works)
        outputs[-1].update(pending)
        pending = {}
    if outputs:
        settings[OUTPUTS_KEY] = outputs
    return settings, pending


def configured_settings(args: argparse.Namespace) -> tuple[Settings, Settings]:
    """The config file's settings (--config) with the command line's on top, key by key; and the per-output flags
    given with no -o and no config file's outputs to apply them to."""
    from . import config_files  # only a run reads config files

    given, every_output = given_settings(args)
    base = config_files.load(args.config) if args.config else {}
    return merge(base, given, every_output if base.get(OUTPUTS_KEY) else None), every_output


def resolved_settings(args: argparse.Namespace) -> Settings:
    """The run's settings: the config file's (--config), with the command line's on top, key by key."""
    settings, every_output = configured_settings(args)
    if "input" not in settings:  # before the window: what the user must hear first
        if not args.config:
            raise _UsageError("the following arguments are required: input (or --config with `input = ...`)")
        check_input(settings)
    if not settings.get(OUTPUTS_KEY) and every_output:  # no output at all: they choose what the preview shows
        unknown = sorted(set(every_output) - {"parts", "effect"})
        if unknown:
            raise StreamMaskError(f"--{unknown[0]} needs an -o OUTPUT")
        settings.setdefault("preview_parts", every_output.get("parts"))
        settings.setdefault("preview_effect", every_output.get("effect"))
    if not settings.get(OUTPUTS_KEY) and settings.get("preview") is None:
        from .preview import display_available

        if not display_available():
            raise _UsageError("no display for a preview window: give -o OUTPUT (the following arguments are "
                              "required: -o/--output)")
        settings["preview"] = True  # no output: show the result in a window
    return settings


def run_config(args: argparse.Namespace) -> RunConfig:
    """The settings of a parsed `run` command line (with its --config file)."""
    return to_run_config(resolved_settings(args), args.config or "the command line")


class _UsageError(StreamMaskError):
    """A malformed command line (exit code 2, as argparse's own)."""


def print_config(args: argparse.Namespace) -> str:
    """--print-config: the fully resolved run as TOML; saved to a file, `--config FILE` runs it again."""
    from . import config_files
    from .models import REGISTRY
    from .parts import default_parts

    config = run_config(args)
    settings = to_settings(config, recorded=False)
    model = REGISTRY.get(config.model)
    for table in settings.get(OUTPUTS_KEY, ()):
        if table["parts"] is None and model is not None:
            table["parts"] = list(default_parts(model.labels))
    notes = [f"stream-mask {__version__}: the settings of this run; `stream-mask run --config FILE.toml` runs it."]
    description = config_files.description(args.config) if args.config else None
    if description:
        notes.append(f"From preset {args.config}: {description}")
    if config.smooth is None:
        notes.append(f"smooth: not set, so {DEFAULT_SMOOTHING:g} for live inputs (cameras, streams, --realtime) "
                     "and 0 (off) for files.")
    if config.live is None:
        notes.append("live: not set, so decided when the input is opened (see --live).")
    if any(table["parts"] is None for table in settings.get(OUTPUTS_KEY, ())):
        notes.append("parts: not set, so the model's default parts.")
    return config_files.to_toml(settings, "\n".join(notes))


def _size(text: str) -> tuple[int, int]:
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, 1 or more, got {text!r}")
    return int(text)


def _subjects(text: str) -> int:
    try:
        return parse_subjects(text)
    except StreamMaskError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _confidence(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options of `run` that apply to any input, one definition for `run` and `batch`: --config, the outputs
    (-o and the per-output options), the model and its settings, edges and shape, --every, --overwrite and -q."""
    parser.add_argument("--config", metavar="NAME|FILE",
                        help="start from a preset (see `stream-mask presets`), a TOML file or an output's sidecar JSON "
                             "(to make it again); flags given here override it key by key")
    parser.add_argument("-o", "--output", action=_AddOutput, metavar="OUTPUT", dest="outputs",
                        help="out.mkv (lossless FFV1), out.mp4 (H.264), out.mov (ProRes 4444 with alpha), out.webm "
                             "(VP9 with alpha), a folder or masks/%%05d.png (PNGs), out.png (one image); "
                             "out_{part}.mkv writes one file per part. Live: virtualcam (a virtual camera), "
                             "rtmp://HOST/APP/KEY (FLV), udp://HOST:PORT or srt://HOST:PORT (MPEG-TS), low-latency H.264; "
                             "they get the composite unless --kind says. Repeat -o for several outputs from one pass")
    output_options = parser.add_argument_group("per-output options (apply to the next -o; after the last -o, to it)")
    output_options.add_argument("--kind", action=_OutputOption, choices=KINDS,
                                help="mask (grey matte), alpha (frame + matte as alpha), composite (frame with --effect), "
                                     "overlay (parts tinted), labels (class index per pixel). Default: alpha for "
                                     ".mov/.webm, composite when --effect is given, else mask")
    output_options.add_argument("--parts", action=_OutputOption, type=parse_parts,
                                help="comma-separated parts; multiclass: background, hair, body, face, clothes, others, "
                                     "person (default face); selfie: person, background (default person); with any model, "
                                     "the face-landmark parts face_oval, left_eye, right_eye, left_eyebrow, right_eyebrow, "
                                     "left_iris, right_iris, lips, mouth (see --faces); 'none' gives a black mask")
    output_options.add_argument("--soft", action=_OutputOption, nargs=0,
                                help="soft matte: 255 x the confidence where it is above --confidence, 0 below "
                                     "(binary by default); composites and alpha then blend their edges by it")
    output_options.add_argument("--effect", action=_OutputOption,
                                help="composite effect outside the parts: blur[:STRENGTH], color:#00ff00, image:PATH, "
                                     "video:PATH (looped), desaturate")
    output_options.add_argument("--invert", action=_OutputOption, nargs=0,
                                help="apply the effect to the selected parts instead of everything else")
    parser.add_argument("--confidence", type=_confidence,
                        help=f"a pixel is masked when a part's confidence is above this, {CONFIDENCE_MIN} to "
                             f"{CONFIDENCE_MAX} (default {DEFAULT_CONFIDENCE})")
    parser.add_argument("--model",
                        help="multiclass (6 classes, default), selfie (person/background) or a path to a .tflite segmentation model")
    parser.add_argument("--model-dir", help="folder to look for model files in first (then $STREAM_MASK_MODEL_DIR, then the cache)")
    parser.add_argument("--refine", type=int, nargs="?", const=DEFAULT_REFINE_PASSES,
                        metavar="PASSES",
                        help="another pass on a crop around the people (bounding box + 20%%), pasted back: better masks "
                             f"of small or distant people; PASSES (default {DEFAULT_REFINE_PASSES}) repeats it around "
                             "each result")
    parser.add_argument("--faces", type=int, metavar="N",
                        help="face-landmark parts (face_oval, left_eye, right_eye, left_eyebrow, right_eyebrow, "
                             f"left_iris, right_iris, lips, mouth): mask up to N faces (default {RunConfig.faces})")
    parser.add_argument("--subjects", type=_subjects, metavar="all|N",
                        help="keep only the N main people (the largest, most central over the first %g s, then each "
                             "followed from frame to frame; one unseen for %g s is replaced), for every part and output; "
                             "people who touch are told apart at their bodies, or kept together. Default: all"
                             % (SUBJECT_RELEASE_S, SUBJECT_RELEASE_S))
    parser.add_argument("--smooth", type=float, nargs="?", const=DEFAULT_SMOOTHING,
                        metavar="STRENGTH",
                        help="temporal smoothing of the confidences before the threshold, motion-aware (0 off .. <1; "
                             f"default {DEFAULT_SMOOTHING:g} when given): steadier masks; on for cameras/streams/"
                             "--realtime, off for files")
    finish = parser.add_argument_group("edges and shape (every output; see the pictures in the README)")
    finish.add_argument("--edges", choices=("none", "guided"),
                        help="guided: snap mask edges to the frame's own edges (fast guided filter) before the threshold")
    finish.add_argument("--min-island", type=int, metavar="AREA",
                        help="remove specks smaller than AREA pixels")
    finish.add_argument("--fill-holes", type=int, metavar="AREA",
                        help="fill enclosed holes up to AREA pixels")
    finish.add_argument("--shrink", type=int, metavar="PX", help="erode the mask by PX pixels")
    finish.add_argument("--grow", type=int, metavar="PX", help="dilate the mask by PX pixels")
    finish.add_argument("--feather", type=int, metavar="PX", help="soft edge about PX pixels wide")
    parser.add_argument("--every", type=int, metavar="N",
                        help="run the model on every Nth frame and reuse its masks in between (slow machines)")
    parser.add_argument("--overwrite", action="store_const", const=True, help="replace existing outputs")
    h264 = parser.add_argument_group("H.264 files (.mp4, .mov, colour .mkv)")
    h264.add_argument("--h264-crf", type=int, metavar="N",
                      help=f"quality, 0 to {H264_CRF_MAX}: lower is better and larger (default {DEFAULT_H264_CRF}, "
                           "visually lossless; 20-23 for smaller files)")
    h264.add_argument("--h264-preset", choices=H264_PRESETS, metavar="PRESET",
                      help=f"x264's speed, {', '.join(H264_PRESETS)}: the faster ones take less CPU and make "
                           f"larger files (default {DEFAULT_H264_PRESET})")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def add_live_options(parser: argparse.ArgumentParser) -> None:
    """`run`'s options for cameras, streams and --realtime (not `batch`'s: it reads files)."""
    live = parser.add_argument_group("live (cameras, streams, --realtime)")
    live.add_argument("--realtime", action=argparse.BooleanOptionalAction,
                      help="pace a video file at its own frame rate and drop stale frames, like a camera")
    live.add_argument("--live", action=argparse.BooleanOptionalAction,
                      help="a network stream is live (drop stale frames, smooth by default) or, with --no-live, read "
                           "like a file (every frame). Default: rtsp/udp/srt/rtmp are live; http(s) is live unless "
                           "FFmpeg knows its duration (a video file, a finished HLS playlist)")
    live.add_argument("--size", type=_size, help="camera: ask for this size, e.g. 1280x720")
    live.add_argument("--fps", type=float, help="camera: ask for this frame rate")
    live.add_argument("--mirror", action=argparse.BooleanOptionalAction, help="flip frames left-right (selfie cameras)")
    live.add_argument("--preview", action=argparse.BooleanOptionalAction,
                      help="show a window (the default without -o): views composite/mask/overlay/cutout; keys: "
                           "q/Esc quit, space pause, 1-6 toggle parts, [ ] confidence, m view, f stats, h help; click a "
                           "person: keep only them, a: all people again")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="stream-mask",
        description="Mask parts of people (background, hair, body, face, clothes) in videos and images with MediaPipe.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"stream-mask {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="turn a video, an image or a folder of images into masks",
                              epilog=EXAMPLES + OUTPUT_OPTIONS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("input", nargs="?",
                     help="video file (mp4, mkv, mov, webm, avi, gif...), image, folder or glob of images, camera:N, "
                          "a stream URL (may come from --config instead)")
    run.add_argument("--print-config", action="store_true",
                     help="print the run's resolved settings as TOML and exit without running (save it, then --config it)")
    add_run_options(run)
    add_live_options(run)

    batch = commands.add_parser("batch", help="many video files: resumable, on local worker processes or Ray",
                                epilog=BATCH_EXAMPLES + OUTPUT_OPTIONS_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    batch.add_argument("inputs", nargs="+", metavar="INPUT",
                       help="video files, folders (searched for videos) or quoted globs")
    add_run_options(batch)
    work = batch.add_argument_group("batch")
    work.add_argument("--recursive", action="store_true", help="search folders' subfolders too (and ** in globs)")
    work.add_argument("--workers", type=_positive, metavar="N",
                      help=f"local worker processes, each keeping its models open (default: one per {CORES_PER_RUN} "
                           f"cores, {default_workers()} here); with --ray, at most N Ray workers (default: as many "
                           "as the cluster's CPUs allow)")
    work.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                      help="run on Ray: a local Ray (started or joined) or the cluster at ADDRESS (host:port); "
                           "inputs and outputs must be on storage every node sees")
    work.add_argument("--report", metavar="FILE", help="write every file's result as JSON")
    work.add_argument("-v", "--verbose", action="store_true", help="a line per file as it ends")

    commands.add_parser("presets", help="list the presets --config NAME takes, with what each is for")

    models = commands.add_parser("models", help="list the known models, where they are and whether they are verified")
    models.add_argument("--model-dir", help="folder to look in first")

    comfyui = commands.add_parser("comfyui-install", help="add the ComfyUI nodes: write one small file into ComfyUI's "
                                  "custom_nodes folder (install stream-mask in ComfyUI's own Python too)")
    comfyui.add_argument("path", help="ComfyUI's custom_nodes folder (or the ComfyUI folder)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    stop = StopRequest()  # Ctrl-C, SIGTERM and SIGHUP: see stops.py
    with stop.handling():
        return _main(argv, stop)


def _main(argv: Sequence[str] | None, stop: StopRequest) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "models":
            print(format_model_table(model_statuses(args.model_dir)))
            return 0
        if args.command == "presets":
            from .config_files import presets

            for name, description in presets().items():
                print(f"{name:24} {description}")
            return 0
        if args.command == "comfyui-install":
            from .comfyui.install import install

            print(f"wrote {install(args.path)}: restart ComfyUI; the nodes are in its node search as \"A Person Mask "
                  f"Generator\", \"A Person Face Landmark Mask Generator\" and \"Person Mask (video)\"")
            return 0
        if args.command == "batch":
            return _batch(args, stop)
        if args.print_config:
            print(print_config(args), end="")
            return 0
        config = run_config(args)
        from .pipeline import run  # imports MediaPipe: keep --help and `models` fast

        stats = run(config, stop)
    except _UsageError as error:
        parser.error(str(error))
    except StreamMaskError as error:
        print(f"stream-mask: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before the first frame: once frames are written, run() finalises them
        print("stream-mask: interrupted: nothing written", file=sys.stderr)
        return stop.exit_code
    for warning in stats.warnings:  # damaged input that was skipped
        print(f"stream-mask: warning: {warning}", file=sys.stderr)
    print(stats.summary())
    return stop.exit_code if stats.interrupted else 0


def _batch(args: argparse.Namespace, stop: StopRequest) -> int:
    import time

    from .batch import run_batch, summary  # imports PyAV: keep --help and `models` fast

    settings, _ = configured_settings(args)
    if not settings.get(OUTPUTS_KEY):
        raise StreamMaskError("give -o PATTERN, e.g. -o \"masks/{stem}.mkv\" (or outputs in --config)")
    origin = args.config or "the command line"
    workers = args.workers or (0 if args.ray is not None else default_workers())
    started = time.perf_counter()
    results = run_batch(args.inputs, lambda path: to_run_config({**settings, "input": path}, origin),
                        recursive=args.recursive, workers=workers, ray=args.ray, report=args.report,
                        verbose=args.verbose, progress=not args.quiet, stop=stop)
    print(summary(results, time.perf_counter() - started))
    if stop.requested:
        return stop.exit_code
    return 1 if any(result.status == "failed" for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
