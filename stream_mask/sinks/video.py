"""Where masks, composites and alpha pictures go: video files (PyAV), PNG sequences and single images.

Every file sink claims its output name, writes to a hidden partial file or folder beside its target and moves it
into place only in `close()` (publish.py), so a failed run leaves nothing behind and an existing file is never
half-replaced. A run stopped by Ctrl-C still calls `close()`: the encoder is flushed and the container
finalised, so the partial output is a valid, playable file. A virtual camera (`-o virtualcam`, pyvirtualcam)
has no file to publish.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from av.video.reformatter import ColorPrimaries, ColorRange, ColorTrc, Colorspace

from ..errors import StreamMaskError
from ..frames import Frame, SourceInfo
from ..publish import (Claim, claim_name, claimed, is_leftover, move_files_in, partial_path, publish_file, publish_folder,
                      reason, refuse_input)
from ..sidecar import SEQUENCE_SIDECAR, write_sidecar
from ..sources import IMAGE_EXTENSIONS


PICTURES = ("gray", "rgb", "rgba")  # what a sink's write() takes: HxW, HxWx3 RGB, HxWx4 RGBA (straight alpha)
_CHANNELS = {"gray": None, "rgb": 3, "rgba": 4}
_NDARRAY_FORMATS = {"gray": "gray", "rgb": "rgb24", "rgba": "rgba"}

_MP4_AUDIO = frozenset({"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"})
_MOV_AUDIO = frozenset({"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be"})
_WEBM_AUDIO = frozenset({"opus", "vorbis"})  # all WebM may hold
_X264 = {"crf": "16", "preset": "veryfast"}
_VP9 = {"crf": "20", "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"}


@dataclass(frozen=True)
class VideoFormat:
    """How one (container extension, picture kind) is written."""

    container: str  # FFmpeg muxer name
    codec: str
    pix_fmt: str
    options: dict[str, str]
    audio_codecs: frozenset[str] | None  # codecs it can hold by copy; None means any
    audio_fallback: str  # encoder used when the source's audio codec cannot be copied
    audio_rate: int | None = None  # sample rate the fallback encoder needs; None keeps the source's

    @property
    def even_size(self) -> bool:
        """libx264 4:2:0 refuses odd sizes (H.264 crops only in whole chroma samples, so an odd size cannot be
        signalled either): such frames are padded by repeating the last row/column, and players show that
        extra line. 4:4:4 and grey formats and VP9 (which codes odd sizes itself) keep the exact size."""
        return self.codec == "libx264" and self.pix_fmt in ("yuv420p", "yuvj420p")


# Every (extension, picture) a video file can be written as: the one place that chooses codecs.
VIDEO_FORMATS: dict[tuple[str, str], VideoFormat] = {
    # Grey masks. Lossless 8-bit grey: the mask exactly as computed, small because masks are flat.
    (".mkv", "gray"): VideoFormat("matroska", "ffv1", "gray", {"level": "3", "slices": "4"}, None, "flac"),
    # H.264 4:2:0 that ordinary players and browsers show; visually lossless, not bit-exact.
    (".mp4", "gray"): VideoFormat("mp4", "libx264", "yuv420p", _X264, _MP4_AUDIO, "aac"),
    (".mov", "gray"): VideoFormat("mov", "libx264", "yuv420p", _X264, _MOV_AUDIO, "aac"),
    # Colour (composites, overlays): H.264 4:2:0 crf 16 everywhere. The pictures derive from lossy footage,
    # so lossless FFV1 RGB is ~23x larger (67 MB vs 2.9 MB for the 7.8 s 720p test clip) for no visible gain.
    (".mp4", "rgb"): VideoFormat("mp4", "libx264", "yuv420p", _X264, _MP4_AUDIO, "aac"),
    (".mkv", "rgb"): VideoFormat("matroska", "libx264", "yuv420p", _X264, None, "flac"),
    (".mov", "rgb"): VideoFormat("mov", "libx264", "yuv420p", _X264, _MOV_AUDIO, "aac"),
    (".webm", "rgb"): VideoFormat("webm", "libvpx-vp9", "yuv420p", _VP9, _WEBM_AUDIO, "libopus", 48000),
    # Colour with straight alpha. ProRes 4444 for editors; VP9 with alpha for browsers (note: FFmpeg's native
    # vp9 decoder drops the alpha, the libvpx-vp9 decoder keeps it); FFV1 BGRA: bit-exact RGB and alpha.
    (".mov", "rgba"): VideoFormat(
        "mov", "prores_ks", "yuva444p10le", {"profile": "4444", "alpha_bits": "16", "vendor": "apl0"}, _MOV_AUDIO, "aac",
    ),
    (".webm", "rgba"): VideoFormat("webm", "libvpx-vp9", "yuva420p", _VP9, _WEBM_AUDIO, "libopus", 48000),
    (".mkv", "rgba"): VideoFormat("matroska", "ffv1", "bgra", {"level": "3", "slices": "4"}, None, "flac"),
}


# The largest pictures the encoders take (FFmpeg 8.1 / PyAV 18.1, found by opening each at growing sizes). Every
# encoder: 8 x (W+128) x (H+128) below 2^31 (FFmpeg's av_image_check_size; about 16255x16255). libx264: also at most
# 16384 a side. FFV1 takes any of those once it has enough slices (see _ffv1_slices); libvpx-vp9 and prores_ks
# take up to 65536 a side.
_MAX_SIDE = {"libx264": 16384}
# libvpx-vp9 is capped where VP9 itself ends, its largest level (6.2): the encoder alone needs about 95 (colour) and
# 210 (with alpha: two encoders) bytes of memory per pixel (peak RSS growth measured at 4000x4000: 1.4 and 3.1 GiB),
# so an 8000x8000 picture would take 12 GiB. For comparison, FFV1 BGRA needs ~80 bytes a pixel, ProRes 4444 ~12.
VP9_MAX_PIXELS = 35_651_584  # 8192x4352
_VP9_BYTES_PER_PIXEL = {"yuv420p": 95, "yuva420p": 210}
_CODEC_NAMES = {"ffv1": "FFV1", "libx264": "H.264", "libvpx-vp9": "VP9", "prores_ks": "ProRes"}


def size_limit(fmt: VideoFormat, width: int, height: int) -> str | None:
    """Why `fmt` cannot take `width` x `height` pictures, or None when it can."""
    name = _CODEC_NAMES.get(fmt.codec, fmt.codec)
    if 8 * (width + 128) * (height + 128) >= 2**31:
        return f"FFmpeg's encoders need 8 x (width+128) x (height+128) below 2^31 (about 16255x16255 at most)"
    side = _MAX_SIDE.get(fmt.codec)
    if side is not None and max(width, height) > side:
        return f"{name} ({fmt.codec}) takes at most {side} pixels a side"
    if fmt.codec == "libvpx-vp9" and width * height > VP9_MAX_PIXELS:
        need = width * height * _VP9_BYTES_PER_PIXEL.get(fmt.pix_fmt, 210) / 2**30
        return (f"{name}'s largest level (6.2) ends at {VP9_MAX_PIXELS:,} pixels (8192x4352), and libvpx would "
                f"need about {need:.0f} GiB of memory for this picture")
    return None


def _size_error(spec: str, width: int, height: int, picture: str, why: str) -> StreamMaskError:
    """The error for a picture size a format cannot take, naming the outputs that can."""
    fits = [extension for (extension, kind), fmt in VIDEO_FORMATS.items()
            if kind == picture and size_limit(fmt, width, height) is None]
    named = [f"{extension} ({_CODEC_NAMES[VIDEO_FORMATS[extension, picture].codec]})" for extension in fits]
    return StreamMaskError(f"cannot write {width}x{height} pictures to {spec}: {why}; write "
                           f"{', '.join([*named, 'PNGs (a folder or masks/%05d.png)'])} instead")


def _ffv1_slices(pix_fmt: str, width: int, height: int) -> str:
    """FFV1's slice count for this size: 4 (fast, threaded), or as many more as a large picture needs. FFV1 refuses
    a slice too large for its context state (4 slices: at most about 7700x7700 grey, 3860x3860 BGRA)."""
    counts = sorted({rows * columns for rows in range(2, 33) for columns in range(rows, 2 * rows)})
    for count in counts:
        context = av.CodecContext.create("ffv1", "w")
        context.width, context.height, context.pix_fmt = width, height, pix_fmt
        context.time_base = Fraction(1, 25)
        context.options = {"level": "3", "slices": str(count)}
        try:
            context.open()
        except av.error.FFmpegError:
            continue
        return str(count)
    return "4"  # nothing fits: opening the encoder reports it


class Sink:
    """Receives one picture per frame (and audio packets); `close()` publishes, `abort()` discards."""

    path: str
    picture = "gray"
    frames_written = 0
    sidecar = True  # False for sinks that leave no file behind (a virtual camera): no NAME.json beside them
    size: tuple[int, int] | None = None  # width, height every picture must have; None: any (image folders)
    what = "the output"  # for that error: "the video", "the virtual camera"
    size_hint = ""  # what to do about a picture of another size

    def write(self, frame: Frame, picture: np.ndarray) -> None:
        raise NotImplementedError

    def write_audio(self, packet: av.Packet) -> None:
        """Sinks without sound ignore audio."""

    def close(self, sidecar: dict[str, Any] | None = None) -> None:
        """Finalise and publish; then write `sidecar` (sidecar.describe) beside the output, if it has one."""
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def _finish(self, claim: Claim | None, sidecar: dict[str, Any] | None) -> None:
        """After publishing: the sidecar, while the name is still claimed; then the claim goes."""
        try:
            if sidecar is not None:
                write_sidecar(self.path, sidecar)
        finally:
            _release(claim)

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


class VideoSink(Sink):
    """A mask, colour or alpha video with the source's frame timestamps and, when it has one, its audio."""

    what = "the video"
    size_hint = ": write images of different sizes to a folder"

    def __init__(self, path: Path, source: SourceInfo, fmt: VideoFormat, picture: str = "gray",
                 claim: Claim | None = None, overwrite: bool = False) -> None:
        self.path = str(path)
        self.picture = picture
        self._final = path
        self._claim = claim
        self._overwrite = overwrite
        self._fmt = fmt
        why = size_limit(fmt, source.width, source.height)
        if why is not None:
            raise _size_error(self.path, source.width, source.height, picture, why)
        self._partial = partial_path(path)
        try:
            self._container = av.open(str(self._partial), "w", format=fmt.container)
        except av.error.FFmpegError as error:
            self._partial.unlink(missing_ok=True)
            raise StreamMaskError(f"cannot write {path}: {error.strerror}") from None
        try:
            self.size = (source.width, source.height)
            self._video = self._container.add_stream(fmt.codec, rate=source.fps)
            # 4:2:0 H.264 needs even sizes: pad by repeating the last row/column rather than fail (see even_size).
            self._video.width = source.width + source.width % 2 if fmt.even_size else source.width
            self._video.height = source.height + source.height % 2 if fmt.even_size else source.height
            self._video.pix_fmt = fmt.pix_fmt
            self._video.codec_context.time_base = source.time_base
            self._video.options = dict(fmt.options)
            if fmt.codec == "ffv1":
                self._video.options["slices"] = _ffv1_slices(fmt.pix_fmt, self._video.width, self._video.height)
            # Colour into YUV: convert with the BT.709 matrix into limited range and tag it so (what players assume
            # for HD anyway): the matrix and range describe our own RGB -> YUV step, whatever the input used. The
            # primaries and transfer describe the RGB values, which pass through untouched: keep the input's (a
            # BT.2020/HLG phone video stays BT.2020/HLG), BT.709 when it has none.
            self._yuv_colour = picture != "gray" and fmt.pix_fmt.startswith("yuv")
            if self._yuv_colour:
                context = self._video.codec_context
                context.colorspace = int(Colorspace.ITU709)
                context.color_primaries = _specified(source.color_primaries, int(ColorPrimaries.BT709))
                context.color_trc = _specified(source.color_trc, int(ColorTrc.BT709))
                context.color_range = int(ColorRange.MPEG)
            # The input's display matrix (rotation, flips), so every output shows the way the input does.
            if source.display_matrix is not None:
                self._video.set_display_matrix(list(source.display_matrix))
            self._audio_in = source.audio
            self._audio_out: av.audio.stream.AudioStream | None = None
            self._resampler: av.AudioResampler | None = None
            if source.audio is not None:
                self._add_audio(source.audio)
        except (av.error.FFmpegError, ValueError) as error:
            self.abort()
            raise StreamMaskError(f"cannot write {path}: {getattr(error, 'strerror', None) or error}") from None
        try:
            # Now rather than at the first frame: an encoder that refuses this size stops the run before any work.
            self._video.codec_context.open()
        except av.error.FFmpegError as error:
            self.abort()
            why = f"the {_CODEC_NAMES.get(fmt.codec, fmt.codec)} encoder refuses them ({error.strerror})"
            raise _size_error(self.path, source.width, source.height, picture, why) from None

    def _add_audio(self, audio: av.audio.stream.AudioStream) -> None:
        name = audio.codec_context.name
        if self._fmt.audio_codecs is None or name in self._fmt.audio_codecs:
            self._audio_out = self._container.add_stream_from_template(audio)
            return
        # The container cannot hold this codec: transcode (PCM into MP4 becomes AAC, AAC into WebM Opus).
        # The encoder cuts the resampled audio into the frame size it needs itself (960 samples for Opus).
        rate = self._fmt.audio_rate or audio.codec_context.sample_rate
        # A decoder of our own: the source's is shared by every output's writer thread, and decoding is stateful.
        self._decoder = av.CodecContext.create(name, "r")
        self._decoder.extradata = audio.codec_context.extradata
        self._decoder.sample_rate = audio.codec_context.sample_rate
        self._decoder.layout = audio.codec_context.layout
        self._audio_out = self._container.add_stream(self._fmt.audio_fallback, rate=rate)
        self._audio_out.layout = audio.codec_context.layout
        self._resampler = av.AudioResampler(
            format=self._audio_out.codec_context.codec.audio_formats[0].name,
            layout=audio.codec_context.layout,
            rate=rate,
        )

    def write(self, frame: Frame, picture: np.ndarray) -> None:
        self._check_picture(frame, picture)
        pad_h = self._video.height - picture.shape[0]
        pad_w = self._video.width - picture.shape[1]
        if pad_h or pad_w:
            picture = np.pad(picture, ((0, pad_h), (0, pad_w)) + ((0, 0),) * (picture.ndim - 2), mode="edge")
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format=_NDARRAY_FORMATS[self.picture])
        # Convert here rather than let the encoder do it, on one thread: swscale's sliced (threaded) RGBA -> YUVA
        # conversion corrupts the alpha of the first 8 pixels of each slice's first row (seen at 321x181 and
        # 320x180 with FFmpeg 8.1/PyAV 18.1; tests/test_sinks.py catches it). One thread costs ~nothing here.
        if self._yuv_colour:
            video_frame = video_frame.reformat(
                format=self._fmt.pix_fmt, dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG, threads=1,
            )
        elif video_frame.format.name != self._fmt.pix_fmt:
            video_frame = video_frame.reformat(format=self._fmt.pix_fmt, threads=1)
        video_frame.pts = frame.pts
        video_frame.time_base = frame.time_base
        self._container.mux(self._video.encode(video_frame))
        self.frames_written += 1

    def write_audio(self, packet: av.Packet) -> None:
        if self._audio_out is None:
            return
        # The same packet goes to every output, each on its own thread: mux a private copy, because muxing
        # rescales the packet's timestamps in place to this container's time base.
        packet = _copy_packet(packet)
        if self._resampler is None:
            packet.stream = self._audio_out
            self._container.mux(packet)
            return
        for decoded in self._decoder.decode(packet):
            for resampled in self._resampler.resample(decoded):
                self._container.mux(self._audio_out.encode(resampled))

    def close(self, sidecar: dict[str, Any] | None = None) -> None:
        """Flush the encoders, finalise the container and publish it; on failure (a full disk) nothing is left."""
        try:
            self._container.mux(self._video.encode(None))
            if self._resampler is not None and self._audio_out is not None:
                for resampled in self._resampler.resample(None):
                    self._container.mux(self._audio_out.encode(resampled))
                self._container.mux(self._audio_out.encode(None))
            self._container.close()
            publish_file(self._partial, self._final, self._overwrite)
        except (OSError, av.error.FFmpegError) as error:
            self.abort()
            raise StreamMaskError(f"cannot write {self._final}: {reason(error)}") from None
        except BaseException:
            self.abort()
            raise
        self._finish(self._claim, sidecar)

    def abort(self) -> None:
        try:
            self._container.close()
        except (OSError, av.error.FFmpegError):
            pass  # the partial file is discarded anyway
        self._partial.unlink(missing_ok=True)
        _release(self._claim)


class ImageSequenceSink(Sink):
    """PNG files in a folder: `pattern` is a %-style name such as `%05d.png`, or None to reuse image names.

    A folder of its own (`whole`: `-o masks`) is built whole beside its target and swapped in, so no frame of an
    earlier run survives --overwrite. The files of a pattern the user gave (`-o masks/%05d.png`), and those of a
    folder that cannot be swapped (a mount point, or one whose parent is not writable), are built in a hidden
    folder inside and moved in, and --overwrite removes the earlier run's files of that name.
    """

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
        try:
            if self._partial.parent != self._folder:
                publish_folder(self._partial, self._folder, self._overwrite)
            else:
                stale = self._stale() if self._overwrite else []
                move_files_in(self._partial, self._folder, self._names, self._overwrite)
                for name in stale:
                    (self._folder / name).unlink(missing_ok=True)
        except OSError as error:
            self.abort()
            raise StreamMaskError(f"cannot write {self.path}: {reason(error)}") from None
        except BaseException:
            self.abort()
            raise
        self._finish(self._claim, sidecar)

    def _stale(self) -> list[str]:
        """What an earlier run wrote under this name and this run does not replace."""
        written = set(self._names)
        owned = None if self._whole else _pattern_regex(self._pattern)
        return [name for name in os.listdir(self._folder) if name not in written and (
            owned.fullmatch(name) if owned else name.lower().endswith(".png"))]

    def abort(self) -> None:
        shutil.rmtree(self._partial, ignore_errors=True)
        _release(self._claim)


class ImageSink(Sink):
    """One PNG for a one-image input."""

    def __init__(self, path: Path, picture: str = "gray", claim: Claim | None = None, overwrite: bool = False) -> None:
        self.path = str(path)
        self.picture = picture
        self._final = path
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
            _release(self._claim)
            return
        partial = partial_path(self._final)
        try:
            write_png(partial, self._picture)
            publish_file(partial, self._final, self._overwrite)
        except OSError as error:
            partial.unlink(missing_ok=True)
            _release(self._claim)
            raise StreamMaskError(f"cannot write {self._final}: {reason(error)}") from None
        except BaseException:
            partial.unlink(missing_ok=True)
            _release(self._claim)
            raise
        self._finish(self._claim, sidecar)

    def abort(self) -> None:
        self._picture = None
        _release(self._claim)


_IN_PLACE = "stream-mask"  # what a folder filled in place is claimed and built as, inside it


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


def _release(claim: Claim | None) -> None:
    if claim is not None:
        claim.release()


VIRTUALCAM = "virtualcam"  # -o virtualcam, virtualcam:DEVICE, virtualcam:BACKEND or virtualcam:BACKEND:DEVICE
_LINUX_HINT = ('create one with v4l2loopback: sudo modprobe v4l2loopback devices=1{nr} exclusive_caps=1 '
               'card_label="stream-mask", then -o virtualcam (or -o virtualcam:/dev/videoN for a given device)')
_OBS_HINT = "install OBS Studio (https://obsproject.com) and start its Virtual Camera once, then try again"


def is_virtualcam(spec: str) -> bool:
    """Whether an output spec names a virtual camera rather than a file (config.OutputSpec uses the same rule)."""
    return spec == VIRTUALCAM or spec.startswith(VIRTUALCAM + ":")


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

    what = "the virtual camera"
    sidecar = False

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


def _copy_packet(packet: av.Packet) -> av.Packet:
    """A packet with its own data, timestamps and side data (PyAV has no packet copy)."""
    copy = av.Packet(bytes(packet))
    copy.pts, copy.dts, copy.duration = packet.pts, packet.dts, packet.duration
    copy.time_base = packet.time_base
    copy.is_keyframe = packet.is_keyframe
    for side_data in packet.iter_sidedata():
        copy.set_sidedata(side_data)
    return copy


def _specified(tag: int, default: int) -> int:
    """A colour tag of the input, or `default` when it is unspecified (0 reserved, 2 unspecified)."""
    return tag if tag not in (0, 2) else default


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


def video_extensions(picture: str) -> list[str]:
    """The video file extensions that can hold `picture` pictures, in table order."""
    return [extension for extension, kind in VIDEO_FORMATS if kind == picture]


def open_sink(spec: str, source: SourceInfo, overwrite: bool = False, picture: str = "gray") -> Sink:
    """Choose and open the sink for OUTPUT by its form (`virtualcam[:...]`, video file, .png file, %d pattern or
    folder) and by the kind of picture it receives: "gray" (HxW uint8), "rgb" (HxWx3) or "rgba" (HxWx4, straight
    alpha). The word `virtualcam` always means a virtual camera; write `./virtualcam` for a PNG folder of that name.

    A file output's name is claimed for the run (publish.Claim) before it is checked, and never replaces one of
    `source.files`, whatever `overwrite` says."""
    if picture not in PICTURES:
        raise ValueError(f"picture must be one of {PICTURES}, not {picture!r}")
    # The bare word `virtualcam` (or `virtualcam:...`) is a virtual camera, checked before any path logic: a PNG
    # folder named virtualcam must be written as `./virtualcam`.
    if is_virtualcam(spec):
        return VirtualCameraSink(spec, source, picture)
    path = Path(spec)
    suffix = path.suffix.lower()
    if "%" in path.name:
        _check_pattern(path.name)
        _check_folder(path.parent, path.parent)
        folder = Path(os.path.realpath(path.parent))
        refuse_input(folder, source.files, levels=1, shown=spec)
        if not folder.exists():  # made, like a folder output: built whole beside its name, then moved in
            with claimed(sequence_target(folder, None), [folder / SEQUENCE_SIDECAR]) as claim:
                return ImageSequenceSink(folder, path.name, picture, claim, overwrite, whole=True, shown=path.parent)
        with claimed(folder / path.name, [folder / SEQUENCE_SIDECAR]) as claim:
            _refuse_existing_sequence(folder, path.name, overwrite, spec)
            return ImageSequenceSink(folder, path.name, picture, claim, overwrite, shown=path.parent)
    if (suffix, picture) in VIDEO_FORMATS:
        _check_parent(path.parent)
        refuse_input(path, source.files, shown=spec)
        with claimed(path, [path.with_name(path.name + ".json")]) as claim:
            _refuse_existing(path, overwrite)
            return VideoSink(path, source, VIDEO_FORMATS[suffix, picture], picture, claim, overwrite)
    if any(extension == suffix for extension, _ in VIDEO_FORMATS):
        known = ", ".join([*video_extensions(picture), ".png", "a folder", "a %05d.png pattern"])
        raise StreamMaskError(f"cannot write {picture} pictures to {spec}: output must be {known}")
    if suffix == ".png":
        if not source.is_image or (source.frame_count or 0) > 1:
            raise StreamMaskError(f"{spec} holds one image but the input has several: give a folder or a pattern like masks/%05d.png")
        _check_parent(path.parent)
        refuse_input(path, source.files, shown=spec)
        with claimed(path, [path.with_name(path.name + ".json")]) as claim:
            _refuse_existing(path, overwrite)
            return ImageSink(path, picture, claim, overwrite)
    if suffix in IMAGE_EXTENSIONS or suffix:
        extensions = list(dict.fromkeys(extension for extension, _ in VIDEO_FORMATS))
        known = ", ".join([*extensions, ".png", "a folder", "a %05d.png pattern"])
        raise StreamMaskError(f"cannot write {spec}: output must be {known}")
    # No extension: a folder of PNGs, named like the input images or numbered for a video. It is replaced as a
    # whole, so it is resolved (a symlink's folder is replaced, not the link) and may hold nothing but frames.
    if path.exists() and not path.is_dir():
        raise StreamMaskError(f"output {spec} exists and is not a folder")
    folder = Path(os.path.realpath(path))
    if folder == folder.parent:
        raise StreamMaskError(f"cannot write PNGs to {spec}: give a folder of their own")
    _check_parent(folder if _fill_in_place(folder) else folder.parent)
    refuse_input(folder, source.files, levels=None, shown=spec)
    with claimed(sequence_target(folder, None), [folder / SEQUENCE_SIDECAR]) as claim:
        _refuse_existing_folder(folder, spec, overwrite)
        return ImageSequenceSink(folder, None if source.is_image else "%05d.png", picture, claim, overwrite,
                                 whole=True, shown=path)


def _check_folder(folder: Path, spec: str | Path) -> None:
    """A folder of PNGs: it may be missing (it is made), not a file; its parent must exist."""
    _check_parent(folder.parent)
    if folder.exists() and not folder.is_dir():
        raise StreamMaskError(f"output {spec} exists and is not a folder")


def _check_parent(folder: Path) -> None:
    if not folder.is_dir():
        raise StreamMaskError(f"output folder does not exist: {folder}")
    if not os.access(folder, os.W_OK):
        raise StreamMaskError(f"cannot write to {folder}: permission denied")


def _check_pattern(name: str) -> None:
    try:
        name % 0
    except (TypeError, ValueError):
        raise StreamMaskError(f"bad output pattern {name!r}: use one number field such as %05d") from None
    if not name.lower().endswith(".png"):
        raise StreamMaskError(f"bad output pattern {name!r}: image sequences are written as .png")


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise StreamMaskError(f"output {path} exists: pass --overwrite to replace it")
    if path.is_dir():
        raise StreamMaskError(f"output {path} is a folder")


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
