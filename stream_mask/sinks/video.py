"""Video files (PyAV): masks, composites and alpha pictures, with the source's timestamps and audio.

The file is written to a hidden partial beside its target and moved into place only in `close()` (publish.py), so
a failed run leaves nothing behind and an existing file is never half-replaced. A run stopped by Ctrl-C still calls
`close()`: the encoder is flushed and the container finalised, so the partial output is a valid, playable file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.video.reformatter import ColorPrimaries, ColorRange, ColorTrc, Colorspace, VideoReformatter

from ..config import H264
from ..errors import StreamMaskError
from ..frames import YUV_MATRICES, Frame, I420, SourceInfo
from ..publish import Claim, claimed, partial_path, publish_file, refuse_input
from .base import Sink, check_parent, refuse_existing, release

_NDARRAY_FORMATS = {"gray": "gray", "rgb": "rgb24", "rgba": "rgba"}
ALPHA_EXTENSIONS = (".mov", ".webm")  # containers people use for video with transparency: alpha by default

_MP4_AUDIO = frozenset({"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"})
_MOV_AUDIO = frozenset({"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be"})
_WEBM_AUDIO = frozenset({"opus", "vorbis"})  # all WebM may hold
_X264 = H264().options()  # the defaults; a run chooses its own (VideoSink.open)
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
        return "FFmpeg's encoders need 8 x (width+128) x (height+128) below 2^31 (about 16255x16255 at most)"
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


class EncodingSink(Sink):
    """Pictures encoded into a PyAV container, with the source's frame timestamps and, when it has one, its audio
    (copied when the container can hold its codec, else transcoded). A file (VideoSink) or a stream (NetworkSink)."""

    _container: av.container.OutputContainer | None = None

    def _add_streams(self, source: SourceInfo, fmt: VideoFormat, picture: str) -> None:
        """The video stream (and the audio one) into the open container; the encoder is opened by `_open_encoder`."""
        self._fmt = fmt
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
        # Colour into YUV: limited range, in the matrix the input's own 4:2:0 frames were decoded with (so that a
        # composite keeps their YUV pixels where the person is: frames.I420), else BT.709 (what players assume for
        # HD anyway), tagged so: the matrix and range describe the RGB -> YUV step. The primaries and transfer
        # describe the RGB values, which pass through untouched: keep the input's (a BT.2020/HLG phone video stays
        # BT.2020/HLG), BT.709 when it has none.
        self._yuv_colour = picture != "gray" and fmt.pix_fmt.startswith("yuv")
        self._convert = VideoReformatter()  # one swscale context for the output, not one per frame
        matrix = source.yuv_matrix or int(Colorspace.ITU709)
        self._matrix = Colorspace[YUV_MATRICES[matrix]]
        # Pictures already in this YUV (I420) go to the encoder as they are: a 4:2:0 encoder, unpadded.
        self.takes_i420 = self._yuv_colour and fmt.pix_fmt == "yuv420p" and self.size == (self._video.width,
                                                                                         self._video.height)
        if self._yuv_colour:
            context = self._video.codec_context
            context.colorspace = matrix
            context.color_primaries = _specified(source.color_primaries, int(ColorPrimaries.BT709))
            context.color_trc = _specified(source.color_trc, int(ColorTrc.BT709))
            context.color_range = int(ColorRange.MPEG)
        # The input's display matrix (rotation, flips), so every output shows the way the input does.
        if source.display_matrix is not None:
            self._video.set_display_matrix(list(source.display_matrix))
        self._audio_out: av.audio.stream.AudioStream | None = None
        self._resampler: av.AudioResampler | None = None
        if source.audio is not None:
            self._add_audio(source.audio)

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

    def to_i420(self, rgb: np.ndarray) -> np.ndarray:
        """An RGB picture in this output's YUV (frames.I420's layout), converted as `write` converts one."""
        return self._to_yuv(av.VideoFrame.from_numpy_buffer(_rows_contiguous(rgb), format="rgb24")).to_ndarray()

    def _to_yuv(self, video_frame: av.VideoFrame) -> av.VideoFrame:
        # On one thread: swscale's sliced (threaded) RGBA -> YUVA conversion corrupts the alpha of the first 8
        # pixels of each slice's first row (seen at 321x181 and 320x180 with FFmpeg 8.1/PyAV 18.1;
        # tests/test_sinks.py catches it). One thread costs ~nothing here.
        return self._convert.reformat(video_frame, format=self._fmt.pix_fmt, dst_colorspace=self._matrix,
                                      dst_color_range=ColorRange.MPEG, threads=1)

    def write(self, frame: Frame, picture: np.ndarray | I420) -> None:
        if isinstance(picture, I420):
            if not self.takes_i420 or picture.size != self.size:
                raise StreamMaskError(f"frame {frame.index}: {self.path} takes {self.picture} pictures, not I420 "
                                      f"{picture.size[0]}x{picture.size[1]}")
            self._encode(frame, av.VideoFrame.from_numpy_buffer(picture.data, format="yuv420p"))
            return
        self._check_picture(frame, picture)
        pad_h = self._video.height - picture.shape[0]
        pad_w = self._video.width - picture.shape[1]
        if pad_h or pad_w:
            picture = np.pad(picture, ((0, pad_h), (0, pad_w)) + ((0, 0),) * (picture.ndim - 2), mode="edge")
        # A frame over the picture's own memory: from_ndarray copies it twice (tobytes, then row by row), 9 ms of a
        # 1080p RGB frame's CPU for nothing. The encoders copy what they keep before encode() returns.
        video_frame = av.VideoFrame.from_numpy_buffer(_rows_contiguous(picture), format=_NDARRAY_FORMATS[self.picture])
        if self._yuv_colour:  # converted here rather than by the encoder: our matrix, and one thread (_to_yuv)
            video_frame = self._to_yuv(video_frame)
        elif video_frame.format.name != self._fmt.pix_fmt:
            video_frame = self._convert.reformat(video_frame, format=self._fmt.pix_fmt, threads=1)
        self._encode(frame, video_frame)

    def _encode(self, frame: Frame, video_frame: av.VideoFrame) -> None:
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

    def _flush(self) -> None:
        """Flush the encoders and finalise the container."""
        self._container.mux(self._video.encode(None))
        if self._resampler is not None and self._audio_out is not None:
            for resampled in self._resampler.resample(None):
                self._container.mux(self._audio_out.encode(resampled))
            self._container.mux(self._audio_out.encode(None))
        self._container.close()

    def _close_container(self) -> None:
        """Close the container, whatever state it is in (a failed run's: its output is discarded anyway)."""
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except (OSError, av.error.FFmpegError):
                pass


class VideoSink(EncodingSink):
    """A mask, colour or alpha video file."""

    extensions = tuple(dict.fromkeys(extension for extension, _ in VIDEO_FORMATS))
    what = "the video"
    size_hint = ": write images of different sizes to a folder"

    @classmethod
    def default_kind(cls, spec: str) -> str:
        return "alpha" if Path(spec).suffix.lower() in ALPHA_EXTENSIONS else "mask"

    @classmethod
    def lossless(cls, spec: str) -> bool:
        fmt = VIDEO_FORMATS.get((Path(spec).suffix.lower(), "gray"))
        return fmt is not None and fmt.codec == "ffv1"

    @classmethod
    def open(cls, spec: str, source: SourceInfo, overwrite: bool, picture: str, h264: H264 = H264()) -> VideoSink:
        path = Path(spec)
        suffix = path.suffix.lower()
        if (suffix, picture) not in VIDEO_FORMATS:
            known = ", ".join([*video_extensions(picture), ".png", "a folder", "a %05d.png pattern"])
            raise StreamMaskError(f"cannot write {picture} pictures to {spec}: output must be {known}")
        check_parent(path.parent)
        refuse_input(path, source.files, shown=spec)
        with claimed(path, [path.with_name(path.name + ".json")]) as claim:
            refuse_existing(path, overwrite)
            fmt = VIDEO_FORMATS[suffix, picture]
            if fmt.codec == "libx264":
                fmt = replace(fmt, options={**fmt.options, **h264.options()})
            return cls(path, source, fmt, picture, claim, overwrite)

    def __init__(self, path: Path, source: SourceInfo, fmt: VideoFormat, picture: str = "gray",
                 claim: Claim | None = None, overwrite: bool = False) -> None:
        self.path = str(path)
        self.picture = picture
        self._final = path
        self._claim = claim
        self._overwrite = overwrite
        why = size_limit(fmt, source.width, source.height)
        if why is not None:
            raise _size_error(self.path, source.width, source.height, picture, why)
        self._partial = partial_path(path)
        try:
            self._container = av.open(str(self._partial), "w", format=fmt.container)
            self._container.flags |= av.container.Flags.bitexact.value  # no random ids, no date: the same run, the same bytes
            self._add_streams(source, fmt, picture)
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

    def close(self, sidecar: dict[str, Any] | None = None) -> None:
        """Flush the encoders, finalise the container and publish it; on failure (a full disk) nothing is left."""
        def finalise() -> None:
            self._flush()
            publish_file(self._partial, self._final, self._overwrite)

        self._publish(finalise, self._claim, sidecar)

    def abort(self) -> None:
        self._close_container()
        self._partial.unlink(missing_ok=True)
        release(self._claim)


def _copy_packet(packet: av.Packet) -> av.Packet:
    """A packet with its own data, timestamps and side data (PyAV has no packet copy)."""
    copy = av.Packet(bytes(packet))
    copy.pts, copy.dts, copy.duration = packet.pts, packet.dts, packet.duration
    copy.time_base = packet.time_base
    copy.is_keyframe = packet.is_keyframe
    for side_data in packet.iter_sidedata():
        copy.set_sidedata(side_data)
    return copy


def _rows_contiguous(picture: np.ndarray) -> np.ndarray:
    """`picture` itself when each row is contiguous in memory (all a frame over it needs), else a contiguous copy."""
    return picture if picture[0].flags.c_contiguous else np.ascontiguousarray(picture)


def _specified(tag: int, default: int) -> int:
    """A colour tag of the input, or `default` when it is unspecified (0 reserved, 2 unspecified)."""
    return tag if tag not in (0, 2) else default


def video_extensions(picture: str) -> list[str]:
    """The video file extensions that can hold `picture` pictures, in table order."""
    return [extension for extension, kind in VIDEO_FORMATS if kind == picture]


