"""Config files and presets through the real command: --config, --print-config, `stream-mask presets`, sidecars.

The camera presets run on a file paced like a camera (--realtime) with pyvirtualcam's real library and a recording
backend for the device (tests/recording_camera.py, as tests/test_virtualcam.py), and their preview window on a real X
server (Xvfb). The 6-class presets run with the stand-in model (--model PATH: a flag beats the preset).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import MEDIA, MODELS, ROOT, needs_shared, run_cli, stream_copy
from stream_mask.config_files import tomllib
from test_preview import xvfb  # noqa: F401  (a fixture: a real X server for the webcam preset's window)

CLIP = MEDIA / "people" / "CiscoVT2people_320x192_12fps.mp4"  # 9 frames, 320x192, 12 fps, two people
TALK = MEDIA / "people" / "gesture_recognizer_test_video.mp4"  # 1280x720, 25 fps, a face, AAC audio
PRESETS = sorted(path.stem for path in (ROOT / "configs").glob("*.toml"))


def run_ok(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = run_cli(*args, cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    return result


def frames(path: Path, format: str = "gray") -> np.ndarray:
    with av.open(str(path)) as container:
        return np.array([frame.to_ndarray(format=format) for frame in container.decode(video=0)])


def resolved(*args: str, cwd: Path | None = None) -> dict:
    """The run's settings as --print-config prints them, parsed."""
    return tomllib.loads(run_ok("run", *args, "--print-config", cwd=cwd).stdout)


def run_with_recorder(tmp_path: Path, *args: str, display: str | None = None) -> subprocess.CompletedProcess:
    """`stream-mask ARGS` in a subprocess whose pyvirtualcam knows the recording backend (virtualcam:recorder)."""
    tests = Path(__file__).resolve().parent
    code = ("import sys, recording_camera; recording_camera.register(); from stream_mask.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "STREAM_MASK_MODEL_DIR": str(MODELS), "STREAM_MASK_MODEL_MIRROR": "http://127.0.0.1:9",
           "RECORDING_CAMERA_DIR": str(tmp_path), "PYTHONPATH": os.pathsep.join([str(tests), *filter(None, [
               os.environ.get("PYTHONPATH")])])}
    env.pop("DISPLAY", None)
    if display:
        env["DISPLAY"] = display
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=600)


def test_presets_are_listed_with_their_descriptions():
    listed = run_ok("presets").stdout.splitlines()
    assert [line.split()[0] for line in listed] == PRESETS
    assert {"webcam-blur", "obs-greenscreen", "face-privacy", "video-to-mattes", "hair-matte-for-editing",
            "best-quality", "fast"} <= set(PRESETS)
    for line in listed:
        assert len(line.split(maxsplit=1)) == 2  # every preset says what it is for


@pytest.mark.parametrize("name", PRESETS)
def test_shipped_presets_hold_no_secrets_or_user_paths_and_say_their_cost(name):
    text = (ROOT / "configs" / f"{name}.toml").read_text()
    settings = tomllib.loads(text)
    values = [settings.get("input", ""), settings.get("model", ""), settings.get("model_dir", ""),
              *(table.get("path", "") for table in settings.get("output", []))]
    assert not any(value.startswith(("/", "~")) or ":\\" in value or "@" in value for value in values)
    assert "model_dir" not in settings and "overwrite" not in settings
    assert text.startswith(f"# {name}: ") and "# Cost: " in text and "COST_" not in text


@needs_shared
def test_webcam_blur_preset_sends_a_blurred_background_and_shows_the_window(tmp_path, xvfb):  # noqa: F811
    """The preset as a user starts it, with a file paced like a camera for camera:0 and the recording backend for
    the virtual camera device: its window opens (preview = true) and the camera gets the blurred composite."""
    result = run_with_recorder(tmp_path, "run", str(CLIP), "--realtime", "--config", "webcam-blur", "-q",
                               "-o", "virtualcam:recorder", display=xvfb)
    assert result.returncode == 0, result.stderr
    camera = json.loads((tmp_path / "camera.json").read_text())
    sent = np.load(tmp_path / "frames.npy").reshape(-1, camera["height"], camera["width"], 3)
    assert (camera["width"], camera["height"]) == (320, 192) and 1 <= len(sent) <= 9
    source = frames(CLIP, "rgb24")
    assert not np.array_equal(sent[-1], source[-1])  # the background is blurred...
    assert np.abs(sent[-1].astype(int) - source[-1]).mean() < 30  # ...and the picture is still the picture


@needs_shared
def test_obs_greenscreen_preset_sends_pure_green_around_the_people(tmp_path):
    result = run_with_recorder(tmp_path, "run", str(CLIP), "--realtime", "--config", "obs-greenscreen", "-q",
                               "-o", "virtualcam:recorder")
    assert result.returncode == 0, result.stderr
    camera = json.loads((tmp_path / "camera.json").read_text())
    sent = np.load(tmp_path / "frames.npy").reshape(-1, camera["height"], camera["width"], 3)
    green = np.all(sent == (0, 255, 0), axis=-1).mean(axis=(1, 2))
    assert len(sent) >= 1 and np.all((green > 0.2) & (green < 0.9)), green  # background keyed, people kept


@needs_shared
def test_face_privacy_preset_blurs_the_face_only_and_keeps_the_audio(tmp_path):
    """The bare preset on a talking clip with audio: it names its output after the input ({stem}_private.mp4)."""
    clip = tmp_path / "talk.mp4"
    stream_copy(TALK, clip, 1.0)
    run_ok("run", "talk.mp4", "--config", "face-privacy", "-q", cwd=tmp_path)
    out = tmp_path / "talk_private.mp4"
    with av.open(str(out)) as container:
        assert container.streams.audio and container.streams.audio[0].codec_context.name == "aac"
    run_ok("run", "talk.mp4", "--parts", "face_oval", "--faces", "8", "--grow", "16", "-o", "m.mkv", "-q", cwd=tmp_path)
    mask = frames(tmp_path / "m.mkv")
    private, source = frames(out, "rgb24").astype(int), frames(clip, "rgb24").astype(int)
    assert len(private) == len(source) == len(mask) == 25
    change = np.abs(private - source).mean(axis=-1)
    face, rest = mask > 0, mask == 0
    assert face.any(axis=(1, 2)).all()  # a face in every frame
    assert change[face].mean() > 4 * change[rest].mean()  # blurred there; elsewhere only H.264's own loss


@needs_shared
def test_video_to_mattes_preset_writes_four_lossless_mattes_in_one_pass(tmp_path, standin_model):
    result = run_ok("run", str(CLIP), "--config", "video-to-mattes", "--model", str(standin_model), "-q", cwd=tmp_path)
    assert ", 9 model calls -> " in result.stdout  # one pass for the four
    stem = CLIP.stem
    for part in ("person", "hair", "face", "clothes"):
        path = tmp_path / f"{stem}_{part}.mkv"
        with av.open(str(path)) as container:
            assert container.streams.video[0].codec_context.name == "ffv1"
        assert frames(path).shape == (9, 192, 320)
        assert json.loads((tmp_path / f"{stem}_{part}.mkv.json").read_text())["settings"]["output"][0]["parts"] == [part]


@needs_shared
def test_hair_matte_preset_writes_prores_4444_with_alpha(tmp_path, standin_model):
    run_ok("run", str(CLIP), "--config", "hair-matte-for-editing", "--model", str(standin_model), "-q", cwd=tmp_path)
    path = tmp_path / f"{CLIP.stem}_hair.mov"
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "prores" and "a" in stream.codec_context.pix_fmt  # yuva444p*
    assert frames(path, "rgba").shape == (9, 192, 320, 4)


@needs_shared
def test_best_quality_and_fast_presets_run_as_documented(tmp_path):
    best = run_ok("run", str(CLIP), "--config", "best-quality", "-q", cwd=tmp_path).stdout
    assert "-> CiscoVT2people_320x192_12fps_mask.mkv" in best and ", 9 frames" not in best
    assert int(best.split(", ")[1].split()[0]) > 9  # the refine passes call the model again
    assert frames(tmp_path / f"{CLIP.stem}_mask.mkv").shape == (9, 192, 320)
    fast = run_ok("run", str(CLIP), "--config", "fast", "-o", "fast.mkv", "-q", cwd=tmp_path).stdout
    assert fast.startswith("9 frames") and ", 5 model calls -> fast.mkv" in fast  # every 2nd frame


@needs_shared
def test_a_flag_beats_the_file_key_by_key(tmp_path):
    """A run-level flag (--confidence, --grow) and a per-output flag (--effect) replace the file's value and
    nothing else; -o takes the file's output table with its other keys."""
    file_only = resolved(str(CLIP), "--config", "face-privacy", cwd=tmp_path)
    both = resolved(str(CLIP), "--config", "face-privacy", "--confidence", "0.6", "--grow", "4", "--effect", "blur:9",
                    "-o", "p.mp4", cwd=tmp_path)
    assert (file_only["confidence"], both["confidence"]) == (0.4, 0.6)
    assert (file_only["finish"]["grow"], both["finish"]["grow"]) == (16, 4) and both["faces"] == file_only["faces"] == 8
    assert file_only["output"][0]["effect"] == "blur:40" and file_only["output"][0]["path"] == f"{CLIP.stem}_private.mp4"
    assert both["output"] == [{**file_only["output"][0], "effect": "blur:9", "path": "p.mp4"}]
    # Per-output flags given with no -o apply to every output of the file.
    every = resolved(str(CLIP), "--config", "video-to-mattes", "--kind", "overlay", cwd=tmp_path)
    assert [table["kind"] for table in every["output"]] == ["overlay"]
    # And the run does what the resolved settings say.
    run_ok("run", str(CLIP), "--config", "face-privacy", "--effect", "color:#ff0000", "-o", "red.mkv", "-q",
           cwd=tmp_path)
    red = frames(tmp_path / "red.mkv", "rgb24")
    assert np.all(red == (255, 0, 0), axis=-1).any()  # the faces, in red


@needs_shared
def test_print_config_saved_to_a_file_gives_the_same_run(tmp_path):
    args = (str(CLIP), "--config", "best-quality", "--confidence", "0.5", "--feather", "2", "--parts", "person",
            "-o", "a.mkv", "--effect", "blur:7", "-o", "b.mp4")
    printed = run_ok("run", *args, "--print-config", cwd=tmp_path).stdout
    assert not list(tmp_path.iterdir())  # printed, not run
    (tmp_path / "saved.toml").write_text(printed)
    again = run_ok("run", "--config", "saved.toml", "--print-config", cwd=tmp_path).stdout
    assert tomllib.loads(again) == tomllib.loads(printed)
    assert tomllib.loads(printed)["output"][1]["kind"] == "composite"  # the kind the path chose, named
    run_ok("run", *args, "-q", cwd=tmp_path)
    run_ok("run", "--config", "saved.toml", "-o", "a2.mkv", "-o", "b2.mp4", "-q", cwd=tmp_path)
    assert np.array_equal(frames(tmp_path / "a.mkv"), frames(tmp_path / "a2.mkv"))
    assert (tmp_path / "b.mp4").read_bytes() == (tmp_path / "b2.mp4").read_bytes()


@needs_shared
def test_a_sidecar_runs_again_to_the_same_bytes(tmp_path):
    run_ok("run", str(CLIP), "--model", "selfie", "--refine", "--smooth", "-o", "m.mkv", "-q", cwd=tmp_path)
    run_ok("run", "--config", "m.mkv.json", "-o", "again.mkv", "-q", cwd=tmp_path)
    assert (tmp_path / "m.mkv").read_bytes() == (tmp_path / "again.mkv").read_bytes()
    # Without -o it would make m.mkv again: refused, as for any existing output, and m.mkv is untouched.
    before = (tmp_path / "m.mkv").read_bytes()
    result = run_cli("run", "--config", "m.mkv.json", "-q", cwd=tmp_path)
    assert result.returncode == 1 and "m.mkv exists" in result.stderr
    assert (tmp_path / "m.mkv").read_bytes() == before


BAD_CONFIGS = [
    ("smoth = 0.5\n", r"^stream-mask: error: bad\.toml: unknown key 'smoth' \(did you mean 'smooth'\?\); valid keys: "
                      r"input, confidence, model, .*, output, description$"),
    ("[[output]]\npath = 'x.mkv'\npart = ['hair']\n",
     r"^stream-mask: error: bad\.toml: unknown key 'output\[1\]\.part' \(did you mean 'output\[1\]\.parts'\?\); "
     r"valid keys: path, kind, parts, soft, effect, invert$"),
    ("confidence = 'high'\n", r"^stream-mask: error: bad\.toml: confidence must be a number, got 'high'$"),
    ("[finish]\ngrow = 2.5\n", r"^stream-mask: error: bad\.toml: finish\.grow must be a whole number, got 2\.5$"),
    ("mirror = 'yes'\n", r"^stream-mask: error: bad\.toml: mirror must be true or false, got 'yes'$"),
    ("confidence = 5\n", r"^stream-mask: error: bad\.toml: confidence must be between 0\.01 and 1\.0, got 5\.0$"),
    ("every = 0\n", r"^stream-mask: error: bad\.toml: --every must be 1 or more, got 0$"),
    ("[[output]]\npath = 'x.mkv'\nkind = 'matte'\n", r"^stream-mask: error: bad\.toml: unknown output kind 'matte'"),
    ("size = [1280]\n", r"^stream-mask: error: bad\.toml: size must be a list of 2 whole numbers, got \[1280\]$"),
    ("model = 'selfie'\nrefine = \n", r"^stream-mask: error: bad\.toml: invalid TOML: .*\(at line 2, column 10\)$"),
    ("output = 'x.mkv'\n", r"^stream-mask: error: bad\.toml: 'output' must be a list of tables \(\[\[output\]\] in "
                           r"TOML\), got a string$"),
]


@needs_shared
@pytest.mark.parametrize("text, error", BAD_CONFIGS, ids=[f"case{k}" for k in range(len(BAD_CONFIGS))])
def test_a_bad_config_is_one_line_naming_the_file_and_key_and_nothing_is_written(tmp_path, text, error):
    import re

    (tmp_path / "bad.toml").write_text(text)
    result = run_cli("run", str(CLIP), "--config", "bad.toml", "-o", "m.mkv", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and re.match(error, result.stderr.strip()), result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.toml"]


@needs_shared
def test_a_missing_preset_or_file_lists_what_there_is(tmp_path):
    result = run_cli("run", str(CLIP), "--config", "webcam-blurr", "-o", "m.mkv", cwd=tmp_path)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("stream-mask: error: no preset named 'webcam-blurr': presets are best-quality, ")
    result = run_cli("run", str(CLIP), "--config", "nowhere.toml", "-o", "m.mkv", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "stream-mask: error: cannot read config nowhere.toml: No such file or directory\n"
    (tmp_path / "broken.json").write_text('{"settings": {"confidence": 0.5,}}')
    result = run_cli("run", "--config", "broken.json", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.startswith("stream-mask: error: broken.json: invalid JSON: ")
    assert "(line 1, column " in result.stderr and len(result.stderr.splitlines()) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.json"]


def test_an_input_is_needed_from_the_command_line_or_the_file(tmp_path):
    result = run_cli("run", "--config", "fast", "-o", "m.mkv", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr == (
        "stream-mask: error: no input: give INPUT on the command line or `input = ...` in the config\n")
    result = run_cli("run", "--config", "fast", cwd=tmp_path, env={"DISPLAY": ""})  # no -o: the input first
    assert result.returncode == 1 and result.stderr.startswith("stream-mask: error: no input: ")
    result = run_cli("run", cwd=tmp_path, env={"DISPLAY": ""})  # nothing at all: a usage error, as before
    assert result.returncode == 2 and "the following arguments are required: input" in result.stderr
    result = run_cli("run", "camera:0", "--config", "video-to-mattes", cwd=tmp_path)
    assert result.returncode == 1 and "need one input file, not 'camera:0'" in result.stderr


def test_presets_come_with_a_built_wheel(tmp_path):
    """The presets are package data: a wheel built from this checkout and installed on its own (into a folder first
    on the path, so its stream_mask, not this checkout's, is imported) lists and loads every one."""
    wheels, target = tmp_path / "wheels", tmp_path / "installed"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
                    str(ROOT)], check=True, capture_output=True, timeout=600)
    (wheel,) = wheels.glob("stream_mask-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import stream_mask; print(stream_mask.__file__)"], env=env,
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert Path(where).is_relative_to(target)
    listed = subprocess.run([sys.executable, "-m", "stream_mask.cli", "presets"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, check=True).stdout
    assert [line.split()[0] for line in listed.splitlines()] == PRESETS
    printed = subprocess.run([sys.executable, "-m", "stream_mask.cli", "run", "clip.mp4", "--config", "video-to-mattes",
                              "--print-config"], env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert tomllib.loads(printed.stdout)["output"][0]["path"] == "clip_{part}.mkv"
