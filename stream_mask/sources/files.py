"""Video files: anything FFmpeg demuxes (mp4, mkv, mov, webm, avi, animated GIF, a pipe), decoded by PyAV.

Frames come in presentation order with their own timestamps (PyAV `pts` and `time_base`), and, for files with
sound, the audio packets in the order they were demuxed, so that a sink can interleave them with the video it
writes without a second pass over the file. A damaged packet is skipped and counted, as FFmpeg does; a file cut
short is read to the cut, with a warning. Network streams are the same decoder with stream errors (streams.py).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.filter
import av.sidedata.sidedata
import numpy as np
from av.video.reformatter import VideoReformatter

from ..errors import StreamMaskError
from ..frames import UNTAGGED_MATRIX, YUV_MATRICES, Frame, Source, SourceInfo
from .images import DEFAULT_IMAGE_FPS

# FFmpeg renders text files (.txt, .nfo, .asc...) as "video" with these decoders: never footage of people.
TEXT_ART_CODECS = frozenset({"ansi", "bintext", "xbin", "idf"})


class VideoFileSource(Source):
    """A video file, animated GIF or pipe that FFmpeg can demux, decoded by PyAV."""

    network = False  # a stream URL (streams.StreamSource): its errors say so, and a break ends it like a lost camera

    def __init__(self, path: str, options: dict[str, str] | None = None, live: bool | None = False,
                 timeout: float | None = None, description: str | None = None) -> None:
        """`options` go to FFmpeg's demuxer/protocol (e.g. {"rtsp_transport": "tcp"}); `timeout` (seconds) bounds
        opening and each later read of a stream; `description` replaces `path` in messages (URLs without passwords).
        `live` None: live unless FFmpeg knows the duration (an ordinary file served over http(s) or a finished HLS
        playlist is read like a file; a live playlist is not)."""
        shown = description or path
        started = time.monotonic()
        try:
            self._container = av.open(path, options=options or {}, timeout=timeout)
        except av.error.FFmpegError as error:
            raise self._open_error(error, shown, time.monotonic() - started, timeout) from None
        if not self._container.streams.video:
            self._container.close()
            raise StreamMaskError(f"{shown} has no video stream")
        self._video = self._container.streams.video[0]
        if self._video.codec_context.name in TEXT_ART_CODECS:
            self._container.close()
            raise StreamMaskError(f"cannot read {shown}: not a video or image file (FFmpeg reads it as text art)")
        self._video.thread_type = "AUTO"  # frame + slice threads: decoding keeps pace with inference
        # One YUV -> RGB converter for the whole input: a frame's own (`to_ndarray`) is a new swscale context each
        # frame, and with it a new pool of slice threads (one per core) started and ended per frame.
        self._rgb = VideoReformatter()
        self._size = (self._video.codec_context.width, self._video.codec_context.height)
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
            colorspace=int(first.colorspace), color_range=int(first.color_range), yuv_matrix=yuv_matrix(first),
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
        matrix = 0  # the first frame's yuv_matrix: frames in it are passed on as they are too (Frame.yuv)
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
                        self._first, matrix = frame, yuv_matrix(frame)
                    same = matrix and yuv_matrix(frame) == matrix and (frame.width, frame.height) == self._size
                    yield Frame(self._rgb.reformat(frame, format="rgb24").to_ndarray(), index, pts, self.info.time_base,
                                captured=time.monotonic(), yuv=frame.to_ndarray() if same else None)
                    index += 1
        except av.error.FFmpegError as error:
            if index == 0:
                reason = self._reason(error)
                raise StreamMaskError(f"cannot decode {self.info.description}: {reason}") from None
            # A truncated or damaged tail: keep what decoded, as players do. A stream that broke off or went
            # silent for longer than the timeout ends the same way.
            self.ended_early = self.network
            stopped = not self.network
            if stopped:
                self.warnings += (f"{self.info.description}: reading stopped after {index} frames "
                                  f"({error.strerror or error}): the rest of the file is not in the output",)
        finally:
            if self.skipped:
                self.warnings += (f"{self.info.description}: {self.skipped} damaged packet"
                                  f"{'s' if self.skipped > 1 else ''} skipped ({damage}); {index} frames decoded",)
        listed = self._video.frames  # the exact count in a file's index (mp4, mov); 0 where there is none
        if not self.network and not stopped and 0 < packets < listed:
            # The demuxer just ends at a cut: only the index tells (edit lists still return every packet).
            self.warnings += (f"{self.info.description} ends early (cut short?): {packets} of the {listed} video "
                              f"packets its index lists are in the file; {index} frames decoded",)
        if index == 0:
            why = f" ({self.skipped} packets would not decode: {damage})" if self.skipped else ""
            raise StreamMaskError(f"{self.info.description} has no decodable video frames{why}")

    def close(self) -> None:
        self._container.close()

    def _open_error(self, error: av.error.FFmpegError, shown: str, elapsed: float,
                    timeout: float | None) -> StreamMaskError:
        """The one line for an input FFmpeg cannot open (`elapsed` seconds after trying)."""
        # Invalid data and bad-argument errors derive from ValueError (PyAV renamed the latter from
        # av.error.ValueError to av.error.ArgumentError), a file too short to probe raises EOFError:
        # either way the file is not something FFmpeg reads.
        if isinstance(error, (ValueError, EOFError)):
            return StreamMaskError(f"cannot read {shown}: not a video or image file ({error.strerror})")
        return StreamMaskError(f"cannot open {shown}: {error.strerror}")

    def _reason(self, error: av.error.FFmpegError) -> str:
        """What a decoding error that ends the input says."""
        return error.strerror


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


def yuv_matrix(frame: av.VideoFrame) -> int:
    """The YUV matrix of a frame that can be passed on as it is (SourceInfo.yuv_matrix: 8-bit 4:2:0 of even size,
    limited range, a matrix in YUV_MATRICES or none), else 0."""
    if frame.format.name != "yuv420p" or frame.width % 2 or frame.height % 2 or int(frame.color_range) > 1:
        return 0
    tag = int(frame.colorspace)
    return UNTAGGED_MATRIX if tag == 2 else tag if tag in YUV_MATRICES else 0


def _pts_step(info: SourceInfo) -> int:
    """One frame's duration in time_base units, for frames that arrive without a timestamp."""
    return max(1, round(1 / (info.fps * info.time_base)))


def _estimate_frames(stream: av.video.stream.VideoStream, rate: Fraction) -> int | None:
    if stream.duration is None or stream.time_base is None:
        return None
    return round(stream.duration * stream.time_base * rate)


def is_video_input(spec: str) -> bool:
    """Anything: the last family asked, after cameras, streams and images (a missing file is reported here)."""
    return True


def open_video_file(spec: str) -> VideoFileSource:
    """INPUT as a file, or a named pipe or device, that FFmpeg reads."""
    if not Path(spec).exists():
        raise StreamMaskError(f"input not found: {spec}")
    return VideoFileSource(spec)
