"""Every preset run through the real command on a 720p clip: its cost per frame, and (with --pictures) one frame
of its result beside the input, for the README's Presets section.

    python benchmarks/presets.py [--input CLIP] [--frames 100] [--model-dir ../shared/models] [--pictures docs/presets]

Each preset runs as a user starts it, on a file instead of a camera: the input is the clip (`camera:0` replaced),
read as fast as it decodes (no --realtime), the preview window off, and the virtual camera a pyvirtualcam backend
that drops what it is sent (registered through pyvirtualcam's public `register_backend`). Cost: the child process's
CPU time (user + system, both cores) per frame, and its frames per second. Presets of the 6-class model run with the
test suite's stand-in when the multiclass model is not in --model-dir (a trivial network: then the figure is the
pipeline's own cost, and the model's inference comes on top: estimated from the model card, printed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2  # noqa: F401  (before av: see stream_mask/__init__.py)
import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "tests"))
from standin_model import build_standin_model  # noqa: E402

from stream_mask.config_files import load, presets  # noqa: E402
from stream_mask.models import REGISTRY  # noqa: E402
from stream_mask.settings import OUTPUTS_KEY  # noqa: E402

# Model card (selfie_multiclass_256x256): 217.76 ms per frame on a Pixel 6 CPU, against 33.46 ms for the selfie model.
MULTICLASS_OVER_SELFIE = 217.76 / 33.46

# The child: a virtual camera backend that keeps one frame (to picture it) and drops the rest, then the command.
CHILD = """
import os, sys, numpy as np, pyvirtualcam
class Keep:
    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        self.size, self.count = (height, width), 0
    def send(self, frame):
        if self.count == int(os.environ["KEEP_FRAME"]):
            np.save(os.environ["KEEP_PATH"], frame.reshape(*self.size, 3))
        self.count += 1
    def device(self): return "keep"
    def native_fourcc(self): return pyvirtualcam.util.encode_fourcc("raw ")
    def close(self): pass
pyvirtualcam.register_backend("keep", Keep)
from stream_mask.cli import main
sys.exit(main(sys.argv[1:]))
"""


def cut(source: Path, target: Path, frames: int) -> None:
    """The first `frames` frames of `source`, re-encoded losslessly (FFV1), with its audio dropped."""
    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        stream = dst.add_stream("ffv1", rate=src.streams.video[0].average_rate)
        stream.width, stream.height, stream.pix_fmt = src.streams.video[0].width, src.streams.video[0].height, "yuv420p"
        for index, frame in enumerate(src.decode(video=0)):
            if index == frames:
                break
            dst.mux(stream.encode(frame.reformat(format="yuv420p")))
        dst.mux(stream.encode(None))


def run_preset(name: str, clip: Path, workdir: Path, model: str | None, keep: int) -> tuple[float, float, dict]:
    """Run one preset; its CPU ms per frame, its fps and {output path: settings}."""
    settings = load(name)
    args = ["run", str(clip), "--config", name, "-q", "--no-preview"]
    if model:
        args += ["--model", model]
    for table in settings.get(OUTPUTS_KEY, []):
        args += ["-o", "virtualcam:keep" if table.get("path") == "virtualcam" else table.get("path", "out.mkv")]
    if not settings.get(OUTPUTS_KEY):
        args += ["-o", "out.mkv"]
    env = {**os.environ, "KEEP_FRAME": str(keep), "KEEP_PATH": str(workdir / "kept.npy")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{name}: {result.stderr.strip()}")
    frames = int(result.stdout.split()[0])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return 1000 * cpu / frames, frames / wall, settings


def picture(name: str, clip: Path, workdir: Path, keep: int, target: Path) -> None:
    """Frame `keep` of the input beside the same frame of what the preset made (mattes side by side)."""
    with av.open(str(clip)) as container:
        source = next(frame for index, frame in enumerate(container.decode(video=0)) if index == keep)
        source = source.to_ndarray(format="rgb24")
    made = []
    if (workdir / "kept.npy").exists():
        made.append(np.load(workdir / "kept.npy"))
    for path in sorted(workdir.glob("*.m*")):
        if path.suffix in (".mkv", ".mp4", ".mov") and path.name != clip.name:
            with av.open(str(path)) as container:
                frame = next(f for index, f in enumerate(container.decode(video=0)) if index == keep)
                rgba = frame.to_ndarray(format="rgba").astype(np.float32)
            checker = ((np.indices(rgba.shape[:2]).sum(axis=0) // 24) % 2 * 60 + 100)[..., None]  # shows alpha
            alpha = rgba[..., 3:] / 255
            made.append((rgba[..., :3] * alpha + checker * (1 - alpha)).astype(np.uint8))
    height = 270

    def scaled(picture: np.ndarray, rows: int) -> np.ndarray:
        h = height // rows
        return cv2.resize(picture, (picture.shape[1] * h // picture.shape[0], h), interpolation=cv2.INTER_AREA)

    if len(made) > 1:  # several mattes: two by two beside the input, in the order of their names
        made += [np.zeros_like(made[0])] * (len(made) % 2)
        pairs = [np.concatenate([scaled(a, 2), scaled(b, 2)], axis=1) for a, b in zip(made[::2], made[1::2])]
        grid = np.concatenate(pairs, axis=0)
        made = [cv2.resize(grid, (grid.shape[1] * height // grid.shape[0], height), interpolation=cv2.INTER_AREA)]
    row = np.concatenate([scaled(source, 1), *(scaled(p, 1) for p in made)], axis=1)
    target.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(target), cv2.cvtColor(row, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, default=SHARED / "media/people/gesture_recognizer_test_video.mp4")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--model-dir", type=Path, default=SHARED / "models")
    parser.add_argument("--pictures", type=Path, help="write NAME.jpg per preset here (input | result)")
    parser.add_argument("--keep", type=int, default=60, help="the frame to picture")
    args = parser.parse_args()
    os.environ["STREAM_MASK_MODEL_DIR"] = str(args.model_dir.resolve())
    multiclass = REGISTRY["multiclass"].filename
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / f"{args.input.stem}.mkv"
        cut(args.input, clip, args.frames)
        standin = None if (args.model_dir / multiclass).exists() else str(build_standin_model(Path(tmp) / "standin.tflite"))
        with av.open(str(clip)) as container:
            size = f"{container.streams.video[0].width}x{container.streams.video[0].height}"
        print(f"{args.frames} frames of {args.input.name} ({size}), "
              f"{os.cpu_count()} CPUs; CPU ms per frame (user + system) and fps of the whole run")
        print(f"{'preset':24} {'CPU ms/frame':>12} {'fps':>6}  model")
        for name in presets():
            workdir = Path(tempfile.mkdtemp(dir=tmp))
            six_class = load(name).get("model", "multiclass") == "multiclass" and not _landmarks_only(load(name))
            model = standin if six_class and standin else None
            cpu_ms, fps, _ = run_preset(name, clip, workdir, model, args.keep)
            note = "stand-in (pipeline only)" if model else load(name).get("model", "multiclass")
            if _landmarks_only(load(name)):
                note = "face landmarker only"
            print(f"{name:24} {cpu_ms:12.1f} {fps:6.1f}  {note}")
            if args.pictures:
                picture(name, clip, workdir, args.keep, args.pictures / f"{name}.jpg")
        if standin:
            selfie = selfie_inference_ms(clip, args.model_dir / REGISTRY["selfie"].filename)
            print(f"the multiclass model's own inference, estimated: {MULTICLASS_OVER_SELFIE:.1f} x the selfie model's "
                  f"{selfie:.1f} ms here (model card ratio, Pixel 6 CPU) = {MULTICLASS_OVER_SELFIE * selfie:.0f} ms per "
                  f"frame, to add to the stand-in rows")


def selfie_inference_ms(clip: Path, model: Path) -> float:
    """CPU ms of one selfie-model segmentation per frame of `clip` (VIDEO mode), in this process."""
    from stream_mask.segmenter import Segmenter

    with av.open(str(clip)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    with Segmenter(model) as segmenter:
        segmenter.segment(frames[0], 0)
        started = time.process_time()
        for index, frame in enumerate(frames[1:], start=1):
            segmenter.segment(frame, index * 40)
        return 1000 * (time.process_time() - started) / (len(frames) - 1)


def _landmarks_only(settings: dict) -> bool:
    from stream_mask.parts import is_landmark_only

    return all(is_landmark_only(table.get("parts")) for table in settings.get(OUTPUTS_KEY, [])) and \
        bool(settings.get(OUTPUTS_KEY))


if __name__ == "__main__":
    main()
