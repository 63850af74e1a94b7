"""Live figures with --realtime (a file paced like a camera): latency, delivered fps, dropped frames.

    python benchmarks/live.py [--input CLIP] [--model-dir ../shared/models]

The clip is re-timed to 30 fps at 1280x720 first (the shared footage is 24/25 fps), then played in
real time through `stream-mask run --realtime` with the selfie model, three ways:
  plain                  one lossless mask output (the model keeps up)
  model slowed           --refine: two model passes per frame
  output slowed          plus a ProRes 4444 alpha output, far slower than 30 fps: frames must be
                         dropped and latency must stay bounded rather than grow
  output slowed, --every 3   the same, running the model on every third frame only
Latency is measured per frame from capture (release by the pacer) to written by the sink.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def retime(source: str, target: str, fps: int = 30, size: tuple[int, int] = (1280, 720)) -> int:
    """Re-encode `source` at `fps` and `size` (each frame kept, new timestamps); returns the frame count."""
    with av.open(source) as inp, av.open(target, "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        count = 0
        for frame in inp.decode(video=0):
            picture = frame.reformat(width=size[0], height=size[1], format="yuv420p")
            picture.pts, picture.time_base = count, Fraction(1, fps)
            out.mux(stream.encode(picture))
            count += 1
        out.mux(stream.encode(None))
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", default=str(SHARED / "media/people/05_default_juggle.mp4"))
    parser.add_argument("--model-dir", default=str(SHARED / "models"))
    args = parser.parse_args()
    env = {**os.environ, "STREAM_MASK_MODEL_DIR": args.model_dir}
    with tempfile.TemporaryDirectory() as tmp:
        clip = str(Path(tmp) / "clip_720p30.mp4")
        frames = retime(args.input, clip)
        print(f"input: {args.input} re-timed to 1280x720 at 30 fps: {frames} frames, {frames / 30:.1f} s")
        runs = {
            "plain": ["-o", "mask.mkv"],
            "model slowed (--refine)": ["-o", "mask.mkv", "--refine"],
            "output slowed (+ ProRes alpha)": ["-o", "mask.mkv", "-o", "alpha.mov"],
            "output slowed, --every 3": ["-o", "mask.mkv", "-o", "alpha.mov", "--every", "3"],
        }
        for name, extra in runs.items():
            cmd = [sys.executable, "-m", "stream_mask.cli", "run", clip, "--model", "selfie", "--parts", "person",
                   "--realtime", "-q", "--overwrite", *extra]
            done = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(done.stderr)
            print(f"  {name:30s} {done.stdout.strip().splitlines()[-1].split(' -> ')[0]}")


if __name__ == "__main__":
    main()
