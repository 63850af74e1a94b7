"""Where frames come from: video files (anything FFmpeg reads), single images, folders or globs of images,
cameras (OpenCV capture) and network streams (rtsp://, http://, udp://, srt://... through FFmpeg).

A source yields `Frame`s in presentation order, each carrying its own timestamp (PyAV `pts` and
`time_base`), and, for files with sound, the audio packets in the order they were demuxed, so that a
sink can interleave them with the video it writes without a second pass over the file.

Live sources (cameras, live network streams, and files paced by `PacedSource`) set `SourceInfo.live`: their
frames arrive in real time, so a consumer that falls behind should drop stale frames rather than queue them. An
http(s) URL of an ordinary video file (FFmpeg knows its duration) is read like a file.
Every frame records `captured`, the `time.monotonic()` at which it was read or released, for latency.

Damaged input is skipped, as FFmpeg does: a video packet that does not decode, an image in a set that cannot be
read. `Source.skipped` counts them and `Source.warnings` says what was left out, for the summary and sidecar.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import stat
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.filter
import av.sidedata.sidedata
import cv2
import numpy as np

from .errors import StreamMaskError
from .frames import Frame, Source, SourceInfo
from .urls import redact_url

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
DEFAULT_IMAGE_FPS = Fraction(25)  # frame rate given to image sequences, which carry none
# FFmpeg renders text files (.txt, .nfo, .asc...) as "video" with these decoders: never footage of people.
TEXT_ART_CODECS = frozenset({"ansi", "bintext", "xbin", "idf"})
# Inputs opened as network streams, by FFmpeg (PyAV).
STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https", "udp", "tcp", "srt", "rtmp")
PUSHED_SCHEMES = ("rtsp", "rtsps", "udp", "tcp", "srt", "rtmp")  # live unless --no-live: low-latency decoding
STREAM_TIMEOUT = 10.0  # seconds a network stream may take to open, or to deliver more data, before we give up
CAMERA_PREFIX = "camera:"
DEFAULT_CAMERA_FPS = Fraction(30)  # assumed when a camera does not report its frame rate


class VideoFileSource(Source):
    """A video file, animated GIF or stream that FFmpeg can demux, decoded by PyAV."""

    def __init__(self, path: str, options: dict[str, str] | None = None, live: bool | None = False,
                 timeout: float | None = None, description: str | None = None, network: bool = False) -> None:
        """`options` go to FFmpeg's demuxer/protocol (e.g. {"rtsp_transport": "tcp"}); `timeout` (seconds) bounds
        opening and each later read of a stream; `description` replaces `path` in messages (URLs without passwords).
        `network`: a stream URL (its errors say so). `live` None: live unless FFmpeg knows the duration (an
        ordinary file served over http(s) or a finished HLS playlist is read like a file; a live playlist is not)."""
        shown = description or path
        self._network = network
        started = time.monotonic()
        try:
            self._container = av.open(path, options=options or {}, timeout=timeout)
        except av.error.FFmpegError as error:
            if network:
                timed_out = timeout is not None and time.monotonic() - started >= 0.9 * timeout
                reason = f"no answer within {timeout:g} s" if timed_out else _stream_error(error, timeout)
                raise StreamMaskError(f"cannot open stream {shown}: {reason}") from None
            path = shown
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
        self._timeout = timeout
        if live is None:
            live = self._container.duration is None
        self.info = SourceInfo(
            description=shown,
            width=self._video.codec_context.width,
            height=self._video.codec_context.height,
            fps=Fraction(rate),
            time_base=Fraction(self._video.time_base or Fraction(1, 1000)),
            frame_count=None if live else (self._video.frames or _estimate_frames(self._video, rate)),
            audio=audio,
            live=live,
            files=() if live else (path,),
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
        matrix = _display_matrix(first, self.info.time_base)
        self.info = dataclasses.replace(
            self.info,
            rotation=int(first.rotation) if matrix is not None else 0,
            display_matrix=matrix,
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
        packets = 0  # video packets with data, to tell a file cut short
        damage = ""  # the decoder's first complaint
        stopped = False
        try:
            for packet in self._container.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None:  # the demuxer's final flush packet has none
                        yield packet
                    continue
                packets += packet.size > 0
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as error:
                    if isinstance(error, av.error.ExitError):  # FFmpeg's interrupt: our timeout, not damage
                        raise
                    # A damaged packet: skip it and go on, as FFmpeg does (the decoder resyncs on the next good one).
                    self.skipped += 1
                    damage = damage or error.strerror or str(error)
                    continue
                for frame in frames:
                    # Keep the source's own timestamps; invent them only where missing or repeated.
                    pts = frame.pts if frame.pts is not None else (0 if last_pts is None else last_pts + step)
                    if last_pts is not None and pts <= last_pts:
                        pts = last_pts + 1
                    last_pts = pts
                    if index == 0:
                        self._first = frame
                    yield Frame(frame.to_ndarray(format="rgb24"), index, pts, self.info.time_base,
                                captured=time.monotonic())
                    index += 1
        except av.error.FFmpegError as error:
            if index == 0:
                reason = _stream_error(error, self._timeout) if self._network else error.strerror
                raise StreamMaskError(f"cannot decode {self.info.description}: {reason}") from None
            # A truncated or damaged tail: keep what decoded, as players do. A stream that broke off or went
            # silent for longer than the timeout ends the same way.
            self.ended_early = self._network
            stopped = not self._network
            if stopped:
                self.warnings += (f"{self.info.description}: reading stopped after {index} frames "
                                  f"({error.strerror or error}): the rest of the file is not in the output",)
        finally:
            if self.skipped:
                self.warnings += (f"{self.info.description}: {self.skipped} damaged packet"
                                  f"{'s' if self.skipped > 1 else ''} skipped ({damage}); {index} frames decoded",)
        listed = self._video.frames  # the exact count in a file's index (mp4, mov); 0 where there is none
        if not self._network and not stopped and 0 < packets < listed:
            # The demuxer just ends at a cut: only the index tells (edit lists still return every packet).
            self.warnings += (f"{self.info.description} ends early (cut short?): {packets} of the {listed} video "
                              f"packets its index lists are in the file; {index} frames decoded",)
        if index == 0:
            why = f" ({self.skipped} packets would not decode: {damage})" if self.skipped else ""
            raise StreamMaskError(f"{self.info.description} has no decodable video frames{why}")

    def close(self) -> None:
        self._container.close()


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


class CameraSource(Source):
    """A camera through OpenCV's `cv2.VideoCapture` (any backend: V4L2 on Linux, AVFoundation, MSMF...).

    `device` is a camera index (0), a device path ("/dev/video2") or, through the same capture code, a video file
    that OpenCV can read. `size=(w, h)` and `fps` are requests: what the camera actually gave is read back after
    the first frame into `info` and the human line `info.report`. Frames are RGB, stamped with `time.monotonic()`
    relative to the first frame, in milliseconds (time base 1/1000), strictly increasing. When a read fails
    mid-run (camera unplugged) iteration just ends, with `ended_early` set, so outputs can be finalised.
    """

    def __init__(self, device: int | str, size: tuple[int, int] | None = None, fps: float | None = None,
                 description: str | None = None) -> None:
        self.description = description or (f"{CAMERA_PREFIX}{device}")
        self.ended_early = False
        self.is_device = not (isinstance(device, str) and _is_regular_file(device))
        if isinstance(device, str) and not os.path.exists(device):
            raise StreamMaskError(f"cannot open {self.description}: no such device "
                                  "(list devices with `v4l2-ctl --list-devices`)")
        self._capture = _open_capture(device)
        if not self._capture.isOpened():
            self._capture.release()
            raise StreamMaskError(f"cannot open {self.description}: no such camera, or it is in use "
                                  "(list devices with `v4l2-ctl --list-devices`)")
        if self.is_device:  # requests; a file ignores them
            if size is not None or fps is not None:
                # Most USB webcams reach 30 fps at 720p and above only in MJPG, not in raw YUYV.
                self._capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
            if size is not None:
                self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, int(size[0]))
                self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, int(size[1]))
            if fps is not None:
                self._capture.set(cv2.CAP_PROP_FPS, float(fps))
        ok, bgr = self._capture.read()
        if not ok or bgr is None:
            self._capture.release()
            raise StreamMaskError(f"cannot read from {self.description}: it opened but gave no picture")
        self._first: np.ndarray | None = bgr
        self._first_time = time.monotonic()
        height, width = bgr.shape[:2]
        given_fps = self._capture.get(cv2.CAP_PROP_FPS)
        rate = Fraction(given_fps).limit_denominator(1001) if given_fps and given_fps > 0 else DEFAULT_CAMERA_FPS
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)) if not self.is_device else 0
        report = f"{self.description} gave {width}x{height} at {_format_fps(rate)} fps"
        asked = []
        if size is not None:
            asked.append(f"{int(size[0])}x{int(size[1])}")
        if fps is not None:
            asked.append(f"{_format_fps(fps)} fps" if size is None else f"{_format_fps(fps)}")
        if asked:
            report += f" (asked {' at '.join(asked)})"
        self.info = SourceInfo(
            description=self.description, width=width, height=height, fps=rate, time_base=Fraction(1, 1000),
            frame_count=count if count > 0 else None, live=True, report=report,
        )

    @property
    def camera_report(self) -> str:
        return self.info.report

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        last_pts = -1
        while True:
            if self._first is not None:
                bgr, self._first = self._first, None
                captured = self._first_time
            else:
                if self._capture is None:
                    return
                ok, bgr = self._capture.read()
                captured = time.monotonic()
                if not ok or bgr is None:
                    self.ended_early = self.is_device
                    return
            pts = max(round((captured - self._first_time) * 1000), last_pts + 1)
            last_pts = pts
            if bgr.ndim == 2:
                rgb = cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
            else:
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB if bgr.shape[2] == 4 else cv2.COLOR_BGR2RGB)
            yield Frame(np.ascontiguousarray(rgb), index, pts, self.info.time_base, captured=captured)
            index += 1

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class _Wrapper(Source):
    """A source that changes another's frames on their way through; it ends and closes with it."""

    def __init__(self, inner: Source) -> None:
        self.inner = inner
        self.info = inner.info

    @property
    def ended_early(self) -> bool:  # type: ignore[override]
        return self.inner.ended_early

    @property
    def skipped(self) -> int:  # type: ignore[override]
        return self.inner.skipped

    @property
    def skipped_what(self) -> str:  # type: ignore[override]
        return self.inner.skipped_what

    @property
    def warnings(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.inner.warnings

    def close(self) -> None:
        self.inner.close()


class PacedSource(_Wrapper):
    """Releases another source's frames at their own presentation times, as a camera would deliver them: frame k
    comes no earlier than its `seconds` minus the first frame's after the first was released. Audio packets pass
    through unpaced. A consumer slower than real time is never waited for (nothing sleeps for a late frame)."""

    def __init__(self, inner: Source) -> None:
        super().__init__(inner)
        self.info = dataclasses.replace(inner.info, live=True)

    def __iter__(self) -> Iterator[Frame | av.Packet]:
        start: float | None = None
        first_seconds = 0.0
        for item in self.inner:
            if isinstance(item, Frame):
                if start is None:
                    start, first_seconds = time.monotonic(), item.seconds
                else:
                    delay = start + (item.seconds - first_seconds) - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                item = dataclasses.replace(item, captured=time.monotonic())
            yield item


class MirroredSource(_Wrapper):
    """Flips every frame of another source left-right, as a selfie camera's preview does. For a video whose
    display matrix turns it by 90 degrees the stored picture is flipped top-bottom, so it shows mirrored."""

    def __init__(self, inner: Source) -> None:
        super().__init__(inner)
        self._flip = np.flipud if inner.info.rotation in (90, -90, 270, -270) else np.fliplr

    def __iter__(self) -> Iterator[Frame | av.Packet]:
        for item in self.inner:
            if isinstance(item, Frame):
                item = dataclasses.replace(item, rgb=np.ascontiguousarray(self._flip(item.rgb)))
            yield item


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


def open_source(spec: str, realtime: bool = False, size: tuple[int, int] | None = None, fps: float | None = None,
                mirror: bool = False, live: bool | None = None) -> Source:
    """Open INPUT as given on the command line: a video file, an image, a folder or a glob of images, a camera
    (`camera:0`, `camera:/dev/video2`, or a plain integer such as `0`) or a network stream URL (rtsp://, http://...).

    `realtime` paces a file (or image set) so frames come at their own presentation times, like a camera; live
    inputs are paced already. `size` (w, h) and `fps` are requests to a camera. `mirror` flips frames left-right.
    `live` overrides whether a network stream is live (None: rtsp, udp, srt, rtmp, tcp and http(s) without a known
    duration are; see `open_stream`); it applies to stream URLs only.
    """
    if live is not None and not is_stream_url(spec):
        flag = "--live" if live else "--no-live"
        raise StreamMaskError(f"{flag} applies to network streams (rtsp://, http://, udp://...), not to {redact_url(spec)}"
                              + (": use --realtime to play a file like a camera" if live else ""))
    source = _open(spec, size, fps, live)
    if realtime and not source.info.live:
        source = PacedSource(source)
    if mirror:
        source = MirroredSource(source)
    return source


def is_camera_spec(spec: str) -> bool:
    return spec.startswith(CAMERA_PREFIX) or (spec.isdigit() and not Path(spec).exists())


def is_stream_url(spec: str) -> bool:
    return spec.split("://", 1)[0].lower() in STREAM_SCHEMES and "://" in spec


def _open(spec: str, size: tuple[int, int] | None, fps: float | None, live: bool | None) -> Source:
    if is_camera_spec(spec):
        device: int | str = spec[len(CAMERA_PREFIX):] if spec.startswith(CAMERA_PREFIX) else spec
        if not device:
            raise StreamMaskError("camera: needs a number or a device path, e.g. camera:0 or camera:/dev/video2")
        if isinstance(device, str) and device.isdigit():
            device = int(device)
        description = spec if spec.startswith(CAMERA_PREFIX) else f"{CAMERA_PREFIX}{spec}"
        return CameraSource(device, size=size, fps=fps, description=description)
    if size is not None or fps is not None:
        raise StreamMaskError("--size and --fps are requests to a camera; they do not apply to " + redact_url(spec))
    if is_stream_url(spec):
        return open_stream(spec, live=live)
    path = Path(spec)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not images:
            raise StreamMaskError(f"folder {spec} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        return ImageSource(images, spec, skip_unreadable=True)
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
        return ImageSource(images, spec, skip_unreadable=True)
    raise StreamMaskError(f"input not found: {spec}")


def open_stream(url: str, timeout: float = STREAM_TIMEOUT, live: bool | None = None) -> VideoFileSource:
    """A network stream through FFmpeg; a dead URL fails within about `timeout` s.

    rtsp, udp, tcp, srt and rtmp feeds are live. An http(s) URL is live only when FFmpeg knows no duration (a live
    HLS playlist, an endless MPEG-TS feed); an ordinary video file or a finished playlist is read like a file, every
    frame. `live` overrides either way (--live / --no-live)."""
    scheme = url.split("://", 1)[0].lower()
    options: dict[str, str] = {}
    if scheme in PUSHED_SCHEMES:
        # Decode without waiting for reordering. Not `fflags nobuffer`: it drops the packets read while probing,
        # and with them the only keyframe of a feed that sends one at the start (it then never decodes); the live
        # reader drops that backlog's stale frames anyway. Not for http(s), which mostly serves files and HLS:
        # `low_delay` breaks B-frame order.
        options["flags"] = "low_delay"
        live = True if live is None else live
    if scheme in ("rtsp", "rtsps"):
        options["rtsp_transport"] = "tcp"  # no lost UDP packets, and it passes NAT and firewalls
    return VideoFileSource(url, options=options, live=live, timeout=timeout, description=redact_url(url), network=True)


def _display_matrix(frame: av.VideoFrame, time_base: Fraction) -> tuple[int, ...] | None:
    """The frame's display matrix (9 ints, FFmpeg's layout), or None.

    Read from a copy without its ICC profile: `frame.side_data` wraps every entry, and PyAV 18 frees an ICC
    profile's metadata (PNG's profile name) twice, which crashes the interpreter at exit (a PNG named .mp4)."""
    try:
        graph = av.filter.Graph()
        source = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format, time_base=time_base)
        strip = graph.add("sidedata", "mode=delete:type=ICC_PROFILE")
        sink = graph.add("buffersink")
        source.link_to(strip)
        strip.link_to(sink)
        graph.configure()
        graph.push(frame)
        copy = graph.pull()
    except (av.error.FFmpegError, ValueError):  # a frame the filter graph cannot take: shown as stored
        return None
    matrix = copy.side_data.get(av.sidedata.sidedata.Type.DISPLAYMATRIX)
    return tuple(int(v) for v in np.frombuffer(bytes(matrix), dtype="<i4")) if matrix is not None else None


def _stream_error(error: av.error.FFmpegError, timeout: float | None) -> str:
    if isinstance(error, av.error.ExitError) and timeout is not None:  # FFmpeg's interrupt: our timeout fired
        return f"no answer within {timeout:g} s"
    return error.strerror or str(error)


def _is_regular_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _open_capture(device: int | str) -> cv2.VideoCapture:
    """cv2.VideoCapture with any backend, OpenCV's own logging (a missing camera) kept off the terminal."""
    logging = getattr(cv2, "utils", None) and getattr(cv2.utils, "logging", None)
    previous = None
    if logging is not None:
        previous = logging.getLogLevel()
        logging.setLogLevel(getattr(logging, "LOG_LEVEL_SILENT", 0))  # our own message says it
    try:
        return cv2.VideoCapture(device, cv2.CAP_ANY)
    finally:
        if logging is not None and previous is not None:
            logging.setLogLevel(previous)


def _format_fps(rate: float | Fraction) -> str:
    value = float(rate)
    return f"{value:.0f}" if abs(value - round(value)) < 0.01 else f"{value:.2f}"


def _pts_step(info: SourceInfo) -> int:
    """One frame's duration in time_base units, for frames that arrive without a timestamp."""
    return max(1, round(1 / (info.fps * info.time_base)))


def _estimate_frames(stream: av.video.stream.VideoStream, rate: Fraction) -> int | None:
    if stream.duration is None or stream.time_base is None:
        return None
    return round(stream.duration * stream.time_base * rate)
