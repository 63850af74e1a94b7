"""The `stream-mask` command: argument parsing and one-line errors; the work is in pipeline.py."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .config import DEFAULT_CONFIDENCE, DEFAULT_MODEL, RunConfig, parse_parts
from .errors import StreamMaskError
from .models import format_model_table, model_statuses

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


def _confidence(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


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
                              epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("input", help="video file (mp4, mkv, mov, webm, avi, gif...), image, folder or glob of images")
    run.add_argument("-o", "--output", required=True,
                     help="out.mkv (lossless grey, FFV1), out.mp4 (H.264), a folder or masks/%%05d.png (PNGs), "
                          "out.png (for one image)")
    run.add_argument("--parts", type=parse_parts, default=None,
                     help="comma-separated parts; multiclass: background, hair, body, face, clothes, others, person "
                          "(default face); selfie: person, background (default person); 'none' gives a black mask")
    run.add_argument("--confidence", type=_confidence, default=DEFAULT_CONFIDENCE,
                     help=f"a pixel is masked when a part's confidence is above this, 0.01 to 1.0 (default {DEFAULT_CONFIDENCE})")
    run.add_argument("--soft", action="store_true",
                     help="soft matte: 255 x the confidence where it is above --confidence, 0 below (binary by default)")
    run.add_argument("--model", default=DEFAULT_MODEL,
                     help=f"multiclass (6 classes, default), selfie (person/background) or a path to a .tflite segmentation model")
    run.add_argument("--model-dir", help="folder to look for model files in first (then $STREAM_MASK_MODEL_DIR, then the cache)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing output")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    models = commands.add_parser("models", help="list the known models, where they are and whether they are verified")
    models.add_argument("--model-dir", help="folder to look in first")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "models":
            print(format_model_table(model_statuses(args.model_dir)))
            return 0
        from .pipeline import run  # imports MediaPipe: keep --help and `models` fast

        config = RunConfig(
            input=args.input, output=args.output, parts=args.parts, confidence=args.confidence,
            model=args.model, model_dir=args.model_dir, soft=args.soft, overwrite=args.overwrite, progress=not args.quiet,
        )
        stats = run(config)
    except StreamMaskError as error:
        print(f"stream-mask: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before the first frame: once frames are written, run() finalises them
        print("stream-mask: interrupted: nothing written", file=sys.stderr)
        return 130
    print(stats.summary())
    return 130 if stats.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
