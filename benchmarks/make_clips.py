"""More annotated clips for benchmarks/quality.py, made from footage with ground truth in ../shared.

    python benchmarks/make_clips.py pan OUT_DIR
    python benchmarks/make_clips.py apart OUT_DIR
    python benchmarks/make_clips.py spin OUT_DIR
    python benchmarks/make_clips.py bystanders OUT_DIR
    python benchmarks/quality.py --clip OUT_DIR -- --refine 2 --smooth

`pan`: a virtual camera pans and zooms over `goldens/three_people.jpg` (three people standing close;
its binary segmentation is the truth). The people stand still and the camera moves, so every flip of
the mask that the annotations do not make is the model's own unsteadiness.
`apart`: two people far apart: each davis_parkour frame cut to a 427-pixel-wide window around the
runner, beside its mirror image (the truth alike). A refine crop covering both is the whole frame.
`spin`: davis_parkour seen by a camera that follows the runner and rolls one full turn over the clip
(the truth turned alike). Upside down and sideways the model loses most of the runner over a few
frames, then finds him again at once: what a person turning or spinning does to a live mask.
`bystanders`: the subject and two bystanders (for --subjects): the `apart` window around the runner in the
middle, and at either side one of the two people of the head-pose clip (its left and right halves, at 0.9x,
the wall above them continued), looping. Only the runner is annotated: a mask of everyone scores the
bystanders as errors.

All: 100 frames of 854x480 at 24 fps, H.264 like davis_parkour's video, and `Annotations/NNNNN.png`.
Option sets are then judged on four clips, not tuned to one.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
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


def pan(frames: int = 100) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    goldens = SHARED / "media/goldens"
    picture = cv2.cvtColor(cv2.imread(str(goldens / "three_people.jpg")), cv2.COLOR_BGR2RGB)
    truth = (cv2.imread(str(goldens / "three_people_binary_segmentation.png"), cv2.IMREAD_GRAYSCALE) > 0)
    truth = truth.astype(np.float32)  # palette index 1 = person
    for index in range(frames):
        move = camera(index, frames, picture.shape[:2])
        frame = cv2.warpAffine(picture, move, (WIDTH, HEIGHT), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
        mask = cv2.warpAffine(truth, move, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        yield frame, mask > 0.5


def parkour() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """davis_parkour's frames (RGB) and annotations (True = person)."""
    folder = SHARED / "media/davis_parkour"
    for image in sorted((folder / "JPEGImages").glob("*.jpg")):
        yield (cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB),
               cv2.imread(str(folder / "Annotations" / f"{image.stem}.png"), cv2.IMREAD_GRAYSCALE) > 127)


def apart() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    half = WIDTH // 2
    for frame, truth in parkour():
        columns = np.flatnonzero(truth.any(axis=0))
        x0 = int(np.clip((columns[0] + columns[-1]) // 2 - half // 2, 0, frame.shape[1] - half))
        window = slice(x0, x0 + half)
        yield (np.hstack([frame[:, window], frame[:, window][:, ::-1]]),
               np.hstack([truth[:, window], truth[:, window][:, ::-1]]))


def spin(turns: float = 1.0, frames: int = 100) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each parkour frame turned by `turns` x 360 degrees x its place in the clip, about the runner (the
    centre of the annotation's box). The zoom is the least at which the turned view stays inside the frame
    at every angle (the frame's diagonal over its height: 2.04x), so no border ever shows."""
    zoom = np.hypot(WIDTH, HEIGHT) / HEIGHT
    for index, (frame, truth) in enumerate(parkour()):
        angle = 360.0 * turns * index / (frames - 1)
        cos, sin = abs(np.cos(np.radians(angle))), abs(np.sin(np.radians(angle)))
        # what the view covers of the frame, along x and y
        seen_w, seen_h = (WIDTH * cos + HEIGHT * sin) / zoom, (WIDTH * sin + HEIGHT * cos) / zoom
        rows, cols = np.flatnonzero(truth.any(axis=1)), np.flatnonzero(truth.any(axis=0))
        x = float(np.clip((cols[0] + cols[-1] + 1) / 2, seen_w / 2, frame.shape[1] - seen_w / 2))
        y = float(np.clip((rows[0] + rows[-1] + 1) / 2, seen_h / 2, frame.shape[0] - seen_h / 2))
        move = cv2.getRotationMatrix2D((x, y), angle, zoom)
        move[:, 2] += (WIDTH / 2 - x, HEIGHT / 2 - y)  # the runner to the centre of the view
        turned = cv2.warpAffine(frame, move, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        mask = cv2.warpAffine(truth.astype(np.float32), move, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)
        yield turned, mask > 0.5


def bystanders() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    with av.open(str(SHARED / "media/people/head-pose-face-detection-female-and-male.gif")) as container:
        people = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    for index, (frame, truth) in enumerate(apart()):
        half = frame.shape[1] // 2
        left = (WIDTH - half) // 2
        picture = people[index % len(people)]
        strips = []
        for person, side in ((picture[:, :picture.shape[1] // 2], left),
                             (picture[:, picture.shape[1] // 2:], WIDTH - half - left)):
            height = round(person.shape[0] * side / person.shape[1])
            small = cv2.resize(person, (side, height), interpolation=cv2.INTER_AREA)
            strips.append(cv2.copyMakeBorder(small, HEIGHT - height, 0, 0, 0, cv2.BORDER_REPLICATE))
        mask = np.zeros((HEIGHT, WIDTH), bool)
        mask[:, left:left + half] = truth[:, :half]
        yield np.hstack([strips[0], frame[:, :half], strips[1]]), mask


CLIPS = {"pan": pan, "apart": apart, "spin": spin, "bystanders": bystanders}


def make_clip(kind: str, out: Path) -> int:
    """Write clip `kind` into the new folder `out` (`KIND.mp4` and `Annotations/`); the number of frames."""
    (out / "Annotations").mkdir(parents=True, exist_ok=False)
    count = 0
    with av.open(str(out / f"{kind}.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"crf": "18"})
        for index, (frame, truth) in enumerate(CLIPS[kind]()):
            if index == 0:
                stream.width, stream.height, stream.pix_fmt = frame.shape[1], frame.shape[0], "yuv420p"
            cv2.imwrite(str(out / "Annotations" / f"{index:05d}.png"), np.where(truth, 255, 0).astype(np.uint8))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
            count += 1
        container.mux(stream.encode(None))
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=tuple(CLIPS))
    parser.add_argument("out", type=Path, help="a new folder for the clip (DAVIS layout)")
    args = parser.parse_args()
    print(f"{make_clip(args.kind, args.out)} frames at {FPS} fps -> {args.out}")


if __name__ == "__main__":
    main()
