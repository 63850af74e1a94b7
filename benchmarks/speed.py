"""Frames per second of `stream-mask run` against a plain per-frame loop, measured in the same run.

    python benchmarks/speed.py [--input CLIP] [--repeats 3] [--model-dir ../shared/models]

The baseline is what a user would write first: decode with PyAV, segment each frame at full resolution
in MediaPipe IMAGE mode, threshold, encode, all on one thread. Both write the same kind of file. Runs
alternate (baseline, stream-mask, baseline, ...) so that machine noise hits both alike; the median of
the repeats is reported.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

BASELINE = r'''
import sys, time, av, numpy as np, mediapipe as mp
from mediapipe.tasks.python.core.base_options import BaseOptions
from mediapipe.tasks.python.vision import image_segmenter
src, dst, model, codec, pix_fmt = sys.argv[1:6]
options = image_segmenter.ImageSegmenterOptions(base_options=BaseOptions(model_asset_path=model))
start = time.perf_counter()
with image_segmenter.ImageSegmenter.create_from_options(options) as seg, av.open(src) as inp, av.open(dst, "w") as out:
    vin = inp.streams.video[0]
    vout = out.add_stream(codec, rate=vin.average_rate)
    vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, pix_fmt
    n = 0
    for frame in inp.decode(vin):
        rgb = np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
        result = seg.segment(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        mask = (np.squeeze(result.confidence_masks[0].numpy_view()) > 0.4).astype(np.uint8) * 255
        out.mux(vout.encode(av.VideoFrame.from_ndarray(mask, format="gray")))
        n += 1
    out.mux(vout.encode(None))
print(f"{n} frames in {time.perf_counter() - start:.2f} s ({n / (time.perf_counter() - start):.1f} fps)")
'''

CODECS = {".mkv": ("ffv1", "gray"), ".mp4": ("libx264", "yuv420p")}


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds of a whole process (start-up and model loading included), and its stdout."""
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stderr}")
    return wall, done.stdout


def loop_fps(stdout: str) -> float:
    """The fps a run printed for its own frame loop: '... (91.3 fps) ...'."""
    return float(re.search(r"\(([\d.]+) fps\)", stdout).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", default=str(SHARED / "media/people/05_default_juggle.mp4"))
    parser.add_argument("--model-dir", default=str(SHARED / "models"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--suffix", choices=sorted(CODECS), default=".mkv")
    args = parser.parse_args()

    model = str(Path(args.model_dir) / "selfie_segmenter.tflite")
    env = {**os.environ, "STREAM_MASK_MODEL_DIR": args.model_dir}
    results: dict[str, list[float]] = {"baseline": [], "stream-mask": []}  # whole process
    loops: dict[str, list[float]] = {"baseline": [], "stream-mask": []}  # frame loop only, as each prints it
    frames = 0
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            out = str(Path(tmp) / f"baseline{repeat}{args.suffix}")
            wall, stdout = timed([sys.executable, "-c", BASELINE, args.input, out, model, *CODECS[args.suffix]], env)
            frames = int(stdout.split()[0])
            results["baseline"].append(frames / wall)
            loops["baseline"].append(loop_fps(stdout))
            out = str(Path(tmp) / f"stream_mask{repeat}{args.suffix}")
            cmd = [sys.executable, "-m", "stream_mask.cli", "run", args.input, "-o", out,
                   "--model", "selfie", "--parts", "person", "-q"]
            wall, stdout = timed(cmd, env)
            frames = int(re.match(r"(\d+) frames", stdout).group(1))
            results["stream-mask"].append(frames / wall)
            loops["stream-mask"].append(loop_fps(stdout))
    print(f"input: {args.input} ({frames} frames), output {args.suffix}, selfie model, parts person, "
          f"{args.repeats} alternating runs, medians")
    for label, table in (("whole process (start-up and model load included)", results), ("frame loop only", loops)):
        print(f"{label}:")
        for name, fps in table.items():
            runs = ", ".join(f"{value:.1f}" for value in fps)
            print(f"  {name:12s} {statistics.median(fps):6.1f} fps   (runs: {runs})")
        print(f"  speed-up     {statistics.median(table['stream-mask']) / statistics.median(table['baseline']):6.2f}x")


if __name__ == "__main__":
    main()
