"""How H.264 files are encoded (--h264-crf, --h264-preset, their config keys): read back from the files x264 wrote
by the real command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import av
import pytest

from conftest import MEDIA, needs_shared, run_cli

CLIP = MEDIA / "people" / "CiscoVT2people_320x192_12fps.mp4"  # 9 frames


def x264_settings(path: Path) -> tuple[str, dict[str, str]]:
    """The H.264 profile of a file's video and the options x264 wrote into its first packet (its SEI)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        profile = stream.codec_context.profile
        first = bytes(next(packet for packet in container.demux(stream) if packet.size))
    text = first[first.index(b"x264 - core"):].split(b"\0")[0].decode()
    return profile, dict(re.findall(r"(\w+)=([^ ]+)", text.split("options:")[1]))


@needs_shared
def test_the_default_h264_file_is_crf_16_veryfast(tmp_path: Path) -> None:
    out = tmp_path / "mask.mp4"
    assert run_cli("run", str(CLIP), "-o", str(out), "--model", "selfie", "-q").returncode == 0
    profile, options = x264_settings(out)
    # veryfast: High profile with B-frames, subme 2, one reference frame (ultrafast is Constrained Baseline).
    assert (profile, options["crf"], options["subme"], options["ref"], options["bframes"]) == ("High", "16.0", "2", "1", "3")
    assert json.loads((tmp_path / "mask.mp4.json").read_text())["settings"]["h264_crf"] == 16


@needs_shared
@pytest.mark.parametrize("effect", [(), ("--effect", "blur")])
def test_h264_flags_reach_the_file_and_its_sidecar(tmp_path: Path, effect: tuple[str, ...]) -> None:
    out = tmp_path / "out.mp4"
    done = run_cli("run", str(CLIP), "-o", str(out), *effect, "--model", "selfie", "-q",
                   "--h264-crf", "28", "--h264-preset", "ultrafast")
    assert done.returncode == 0, done.stderr
    profile, options = x264_settings(out)
    assert (profile, options["crf"], options["subme"], options["bframes"]) == ("Constrained Baseline", "28.0", "0", "0")
    settings = json.loads((tmp_path / "out.mp4.json").read_text())["settings"]
    assert (settings["h264_crf"], settings["h264_preset"]) == (28, "ultrafast")


@needs_shared
def test_a_config_file_sets_them_and_the_sidecar_makes_the_same_file_again(tmp_path: Path) -> None:
    config = tmp_path / "small.toml"
    config.write_text('h264_crf = 30\nh264_preset = "superfast"\n')
    first = tmp_path / "first.mp4"
    assert run_cli("run", str(CLIP), "-o", str(first), "--model", "selfie", "-q", "--config", str(config)).returncode == 0
    assert x264_settings(first)[1]["crf"] == "30.0"
    again = tmp_path / "again.mp4"
    done = run_cli("run", "-o", str(again), "-q", "--config", str(tmp_path / "first.mp4.json"))
    assert done.returncode == 0, done.stderr
    assert again.read_bytes() == first.read_bytes()


@needs_shared
def test_ffv1_masks_ignore_them(tmp_path: Path) -> None:
    plain, flagged = tmp_path / "plain.mkv", tmp_path / "flagged.mkv"
    assert run_cli("run", str(CLIP), "-o", str(plain), "--model", "selfie", "-q").returncode == 0
    assert run_cli("run", str(CLIP), "-o", str(flagged), "--model", "selfie", "-q", "--h264-crf", "40").returncode == 0
    assert plain.read_bytes() == flagged.read_bytes()


@pytest.mark.parametrize(("flags", "config", "message"), [
    (("--h264-crf", "52"), "", "stream-mask: error: --h264-crf must be between 0 and 51, got 52"),
    (("--h264-preset", "fastest"), "", "stream-mask: error: argument --h264-preset: invalid choice: 'fastest'"),
    ((), 'h264_preset = "fastest"\n', "unknown --h264-preset 'fastest'"),
    ((), "h264_crf = -1\n", "--h264-crf must be between 0 and 51, got -1"),
])
def test_bad_values_are_one_line_errors(tmp_path: Path, flags: tuple[str, ...], config: str, message: str) -> None:
    args = ["run", str(CLIP), "-o", str(tmp_path / "out.mp4"), *flags]
    if config:
        (tmp_path / "bad.toml").write_text(config)
        args += ["--config", str(tmp_path / "bad.toml")]
    done = run_cli(*args)
    assert done.returncode != 0
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    if config:
        assert str(tmp_path / "bad.toml") in done.stderr  # the file is named
    assert not list(tmp_path.glob("out.mp4*"))
