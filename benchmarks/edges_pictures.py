"""Before/after pictures of the mask edge operations (stream_mask/edges.py) for the README, and their timings.

    python benchmarks/edges_pictures.py [--shared ../shared] [--out docs/edges] [--no-timings]

Pictures: the selfie model on the golden stills (portrait.jpg; three_people.jpg for islands and holes,
which the portrait has none of), cropped on an edge region and composited over green, written as
320-px-wide palette PNGs (`NAME_before.png`, `NAME_after.png`). Same inputs, same files: reproducible.
Timings: each operation on a synthetic 1280x720 frame, median of 30 runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stream_mask import edges  # noqa: E402
from stream_mask.segmenter import Segmenter  # noqa: E402

GREEN = np.array([0, 177, 64], dtype=np.float32)
WIDTH = 320
MODEL_WIDTH = 256  # the selfie model's input width: what the confidence holds before MediaPipe upsamples it
CONFIDENCE = 0.4  # the package's default threshold


def person_confidence(path: Path, model: Path) -> tuple[np.ndarray, np.ndarray]:
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    with Segmenter(model, video=False) as segmenter:
        conf = np.array(segmenter.segment(rgb)[0], dtype=np.float32)
    return rgb, conf


def composite(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha.astype(np.float32)[..., None]
    return np.clip(rgb * a + GREEN * (1 - a) + 0.5, 0, 255).astype(np.uint8)


def marked(rgb: np.ndarray, mask: np.ndarray, changed: np.ndarray | None = None) -> np.ndarray:
    """The frame dimmed outside the mask; pixels an operation changed in red."""
    picture = np.where(mask[..., None] > 0, rgb, (rgb * 0.3).astype(np.uint8))
    if changed is not None:
        picture[changed] = (230, 30, 30)
    return picture


def binary(conf: np.ndarray) -> np.ndarray:
    return np.multiply(conf > CONFIDENCE, 255, dtype=np.uint8)


def save(picture: np.ndarray, box: tuple[int, int, int, int], path: Path) -> None:
    x0, y0, x1, y1 = box
    crop = picture[y0:y1, x0:x1]
    height = round(crop.shape[0] * WIDTH / crop.shape[1])
    crop = cv2.resize(crop, (WIDTH, height), interpolation=cv2.INTER_AREA if crop.shape[1] > WIDTH else cv2.INTER_CUBIC)
    image = Image.fromarray(crop).quantize(colors=96, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    image.save(path, optimize=True)


def pictures(shared: Path, out: Path) -> None:
    model = shared / "models" / "selfie_segmenter.tflite"
    out.mkdir(parents=True, exist_ok=True)
    rgb, conf = person_confidence(shared / "media" / "goldens" / "portrait.jpg", model)
    height, width = conf.shape
    hair = (230, 20, 450, 295)  # left side of the head: hair, ear, collar
    shoulder = (80, 330, 380, 630)  # left shoulder against the flag and curtain
    mask = binary(conf)

    # What the model saw, bilinearly upsampled (blurry, offset edges) vs guided by the frame.
    small = cv2.resize(conf, (MODEL_WIDTH, round(height * MODEL_WIDTH / width)), interpolation=cv2.INTER_AREA)
    bilinear = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    save(composite(rgb, bilinear > CONFIDENCE), hair, out / "guided_upsample_before.png")
    save(composite(rgb, edges.refine_edges(small, rgb) > CONFIDENCE), hair, out / "guided_upsample_after.png")
    # MediaPipe's own full-size plane, before and after snapping its edges.
    save(composite(rgb, conf), hair, out / "refine_edges_before.png")
    save(composite(rgb, edges.refine_edges(conf, rgb)), hair, out / "refine_edges_after.png")

    save(composite(rgb, mask > 0), shoulder, out / "grow_before.png")
    save(composite(rgb, edges.grow(mask, 12) > 0), shoulder, out / "grow_after.png")
    save(composite(rgb, mask > 0), shoulder, out / "shrink_before.png")
    save(composite(rgb, edges.shrink(mask, 12) > 0), shoulder, out / "shrink_after.png")
    save(composite(rgb, mask > 0), hair, out / "feather_before.png")
    save(composite(rgb, edges.feather(mask, 16)), hair, out / "feather_after.png")

    rgb, conf = person_confidence(shared / "media" / "goldens" / "three_people.jpg", model)
    mask = binary(conf)
    # Marked pictures: the frame dimmed outside the mask, what the operation changed in red.
    shelf = (440, 280, 800, 480)  # books between two people taken for a person, a speck by the shoulder
    after = edges.remove_islands(mask, 1500)
    save(marked(rgb, mask), shelf, out / "remove_islands_before.png")
    save(marked(rgb, after, after != mask), shelf, out / "remove_islands_after.png")
    chair = (0, 520, 240, 861)  # bottom left: gaps between arm and chair
    after = edges.fill_holes(mask, 1000)
    save(marked(rgb, mask), chair, out / "fill_holes_before.png")
    save(marked(rgb, after, after != mask), chair, out / "fill_holes_after.png")
    for path in sorted(out.resolve().glob("*.png")):  # shown from the checkout when inside it (any --out works)
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{shown}  {path.stat().st_size / 1024:.0f} kB")


def timings() -> None:
    rng = np.random.default_rng(0)
    height, width = 720, 1280
    yy, xx = np.mgrid[:height, :width]
    disc = (yy - 360) ** 2 + (xx - 640) ** 2 < 250**2
    rgb = np.where(disc[..., None], np.array([200, 150, 120]), np.array([40, 80, 60]))
    rgb = np.clip(rgb + rng.normal(0, 8, rgb.shape), 0, 255).astype(np.uint8)
    conf = cv2.GaussianBlur(disc.astype(np.float32), (0, 0), 6)
    small = cv2.resize(conf, (256, 144), interpolation=cv2.INTER_AREA)
    mask = np.multiply(disc, 255, dtype=np.uint8)
    specks = mask.copy()
    specks[rng.random(mask.shape) < 0.001] = 255
    specks[rng.random(mask.shape) < 0.001] = 0
    guide = rgb.astype(np.float32) / 255
    cases = [
        ("refine_edges(256x144 -> 1280x720)", lambda: edges.refine_edges(small, rgb)),
        ("refine_edges(1280x720)", lambda: edges.refine_edges(conf, rgb)),
        ("  for comparison: cv2.ximgproc.guidedFilter, full size", lambda: cv2.ximgproc.guidedFilter(guide, conf, 8, 1e-3)),
        ("grow(mask, 5)", lambda: edges.grow(mask, 5)),
        ("grow(mask, 20)", lambda: edges.grow(mask, 20)),
        ("shrink(mask, 5)", lambda: edges.shrink(mask, 5)),
        ("shrink(mask, 20)", lambda: edges.shrink(mask, 20)),
        ("feather(mask, 10)", lambda: edges.feather(mask, 10)),
        ("remove_islands(mask, 100), ~900 specks", lambda: edges.remove_islands(specks, 100)),
        ("fill_holes(mask, None), ~900 specks", lambda: edges.fill_holes(specks)),
    ]
    for name, run in cases:
        run()
        times = []
        for _ in range(30):
            started = time.perf_counter()
            run()
            times.append((time.perf_counter() - started) * 1000)
        print(f"{name:56s} {statistics.median(times):6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "edges")
    parser.add_argument("--no-timings", action="store_true")
    args = parser.parse_args()
    pictures(args.shared, args.out)
    if not args.no_timings:
        timings()


if __name__ == "__main__":
    main()
