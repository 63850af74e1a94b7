"""The types every floor shares: a decoded `Frame`, what a source is (`SourceInfo`) and the `Source` interface.

Types only, so that the model, outputs, sinks and preview need not import the decoders in `sources/`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np


@dataclass
class Frame:
    """One decoded picture: true RGB pixels plus the timestamp it had in the source."""

    rgb: np.ndarray  # HxWx3 uint8, RGB order
    index: int  # 0-based position in the source
    pts: int  # presentation time in `time_base` units
    time_base: Fraction
    name: str = ""  # stem of the image file, for image sources
    captured: float = 0.0  # time.monotonic() when read from the device / decoded / released by pacing
    # The decoded picture itself, as I420 ((H*3/2) x W uint8: Y, then U and V at half size), when it is in the
    # source's `yuv_matrix` (8-bit 4:2:0, limited range, even size): composites draw in it (outputs.CompositeOutput).
    yuv: np.ndarray | None = None

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
    # The YUV matrix (an FFmpeg AVColorSpace tag) of colour outputs encoded as 4:2:0 YUV: the one the source's
    # 4:2:0 frames were decoded to RGB with (YUV_MATRICES), so that a composite can keep their own YUV pixels
    # (Frame.yuv) where the person is; 0 when the source is not such a video: outputs convert with BT.709.
    yuv_matrix: int = 0
    # Frames arrive in real time (camera, network stream, paced file): drop stale frames rather than queue them.
    live: bool = False
    # A human line on what a camera actually gave, e.g. "camera:0 gave 1280x720 at 30 fps (asked 1920x1080 at 60)".
    report: str = ""
    # The input's files on disk (a video file, the images of a folder or glob): no output may replace them.
    files: tuple[str, ...] = ()


# The YUV matrices whose 4:2:0 frames a source passes on as they are (Frame.yuv), with swscale's name for each
# (av.video.reformatter.Colorspace): BT.709, and BT.601 (tagged BT470BG or SMPTE170M, or untagged: what swscale,
# and so our decoding to RGB, takes an untagged video for).
YUV_MATRICES = {1: "ITU709", 5: "ITU601", 6: "ITU601"}
UNTAGGED_MATRIX = 6  # an untagged video's frames are decoded as BT.601 (SMPTE170M): its outputs say so


@dataclass(frozen=True)
class I420:
    """A picture drawn in a colour output's own 4:2:0 YUV (SourceInfo.yuv_matrix, limited range): the sink encodes
    it as it is. `data` is (H*3/2) x W uint8, FFmpeg's yuv420p layout: Y, then U, then V (each H/2 x W/2)."""

    data: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        """width, height of the picture"""
        return self.data.shape[1], self.data.shape[0] * 2 // 3


class Source:
    """Iterable of `Frame`s and, interleaved with them, audio `av.Packet`s."""

    info: SourceInfo
    # Set when a live source stopped before its end (camera unplugged, stream broke off): say "camera lost".
    ended_early: bool = False
    # Damaged input left out (video packets that do not decode, image files that cannot be read), what they are
    # (plural, for the summary and sidecar), and one line per thing the user should hear about.
    skipped: int = 0
    skipped_what: str = "damaged packets"
    warnings: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[Frame | av.Packet]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file handles; safe to call twice."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
