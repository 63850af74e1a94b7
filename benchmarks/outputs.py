"""Output file sizes per kind, and one three-output pass against three single-output runs.

    python benchmarks/outputs.py [--input CLIP] [--repeats 2] [--model-dir ../shared/models]

Sizes: every output kind written from the same clip (selfie model, parts person), in one run.
Speed: `-o A -o B -o C` in one process (the model runs once per frame) against the same three outputs
written by three separate processes; runs alternate so that machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

KINDS = [  # (label, output name, per-output options)
    ("mask, FFV1 .mkv (lossless)", "mask.mkv", []),
    ("mask --soft, FFV1 .mkv", "soft.mkv", ["--soft"]),
    ("mask, H.264 .mp4", "mask.mp4", []),
    ("mask, PNG folder", "mask_png", []),
    ("alpha, ProRes 4444 .mov", "alpha.mov", []),
    ("alpha, VP9 .webm", "alpha.webm", []),
    ("alpha, FFV1 .mkv (lossless)", "alpha.mkv", ["--kind", "alpha"]),
    ("alpha, RGBA PNG folder", "alpha_png", ["--kind", "alpha"]),
    ("composite blur, H.264 .mp4", "blur.mp4", ["--effect", "blur"]),
    ("composite green, H.264 .mp4", "green.mp4", ["--effect", "color:#00ff00"]),
    ("overlay, H.264 .mp4", "overlay.mp4", ["--kind", "overlay"]),
    ("label map, FFV1 .mkv", "labels.mkv", ["--kind", "labels"]),
]
THREE = [["-o", "person.mkv"], ["--parts", "background", "-o", "background.mkv"], ["--effect", "blur", "-o", "blur.mp4"]]


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.suffix == ".png") if path.is_dir() else path.stat().st_size


def stream_mask(args: list[str], cwd: str, env: dict[str, str]) -> float:
    """Wall seconds of one whole `stream-mask run` process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "stream_mask.cli", "run", *args, "-q", "--overwrite"],
                          cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(done.stderr)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", default=str(SHARED / "media/people/05_default_juggle.mp4"))
    parser.add_argument("--model-dir", default=str(SHARED / "models"))
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    source = str(Path(args.input).resolve())
    env = {**os.environ, "STREAM_MASK_MODEL_DIR": args.model_dir}
    common = [source, "--model", "selfie", "--parts", "person"]
    with av.open(source) as container:
        video = container.streams.video[0]
        frames, seconds = video.frames, float(container.duration / 1e6)
        print(f"input: {source}: {video.codec_context.width}x{video.codec_context.height}, {frames} frames, "
              f"{seconds:.1f} s, {os.path.getsize(source) / 1e6:.1f} MB")

    with tempfile.TemporaryDirectory() as tmp:
        outputs = [arg for _, name, options in KINDS for arg in (*options, "-o", name)]
        wall = stream_mask([*common, *outputs], tmp, env)
        print(f"\nsizes ({len(KINDS)} outputs written in one run, {wall:.1f} s):")
        for label, name, _ in KINDS:
            print(f"  {label:32s} {size(Path(tmp) / name) / 1e6:9.2f} MB")

        together, apart = [], []
        for _ in range(args.repeats):
            together.append(stream_mask([*common, *(a for o in THREE for a in o)], tmp, env))
            apart.append(sum(stream_mask([*common, *o], tmp, env) for o in THREE))
    one, three = statistics.median(together), statistics.median(apart)
    print(f"\nthree outputs (person mask .mkv, background mask .mkv, blur composite .mp4), {args.repeats} alternating runs, medians:")
    print(f"  one run, three outputs      {one:6.2f} s  {frames / one:6.1f} fps   (runs: {', '.join(f'{t:.2f}' for t in together)})")
    print(f"  three single-output runs    {three:6.2f} s  {frames / three:6.1f} fps   (runs: {', '.join(f'{t:.2f}' for t in apart)})")
    print(f"  speed-up                    {three / one:6.2f}x")


if __name__ == "__main__":
    main()
