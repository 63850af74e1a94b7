"""Where frames come from: video files (anything FFmpeg reads), single images, folders or globs of images.

A source yields `Frame`s in presentation order, each carrying its own timestamp (PyAV `pts` and
`time_base`), and, for files with sound, the audio packets in the order they were demuxed, so that a
sink can interleave them with the video it writes without a second pass over the file.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.sidedata.sidedata
import cv2
import numpy as np

from .errors import StreamMaskError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
DEFAULT_IMAGE_FPS = Fraction(25)  # frame rate given to image sequences, which carry none
# FFmpeg renders text files (.txt, .nfo, .asc...) as "video" with these decoders: never footage of people.
TEXT_ART_CODECS = frozenset({"ansi", "bintext", "xbin", "idf"})


@dataclass
class Frame:
    """One decoded picture: true RGB pixels plus the timestamp it had in the source."""

    rgb: np.ndarray  # HxWx3 uint8, RGB order
    index: int  # 0-based position in the source
    pts: int  # presentation time in `time_base` units
    time_base: Fraction
    name: str = ""  # stem of the image file, for image sources

    @property
    def seconds(self) -> float:
        return float(self.pts * self.time_base)


@dataclass(frozen=True)
class SourceInfo:
    """What sinks need to mirror the input: size, timing and the audio stream, if any."""

    description: str  # a path or a spec, for messages
    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    frame_count: int | None  # None when unknown (e.g. a stream)
    audio: av.audio.stream.AudioStream | None = None
    is_image: bool = False  # one still picture, or a set of them
    # How players must show the video, read from its first decoded frame: the counter-clockwise rotation of its
    # display matrix (phone videos: 90, -90, 180), and the matrix itself (9 ints, FFmpeg's layout; it also holds
    # flips), which sinks copy onto every output video so masks line up with the input in players and editors.
    rotation: int = 0
    display_matrix: tuple[int, ...] | None = None
    # The input's colour tags (FFmpeg enum values, 0 or 2 when unspecified). Decoding to RGB honours its matrix
    # and range; the primaries and transfer describe the RGB values themselves, which outputs pass through.
    color_primaries: int = 0
    color_trc: int = 0
    colorspace: int = 0
    color_range: int = 0


class Source:
    """Iterable of `Frame`s and, interleaved with them, audio `av.Packet`s."""

    info: SourceInfo

    def __iter__(self) -> Iterator[Frame | av.Packet]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file handles; safe to call twice."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoFileSource(Source):
    """A video file, animated GIF or stream that FFmpeg can demux, decoded by PyAV."""

    def __init__(self, path: str) -> None:
        try:
            self._container = av.open(path)
        except av.error.FFmpegError as error:
            # Invalid data and bad-argument errors derive from ValueError (PyAV renamed the latter from
            # av.error.ValueError to av.error.ArgumentError), a file too short to probe raises EOFError:
            # either way the file is not something FFmpeg reads.
            if isinstance(error, (ValueError, EOFError)):
                raise StreamMaskError(f"cannot read {path}: not a video or image file ({error.strerror})") from None
            raise StreamMaskError(f"cannot open {path}: {error.strerror}") from None
        if not self._container.streams.video:
            self._container.close()
            raise StreamMaskError(f"{path} has no video stream")
        self._video = self._container.streams.video[0]
        if self._video.codec_context.name in TEXT_ART_CODECS:
            self._container.close()
            raise StreamMaskError(f"cannot read {path}: not a video or image file (FFmpeg reads it as text art)")
        self._video.thread_type = "AUTO"  # frame + slice threads: decoding keeps pace with inference
        audio = self._container.streams.audio[0] if self._container.streams.audio else None
        rate = self._video.average_rate or self._video.guessed_rate or DEFAULT_IMAGE_FPS
        self.info = SourceInfo(
            description=path,
            width=self._video.codec_context.width,
            height=self._video.codec_context.height,
            fps=Fraction(rate),
            time_base=Fraction(self._video.time_base or Fraction(1, 1000)),
            frame_count=self._video.frames or _estimate_frames(self._video, rate),
            audio=audio,
        )
        self._peek()

    def _peek(self) -> None:
        """Decode up to the first frame (keeping what came before it): the display matrix and colour tags are
        only exposed on decoded frames (PyAV 18 does not read a stream's side data), and sinks need them before
        they open. Works for pipes too: nothing is read twice."""
        self._peeked: list[Frame | av.Packet] = []
        self._first: av.VideoFrame | None = None
        self._items = self._read()
        try:
            for item in self._items:
                self._peeked.append(item)
                if isinstance(item, Frame):
                    break
        except BaseException:
            self._container.close()
            raise
        first, self._first = self._first, None
        if first is None:
            return
        matrix = first.side_data.get(av.sidedata.sidedata.Type.DISPLAYMATRIX)
        self.info = dataclasses.replace(
            self.info,
            rotation=int(first.rotation) if matrix is not None else 0,
            display_matrix=tuple(int(v) for v in np.frombuffer(bytes(matrix), dtype="<i4")) if matrix is not None else None,
            color_primaries=int(first.color_primaries), color_trc=int(first.color_trc),
            colorspace=int(first.colorspace), color_range=int(first.color_range),
        )

    def __iter__(self) -> Iterator[Frame | av.Packet]:
        while self._peeked:
            yield self._peeked.pop(0)
        yield from self._items

    def _read(self) -> Iterator[Frame | av.Packet]:
        streams = [self._video] + ([self.info.audio] if self.info.audio is not None else [])
        step = _pts_step(self.info)
        last_pts: int | None = None
        index = 0
        try:
            for packet in self._container.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None:  # the demuxer's final flush packet has none
                        yield packet
                    continue
                for frame in packet.decode():
                    # Keep the source's own timestamps; invent them only where missing or repeated.
                    pts = frame.pts if frame.pts is not None else (0 if last_pts is None else last_pts + step)
                    if last_pts is not None and pts <= last_pts:
                        pts = last_pts + 1
                    last_pts = pts
                    if index == 0:
                        self._first = frame
                    yield Frame(frame.to_ndarray(format="rgb24"), index, pts, self.info.time_base)
                    index += 1
        except av.error.FFmpegError as error:
            if index == 0:
                raise StreamMaskError(f"cannot decode {self.info.description}: {error.strerror}") from None
            # A truncated or damaged tail: keep what decoded, as players do.
        if index == 0:
            raise StreamMaskError(f"{self.info.description} has no decodable video frames")

    def close(self) -> None:
        self._container.close()


class ImageSource(Source):
    """Still images, as frames of a sequence at `DEFAULT_IMAGE_FPS` (or `fps`)."""

    def __init__(self, paths: list[Path], description: str, fps: Fraction = DEFAULT_IMAGE_FPS) -> None:
        self._paths = paths
        first = read_image(paths[0])
        self._first: np.ndarray | None = first
        time_base = 1 / fps
        self.info = SourceInfo(
            description=description,
            width=first.shape[1],
            height=first.shape[0],
            fps=fps,
            time_base=time_base,
            frame_count=len(paths),
            is_image=True,
        )

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self._paths):
            rgb = self._first if index == 0 and self._first is not None else read_image(path)
            self._first = None
            yield Frame(rgb, index, index, self.info.time_base, name=path.stem)


def read_image(path: Path) -> np.ndarray:
    """Read an image file as HxWx3 RGB uint8 (EXIF orientation applied, any path encoding)."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as error:
        raise StreamMaskError(f"cannot read {path}: {error.strerror}") from None
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise StreamMaskError(f"cannot read {path}: not an image file")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def open_source(spec: str) -> Source:
    """Open INPUT as given on the command line: a video file, an image, a folder or a glob of images."""
    path = Path(spec)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not images:
            raise StreamMaskError(f"folder {spec} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        return ImageSource(images, spec)
    if path.exists():  # a file, or a named pipe / device that FFmpeg can read
        if not os.access(path, os.R_OK):
            raise StreamMaskError(f"cannot read {spec}: permission denied")
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            return ImageSource([path], spec)
        return VideoFileSource(spec)
    if glob.has_magic(spec):
        images = sorted(Path(p) for p in glob.glob(spec) if Path(p).suffix.lower() in IMAGE_EXTENSIONS)
        if not images:
            raise StreamMaskError(f"no images match {spec}")
        return ImageSource(images, spec)
    raise StreamMaskError(f"input not found: {spec}")


def _pts_step(info: SourceInfo) -> int:
    """One frame's duration in time_base units, for frames that arrive without a timestamp."""
    return max(1, round(1 / (info.fps * info.time_base)))


def _estimate_frames(stream: av.video.stream.VideoStream, rate: Fraction) -> int | None:
    if stream.duration is None or stream.time_base is None:
        return None
    return round(stream.duration * stream.time_base * rate)
