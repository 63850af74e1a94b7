"""Every way `stream-mask run` can fail, through the real command in a subprocess.

For each error: a non-zero exit code, exactly one stderr line `stream-mask: error: ...` with the words a
user needs, no traceback, nothing on stdout, and nothing left in the output folder (no output, no hidden
partial file). Plus the success path and Ctrl-C in the middle of a file, which must leave a valid,
playable partial video and exit 130.

Models come from ../shared/models; the 6-class model is not there, and the mirror points at a closed
port so that its download fails at once, offline. The cache lives in tmp_path.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from stream_mask.models import REGISTRY

SHARED = Path(__file__).resolve().parents[2] / "shared"
MODELS = SHARED / "models"
MEDIA = SHARED / "media"
SHORT_VIDEO = MEDIA / "people" / "CiscoVT2people_320x192_12fps.mp4"  # 320x192, 9 frames
LONG_VIDEO = MEDIA / "people" / "05_default_juggle.mp4"  # 1280x720, 247 frames
IMAGE = MEDIA / "people" / "astronaut.png"
MULTICLASS = REGISTRY["multiclass"]

pytestmark = pytest.mark.skipif(
    not (MODELS / REGISTRY["selfie"].filename).is_file() or not LONG_VIDEO.is_file(),
    reason=f"real models and media not found in {SHARED} (../shared from the repo)",
)

SUMMARY = re.compile(r"^(\d+) frames in \d+\.\d s \(\d+\.\d fps\), \d+ model calls -> (.+)$")
INTERRUPTED = re.compile(r"^interrupted: (\d+) frames in \d+\.\d s \(\d+\.\d fps\), \d+ model calls -> (.+) \(partial, .*\)$")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What every run of the command gets: shared models, a private cache, no way to reach Google."""
    monkeypatch.setenv("STREAM_MASK_MODEL_DIR", str(MODELS))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("STREAM_MASK_MODEL_MIRROR", "http://127.0.0.1:9")  # closed port: refused at once
    for var in ("no_proxy", "NO_PROXY"):  # a proxy must not turn the refusal into a timeout
        monkeypatch.setenv(var, "127.0.0.1,localhost")


def _command(*args: object) -> list[str]:
    return [sys.executable, "-m", "stream_mask.cli", *map(str, args)]


def run_cli(*args: object) -> subprocess.CompletedProcess:
    """Run `stream-mask ARGS...` as a real process, in the environment set by `isolated_env`."""
    return subprocess.run(_command(*args), capture_output=True, text=True, timeout=300)


def error_line(result: subprocess.CompletedProcess, *words: str, code: int = 1) -> str:
    """Assert `result` is a clean one-line failure mentioning `words`; return that line."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("stream-mask: error: "), line
    for word in words:
        assert word in line, f"{word!r} not in {line!r}"
    assert result.returncode == code, (result.returncode, line)
    assert result.stdout == ""
    return line


def listing(folder: Path) -> list[str]:
    """Every name in `folder`, hidden ones (partial files) included."""
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    return folder


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty output folder; a test that ends with it still empty wrote nothing, not even a partial file."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def decode_all(path: Path) -> tuple[int, int, int]:
    """(frames, width, height) of the first video stream, decoding every frame (raises if any is bad)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames, stream.codec_context.width, stream.codec_context.height


def write_tone(path: Path, codec: str) -> None:
    """One second of a 440 Hz sine, audio only."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=44100)
        stream.layout = "mono"
        fmt = stream.codec_context.codec.audio_formats[0].name
        wave = 0.3 * np.sin(2 * np.pi * 440 * np.arange(44100) / 44100)
        samples = (wave * 32767).astype(np.int16) if fmt.startswith("s16") else wave.astype(np.float32)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format=fmt, layout="mono")
        frame.sample_rate = 44100
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)


# --- input ---------------------------------------------------------------------------------------


def test_input_missing(inputs, out):
    missing = inputs / "missing.mp4"
    error_line(run_cli("run", missing, "-o", out / "m.mkv", "--model", "selfie"), "input not found", str(missing))
    assert listing(out) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root: chmod 000 does not stop root from reading")
def test_input_unreadable(inputs, out):
    video = inputs / "locked.mp4"
    video.write_bytes(SHORT_VIDEO.read_bytes())
    video.chmod(0)
    error_line(run_cli("run", video, "-o", out / "m.mkv", "--model", "selfie"), "cannot read", "permission denied")
    assert listing(out) == []


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("clip.mp4", os.urandom(20_000), ("not a video or image file",)),
        ("notes.txt", b"just some text\n" * 50, ("not a video or image file",)),  # FFmpeg: ANSI art
        ("notes.dat", b"just some text\n" * 50, ("not a video or image file",)),
        ("empty.mp4", b"", ("not a video or image file",)),
        ("photo.png", os.urandom(5_000), ("not an image file",)),
    ],
    ids=["random-bytes-mp4", "text-txt", "text-dat", "empty", "random-bytes-png"],
)
def test_input_not_media(inputs, out, name, content, words):
    bad = inputs / name
    bad.write_bytes(content)
    error_line(run_cli("run", bad, "-o", out / "m.mkv", "--model", "selfie"), "cannot read", str(bad), *words)
    assert listing(out) == []


@pytest.mark.parametrize(("name", "codec"), [("tone.m4a", "aac"), ("tone.wav", "pcm_s16le")])
def test_input_audio_only(inputs, out, name, codec):
    audio = inputs / name
    write_tone(audio, codec)
    error_line(run_cli("run", audio, "-o", out / "m.mkv", "--model", "selfie"), str(audio), "no video stream")
    assert listing(out) == []


# --- parts and confidence ------------------------------------------------------------------------


def test_bad_part_selfie(out):
    error_line(run_cli("run", SHORT_VIDEO, "-o", out / "m.mkv", "--model", "selfie", "--parts", "person,hair"),
               "unknown part 'hair'", "selfie", "person, background")
    assert listing(out) == []


def test_bad_part_six_class_model_by_path(out, standin_model):
    line = error_line(run_cli("run", SHORT_VIDEO, "-o", out / "m.mkv", "--model", standin_model, "--parts", "hat"),
                      "unknown part 'hat'", standin_model.stem)
    # The stand-in is labelled like the multiclass model, so it offers the same part names.
    for part in ("background", "hair", "body", "face", "clothes", "others", "person"):
        assert part in line.partition(": use ")[2], line
    assert listing(out) == []


@pytest.mark.parametrize("value", ["0", "1.5", "-1", "nan"])
def test_confidence_out_of_range(out, value):
    error_line(run_cli("run", SHORT_VIDEO, "-o", out / "m.mkv", "--model", "selfie", "--confidence", value),
               "confidence must be between 0.01 and 1.0")
    assert listing(out) == []


def test_confidence_not_a_number(out):
    error_line(run_cli("run", SHORT_VIDEO, "-o", out / "m.mkv", "--model", "selfie", "--confidence", "abc"),
               "--confidence", "not a number", "'abc'", code=2)
    assert listing(out) == []


# --- output --------------------------------------------------------------------------------------


def test_output_exists_is_refused_then_overwritten(out):
    target = out / "m.mkv"
    target.write_bytes(b"someone's precious file")
    error_line(run_cli("run", SHORT_VIDEO, "-o", target, "--model", "selfie"), str(target), "exists", "--overwrite")
    assert target.read_bytes() == b"someone's precious file"
    assert listing(out) == ["m.mkv"]

    result = run_cli("run", SHORT_VIDEO, "-o", target, "--model", "selfie", "--overwrite")
    assert result.returncode == 0, result.stderr
    assert SUMMARY.match(result.stdout.splitlines()[-1])
    assert decode_all(target) == (9, 320, 192)
    assert listing(out) == ["m.mkv", "m.mkv.json"]  # the output and its sidecar


@pytest.mark.parametrize(
    ("output", "words"),
    [
        ("m.xyz", ("cannot write", "output must be", ".mkv", ".mp4", ".png")),
        ("missing-folder/m.mkv", ("output folder does not exist", "missing-folder")),
        ("m.png", ("holds one image", "%05d.png")),  # a video has many frames
        ("masks/%05d.jpg", ("bad output pattern", ".png")),
    ],
    ids=["unknown-extension", "missing-folder", "png-for-video", "jpg-pattern"],
)
def test_bad_output(out, output, words):
    error_line(run_cli("run", SHORT_VIDEO, "-o", out / output, "--model", "selfie"), *words)
    assert listing(out) == []


# --- models --------------------------------------------------------------------------------------


def test_unknown_model_name(out):
    error_line(run_cli("run", SHORT_VIDEO, "-o", out / "m.mkv", "--model", "nosuchmodel"),
               "unknown model 'nosuchmodel'", *REGISTRY)
    assert listing(out) == []


def test_model_path_missing(inputs, out):
    missing = inputs / "nope.tflite"
    error_line(run_cli("run", SHORT_VIDEO, "-o", out / "m.mkv", "--model", missing), str(missing), "does not exist")
    assert listing(out) == []


def test_model_file_is_garbage(inputs, out):
    garbage = inputs / "garbage.tflite"
    garbage.write_bytes(os.urandom(4096))
    error_line(run_cli("run", SHORT_VIDEO, "-o", out / "m.mkv", "--model", garbage),
               "cannot load", str(garbage), "segmentation model")
    assert listing(out) == []


def test_model_is_not_a_segmenter(out):
    landmarker = MODELS / REGISTRY["face_landmarker"].filename
    if not landmarker.is_file():
        pytest.skip(f"{landmarker} not found")
    error_line(run_cli("run", SHORT_VIDEO, "-o", out / "m.mkv", "--model", landmarker),
               "cannot load", "segmentation model")
    assert listing(out) == []


def test_model_dir_missing(tmp_path, out):
    error_line(run_cli("run", SHORT_VIDEO, "-o", out / "m.mkv", "--model", "selfie", "--model-dir", tmp_path / "nope"),
               "model directory", "--model-dir", "does not exist")
    assert listing(out) == []


@pytest.mark.parametrize("with_model_dir", [False, True], ids=["cache", "model-dir"])
def test_multiclass_missing_and_mirror_closed(tmp_path, out, with_model_dir):
    """The default model cannot be found or downloaded: say which file to put where."""
    mine = tmp_path / "my-models"
    mine.mkdir()
    args = ["--model-dir", mine] if with_model_dir else []
    result = run_cli("run", SHORT_VIDEO, "-o", out / "m.mkv", *args)
    where = mine if with_model_dir else tmp_path / "cache" / "stream-mask"
    # The download is announced only once a server answers: offline, the error is the only line.
    error_line(result, "cannot download the 'multiclass' model", "no connection to 127.0.0.1:9",
               f"put {MULTICLASS.filename}", MULTICLASS.sha256, MULTICLASS.url, f"in {where}")
    assert listing(out) == []
    assert listing(mine) == []
    cache = tmp_path / "cache" / "stream-mask"
    assert not cache.exists() or listing(cache) == []  # no half-downloaded temp file


# --- command line --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("run", SHORT_VIDEO, "-o", "OUT/m.mkv", "--bogus"), ("unrecognized arguments: --bogus", "--help")),
        (("run", SHORT_VIDEO, "--model", "selfie"), ("required", "-o/--output")),
        (("frobnicate",), ("invalid choice: 'frobnicate'",)),
        ((), ("required", "command")),
    ],
    ids=["unknown-option", "missing-output", "unknown-command", "no-command"],
)
def test_usage_errors(out, args, words):
    args = [str(arg).replace("OUT", str(out)) for arg in args]
    error_line(run_cli(*args), *words, code=2)
    assert listing(out) == []


# --- success -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "name", "expected"),
    [(SHORT_VIDEO, "m.mkv", (9, 320, 192)), (SHORT_VIDEO, "m.mp4", (9, 320, 192)), (IMAGE, "m.png", None)],
    ids=["mkv", "mp4", "png"],
)
def test_success(out, source, name, expected):
    target = out / name
    result = run_cli("run", source, "-o", target, "--model", "selfie")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "error" not in result.stderr
    summary = SUMMARY.match(result.stdout.splitlines()[-1])
    assert summary, result.stdout
    assert summary.group(2) == str(target)
    assert listing(out) == [name, f"{name}.json"]  # the output and its sidecar
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file, not a 0600 temp file
    if expected is None:
        assert summary.group(1) == "1"
    else:
        assert int(summary.group(1)) == expected[0]
        assert decode_all(target) == expected


# --- Ctrl-C --------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_ctrl_c_mid_file_leaves_a_playable_partial_video(out, ext):
    target = out / f"juggle.{ext}"
    process = subprocess.Popen(_command("run", LONG_VIDEO, "-o", target, "--model", "selfie", "--parts", "person"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               # as in a terminal, even if pytest runs as a background job (SIGINT ignored)
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        # The hidden partial file appears when the sink opens, right before the first frame is read;
        # a second later frames are flowing (~60-80 fps here) and the 247 are far from done.
        deadline = time.monotonic() + 120
        while not list(out.glob(f".{target.name}.*.partial")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no partial file appeared"
            time.sleep(0.02)
        time.sleep(1.0)
        assert process.poll() is None, f"finished before Ctrl-C (machine too fast?): {process.communicate()}"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert "Traceback" not in stderr, stderr
    assert process.returncode == 130, (process.returncode, stdout, stderr)
    summary = INTERRUPTED.match(stdout.splitlines()[-1])
    assert summary, stdout
    assert summary.group(2) == str(target)
    written = int(summary.group(1))
    assert 0 < written < 247
    assert listing(out) == [target.name, f"{target.name}.json"]  # published, and no partial file left
    assert decode_all(target) == (written, 1280, 720)
