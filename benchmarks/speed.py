"""`stream-mask run` against this machine's pipeline limit, per resolution and output kind, in the same run.

    python benchmarks/speed.py [--quick] [--frames 90] [--repeats 1] [--code DIR] [--model-dir ../shared/models]

For each resolution (720p, 1080p, 4K: shared footage scaled with PyAV into a temporary folder) and output kind
(FFV1 mask .mkv, H.264 mask .mp4, blur composite .mp4) it measures, on the same clip:
  - the pipeline limit: decode-only (with the RGB conversion), inference-only (MediaPipe VIDEO mode, selfie model)
    and encode-only (the output's own encoder and settings, from stream_mask/sinks/video.py) passes, each alone in
    a fresh process; their CPU seconds per frame are summed and divided over the machine's cores:
    limit fps = cores / (decode + inference + encode CPU per frame). Rendering (the composite's blur) is work the
    limit does not count, as the issue defines it.
  - `stream-mask run` on the clip: its frame loop's fps (as it prints it), its CPU ms per frame (all threads; start-up
    and model load left out: the CPU of a run on the clip's first SHORT frames is subtracted) and its peak memory;
  - two ratios: wall (our fps / the limit: what the goal asks, but another process's load on a shared machine
    slows only our run, since the limit counts CPU time) and CPU (the limit's CPU per frame / ours: what the
    ratio would be on an idle machine that we keep busy, and what a shared machine does not disturb much);
  - a plain single-threaded loop doing the same (decode, segment, render with the project's own functions, encode,
    one thread), for composites: the goal is at least 2x it at 4K.
Then one output against four of mixed kinds from one pass (FFV1 mask, H.264 mask, blur composite, overlay) at 720p:
fps and CPU per frame of each, the ratio (the goal: four at least 0.6x the speed of one), and the four against their
own pipeline limit: cores / (decode + inference + the four encoders' CPU per frame, each measured alone).
Passes alternate per repeat so that noise (a shared machine) hits all alike; medians are printed.
`--quick`: 720p only, 40 frames: a minute. `--code DIR` measures another checkout (e.g. main) with this script.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHORT = 10  # frames of the run whose CPU is the start-up's
RESOLUTIONS = {"720p": (1280, 720), "1080p": (1920, 1080), "4K": (3840, 2160)}
# kind -> (output suffix, extra run flags, what its pictures are: "mask", "blur" composite or "overlay")
KINDS = {
    "FFV1 mask": (".mkv", [], "mask"),
    "H.264 mask": (".mp4", [], "mask"),
    "blur composite": (".mp4", ["--effect", "blur"], "blur"),
}
OVERLAY = (".mp4", ["--kind", "overlay"], "overlay")

# Scale the first FRAMES frames of a clip to WxH (bicubic), as near-lossless H.264 (the input every pass reads).
MAKE_CLIP = r'''
import sys, av
src, dst, width, height, frames = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
with av.open(src) as inp, av.open(dst, "w") as out:
    vin = inp.streams.video[0]
    vout = out.add_stream("libx264", rate=vin.average_rate)
    vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
    vout.options = {"crf": "18", "preset": "veryfast"}
    vout.codec_context.colorspace, vout.codec_context.color_range = 1, 1  # BT.709, limited: what HD cameras write
    n = 0
    for frame in inp.decode(vin):
        scaled = frame.reformat(width=width, height=height, format="yuv420p", interpolation="BICUBIC",
                                dst_colorspace="ITU709", dst_color_range="MPEG")
        scaled.pts = None
        out.mux(vout.encode(scaled))
        n += 1
        if n == frames:
            break
    out.mux(vout.encode(None))
'''

# One stage alone: prints its CPU seconds (all threads) and frame count. Stages: decode, infer, encode.
# infer and encode work on frames decoded beforehand (not counted); at most HELD of them are kept in memory and
# cycled, so that a 4K pass does not hold gigabytes.
STAGE = r'''
import sys, time, av, numpy as np
stage, clip, model, suffix, content, frames = sys.argv[1:7]
picture = "gray" if content == "mask" else "rgb"
frames, HELD = int(frames), 24
from av.video.reformatter import VideoReformatter
rgb24 = VideoReformatter()  # one converter for the clip (a frame's own would start a thread pool per frame)
def decoded(limit):
    with av.open(clip) as inp:
        v = inp.streams.video[0]
        v.thread_type = "AUTO"
        for i, f in enumerate(inp.decode(v)):
            if i == limit:
                break
            yield rgb24.reformat(f, format="rgb24").to_ndarray()
if stage == "decode":
    start, n = time.process_time(), 0
    for rgb in decoded(frames):
        n += 1
    print(time.process_time() - start, n)
    sys.exit()
held = list(decoded(min(frames, HELD)))
import mediapipe as mp
from mediapipe.tasks.python.core.base_options import BaseOptions
from mediapipe.tasks.python.vision import image_segmenter
from mediapipe.tasks.python.vision.core.vision_task_running_mode import VisionTaskRunningMode
options = image_segmenter.ImageSegmenterOptions(base_options=BaseOptions(model_asset_path=model),
                                                running_mode=VisionTaskRunningMode.VIDEO)
with image_segmenter.ImageSegmenter.create_from_options(options) as seg:
    start = time.process_time()
    masks = []
    for n in range(frames):
        result = seg.segment_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=held[n % len(held)]), n * 40)
        if n < len(held):
            masks.append((np.squeeze(result.confidence_masks[0].numpy_view()) > 0.4).astype(np.uint8) * 255)
    infer = time.process_time() - start
if stage == "infer":
    print(infer, frames)
    sys.exit()
from stream_mask.sinks.video import VIDEO_FORMATS
from stream_mask import effects
fmt = VIDEO_FORMATS[suffix, picture]
if content == "blur":
    blur = effects.parse_effect("blur")
    pictures = [blur.apply(rgb, m, False) for rgb, m in zip(held, masks)]
elif content == "overlay":
    pictures = [effects.overlay(rgb, [m.astype(np.float32) / 255]) for rgb, m in zip(held, masks)]
else:
    pictures = masks
h, w = pictures[0].shape[:2]
with av.open("/dev/null", "w", format=fmt.container) as out:
    v = out.add_stream(fmt.codec, rate=25)
    v.width, v.height, v.pix_fmt, v.options = w, h, fmt.pix_fmt, dict(fmt.options)
    start = time.process_time()
    for n in range(frames):
        frame = av.VideoFrame.from_numpy_buffer(pictures[n % len(pictures)], format="rgb24" if picture == "rgb" else "gray")
        frame = frame.reformat(format=fmt.pix_fmt, threads=1)
        frame.pts = n
        out.mux(v.encode(frame))
    out.mux(v.encode(None))
    print(time.process_time() - start, frames)
'''

# The plain single-threaded loop: decode, segment (VIDEO mode), threshold, render with the project's own
# functions, encode, with every library held to one thread.
PLAIN = r'''
import os, sys, time
import cv2, av, numpy as np, mediapipe as mp
cv2.setNumThreads(1)
from mediapipe.tasks.python.core.base_options import BaseOptions
from mediapipe.tasks.python.vision import image_segmenter
from mediapipe.tasks.python.vision.core.vision_task_running_mode import VisionTaskRunningMode
from stream_mask.sinks.video import VIDEO_FORMATS
from stream_mask import effects
clip, dst, model, suffix, content = sys.argv[1:6]
picture = "gray" if content == "mask" else "rgb"
fmt = VIDEO_FORMATS[suffix, picture]
blur = effects.parse_effect("blur")
options = image_segmenter.ImageSegmenterOptions(base_options=BaseOptions(model_asset_path=model),
                                                running_mode=VisionTaskRunningMode.VIDEO)
with image_segmenter.ImageSegmenter.create_from_options(options) as seg, av.open(clip) as inp, \
        av.open(dst, "w", format=fmt.container) as out:
    vin = inp.streams.video[0]
    vout = out.add_stream(fmt.codec, rate=vin.average_rate)
    vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, fmt.pix_fmt
    vout.options = {**fmt.options, "threads": "1"}
    start, n = time.perf_counter(), 0
    for frame in inp.decode(vin):
        rgb = frame.to_ndarray(format="rgb24", threads=1)
        result = seg.segment_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), n * 40)
        mask = (np.squeeze(result.confidence_masks[0].numpy_view()) > 0.4).astype(np.uint8) * 255
        if picture == "rgb":
            out_frame = av.VideoFrame.from_numpy_buffer(blur.apply(rgb, mask, False), format="rgb24")
        else:
            out_frame = av.VideoFrame.from_numpy_buffer(mask, format="gray")
        out_frame = out_frame.reformat(format=fmt.pix_fmt, threads=1)
        out_frame.pts = n
        out.mux(vout.encode(out_frame))
        n += 1
    out.mux(vout.encode(None))
print(f"{n} frames ({n / (time.perf_counter() - start):.1f} fps)")
'''


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[str, float, float]:
    """Run a process; its stdout, CPU seconds (user + system, all threads) and peak RSS in MB (from wait4)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode:
            sys.exit(f"failed ({process.returncode}): {' '.join(cmd)}\n{err.read()}")
        return out.read(), usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def stage_cpu(stage: str, clip: str, model: str, suffix: str, content: str, frames: int, env: dict[str, str]) -> float:
    """CPU seconds per frame of one stage alone (STAGE) in a fresh process."""
    stdout, _, _ = run_measured([sys.executable, "-c", STAGE, stage, clip, model, suffix, content, str(frames)], env)
    seconds, done = stdout.split()
    return float(seconds) / int(done)


def loop_fps(stdout: str) -> float:
    """The fps a run printed for its own frame loop: '... (91.3 fps) ...'."""
    return float(re.search(r"\(([\d.]+) fps\)", stdout).group(1))


FOUR_OUTPUTS = (("-o", "{tmp}/mask.mkv"), ("-o", "{tmp}/mask.mp4"), ("--effect", "blur", "-o", "{tmp}/blur.mp4"),
                ("--kind", "overlay", "-o", "{tmp}/overlay.mp4"))


def outputs_table(clip: str, short: str, tmp: str, repeats: int, env: dict[str, str], run_args: list[str],
                  model: str, frames: int) -> None:
    """Four outputs of mixed kinds from one pass of the model, against the cheapest and the dearest of them alone,
    and against the pipeline limit of four: cores / (decode + inference + the four encoders' CPU per frame)."""
    sets = {"one FFV1 mask": FOUR_OUTPUTS[:1], "one blur composite": FOUR_OUTPUTS[2:3], "all four": FOUR_OUTPUTS}
    results: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in sets}
    limits = []
    for _ in range(repeats):
        encoders = [*KINDS.values(), OVERLAY]
        cpu_per_frame = (stage_cpu("decode", clip, model, ".mkv", "mask", frames, env)
                         + stage_cpu("infer", clip, model, ".mkv", "mask", frames, env)
                         + sum(stage_cpu("encode", clip, model, suffix, content, frames, env)
                               for suffix, _, content in encoders))
        limits.append((os.cpu_count() or 1) / cpu_per_frame)
        for name, outputs in sets.items():
            flags = [flag.format(tmp=tmp) for output in outputs for flag in output]
            cpu = {}
            for path in (short, clip):
                stdout, seconds, _ = run_measured([sys.executable, "-m", "stream_mask.cli", "run", path, *flags,
                                                   "--model", "selfie", "--parts", "person", "-q", "--overwrite",
                                                   *run_args], env)
                cpu[path] = (int(re.match(r"(\d+) frames", stdout).group(1)), seconds)
            results[name][0].append(loop_fps(stdout))
            results[name][1].append(1000 * (cpu[clip][1] - cpu[short][1]) / (cpu[clip][0] - cpu[short][0]))
    medians = {name: (statistics.median(fps), statistics.median(cpu)) for name, (fps, cpu) in results.items()}
    four_fps, four_cpu = medians["all four"]
    limit = statistics.median(limits)
    print("720p, four outputs of mixed kinds from one pass (FFV1 mask, H.264 mask, blur composite, overlay):")
    for name, (fps, cpu) in medians.items():
        ratio = (f"; {four_fps / limit:.2f} of the limit of four ({limit:.1f} fps)" if name == "all four" else
                 f"; four at {four_fps / fps:.2f}x its speed (wall), {cpu / four_cpu:.2f}x (CPU)")
        print(f"  {name:20s} {fps:6.1f} fps {cpu:6.1f} CPU ms/frame{ratio}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", default=str(SHARED / "media/people/05_default_juggle.mp4"))
    parser.add_argument("--model-dir", default=str(SHARED / "models"))
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--resolutions", default=",".join(RESOLUTIONS))
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated, of: " + ", ".join(KINDS))
    parser.add_argument("--quick", action="store_true", help="720p only, 40 frames")
    parser.add_argument("--no-plain", action="store_true", help="skip the plain single-threaded loop")
    parser.add_argument("--no-outputs", action="store_true", help="skip the one-vs-four-outputs table")
    parser.add_argument("--code", default=str(ROOT), help="the checkout whose stream_mask is measured")
    parser.add_argument("--run-args", default="", help="extra flags for every `stream-mask run`")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.resolutions = 40, "720p"

    model = str(Path(args.model_dir) / "selfie_segmenter.tflite")
    env = {**os.environ, "STREAM_MASK_MODEL_DIR": args.model_dir, "PYTHONPATH": args.code}
    cores = os.cpu_count() or 1
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "unknown CPU")
    print(f"{cores} cores ({cpu_model}); load average {os.getloadavg()[0]:.1f} at start; code {args.code}; "
          f"{args.frames} frames of {Path(args.input).name}, selfie model, parts person; "
          f"medians of {args.repeats} alternating repeat(s)")
    header = (f"{'resolution':10s} {'output':15s} {'limit fps':>9s} {'ours fps':>9s} {'wall ratio':>10s} "
              f"{'limit CPU ms':>12s} {'our CPU ms':>10s} {'CPU ratio':>9s} {'peak MB':>8s} {'plain fps':>9s} "
              f"{'vs plain':>8s}")
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        for resolution in args.resolutions.split(","):
            width, height = RESOLUTIONS[resolution]
            clip, short = (str(Path(tmp) / f"{name}_{resolution}.mp4") for name in ("clip", "short"))
            for path, frames in ((clip, args.frames), (short, SHORT)):
                subprocess.run([sys.executable, "-c", MAKE_CLIP, args.input, path, str(width), str(height),
                                str(frames)], check=True, env=env)
            decode_s: list[float] = []
            for kind in args.kinds.split(","):
                suffix, flags, content = KINDS[kind]
                limits, limit_cpu, ours, cpu, peak, plain = [], [], [], [], [], []
                for repeat in range(args.repeats):
                    stages = {}
                    for stage in ("decode", "infer", "encode"):
                        if stage == "decode" and len(decode_s) > repeat:
                            stages[stage] = decode_s[repeat]  # the same clip: decoded once per repeat
                            continue
                        stages[stage] = stage_cpu(stage, clip, model, suffix, content, args.frames, env)
                        if stage == "decode":
                            decode_s.append(stages[stage])
                    limits.append(cores / sum(stages.values()))
                    limit_cpu.append(1000 * sum(stages.values()))
                    out = str(Path(tmp) / f"out{suffix}")
                    runs = {}
                    for path in (short, clip):
                        stdout, seconds, rss = run_measured(
                            [sys.executable, "-m", "stream_mask.cli", "run", path, "-o", out, "--model", "selfie",
                             "--parts", "person", "-q", "--overwrite", *flags, *args.run_args.split()], env)
                        runs[path] = (int(re.match(r"(\d+) frames", stdout).group(1)), seconds)
                    (short_frames, short_cpu), (frames, long_cpu) = runs[short], runs[clip]
                    ours.append(loop_fps(stdout))
                    cpu.append(1000 * (long_cpu - short_cpu) / (frames - short_frames))
                    peak.append(rss)
                    if not args.no_plain:
                        stdout, _, _ = run_measured([sys.executable, "-c", PLAIN, clip, str(Path(tmp) / f"plain{suffix}"),
                                                     model, suffix, content], env)
                        plain.append(loop_fps(stdout))
                limit, fps = statistics.median(limits), statistics.median(ours)
                plain_text = (f"{statistics.median(plain):9.1f} {fps / statistics.median(plain):7.2f}x"
                              if plain else f"{'-':>9s} {'-':>8s}")
                limit_ms, our_ms = statistics.median(limit_cpu), statistics.median(cpu)
                print(f"{resolution:10s} {kind:15s} {limit:9.1f} {fps:9.1f} {fps / limit:10.2f} {limit_ms:12.1f} "
                      f"{our_ms:10.1f} {limit_ms / our_ms:9.2f} {max(peak):8.0f} {plain_text}", flush=True)
            if resolution == "720p" and not args.no_outputs:
                outputs_table(clip, short, tmp, args.repeats, env, args.run_args.split(), model, args.frames)


if __name__ == "__main__":
    main()
