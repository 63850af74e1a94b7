"""What a `stream-mask` process imports before it needs to: --help and `models` load no OpenCV, numpy, PyAV or
MediaPipe; a run loads OpenCV before PyAV, and not MediaPipe's unused helpers (matplotlib.pyplot, sounddevice)."""

from __future__ import annotations

import subprocess
import sys

from conftest import MEDIA, SELFIE, needs_shared


def test_help_and_models_load_neither_opencv_nor_numpy_nor_the_video_libraries() -> None:
    """`--help` and `stream-mask models` stay fast: OpenCV alone is ~0.3 s of imports."""
    check = ("import sys, runpy; sys.argv = ['stream-mask'] + sys.argv[1:]\n"
             "try: runpy.run_module('stream_mask.cli', run_name='__main__')\n"
             "except SystemExit: pass\n"
             "print(sorted(m for m in ('cv2', 'numpy', 'av', 'mediapipe', 'pooch') if m in sys.modules))")
    for args, loaded in ((["--help"], "[]"), (["run", "--help"], "[]"), (["models"], "['pooch']")):
        done = subprocess.run([sys.executable, "-c", check, *args], capture_output=True, text=True)
        assert done.stdout.strip().splitlines()[-1] == loaded, (args, done.stdout[-300:], done.stderr)


def test_opencv_is_still_loaded_before_pyav() -> None:
    """PyAV's bundled libxcb loaded first makes OpenCV's preview window hang: the package's import hook loads cv2
    first whichever module imports av."""
    check = ("import sys, stream_mask\nassert 'cv2' not in sys.modules\nimport stream_mask.sinks\n"
             "names = list(sys.modules); print(names.index('cv2') < names.index('av'))")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.stdout.strip() == "True", done.stderr


@needs_shared
def test_a_run_does_not_execute_matplotlib_or_sounddevice_and_both_still_work_after() -> None:
    check = f"""
import sys
from stream_mask import VideoMasker
import cv2
rgb = cv2.cvtColor(cv2.imread({str(MEDIA / "people" / "astronaut.png")!r}), cv2.COLOR_BGR2RGB)
with VideoMasker(model={str(SELFIE)!r}, parts="person") as masker:
    assert masker(rgb, 0).any()
for name in ("matplotlib.pyplot", "sounddevice"):
    module = sys.modules.get(name)  # MediaPipe imported it: loaded lazily, its code not run
    assert module is not None and "__file__" in object.__getattribute__(module, "__dict__"), name
    assert "figure" not in object.__getattribute__(module, "__dict__"), name
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
plt.figure()  # loaded on first use, and works
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1:] == ["ok"], done.stderr[-2000:]
