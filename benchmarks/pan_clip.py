"""A second annotated clip for benchmarks/quality.py, made from a still with a ground-truth segmentation.

    python benchmarks/pan_clip.py OUT_DIR [--frames 100]
    python benchmarks/quality.py --clip OUT_DIR -- --refine 2 --smooth

A virtual camera pans and zooms over `goldens/three_people.jpg` (three people, full body; its binary
segmentation is the truth): 100 frames of 854x480 at 24 fps, H.264 like davis_parkour's video, and
`Annotations/NNNNN.png` cut from the truth by the same moves. The people stand still and the camera
moves, so every flip of the mask that the annotations do not make is the model's own unsteadiness;
option sets are then judged on two clips, not tuned to one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import cv2
import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared"
WIDTH, HEIGHT, FPS = 854, 480, 24


def camera(index: int, frames: int, picture: tuple[int, int]) -> np.ndarray:
    """The 2x3 affine map from the picture to frame `index`: a slow zoom in while panning right and down."""
    height, width = picture
    progress = index / max(1, frames - 1)
    scale = WIDTH / width * (1.0 + 0.5 * progress)  # from the whole width to 1.5x closer
    seen_w, seen_h = WIDTH / scale, HEIGHT / scale
    x0 = (width - seen_w) * (0.2 + 0.6 * progress)
    y0 = max(0.0, height - seen_h) * 0.3 * progress
    return np.float32([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="a new folder for the clip (DAVIS layout)")
    parser.add_argument("--frames", type=int, default=100)
    args = parser.parse_args()

    goldens = SHARED / "media/goldens"
    picture = cv2.cvtColor(cv2.imread(str(goldens / "three_people.jpg")), cv2.COLOR_BGR2RGB)
    truth = (cv2.imread(str(goldens / "three_people_binary_segmentation.png"), cv2.IMREAD_GRAYSCALE) > 0)
    truth = truth.astype(np.float32)  # palette index 1 = person
    (args.out / "Annotations").mkdir(parents=True, exist_ok=False)
    with av.open(str(args.out / "three_people_pan.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"crf": "18"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for index in range(args.frames):
            move = camera(index, args.frames, picture.shape[:2])
            frame = cv2.warpAffine(picture, move, (WIDTH, HEIGHT), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
            mask = cv2.warpAffine(truth, move, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            cv2.imwrite(str(args.out / "Annotations" / f"{index:05d}.png"), np.where(mask > 0.5, 255, 0).astype(np.uint8))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    print(f"{args.frames} frames of {WIDTH}x{HEIGHT} at {FPS} fps -> {args.out}")


if __name__ == "__main__":
    main()
