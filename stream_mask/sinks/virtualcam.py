"""A virtual camera (`-o virtualcam`, pyvirtualcam) that OBS, Zoom and browsers read as a webcam."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..config import H264
from ..errors import StreamMaskError
from ..frames import Frame, SourceInfo
from .base import Sink

VIRTUALCAM = "virtualcam"  # -o virtualcam, virtualcam:DEVICE, virtualcam:BACKEND or virtualcam:BACKEND:DEVICE
_LINUX_HINT = ('create one with v4l2loopback: sudo modprobe v4l2loopback devices=1{nr} exclusive_caps=1 '
               'card_label="stream-mask", then -o virtualcam (or -o virtualcam:/dev/videoN for a given device)')
_OBS_HINT = "install OBS Studio (https://obsproject.com) and start its Virtual Camera once, then try again"


def parse_virtualcam(spec: str, backends: Iterable[str] = ()) -> tuple[str | None, str | None]:
    """`virtualcam` -> (None, None): pyvirtualcam's default backend and first free device. After the colon: a
    registered pyvirtualcam backend name (`obs`, `unitycapture`, `v4l2loopback`, ...) optionally followed by
    `:DEVICE`, or else a device (`/dev/video10` on Linux, a camera name such as `OBS Virtual Camera` elsewhere).
    Returns (backend, device)."""
    rest = spec[len(VIRTUALCAM) + 1:] if spec.startswith(VIRTUALCAM + ":") else ""
    if not rest:
        return None, None
    name, _, device = rest.partition(":")
    if name in backends:
        return name, device or None
    return None, rest


class VirtualCameraSink(Sink):
    """Frames to a virtual camera (v4l2loopback on Linux, OBS Virtual Camera on Windows/macOS) via pyvirtualcam,
    which OBS, Zoom and browsers read as a webcam. Takes "rgb" pictures, and "gray" ones (a mask, sent as grey
    RGB); a camera has no alpha, so "rgba" is refused. Nothing is published: close() just releases the device."""

    names = (VIRTUALCAM,)  # the word always means the camera: a PNG folder of that name is `./virtualcam`
    what = "the virtual camera"
    sidecar = False

    @classmethod
    def default_kind(cls, spec: str) -> str:
        return "composite"  # a blurred background: what people send to a call

    @classmethod
    def open(cls, spec: str, source: SourceInfo, overwrite: bool, picture: str, h264: H264 = H264()) -> VirtualCameraSink:
        return cls(spec, source, picture)

    def __init__(self, spec: str, source: SourceInfo, picture: str = "rgb") -> None:
        self.path = spec
        self.picture = picture
        self._camera = None
        if picture == "rgba":
            raise StreamMaskError(f"{spec}: a virtual camera has no alpha channel: use --kind composite (or mask)")
        try:
            import pyvirtualcam
        except ImportError:
            raise StreamMaskError(f'-o {spec} needs pyvirtualcam: pip install "stream-mask[virtualcam]"') from None
        from pyvirtualcam.camera import BACKENDS

        backend, device = parse_virtualcam(spec, BACKENDS)
        self.size = (source.width, source.height)
        # pyvirtualcam takes fps as a float; cameras advertise whole or NTSC-style rates, so two decimals are plenty
        # (30000/1001 -> 29.97). A still-image input has a nominal rate; never less than 1.
        fps = max(1.0, round(float(source.fps), 2)) if source.fps else 30.0
        try:
            self._camera = pyvirtualcam.Camera(source.width, source.height, fps, fmt=pyvirtualcam.PixelFormat.RGB,
                                               device=device, backend=backend)
        except RuntimeError as error:  # pyvirtualcam: every backend tried failed, one line each
            reason = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
            raise StreamMaskError(f"cannot open a virtual camera ({reason}): {_no_camera_hint(backend, device)}") from None

    def write(self, frame: Frame, picture: np.ndarray) -> None:
        self._check_picture(frame, picture)
        if picture.ndim == 2:
            picture = np.repeat(picture[:, :, None], 3, axis=2)  # a mask: grey RGB
        # No sleep_until_next_frame(): the pipeline paces frames (a live source at its own rate); the camera's own
        # pacing would only add latency.
        self._camera.send(np.ascontiguousarray(picture))
        self.frames_written += 1

    def close(self, sidecar: dict[str, Any] | None = None) -> None:
        if self._camera is not None:
            self._camera.close()
            self._camera = None

    def abort(self) -> None:
        self.close()


def _no_camera_hint(backend: str | None, device: str | None) -> str:
    """How to get a virtual camera device on this system (empty for a backend we know nothing about)."""
    if backend in (None, "v4l2loopback") and platform.system() == "Linux":
        number = device[len("/dev/video"):] if device and device.startswith("/dev/video") else ""
        return _LINUX_HINT.format(nr=f" video_nr={number}" if number.isdigit() else "")
    if backend in (None, "obs", "unitycapture") and platform.system() in ("Windows", "Darwin"):
        return _OBS_HINT
    return f"check that the {backend or 'virtual camera'} device is available"
