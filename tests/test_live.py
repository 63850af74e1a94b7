"""Latency-first scheduling, through the real command with --realtime (a file paced like a camera).

There is no camera here: --realtime is the stand-in the product itself offers for demos and tests.
"""

from __future__ import annotations

import re

import av
import pytest

from conftest import MEDIA, needs_shared, run_cli

pytestmark = needs_shared

GESTURE = MEDIA / "people" / "gesture_recognizer_test_video.mp4"  # 1280x720, 25 fps, 195 frames, 7.8 s
LIVE = re.compile(r"^(\d+) frames in ([\d.]+) s \(([\d.]+) fps\), (\d+) model calls, (\d+) dropped, "
                  r"latency p50 (\d+) ms p95 (\d+) ms -> ")


def live_run(tmp_path, *outputs: str) -> dict[str, float]:
    result = run_cli("run", str(GESTURE), "--model", "selfie", "--realtime", "-q", *outputs, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    match = LIVE.match(result.stdout.strip().splitlines()[-1])
    assert match, result.stdout
    names = ("frames", "seconds", "fps", "calls", "dropped", "p50", "p95")
    return dict(zip(names, map(float, match.groups())))


def frame_count(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_realtime_keeps_pace_when_the_pipeline_keeps_up(tmp_path):
    stats = live_run(tmp_path, "-o", "mask.mkv")
    assert stats["seconds"] == pytest.approx(7.8, abs=1.0)  # paced, not as fast as possible
    assert stats["frames"] + stats["dropped"] == 195
    assert stats["dropped"] <= 10
    assert frame_count(tmp_path / "mask.mkv") == stats["frames"]


def test_a_slow_pipeline_drops_frames_and_latency_stays_bounded(tmp_path):
    """ProRes 4444 at 720p is several times slower than 25 fps here: a queue would make latency grow to
    seconds (the backlog of a 7.8 s clip); latest-frame-wins keeps it to a few frame times."""
    stats = live_run(tmp_path, "-o", "mask.mkv", "-o", "alpha.mov")
    assert stats["dropped"] > 20
    assert stats["frames"] + stats["dropped"] == 195
    assert stats["seconds"] < 7.8 + 2.0  # the run ends with the source, not after a backlog
    assert stats["p95"] < 1500
    assert frame_count(tmp_path / "mask.mkv") == frame_count(tmp_path / "alpha.mov") == stats["frames"]


def test_every_nth_frame_runs_the_model_less(tmp_path):
    stats = live_run(tmp_path, "-o", "mask.mkv", "--every", "3")
    assert stats["calls"] == pytest.approx(stats["frames"] / 3, abs=1)
    assert frame_count(tmp_path / "mask.mkv") == stats["frames"]
