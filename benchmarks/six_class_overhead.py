"""What the 6-class path costs beyond the model's own inference, against the 1-class path, at 1080p.

    python benchmarks/six_class_overhead.py [--tree DIR ...] [--input CLIP] [--frames 96] [--rounds 3]

The multiclass model is not on this machine, so the 6-class path runs the test suite's stand-in
(tests/standin_model.py: a 1x1 convolution and a softmax, with the real model's interface and labels).
The clip is shared footage scaled to 1920x1080 (H.264) in a temporary folder.

Measured, as CPU time (user + sys, every thread) per frame:
  inference  the model alone: MediaPipe's segmenter (VIDEO mode, confidence masks, as stream_mask asks for
             them) on each decoded frame, nothing else timed
  run        the whole `stream-mask run` to a lossless mask (.mkv): start-up removed by also running the
             first `--short` frames and taking the difference
for the selfie model (`person`) and the stand-in with one part (the default, face), three parts
(hair,face,clothes) and `--kind labels`. "Beyond inference" is run - inference; the figure that counts
is its ratio 6-class / 1-class (the goal: 1.3 or less). Every `--tree` (a source tree, e.g. a
`git worktree` of main; default: this one) runs the same commands; rounds alternate trees and cases so
that machine noise hits all alike, and medians are printed.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "tests"))

INFERENCE = r'''
import sys, time, av, numpy as np, mediapipe as mp
from mediapipe.tasks.python.core.base_options import BaseOptions
from mediapipe.tasks.python.vision import image_segmenter
from mediapipe.tasks.python.vision.core.vision_task_running_mode import VisionTaskRunningMode
clip, model = sys.argv[1:3]
options = image_segmenter.ImageSegmenterOptions(base_options=BaseOptions(model_asset_path=model),
    running_mode=VisionTaskRunningMode.VIDEO, output_confidence_masks=True, output_category_mask=False)
cpu, n = 0.0, 0
with image_segmenter.ImageSegmenter.create_from_options(options) as seg, av.open(clip) as inp:
    inp.streams.video[0].thread_type = "NONE"  # no decoder threads working while the model is timed
    for frame in inp.decode(video=0):
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame.to_ndarray(format="rgb24")))
        start = time.process_time()
        seg.segment_for_video(image, 40 * n)
        cpu += time.process_time() - start
        n += 1
print(f"{n} {cpu * 1000 / n:.3f}")
'''

CASES = {  # name -> (model, options)
    "selfie person (1-class)": ("selfie", []),
    "stand-in one part (face)": ("standin", []),
    "stand-in hair,face,clothes": ("standin", ["--parts", "hair,face,clothes"]),
    "stand-in --kind labels": ("standin", ["--kind", "labels"]),
}
BASE = "selfie person (1-class)"


def make_clip(source: str, target: Path, frames: int) -> None:
    """The first `frames` frames of `source` scaled to 1920x1080, as near-lossless H.264."""
    import cv2  # noqa: F401  (before av: see stream_mask/__init__.py)
    import av

    with av.open(source) as inp, av.open(str(target), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for index, frame in enumerate(inp.decode(video=0)):
            if index == frames:
                break
            scaled = frame.reformat(width=1920, height=1080, format="yuv420p")
            scaled.pts = None
            out.mux(stream.encode(scaled))
        out.mux(stream.encode(None))


def cpu_seconds(command: list[str], env: dict[str, str], cwd: str) -> tuple[float, str]:
    """CPU seconds (user + sys) of a child process, and its stdout. Run from `cwd`, not a source tree: `python -m`
    puts its working folder first on the path, ahead of PYTHONPATH."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, action="append", help="a source tree to run (repeat; default: this one)")
    parser.add_argument("--input", default=str(SHARED / "media/people/05_default_juggle.mp4"))
    parser.add_argument("--model-dir", default=str(SHARED / "models"))
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--short", type=int, default=8, help="frames of the start-up run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = [tree.resolve() for tree in args.tree or [ROOT]]
    from standin_model import build_standin_model

    env = {**os.environ, "STREAM_MASK_MODEL_DIR": args.model_dir}
    inference: dict[str, list[float]] = {"selfie": [], "standin": []}
    run: dict[tuple[Path, str], list[float]] = {(tree, case): [] for tree in trees for case in CASES}
    with tempfile.TemporaryDirectory() as tmp:
        models = {"selfie": str(Path(args.model_dir) / "selfie_segmenter.tflite"),
                  "standin": str(build_standin_model(Path(tmp) / "standin_multiclass.tflite"))}
        clip, short = Path(tmp) / "clip1080.mp4", Path(tmp) / "short1080.mp4"
        make_clip(args.input, clip, args.frames)
        make_clip(args.input, short, args.short)
        for tree in trees:  # each tree runs its own code
            _, stdout = cpu_seconds([sys.executable, "-c", "import stream_mask; print(stream_mask.__file__)"],
                                    {**env, "PYTHONPATH": str(tree)}, tmp)
            if not Path(stdout.strip()).is_relative_to(tree):
                sys.exit(f"{tree} is not the stream_mask that runs ({stdout.strip()})")
        for _ in range(args.rounds):
            for model, path in models.items():
                _, stdout = cpu_seconds([sys.executable, "-c", INFERENCE, str(clip), path], env, tmp)
                inference[model].append(float(stdout.split()[1]))
            for case, (model, options) in CASES.items():
                for tree in trees:
                    tree_env = {**env, "PYTHONPATH": str(tree)}
                    cpu = []
                    for source in (clip, short):
                        command = [sys.executable, "-m", "stream_mask.cli", "run", str(source), "-o",
                                   f"{tmp}/out.mkv", "--overwrite", "-q", "--model", models[model], *options]
                        cpu.append(cpu_seconds(command, tree_env, tmp)[0])
                    run[tree, case].append((cpu[0] - cpu[1]) * 1000 / (args.frames - args.short))

    median = {key: statistics.median(values) for key, values in run.items()}
    infer = {model: statistics.median(values) for model, values in inference.items()}
    print(f"{args.input} scaled to 1920x1080, {args.frames} frames (start-up removed with a {args.short}-frame run), "
          f"{args.rounds} alternating rounds, medians of CPU ms per frame")
    print(f"  inference alone: selfie {infer['selfie']:.1f}, stand-in {infer['standin']:.1f}")
    for tree in trees:
        print(f"tree {tree}:")
        print(f"  {'case':28s} {'run':>7s} {'beyond inference':>17s} {'ratio to 1-class':>17s}")
        base = median[tree, BASE] - infer["selfie"]
        for case, (model, _) in CASES.items():
            beyond = median[tree, case] - infer[model]
            print(f"  {case:28s} {median[tree, case]:7.1f} {beyond:17.1f} {beyond / base:17.2f}")


if __name__ == "__main__":
    main()
