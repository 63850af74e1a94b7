"""Mask quality on a clip with ground truth: mean IoU, 5th-percentile IoU, flicker, cost per frame.

    python benchmarks/quality.py [--clip DIR] [--golden] [--label NAME] -- [stream-mask run options]

Runs the real `stream-mask run` on the clip's video with the given options (default: the selfie model,
parts person, the plain per-frame rule), reads the lossless mask video back and compares frame k with
annotation k. Flicker is the share of pixels that flip between consecutive frames; the annotations'
own flicker is printed beside it, since a moving person flips pixels too. `--golden` also scores the
still portrait against its golden segmentation. Examples:

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
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BASE_OPTIONS = ["--model", "selfie", "--parts", "person"]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def flicker(masks: list[np.ndarray]) -> float:
    return float(np.mean([np.mean(a != b) for a, b in zip(masks, masks[1:])]))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", default=str(SHARED / "media/davis_parkour"),
                        help="a folder with one video (*.mp4) and Annotations/NNNNN.png (DAVIS layout)")
    parser.add_argument("--model-dir", default=str(SHARED / "models"))
    parser.add_argument("--golden", action="store_true", help="also score goldens/portrait.jpg")
    parser.add_argument("--label", default="", help="a name for this option set in the printed line")
    parser.add_argument("options", nargs="*", help="stream-mask run options, after --")
    args = parser.parse_args()

    clip = Path(args.clip)
    video = next(clip.glob("*.mp4"))
    truth = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) > 127 for p in sorted((clip / "Annotations").glob("*.png"))]
    with tempfile.TemporaryDirectory() as tmp:
        seconds, summary = run(video, Path(tmp) / "masks.mkv", args.options, args.model_dir)
        masks = read_masks(Path(tmp) / "masks.mkv")
        golden_iou = None
        if args.golden:
            goldens = SHARED / "media/goldens"
            run(goldens / "portrait.jpg", Path(tmp) / "portrait.png", args.options, args.model_dir)
            mask = cv2.imread(str(Path(tmp) / "portrait.png"), cv2.IMREAD_GRAYSCALE) > 127
            golden_iou = iou(mask, cv2.imread(str(goldens / "portrait_segmentation.png"))[..., 0] > 128)
    if len(masks) != len(truth):
        sys.exit(f"{len(masks)} mask frames for {len(truth)} annotations")
    scores = np.array([iou(m, t) for m, t in zip(masks, truth)])
    loop_fps = float(re.search(r"\(([\d.]+) fps\)", summary).group(1))
    height, width = truth[0].shape
    line = (f"{args.label or ' '.join(args.options) or 'plain rule'}: mean IoU {scores.mean():.3f}, "
            f"p5 IoU {np.percentile(scores, 5):.3f}, flicker {flicker(masks):.4f} (annotations {flicker(truth):.4f}, "
            f"ratio {flicker(masks) / flicker(truth):.2f}), {1000 / loop_fps:.1f} ms/frame at {width}x{height}")
    if golden_iou is not None:
        line += f", portrait golden IoU {golden_iou:.3f}"
    print(line)


if __name__ == "__main__":
    main()
