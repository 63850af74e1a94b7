"""A small JSON beside every output: the settings, model and versions that made it, to reproduce it."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from stat import S_ISREG
from typing import Any

import av

from .config import OutputSpec, RunConfig
from .errors import StreamMaskError
from .frames import SourceInfo
from .models import ResolvedModel
from .publish import partial_path, publish_file, reason
from .settings import to_settings

PACKAGES = ("stream-mask", "mediapipe", "av", "numpy", "opencv-contrib-python")
SEQUENCE_SIDECAR = "stream_mask.json"  # inside a PNG folder, where NAME.json would read as one more frame


def sidecar_path(output: str) -> Path:
    """`out.mkv` -> `out.mkv.json`; a PNG folder or `dir/%05d.png` -> `dir/stream_mask.json`."""
    path = Path(output)
    if path.is_dir():
        return path / SEQUENCE_SIDECAR
    if "%" in path.name:
        return path.parent / SEQUENCE_SIDECAR
    return path.with_name(path.name + ".json")


def describe(config: RunConfig, output: OutputSpec, model: ResolvedModel, parts: list[str], source: SourceInfo,
             frames: int, interrupted: bool, skipped: tuple[int, str] = (0, "damaged packets")) -> dict[str, Any]:
    """Everything needed to run this again and get the same output; `skipped`: (how many, what) of the input was
    left out as damaged."""
    return {
        "settings": to_settings(config, replace(output, parts=tuple(parts))),  # the model's default parts named
        "model": {"name": model.name, "sha256": model.sha256, "url": model.info.url if model.info else None},
        "input": {"width": source.width, "height": source.height, "fps": str(source.fps),
                  "frames_expected": source.frame_count, "audio": source.audio is not None, "live": source.live,
                  **file_identity(config.input)},
        "frames": frames,
        "skipped": {"count": skipped[0], "what": skipped[1]},
        "interrupted": interrupted,
        "versions": {**{name: _version(name) for name in PACKAGES}, "ffmpeg": av.ffmpeg_version_info,
                     "python": sys.version.split()[0]},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def file_identity(path: str) -> dict[str, int]:
    """A file input's size and modification time (ns): what tells a batch that an output was made from this very
    file (see batch.py); {} for anything else (a camera, a stream, a folder of images)."""
    try:
        stat = os.stat(path)
    except (OSError, ValueError):
        return {}
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns} if S_ISREG(stat.st_mode) else {}


def write_sidecar(output: str, data: dict[str, Any]) -> Path:
    """Write the JSON atomically beside (or inside) the published output; returns its path. If it cannot be
    written (a full disk), nothing is left of it, nor of an earlier run's, which would describe another output."""
    path = sidecar_path(output)
    partial = partial_path(path)
    try:
        with open(partial, "w") as file:
            json.dump(data, file, indent=2)
            file.write("\n")
        publish_file(partial, path, overwrite=True)  # ours to replace: the output's name is claimed
    except OSError as error:
        partial.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        raise StreamMaskError(f"{output} is complete, but its sidecar {path} could not be written: "
                              f"{reason(error)}") from None
    return path


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
