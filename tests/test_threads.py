"""No thread is started per frame: a run's threads (reader, writers, the decoder's and encoders' own pools) are
started once. Counted from /proc/self/task (OS threads, native ones included) in this process."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from conftest import MEDIA, SELFIE, needs_shared
from stream_mask.config import OutputSpec, RunConfig
from stream_mask.frames import Frame
from stream_mask.pipeline import run
from stream_mask.sources.files import VideoFileSource

pytestmark = needs_shared

CLIP = MEDIA / "people" / "bedroom.mp4"  # 960x540, 200 frames


def os_threads() -> set[str]:
    return set(os.listdir("/proc/self/task"))


def test_decoding_a_video_starts_no_thread_per_frame() -> None:
    alive: list[set[str]] = []
    with VideoFileSource(str(CLIP)) as source:
        for item in source:
            if isinstance(item, Frame):
                alive.append(os_threads())  # while the source is suspended at this frame
                if len(alive) == 40:
                    break
    settled = alive[9]  # the decoder's threads are all up by then
    later = set().union(*alive[10:])
    assert later <= settled, f"{len(later - settled)} threads started over 30 frames"


def test_a_run_starts_no_thread_per_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real run with a mask and a blur composite, watched by a thread that lists the OS threads without pause:
    a pool started per frame (as a PyAV frame's own converter does) shows up as hundreds of thread ids."""
    seen: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.update(os_threads())
            done.wait(0.0002)

    watcher = threading.Thread(target=watch)
    before = os_threads()
    watcher.start()
    try:
        stats = run(RunConfig(input=str(CLIP), outputs=(OutputSpec(str(tmp_path / "mask.mkv")),
                                                        OutputSpec(str(tmp_path / "blurred.mp4"), effect="blur")),
                              model=str(SELFIE), progress=False))
    finally:
        done.set()
        watcher.join()
    started = seen - before - {str(watcher.native_id)}
    assert stats.frames == 200
    assert len(started) < stats.frames / 4, f"{len(started)} threads started in a {stats.frames}-frame run"
