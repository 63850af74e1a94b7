"""The `stream-mask` command: argument parsing and one-line errors; the work is in pipeline.py."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .config import (CONFIDENCE_MAX, CONFIDENCE_MIN, DEFAULT_CONFIDENCE, DEFAULT_MODEL, DEFAULT_REFINE_PASSES,
                     DEFAULT_SMOOTHING, KINDS, SUBJECT_RELEASE_S, Finish, OutputSpec, RunConfig, parse_parts,
                     parse_subjects)
from .errors import StreamMaskError
from .models import format_model_table, model_statuses
from .stops import StopRequest

EXAMPLES = """examples:
  stream-mask run talk.mp4 -o face.mkv                      face mask (multiclass model), lossless
  stream-mask run talk.mp4 -o hair.mp4 --parts hair,face    H.264 that any player shows
  stream-mask run clip.mov -o masks/%05d.png --model selfie --parts person
  stream-mask models                                        where the models are, verified or not
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


def output_specs(args: argparse.Namespace) -> tuple[OutputSpec, ...]:
    """The -o list as OutputSpecs; options after the last -o belong to it (so `-o x --parts hair` works)."""
    outputs = list(args.outputs or [])
    pending = getattr(args, "pending", None)
    if pending and outputs:
        path, options = outputs[-1]
        outputs[-1] = (path, {**options, **pending})
    return tuple(OutputSpec(path, **options) for path, options in outputs)


def preview_choices(args: argparse.Namespace) -> dict[str, object]:
    """Without -o, --parts and --effect choose what the preview window starts with."""
    pending = getattr(args, "pending", None) or {}
    if args.outputs or not pending:
        return {}
    unknown = sorted(set(pending) - {"parts", "effect"})
    if unknown:
        raise StreamMaskError(f"--{unknown[0]} needs an -o OUTPUT")
    return {"preview_parts": pending.get("parts"), "preview_effect": pending.get("effect")}


def run_config(args: argparse.Namespace) -> RunConfig:
    """The settings of a parsed `run` command line."""
    return RunConfig(
        input=args.input, outputs=output_specs(args), confidence=args.confidence,
        model=args.model, model_dir=args.model_dir, overwrite=args.overwrite, progress=not args.quiet,
        realtime=args.realtime, live=args.live, every=args.every, size=args.size, fps=args.fps, mirror=args.mirror,
        preview=args.preview, refine=args.refine, smooth=args.smooth, finish=_finish(args), faces=args.faces,
        subjects=args.subjects,
        **preview_choices(args),
    )


def _finish(args: argparse.Namespace) -> Finish:
    return Finish(guided=args.edges == "guided", min_island=args.min_island, fill_holes=args.fill_holes,
                  shrink=args.shrink, grow=args.grow, feather=args.feather)


def _size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit()):
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, e.g. 1280x720, got {text!r}")
    return int(width), int(height)


def _confidence(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _subjects(text: str) -> int:
    try:
        return parse_subjects(text)
    except StreamMaskError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


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
    run.add_argument("input", help="video file (mp4, mkv, mov, webm, avi, gif...), image, folder or glob of images")
    run.add_argument("-o", "--output", action=_AddOutput, metavar="OUTPUT", dest="outputs",
                     help="out.mkv (lossless FFV1), out.mp4 (H.264), out.mov (ProRes 4444 with alpha), out.webm "
                          "(VP9 with alpha), a folder or masks/%%05d.png (PNGs), out.png (one image); "
                          "out_{part}.mkv writes one file per part. Live: virtualcam (a virtual camera), "
                          "rtmp://HOST/APP/KEY (FLV), udp://HOST:PORT or srt://HOST:PORT (MPEG-TS), low-latency H.264; "
                          "they get the composite unless --kind says. Repeat -o for several outputs from one pass")
    output_options = run.add_argument_group("per-output options (apply to the next -o; after the last -o, to it)")
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
    run.add_argument("--confidence", type=_confidence, default=DEFAULT_CONFIDENCE,
                     help=f"a pixel is masked when a part's confidence is above this, {CONFIDENCE_MIN} to "
                          f"{CONFIDENCE_MAX} (default {DEFAULT_CONFIDENCE})")
    run.add_argument("--model", default=DEFAULT_MODEL,
                     help="multiclass (6 classes, default), selfie (person/background) or a path to a .tflite segmentation model")
    run.add_argument("--model-dir", help="folder to look for model files in first (then $STREAM_MASK_MODEL_DIR, then the cache)")
    run.add_argument("--refine", type=int, nargs="?", const=DEFAULT_REFINE_PASSES, default=RunConfig.refine,
                     metavar="PASSES",
                     help="another pass on a crop around the people (bounding box + 20%%), pasted back: better masks "
                          f"of small or distant people; PASSES (default {DEFAULT_REFINE_PASSES}) repeats it around "
                          "each result")
    run.add_argument("--faces", type=int, default=RunConfig.faces, metavar="N",
                     help="face-landmark parts (face_oval, left_eye, right_eye, left_eyebrow, right_eyebrow, "
                          f"left_iris, right_iris, lips, mouth): mask up to N faces (default {RunConfig.faces})")
    run.add_argument("--subjects", type=_subjects, default=RunConfig.subjects, metavar="all|N",
                     help="keep only the N main people (the largest, most central over the first %g s, then each "
                          "followed from frame to frame; one unseen for %g s is replaced), for every part and output; "
                          "people who touch are told apart at their bodies, or kept together. Default: all"
                          % (SUBJECT_RELEASE_S, SUBJECT_RELEASE_S))
    run.add_argument("--smooth", type=float, nargs="?", const=DEFAULT_SMOOTHING, default=RunConfig.smooth,
                     metavar="STRENGTH",
                     help="temporal smoothing of the confidences before the threshold, motion-aware (0 off .. <1; "
                          f"default {DEFAULT_SMOOTHING:g} when given): steadier masks; on for cameras/streams/"
                          "--realtime, off for files")
    finish = run.add_argument_group("edges and shape (every output; see the pictures in the README)")
    finish.add_argument("--edges", choices=("none", "guided"), default="guided" if Finish.guided else "none",
                        help="guided: snap mask edges to the frame's own edges (fast guided filter) before the threshold")
    finish.add_argument("--min-island", type=int, default=Finish.min_island, metavar="AREA",
                        help="remove specks smaller than AREA pixels")
    finish.add_argument("--fill-holes", type=int, default=Finish.fill_holes, metavar="AREA",
                        help="fill enclosed holes up to AREA pixels")
    finish.add_argument("--shrink", type=int, default=Finish.shrink, metavar="PX", help="erode the mask by PX pixels")
    finish.add_argument("--grow", type=int, default=Finish.grow, metavar="PX", help="dilate the mask by PX pixels")
    finish.add_argument("--feather", type=int, default=Finish.feather, metavar="PX", help="soft edge about PX pixels wide")
    run.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    live = run.add_argument_group("live (cameras, streams, --realtime)")
    live.add_argument("--realtime", action="store_true",
                      help="pace a video file at its own frame rate and drop stale frames, like a camera")
    live.add_argument("--live", action=argparse.BooleanOptionalAction, default=RunConfig.live,
                      help="a network stream is live (drop stale frames, smooth by default) or, with --no-live, read "
                           "like a file (every frame). Default: rtsp/udp/srt/rtmp are live; http(s) is live unless "
                           "FFmpeg knows its duration (a video file, a finished HLS playlist)")
    live.add_argument("--every", type=int, default=RunConfig.every, metavar="N",
                      help="run the model on every Nth frame and reuse its masks in between (slow machines)")
    live.add_argument("--size", type=_size, help="camera: ask for this size, e.g. 1280x720")
    live.add_argument("--fps", type=float, help="camera: ask for this frame rate")
    live.add_argument("--mirror", action="store_true", help="flip frames left-right (selfie cameras)")
    live.add_argument("--preview", action="store_true",
                      help="show a window (the default without -o): views composite/mask/overlay/cutout; keys: "
                           "q/Esc quit, space pause, 1-6 toggle parts, [ ] confidence, m view, f stats, h help; click a "
                           "person: keep only them, a: all people again")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

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
    if args.command == "run" and not args.outputs and not args.preview:
        from .preview import display_available

        if not display_available():
            parser.error("no display for a preview window: give -o OUTPUT (the following arguments are required: -o/--output)")
        args.preview = True  # no output: show the result in a window
    try:
        if args.command == "models":
            print(format_model_table(model_statuses(args.model_dir)))
            return 0
        if args.command == "comfyui-install":
            from .comfyui.install import install

            print(f"wrote {install(args.path)}: restart ComfyUI; the nodes are in its node search as \"A Person Mask "
                  f"Generator\", \"A Person Face Landmark Mask Generator\" and \"Person Mask (video)\"")
            return 0
        from .pipeline import run  # imports MediaPipe: keep --help and `models` fast

        stats = run(run_config(args), stop)
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


if __name__ == "__main__":
    sys.exit(main())
