"""Wall time for 8 clips: sequential `stream-mask run`s vs `batch --workers 1` vs `--workers 2` vs `--ray` (local).

    python benchmarks/batch.py [--frames 48] [--model selfie]

The 8 clips are made from the shared footage (2 clips from each of 4 videos, `--frames` frames each, H.264 at the
footage's own size), plus one 1080p clip timed alone for the README's paper estimate. Every figure is printed as a
ratio to the sequential `run`s measured in the same run (the machine is shared and noisy). `--ray` includes
starting a local Ray (printed apart: the join alone, with no files, is timed too).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2

SHARED = Path(__file__).resolve().parents[2] / "shared"
SOURCES = ["davis_parkour/parkour_24fps_from_frames.mp4", "people/05_default_juggle.mp4", "people/bedroom.mp4",
           "people/gesture_recognizer_test_video.mp4"]


def make_clip(source: Path, target: Path, start: int, frames: int, size: tuple[int, int] | None = None) -> None:
    """Frames [start, start + frames) of `source` as H.264 (resized to `size` if given)."""
    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        stream = src.streams.video[0]
        out = dst.add_stream("libx264", rate=stream.average_rate)
        out.width, out.height = size or (stream.codec_context.width, stream.codec_context.height)
        out.pix_fmt = "yuv420p"
        for index, frame in enumerate(src.decode(stream)):
            if index >= start + frames:
                break
            if index >= start:
                picture = frame.to_ndarray(format="rgb24")
                if size:
                    picture = cv2.resize(picture, size, interpolation=cv2.INTER_LINEAR)
                dst.mux(out.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        dst.mux(out.encode(None))


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stdout}{result.stderr}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48, help="frames per clip (default 48: 2 s at 24 fps)")
    parser.add_argument("--model", default="selfie")
    args = parser.parse_args()
    os.environ.setdefault("STREAM_MASK_MODEL_DIR", str(SHARED / "models"))
    command = [sys.executable, "-m", "stream_mask.cli"]
    with tempfile.TemporaryDirectory() as folder:
        clips = Path(folder) / "clips"
        clips.mkdir()
        for number, source in enumerate(SOURCES):
            for half in range(2):
                make_clip(SHARED / "media" / source, clips / f"clip{2 * number + half}.mp4", half * args.frames,
                          args.frames)
        hd_short, hd_long = Path(folder) / "hd_short.mp4", Path(folder) / "hd_long.mp4"
        make_clip(SHARED / "media" / SOURCES[1], hd_short, 0, args.frames, (1920, 1080))
        make_clip(SHARED / "media" / SOURCES[1], hd_long, 0, 3 * args.frames, (1920, 1080))
        names = sorted(clips.iterdir())
        frames = args.frames * len(names)
        options = ["--model", args.model, "-q"]

        def out(name: str) -> str:
            return str(Path(folder) / name / "{stem}.mkv")

        results: dict[str, float] = {}
        seq = Path(folder) / "seq"
        seq.mkdir()
        results["sequential runs"] = sum(timed([*command, "run", str(clip), "-o", str(seq / f"{clip.stem}.mkv"),
                                                *options]) for clip in names)
        results["batch --workers 1"] = timed([*command, "batch", str(clips), "-o", out("w1"), *options, "--workers", "1"])
        results["batch --workers 2"] = timed([*command, "batch", str(clips), "-o", out("w2"), *options, "--workers", "2"])
        results["batch --ray (local)"] = timed([*command, "batch", str(clips), "-o", out("ray"), *options, "--ray"])
        ray_start = timed([*command, "batch", str(clips), "-o", out("ray"), *options, "--ray"])  # all skipped
        hd_seconds = [timed([*command, "run", str(clip), "-o", str(clip.with_suffix(".mkv")), *options])
                      for clip in (hd_short, hd_long)]
        hd_bytes = (hd_long.with_suffix(".mkv").stat().st_size / (3 * args.frames), hd_long.stat().st_size / (3 * args.frames))
        one = timed([*command, "run", str(names[0]), "-o", str(Path(folder) / "one.mkv"), *options])

    base = results["sequential runs"]
    print(f"{len(names)} clips x {args.frames} frames ({frames} frames), model {args.model}, {os.cpu_count()} CPUs")
    for name, seconds in results.items():
        print(f"  {name:22s} {seconds:6.1f} s  {frames / seconds:6.1f} frames/s  x{base / seconds:.2f} vs sequential")
    print(f"  Ray start + join + skip-check of all 8: {ray_start:.1f} s")
    print(f"  one `run` of one clip (process start, model load, {args.frames} frames): {one:.1f} s")
    per_frame = (hd_seconds[1] - hd_seconds[0]) / (2 * args.frames)  # the start-up cancels out
    print(f"  1080p, one `run`: {args.frames} frames {hd_seconds[0]:.1f} s, {3 * args.frames} frames "
          f"{hd_seconds[1]:.1f} s: {1 / per_frame:.1f} frames/s once started, start-up "
          f"{hd_seconds[0] - args.frames * per_frame:.1f} s; per frame: mask (FFV1) {hd_bytes[0] / 1e3:.0f} kB, "
          f"input (H.264) {hd_bytes[1] / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
