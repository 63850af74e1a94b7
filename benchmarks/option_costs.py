"""Cost of each quality option in ms per 720p frame, measured on real frames in one process.

    python benchmarks/option_costs.py [--input CLIP] [--model-dir ../shared/models]

Each option's own work is timed on the same 30 frames of a 1280x720 clip (selfie model, parts person),
against the base cost of one segmentation in VIDEO mode; medians are printed. --subjects is timed there (one
person: found, followed, nothing to take out) and on the two people of the head-pose GIF scaled to 1280x720
(the other person taken out of the plane).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2  # noqa: F401  (before av: see stream_mask/__init__.py)
import av
import numpy as np

from stream_mask import edges, masks
from stream_mask.config import DEFAULT_SMOOTHING
from stream_mask.effects import overlay, parse_effect
from stream_mask.parts import available_parts
from stream_mask.planes import Refiner
from stream_mask.segmenter import Segmenter
from stream_mask.subjects import SubjectTracker
from stream_mask.temporal import Stabiliser

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def median_ms(function: Callable[[int], object], count: int) -> float:
    times = []
    for index in range(count):
        start = time.perf_counter()
        function(index)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", default=str(SHARED / "media/people/05_default_juggle.mp4"))
    parser.add_argument("--model-dir", default=str(SHARED / "models"))
    args = parser.parse_args()
    model = Path(args.model_dir) / "selfie_segmenter.tflite"
    with av.open(args.input) as container:
        frames = [np.ascontiguousarray(f.to_ndarray(format="rgb24")) for f, _ in zip(container.decode(video=0), range(30))]
    n = len(frames)
    with Segmenter(model) as segmenter:
        person = available_parts(segmenter.labels)["person"]
        confs = [np.array(person.confidence(segmenter.segment(rgb, 40 * i))) for i, rgb in enumerate(frames)]
        base = median_ms(lambda i: segmenter.segment(frames[i], 10_000 + 40 * i), n)
    binaries = [masks.binary_mask([c], 0.4, c.shape) for c in confs]
    with Refiner.for_labels(lambda: Segmenter(model), ["selfie"], 0.4) as refiner:
        refine = median_ms(lambda i: refiner.refine(frames[i], [confs[i]], 20_000 + 40 * i), n)
        crops = refiner.calls / n  # a crop per person far from the others
    stabiliser = Stabiliser(DEFAULT_SMOOTHING, person)
    tracker, pair_tracker = SubjectTracker(1, person), SubjectTracker(1, person)
    with av.open(str(SHARED / "media/people/head-pose-face-detection-female-and-male.gif")) as container:
        pairs = [cv2.resize(f.to_ndarray(format="rgb24"), (1280, 720)) for f, _ in zip(container.decode(video=0), range(n))]
    with Segmenter(model) as segmenter:
        pair_confs = [np.array(person.confidence(segmenter.segment(rgb, 40 * i))) for i, rgb in enumerate(pairs)]
    alphas = [c.astype(np.float32) for c in confs]
    blur, green = parse_effect("blur"), parse_effect("color:#00ff00")
    costs = {
        "segmentation alone (the base)": base,
        "--smooth": median_ms(lambda i: stabiliser.step([confs[i]], [0], i / 24), n),
        "--subjects 1, one person": median_ms(lambda i: tracker.keep([confs[i]], [0], i / 24, 0.4), n),
        "--subjects 1, one of two people": median_ms(lambda i: pair_tracker.keep([pair_confs[i]], [0], i / 24, 0.4),
                                                     len(pair_confs)),
        f"--refine (per pass, {crops:.1f} crops)": refine,
        "--edges guided": median_ms(lambda i: edges.refine_edges(confs[i], frames[i]), n),
        "--min-island 500": median_ms(lambda i: edges.remove_islands(binaries[i], 500), n),
        "--fill-holes 2000": median_ms(lambda i: edges.fill_holes(binaries[i], 2000), n),
        "--shrink 5": median_ms(lambda i: edges.shrink(binaries[i], 5), n),
        "--grow 5": median_ms(lambda i: edges.grow(binaries[i], 5), n),
        "--feather 10": median_ms(lambda i: edges.feather(binaries[i], 10), n),
        "composite --effect color": median_ms(lambda i: green.apply(frames[i], alphas[i]), n),
        "composite --effect blur": median_ms(lambda i: blur.apply(frames[i], alphas[i]), n),
        "overlay, 3 parts": median_ms(lambda i: overlay(frames[i], [alphas[i]] * 3), n),
    }
    height, width = frames[0].shape[:2]
    print(f"{args.input}: {n} frames of {width}x{height}, median ms per frame")
    for name, ms in costs.items():
        print(f"  {name:32s} {ms:6.2f}")


if __name__ == "__main__":
    main()
