"""A pyvirtualcam backend that records what it is sent: a stand-in for a virtual camera device.

pyvirtualcam is the real library; only the device is replaced, through its public `register_backend`. The
backend follows pyvirtualcam's Backend protocol (pyvirtualcam/camera.py): keyword-only `__init__(width, height,
fps, fourcc, device, **kw)`, `send(frame)` (1-D C-contiguous uint8), `device()`, `native_fourcc()`, `close()`.
Every opened camera is kept in `RecordingCamera.opened`; with $RECORDING_CAMERA_DIR set, `close()` also saves
the frames and settings there (`frames.npy`, `camera.json`), for runs of the real command in a subprocess.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

NAME = "recorder"


class RecordingCamera:
    opened: list["RecordingCamera"] = []

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw) -> None:
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
        self._device = device or "recorder0"
        self.frames: list[np.ndarray] = []
        self.closed = 0
        RecordingCamera.opened.append(self)

    def send(self, frame: np.ndarray) -> None:
        assert frame.ndim == 1 and frame.dtype == np.uint8 and frame.flags.c_contiguous
        self.frames.append(frame.copy())

    def device(self) -> str:
        return self._device

    def native_fourcc(self) -> int:
        return self.fourcc

    def close(self) -> None:
        self.closed += 1
        folder = os.environ.get("RECORDING_CAMERA_DIR")
        if folder:
            np.save(Path(folder) / "frames.npy", np.array(self.frames, dtype=np.uint8).reshape(len(self.frames), -1))
            settings = {"width": self.width, "height": self.height, "fps": self.fps, "fourcc": self.fourcc,
                        "device": self._device, "closed": self.closed}
            (Path(folder) / "camera.json").write_text(json.dumps(settings))


def register() -> None:
    import pyvirtualcam

    pyvirtualcam.register_backend(NAME, RecordingCamera)
