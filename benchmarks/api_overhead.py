"""The video API's per-frame overhead at 720p: VideoMasker's call against the bare MediaPipe segment call.

    python benchmarks/api_overhead.py [--input CLIP] [--frames 40] [--rounds 4] [--model-dir ../shared/models]

The same decoded frames go through (a) MediaPipe's ImageSegmenter alone (VIDEO mode, segment_for_video, confidence
masks: what the command's model thread calls) and (b) `VideoMasker("selfie")(frame, timestamp_ms)`, the plain rule,
in alternating rounds (a, b, a, b, ...) so that machine load hits both alike, each round with a fresh model. Medians
of the per-frame times over all rounds; overhead = API time - bare model time, in ms and as a ratio. Also printed:
the model time measured inside the API's own calls, and the overhead against it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2  # noqa: F401  (before av: see stream_mask/__init__.py)
import av
import mediapipe as mp
import numpy as np
from mediapipe.tasks.python.core.base_options import BaseOptions
from mediapipe.tasks.python.vision import image_segmenter
from mediapipe.tasks.python.vision.core.vision_task_running_mode import VisionTaskRunningMode

from stream_mask import VideoMasker

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def decode(path: Path, count: int) -> list[tuple[np.ndarray, float]]:
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append((frame.to_ndarray(format="rgb24"), float(frame.pts * frame.time_base) * 1000))
            if len(frames) == count:
                break
    return frames


def bare_round(model: Path, frames: list[tuple[np.ndarray, float]]) -> list[float]:
    options = image_segmenter.ImageSegmenterOptions(base_options=BaseOptions(model_asset_path=str(model)),
                                                    running_mode=VisionTaskRunningMode.VIDEO,
                                                    output_confidence_masks=True, output_category_mask=False)
    times = []
    with image_segmenter.ImageSegmenter.create_from_options(options) as segmenter:
        for rgb, timestamp_ms in frames:
            start = time.perf_counter()
            result = segmenter.segment_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb),
                                                 round(timestamp_ms))
            result.confidence_masks[0].numpy_view()
            times.append((time.perf_counter() - start) * 1000)
    return times


def api_round(model: Path, frames: list[tuple[np.ndarray, float]]) -> tuple[list[float], list[float]]:
    times, model_times = [], []
    with VideoMasker(str(model)) as masker:
        for rgb, timestamp_ms in frames:
            start = time.perf_counter()
            masker(rgb, timestamp_ms)
            times.append((time.perf_counter() - start) * 1000)
            model_times.append(masker.last_ms)
    return times, model_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, default=SHARED / "media" / "people" / "gesture_recognizer_test_video.mp4")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--model-dir", type=Path, default=SHARED / "models")
    args = parser.parse_args()
    model = args.model_dir / "selfie_segmenter.tflite"
    frames = decode(args.input, args.frames)
    height, width = frames[0][0].shape[:2]
    bare, api, inside = [], [], []
    api_round(model, frames[:3])  # warm-up: imports, first model load
    for _ in range(args.rounds):
        bare += bare_round(model, frames)
        times, model_times = api_round(model, frames)
        api += times
        inside += model_times
    bare_ms, api_ms, inside_ms = (statistics.median(values) for values in (bare, api, inside))
    print(f"{args.input.name}: {width}x{height}, {len(frames)} frames x {args.rounds} alternating rounds, selfie model")
    print(f"bare MediaPipe segment_for_video   median {bare_ms:6.2f} ms/frame")
    print(f"VideoMasker(frame, timestamp_ms)   median {api_ms:6.2f} ms/frame "
          f"(its own model call inside: {inside_ms:6.2f} ms)")
    print(f"overhead vs bare call              {api_ms - bare_ms:+6.2f} ms/frame, ratio {api_ms / bare_ms:.3f}")
    print(f"overhead vs its own model call     {api_ms - inside_ms:+6.2f} ms/frame, ratio {api_ms / inside_ms:.3f}")


if __name__ == "__main__":
    main()
