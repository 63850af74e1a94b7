"""The model seam (runtime.py): a runtime that is not MediaPipe, one file plus one registration
(tests/colour_runtime.py), serves the library and the command exactly as the MediaPipe stand-in does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import colour_runtime
from conftest import MODELS, run_cli
from standin_model import COLOURS
from stream_mask.api import generate_masks
from stream_mask.runtime import RUNTIMES, SEGMENTER

TESTS = Path(__file__).resolve().parent


def painted() -> np.ndarray:
    """256x256 (the stand-in's own size: no resizing) in blocks of the six class colours."""
    blocks = np.array([[0, 1, 2, 3], [4, 5, 1, 3], [3, 3, 0, 4], [2, 1, 5, 0]])
    return np.ascontiguousarray(COLOURS[np.kron(blocks, np.ones((64, 64), dtype=int))])


@pytest.fixture
def registered(monkeypatch):
    """colour_runtime.register() for one test: the registry is put back after it."""
    monkeypatch.setitem(RUNTIMES, (SEGMENTER, colour_runtime.SUFFIX), "colour_runtime:ColourKeyRuntime")


def test_library_takes_a_registered_runtime(tmp_path, standin_model, registered):
    model = colour_runtime.write_model(tmp_path / "colours.npz")
    rgb = painted()[None]
    ours = generate_masks(rgb, ["hair", "face", "person"], model=str(model))
    mediapipe = generate_masks(rgb, ["hair", "face", "person"], model=str(standin_model))
    assert np.count_nonzero(ours) == 13 * 64 * 64  # every block but the three black ones
    assert np.array_equal(ours, mediapipe)


def test_unregistered_file_type_is_refused(tmp_path):
    """Without its registration the command knows no runtime for the file: the usual one-line error."""
    cv2.imwrite(str(tmp_path / "painted.png"), cv2.cvtColor(painted(), cv2.COLOR_RGB2BGR))
    model = colour_runtime.write_model(tmp_path / "colours.npz")
    result = run_cli("run", tmp_path / "painted.png", "-o", tmp_path / "m.png", "--model", model)
    assert result.returncode == 1 and result.stderr == f"stream-mask: error: model file {model} is not a .tflite or .task file\n"
    assert not (tmp_path / "m.png").exists()


def test_command_takes_a_registered_runtime(tmp_path, standin_model):
    cv2.imwrite(str(tmp_path / "painted.png"), cv2.cvtColor(painted(), cv2.COLOR_RGB2BGR))
    model = colour_runtime.write_model(tmp_path / "colours.npz")
    code = ("import sys, colour_runtime; colour_runtime.register(); from stream_mask.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "STREAM_MASK_MODEL_DIR": str(MODELS), "STREAM_MASK_MODEL_MIRROR": "http://127.0.0.1:9",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", code, "run", str(tmp_path / "painted.png"), "--model", str(model),
                             "--parts", "hair,clothes", "-o", str(tmp_path / "ours.png")],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 frames in ") and ", 1 model calls -> " in result.stdout
    reference = run_cli("run", tmp_path / "painted.png", "--model", standin_model, "--parts", "hair,clothes",
                        "-o", tmp_path / "mediapipe.png")
    assert reference.returncode == 0, reference.stderr
    ours, mediapipe = (cv2.imread(str(tmp_path / f"{name}.png"), cv2.IMREAD_UNCHANGED) for name in ("ours", "mediapipe"))
    assert np.count_nonzero(ours) == 5 * 64 * 64 and np.array_equal(ours, mediapipe)
