"""Shared fixtures: the real models and media in ../shared, and the 6-class stand-in model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import pytest

from standin_model import build_standin_model

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MODELS = SHARED / "models"
MEDIA = SHARED / "media"
SELFIE = MODELS / "selfie_segmenter.tflite"

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real models and media not found at {SHARED}")


@pytest.fixture(scope="session")
def standin_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 6-class colour-coded stand-in for the multiclass model, built by our own code."""
    return build_standin_model(tmp_path_factory.mktemp("models") / "standin_multiclass.tflite")


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the command runs in under test: models from ../shared/models, no network."""
    return {**os.environ, "STREAM_MASK_MODEL_DIR": str(MODELS), "STREAM_MASK_MODEL_MIRROR": "http://127.0.0.1:9",
            **(env or {})}


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the real `stream-mask` command in a subprocess (environment: `cli_env`)."""
    return subprocess.run([sys.executable, "-m", "stream_mask.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=cli_env(env), timeout=600)


def stream_copy(source: Path, target: Path, seconds: float) -> None:
    """The first `seconds` of `source`, video and audio packets copied (the clip starts on a keyframe and its
    B-frames reference only earlier pictures within a 4-frame group, so the cut at 1.00 s is clean)."""
    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        video, audio = src.streams.video[0], src.streams.audio[0]
        out = {video.index: dst.add_stream_from_template(video), audio.index: dst.add_stream_from_template(audio)}
        for packet in src.demux(video, audio):
            if packet.dts is None or packet.pts * packet.time_base >= seconds:
                continue
            packet.stream = out[packet.stream.index]
            dst.mux(packet)
