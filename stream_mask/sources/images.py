"""Still images: one image file, a folder of them, or a glob, read as the frames of a sequence (OpenCV)."""

from __future__ import annotations

import glob
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..errors import StreamMaskError
from ..frames import Frame, Source, SourceInfo

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
DEFAULT_IMAGE_FPS = Fraction(25)  # frame rate given to image sequences, which carry none


class ImageSource(Source):
    """Still images, as frames of a sequence at `DEFAULT_IMAGE_FPS` (or `fps`).

    In a set (`skip_unreadable`: a folder or a glob), a file that cannot be read as an image is skipped with a
    warning rather than ending the run; one image given alone must be readable."""

    skipped_what = "unreadable images"

    def __init__(self, paths: list[Path], description: str, fps: Fraction = DEFAULT_IMAGE_FPS,
                 skip_unreadable: bool = False) -> None:
        self._skip = skip_unreadable
        self._paths = list(paths)
        first = None
        while first is None:
            if not self._paths:
                raise StreamMaskError(f"{description} holds no readable images ({', '.join(IMAGE_EXTENSIONS)})")
            first = self._read(self._paths[0])
            if first is None:
                self._paths.pop(0)
        self._first: np.ndarray | None = first
        time_base = 1 / fps
        self.info = SourceInfo(
            description=description,
            width=first.shape[1],
            height=first.shape[0],
            fps=fps,
            time_base=time_base,
            frame_count=len(self._paths),
            is_image=True,
            files=tuple(str(path) for path in paths),
        )

    def _read(self, path: Path) -> np.ndarray | None:
        """The image, or None (counted, with a warning) when a set holds a file that is not one."""
        try:
            return read_image(path)
        except StreamMaskError as error:
            if not self._skip:
                raise
            self.skipped += 1
            self.warnings += (f"skipped {error}",)
            return None

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        for path in self._paths:
            rgb = self._first if index == 0 and self._first is not None else self._read(path)
            self._first = None
            if rgb is None:
                continue
            yield Frame(rgb, index, index, self.info.time_base, name=path.stem, captured=time.monotonic())
            index += 1


def read_image(path: Path) -> np.ndarray:
    """Read an image file as HxWx3 RGB uint8 (EXIF orientation applied, any path encoding)."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as error:
        raise StreamMaskError(f"cannot read {path}: {error.strerror}") from None
    if data.size == 0:  # OpenCV asserts on an empty buffer
        raise StreamMaskError(f"cannot read {path}: empty file")
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise StreamMaskError(f"cannot read {path}: not an image file")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def is_image_input(spec: str) -> bool:
    """A folder, an existing file with an image extension, or a glob pattern that names no existing file."""
    path = Path(spec)
    if path.exists():
        return path.is_dir() or path.suffix.lower() in IMAGE_EXTENSIONS
    return glob.has_magic(spec)


def open_images(spec: str) -> ImageSource:
    """INPUT as an image set: a folder's or a glob's images in name order (unreadable ones skipped), or one image."""
    path = Path(spec)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not images:
            raise StreamMaskError(f"folder {spec} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        return ImageSource(images, spec, skip_unreadable=True)
    if path.exists():
        return ImageSource([path], spec)
    images = sorted(Path(p) for p in glob.glob(spec) if Path(p).suffix.lower() in IMAGE_EXTENSIONS)
    if not images:
        raise StreamMaskError(f"no images match {spec}")
    return ImageSource(images, spec, skip_unreadable=True)
