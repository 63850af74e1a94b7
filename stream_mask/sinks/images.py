"""PNGs: a folder or a %d pattern of them (ImageSequenceSink), or one image (ImageSink).

Like a video file, they are built hidden beside their target and moved into place only in `close()` (publish.py).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..config import H264
from ..errors import StreamMaskError
from ..frames import Frame, SourceInfo
from ..publish import (Claim, claim_name, claimed, is_leftover, move_files_in, partial_path, publish_file,
                       publish_folder, reason, refuse_input)
from ..sidecar import SEQUENCE_SIDECAR
from .base import Sink, check_parent, refuse_existing, release

_IN_PLACE = "stream-mask"  # what a folder filled in place is claimed and built as, inside it


class ImageSequenceSink(Sink):
    """PNG files in a folder: `pattern` is a %-style name such as `%05d.png`, or None to reuse image names.

    A folder of its own (`whole`: `-o masks`) is built whole beside its target and swapped in, so no frame of an
    earlier run survives --overwrite. The files of a pattern the user gave (`-o masks/%05d.png`), and those of a
    folder that cannot be swapped (a mount point, or one whose parent is not writable), are built in a hidden
    folder inside and moved in, and --overwrite removes the earlier run's files of that name.
    """

    folders = True

    @classmethod
    def lossless(cls, spec: str) -> bool:
        return True  # PNG

    @classmethod
    def open(cls, spec: str, source: SourceInfo, overwrite: bool, picture: str, h264: H264 = H264()) -> ImageSequenceSink:
        """A %d pattern, or a folder of PNGs named like the input images or numbered for a video."""
        path = Path(spec)
        if "%" in path.name:
            _check_pattern(path.name)
            _check_folder(path.parent, path.parent)
            folder = Path(os.path.realpath(path.parent))
            refuse_input(folder, source.files, levels=1, shown=spec)
            if not folder.exists():  # made, like a folder output: built whole beside its name, then moved in
                with claimed(sequence_target(folder, None), [folder / SEQUENCE_SIDECAR]) as claim:
                    return cls(folder, path.name, picture, claim, overwrite, whole=True, shown=path.parent)
            with claimed(folder / path.name, [folder / SEQUENCE_SIDECAR]) as claim:
                _refuse_existing_sequence(folder, path.name, overwrite, spec)
                return cls(folder, path.name, picture, claim, overwrite, shown=path.parent)
        # A folder is replaced as a whole, so it is resolved (a symlink's folder is replaced, not the link) and may
        # hold nothing but frames.
        if path.exists() and not path.is_dir():
            raise StreamMaskError(f"output {spec} exists and is not a folder")
        folder = Path(os.path.realpath(path))
        if folder == folder.parent:
            raise StreamMaskError(f"cannot write PNGs to {spec}: give a folder of their own")
        check_parent(folder if _fill_in_place(folder) else folder.parent)
        refuse_input(folder, source.files, levels=None, shown=spec)
        with claimed(sequence_target(folder, None), [folder / SEQUENCE_SIDECAR]) as claim:
            _refuse_existing_folder(folder, spec, overwrite)
            return cls(folder, None if source.is_image else "%05d.png", picture, claim, overwrite, whole=True,
                       shown=path)

    def __init__(self, folder: Path, pattern: str | None, picture: str = "gray", claim: Claim | None = None,
                 overwrite: bool = False, whole: bool = False, shown: Path | None = None) -> None:
        shown = shown or folder  # the folder as the user wrote it; `folder` is resolved
        self.path = str(shown / pattern) if pattern else str(shown)
        self.picture = picture
        self._folder = folder
        self._pattern = pattern
        self._whole = whole
        self._claim = claim
        self._overwrite = overwrite
        self._partial = partial_path(sequence_target(folder, None if whole else pattern))
        try:
            self._partial.mkdir()
        except OSError as error:
            raise StreamMaskError(f"cannot write {self.path}: {reason(error)}") from None
        self._names: list[str] = []

    def write(self, frame: Frame, picture: np.ndarray) -> None:
        self._check_picture(frame, picture)
        name = self._pattern % frame.index if self._pattern else f"{frame.name or f'{frame.index:05d}'}.png"
        write_png(self._partial / name, picture)
        self._names.append(name)
        self.frames_written += 1

    def close(self, sidecar: dict[str, Any] | None = None) -> None:
        self._publish(self._move_in, self._claim, sidecar)

    def _move_in(self) -> None:
        if self._partial.parent != self._folder:
            publish_folder(self._partial, self._folder, self._overwrite)
            return
        stale = self._stale() if self._overwrite else []
        move_files_in(self._partial, self._folder, self._names, self._overwrite)
        for name in stale:
            (self._folder / name).unlink(missing_ok=True)

    def _stale(self) -> list[str]:
        """What an earlier run wrote under this name and this run does not replace."""
        written = set(self._names)
        owned = None if self._whole else _pattern_regex(self._pattern)
        return [name for name in os.listdir(self._folder) if name not in written and (
            owned.fullmatch(name) if owned else name.lower().endswith(".png"))]

    def abort(self) -> None:
        shutil.rmtree(self._partial, ignore_errors=True)
        release(self._claim)


class ImageSink(Sink):
    """One PNG for a one-image input."""

    extensions = (".png",)

    @classmethod
    def lossless(cls, spec: str) -> bool:
        return True  # PNG

    @classmethod
    def open(cls, spec: str, source: SourceInfo, overwrite: bool, picture: str, h264: H264 = H264()) -> ImageSink:
        if not source.is_image or (source.frame_count or 0) > 1:
            raise StreamMaskError(f"{spec} holds one image but the input has several: give a folder or a pattern like masks/%05d.png")
        path = Path(spec)
        check_parent(path.parent)
        refuse_input(path, source.files, shown=spec)
        with claimed(path, [path.with_name(path.name + ".json")]) as claim:
            refuse_existing(path, overwrite)
            return cls(path, picture, claim, overwrite)

    def __init__(self, path: Path, picture: str = "gray", claim: Claim | None = None, overwrite: bool = False) -> None:
        self.path = str(path)
        self.picture = picture
        self._final = path
        self._partial = partial_path(path)
        self._claim = claim
        self._overwrite = overwrite
        self._picture: np.ndarray | None = None

    def write(self, frame: Frame, picture: np.ndarray) -> None:
        if self._picture is not None:
            raise StreamMaskError(f"{self.path} holds one image but the input has several: give a folder or a %05d.png pattern")
        self._check_picture(frame, picture)
        self._picture = picture
        self.frames_written += 1

    def close(self, sidecar: dict[str, Any] | None = None) -> None:
        if self._picture is None:
            release(self._claim)
            return
        picture = self._picture

        def finalise() -> None:
            write_png(self._partial, picture)
            publish_file(self._partial, self._final, self._overwrite)

        self._publish(finalise, self._claim, sidecar)

    def abort(self) -> None:
        self._picture = None
        self._partial.unlink(missing_ok=True)
        release(self._claim)


def write_png(path: Path, picture: np.ndarray) -> None:
    """Write a grey, RGB or RGBA uint8 array as PNG (fast compression: masks compress well anyway)."""
    if picture.ndim == 3:
        code = cv2.COLOR_RGB2BGR if picture.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
        picture = cv2.cvtColor(picture, code)
    ok, data = cv2.imencode(".png", picture, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise StreamMaskError(f"cannot encode {path} as PNG")
    with open(path, "wb") as file:  # not ndarray.tofile, whose errors lose the errno (a full disk)
        file.write(data.data)


def sequence_target(folder: Path, pattern: str | None) -> Path:
    """The name a PNG sequence is claimed and built under: the folder itself when it is swapped in whole, else
    the pattern (or `stream-mask`) inside it."""
    if pattern is None and not _fill_in_place(folder):
        return folder
    return folder / (pattern or _IN_PLACE)


def _fill_in_place(folder: Path) -> bool:
    """A folder that cannot be replaced by a rename: a mount point, or one in a folder we may not write."""
    return folder.is_dir() and (os.path.ismount(folder) or not os.access(folder.parent, os.W_OK))


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """The names `pattern` gives (`%05d.png` -> 5+ digits then `.png`), and nothing else of the folder."""
    field = re.search(r"%[-+ 0#]*\d*[diu]", pattern)
    if field is None:  # %x and the like: hex digits
        field = re.search(r"%[-+ 0#]*\d*[xXo]", pattern)
    if field is None:
        return re.compile(re.escape(pattern))
    return re.compile(re.escape(pattern[:field.start()]) + r" *[-+]?[0-9a-fA-F]+" + re.escape(pattern[field.end():]))


def _check_folder(folder: Path, spec: str | Path) -> None:
    """A folder of PNGs: it may be missing (it is made), not a file; its parent must exist."""
    check_parent(folder.parent)
    if folder.exists() and not folder.is_dir():
        raise StreamMaskError(f"output {spec} exists and is not a folder")


def _check_pattern(name: str) -> None:
    try:
        name % 0
    except (TypeError, ValueError):
        raise StreamMaskError(f"bad output pattern {name!r}: use one number field such as %05d") from None
    if not name.lower().endswith(".png"):
        raise StreamMaskError(f"bad output pattern {name!r}: image sequences are written as .png")


def _refuse_existing_sequence(folder: Path, pattern: str, overwrite: bool, spec: str) -> None:
    if overwrite or not folder.is_dir():
        return
    owned = _pattern_regex(pattern)
    if any(owned.fullmatch(name) for name in os.listdir(folder)):
        raise StreamMaskError(f"files matching {spec} exist: pass --overwrite to replace them")


def _refuse_existing_folder(folder: Path, spec: str, overwrite: bool) -> None:
    """An existing folder is replaced only with --overwrite, and only if it holds nothing but what a run writes
    (PNGs, the sidecar, leftovers of runs): whatever else is in it is not ours to remove."""
    if not folder.is_dir():
        return
    names = [name for name in os.listdir(folder) if not is_leftover(name) and name != claim_name(folder / _IN_PLACE)]
    if names and not overwrite:
        raise StreamMaskError(f"output folder {spec} is not empty: pass --overwrite to replace it")
    foreign = sorted(name for name in names if name != SEQUENCE_SIDECAR and not (
        name.lower().endswith(".png") and (folder / name).is_file()))
    if foreign:
        raise StreamMaskError(f"output folder {spec} holds more than PNGs ({foreign[0]}): --overwrite replaces a "
                              f"folder as a whole, so choose a new or empty one")
