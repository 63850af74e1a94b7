"""Mask quality on a clip with ground truth: mean IoU, 5th-percentile IoU, flicker, cost per frame.

    python benchmarks/quality.py [--clip DIR] [--golden] [--label NAME] -- [stream-mask run options]
    python benchmarks/quality.py --table [--clips DIR]
    python benchmarks/quality.py --subjects [--clips DIR]

Runs the real `stream-mask run` on the clip's video with the given options (default: the selfie model,
parts person, the plain per-frame rule), reads the lossless mask video back and compares frame k with
annotation k. Flicker is the share of pixels that flip between consecutive frames; the annotations'
own flicker is printed beside it, since a moving person flips pixels too. `--golden` also scores the
still portrait against its golden segmentation. `--table` scores every annotated clip (davis_parkour and
those of benchmarks/make_clips.py, made in `--clips` unless there already) with the option sets of the
README's Quality tables. `--subjects` scores `--subjects all` against `--subjects 1`, plain and with `--refine
--smooth`, on every annotated clip: `bystanders` (only the runner annotated: 1 must gain), davis_parkour and
spin (one person: 1 must change nothing), apart and pan (two and three people, all annotated). Examples:

    python benchmarks/quality.py
    python benchmarks/quality.py -- --refine --smooth 0.6
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PARKOUR = SHARED / "media/davis_parkour"
BASE_OPTIONS = ["--model", "selfie", "--parts", "person"]
SUBJECT_OPTIONS = ([], ["--refine", "--smooth"])  # each with --subjects all and --subjects 1
TABLE_OPTIONS = ([], ["--smooth"], ["--refine"], ["--refine", "--smooth"], ["--refine", "2", "--smooth"],
                 ["--refine", "2", "--smooth", "--edges", "guided"])  # the README's rows


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def flicker(masks: list[np.ndarray]) -> float:
    return float(np.mean([np.mean(a != b) for a, b in zip(masks, masks[1:])]))


@dataclass(frozen=True)
class Score:
    """One option set on one clip."""

    ious: np.ndarray  # per frame
    flicker: float
    truth_flicker: float

    @property
    def mean(self) -> float:
        return float(self.ious.mean())

    @property
    def p5(self) -> float:
        return float(np.percentile(self.ious, 5))

    @property
    def flicker_ratio(self) -> float:
        return self.flicker / self.truth_flicker


def score(masks: list[np.ndarray], truth: list[np.ndarray]) -> Score:
    """Boolean masks against boolean annotations, frame k with frame k."""
    if len(masks) != len(truth):
        raise ValueError(f"{len(masks)} mask frames for {len(truth)} annotations")
    return Score(np.array([iou(m, t) for m, t in zip(masks, truth)]), flicker(masks), flicker(truth))


def clip_video(clip: Path) -> Path:
    return next(clip.glob("*.mp4"))


def clip_truth(clip: Path) -> list[np.ndarray]:
    return [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) > 127 for p in sorted((clip / "Annotations").glob("*.png"))]


def run(source: Path, output: Path, options: list[str], model_dir: str) -> tuple[float, str]:
    """Seconds of the whole `stream-mask run`, and its summary line."""
    env = {**os.environ, "STREAM_MASK_MODEL_DIR": model_dir}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "stream_mask.cli", "run", str(source), "-o", str(output), "-q",
                           "--overwrite", *BASE_OPTIONS, *options], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(done.stderr.strip())
    return time.perf_counter() - start, done.stdout.strip().splitlines()[-1]


def read_masks(path: Path) -> list[np.ndarray]:
    if path.is_dir():
        return [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) > 127 for p in sorted(path.glob("*.png"))]
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray") > 127 for frame in container.decode(video=0)]


def score_clip(clip: Path, options: list[str], model_dir: str) -> tuple[Score, float]:
    """The clip's masks with `options`, scored; and the run's ms per frame (from its summary line)."""
    with tempfile.TemporaryDirectory() as tmp:
        _, summary = run(clip_video(clip), Path(tmp) / "masks.mkv", options, model_dir)
        masks = read_masks(Path(tmp) / "masks.mkv")
    return score(masks, clip_truth(clip)), 1000 / float(re.search(r"\(([\d.]+) fps\)", summary).group(1))


def made_clips(clips_dir: Path) -> dict[str, Path]:
    """davis_parkour and every clip of benchmarks/make_clips.py (made in `clips_dir` unless there already)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from make_clips import CLIPS, make_clip

    clips = {"parkour": PARKOUR}
    for kind in CLIPS:
        clips[kind] = clips_dir / kind
        if not clips[kind].exists():
            make_clip(kind, clips[kind])
    return clips


def table(clips: dict[str, Path], option_sets: list[list[str]], model_dir: str) -> None:
    """These clips with these option sets, as markdown rows."""
    print("| clip | options | mean IoU | 5th-pct IoU | flicker (x annotations') | ms/frame |")
    print("|---|---|---|---|---|---|")
    for name, clip in clips.items():
        for options in option_sets:
            result, ms = score_clip(clip, options, model_dir)
            label = f"`{' '.join(options)}`" if options else "none"
            print(f"| {name} | {label} | {result.mean:.3f} | {result.p5:.3f} | {result.flicker:.4f} "
                  f"({result.flicker_ratio:.2f}x) | {ms:.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", default=str(PARKOUR),
                        help="a folder with one video (*.mp4) and Annotations/NNNNN.png (DAVIS layout)")
    parser.add_argument("--model-dir", default=str(SHARED / "models"))
    parser.add_argument("--golden", action="store_true", help="also score goldens/portrait.jpg")
    parser.add_argument("--label", default="", help="a name for this option set in the printed line")
    parser.add_argument("--table", action="store_true", help="every annotated clip with the README's option sets")
    parser.add_argument("--subjects", action="store_true",
                        help="--subjects all vs 1, plain and with --refine --smooth, on every annotated clip")
    parser.add_argument("--clips", type=Path, default=Path(tempfile.gettempdir()) / "stream_mask_clips",
                        help="where --table makes (or finds) the clips of benchmarks/make_clips.py")
    parser.add_argument("options", nargs="*", help="stream-mask run options, after --")
    args = parser.parse_args()
    if args.table:
        table(made_clips(args.clips), list(TABLE_OPTIONS), args.model_dir)
        return
    if args.subjects:
        clips = made_clips(args.clips)
        table({name: clips[name] for name in ("bystanders", "parkour", "spin", "apart", "pan")},
              [[*options, "--subjects", count] for options in SUBJECT_OPTIONS for count in ("all", "1")], args.model_dir)
        return

    clip = Path(args.clip)
    result, ms = score_clip(clip, args.options, args.model_dir)
    height, width = clip_truth(clip)[0].shape
    line = (f"{args.label or ' '.join(args.options) or 'plain rule'}: mean IoU {result.mean:.3f}, "
            f"p5 IoU {result.p5:.3f}, flicker {result.flicker:.4f} (annotations {result.truth_flicker:.4f}, "
            f"ratio {result.flicker_ratio:.2f}), {ms:.1f} ms/frame at {width}x{height}")
    if args.golden:
        goldens = SHARED / "media/goldens"
        with tempfile.TemporaryDirectory() as tmp:
            run(goldens / "portrait.jpg", Path(tmp) / "portrait.png", args.options, args.model_dir)
            mask = cv2.imread(str(Path(tmp) / "portrait.png"), cv2.IMREAD_GRAYSCALE) > 127
        golden = cv2.imread(str(goldens / "portrait_segmentation.png"))[..., 0] > 128  # blue = person
        line += f", portrait golden IoU {iou(mask, golden):.3f}"
    print(line)


if __name__ == "__main__":
    main()
