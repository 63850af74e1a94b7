"""The sink interface: what every output family (video file, PNGs, virtual camera, network stream) implements,
what it declares to the registry (stream_mask/sinks/__init__.py), and the checks and finishing they share."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np

from ..config import H264
from ..errors import StreamMaskError
from ..frames import Frame, I420, SourceInfo
from ..publish import Claim, undone_on_failure
from ..sidecar import write_sidecar
from ..urls import url_scheme

PICTURES = ("gray", "rgb", "rgba")  # what a sink's write() takes: HxW, HxWx3 RGB, HxWx4 RGBA (straight alpha)
_CHANNELS = {"gray": None, "rgb": 3, "rgba": 4}
class Sink:
    """Receives one picture per frame (and audio packets); `close()` publishes, `abort()` discards.

    A family declares what outputs it takes (see `takes`) and opens them with `open`; the registry asks each
    registered family in turn."""

    # What -o OUTPUT this family takes, checked in this order by `takes`:
    names: tuple[str, ...] = ()  # a word, alone or followed by `:options` (`virtualcam`, `virtualcam:/dev/video10`)
    schemes: tuple[str, ...] = ()  # URL schemes (`rtmp` for rtmp://...)
    extensions: tuple[str, ...] = ()  # file extensions, lower case (`.mkv`)
    folders = False  # a file name with a %d field (`masks/%05d.png`), or a path without extension (a folder)

    path: str
    picture = "gray"
    frames_written = 0
    sidecar = True  # False for sinks that leave no file behind (a camera, a stream): no NAME.json, no path to claim
    # True where losing the output mid-run is not the run's failure (a stream's viewer or server goes away): it ends
    # that output only, and the others (a recording beside the stream) go on and are published.
    optional = False
    size: tuple[int, int] | None = None  # width, height every picture must have; None: any (image folders)
    takes_i420 = False  # write() also takes frames.I420 pictures: drawn in this output's own YUV (see to_i420)
    what = "the output"  # for that error: "the video", "the virtual camera"
    size_hint = ""  # what to do about a picture of another size

    @classmethod
    def takes(cls, spec: str) -> bool:
        """Whether OUTPUT `spec` is of this family's form."""
        if any(spec == name or spec.startswith(name + ":") for name in cls.names):
            return True
        scheme = url_scheme(spec)
        if scheme is not None:
            return scheme in cls.schemes
        path = Path(spec)
        if cls.folders and ("%" in path.name or not path.suffix):
            return True
        return path.suffix.lower() in cls.extensions

    @classmethod
    def default_kind(cls, spec: str) -> str:
        """The output kind (config.KINDS) written to `spec` when neither --kind nor --effect says."""
        return "mask"

    @classmethod
    def lossless(cls, spec: str) -> bool:
        """Whether grey pictures written to `spec` read back exactly (a label map's class indices must)."""
        return False

    @classmethod
    def open(cls, spec: str, source: SourceInfo, overwrite: bool, picture: str, h264: H264 = H264()) -> Sink:
        """Check `spec` (claiming a file's name) and open it for `picture` pictures; H.264 files are encoded with
        `h264`'s settings."""
        raise NotImplementedError

    def write(self, frame: Frame, picture: np.ndarray | I420) -> None:
        raise NotImplementedError

    def to_i420(self, rgb: np.ndarray) -> np.ndarray:
        """An RGB picture in this output's YUV, as I420 data (sinks that take I420 pictures)."""
        raise NotImplementedError

    def write_audio(self, packet: av.Packet) -> None:
        """Sinks without sound ignore audio."""

    def close(self, sidecar: dict[str, Any] | None = None) -> None:
        """Finalise and publish; then write `sidecar` (sidecar.describe) beside the output, if it has one."""
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def _publish(self, finalise: Callable[[], None], claim: Claim | None, sidecar: dict[str, Any] | None) -> None:
        """Close a file output: `finalise` (flush, move into place); if that fails, abort, so nothing is left (an OS
        or FFmpeg error, such as a full disk, in one line). Then the sidecar, while the name is still claimed; then
        the claim goes."""
        with undone_on_failure(self.abort, self.path, (OSError, av.error.FFmpegError)):
            finalise()
        try:
            if sidecar is not None:
                write_sidecar(self.path, sidecar)
        finally:
            release(claim)

    def _check_picture(self, frame: Frame, picture: np.ndarray) -> None:
        channels = _CHANNELS[self.picture]
        ok = picture.dtype == np.uint8 and (
            picture.ndim == 2 if channels is None else picture.ndim == 3 and picture.shape[2] == channels
        )
        if not ok:
            shape = "x".join(map(str, picture.shape))
            raise StreamMaskError(f"frame {frame.index}: {self.path} takes {self.picture} pictures, got {shape} {picture.dtype}")
        if self.size is not None and picture.shape[1::-1] != self.size:
            raise StreamMaskError(f"frame {frame.index} is {picture.shape[1]}x{picture.shape[0]}, {self.what} is "
                                  f"{self.size[0]}x{self.size[1]}{self.size_hint}")


def release(claim: Claim | None) -> None:
    if claim is not None:
        claim.release()


def check_parent(folder: Path) -> None:
    """The folder a file output goes in must exist and be writable."""
    if not folder.is_dir():
        raise StreamMaskError(f"output folder does not exist: {folder}")
    if not os.access(folder, os.W_OK):
        raise StreamMaskError(f"cannot write to {folder}: permission denied")


def refuse_existing(path: Path, overwrite: bool) -> None:
    """A file output's name may hold nothing, or (--overwrite) a file."""
    if path.exists() and not overwrite:
        raise StreamMaskError(f"output {path} exists: pass --overwrite to replace it")
    if path.is_dir():
        raise StreamMaskError(f"output {path} is a folder")
