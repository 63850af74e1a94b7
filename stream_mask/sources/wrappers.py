"""Sources that change another source's frames on their way through: pacing a file like a camera, mirroring."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import av
import numpy as np

from ..frames import Frame, Source


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
                item = dataclasses.replace(item, rgb=np.ascontiguousarray(self._flip(item.rgb)), yuv=None)
            yield item
