"""A sidecar's settings are derived from RunConfig, and read back into the run that made the output."""

from __future__ import annotations

import json
from dataclasses import fields, replace

import av
import numpy as np
import pytest

from conftest import MEDIA, MODELS, SELFIE, needs_shared, run_cli
from stream_mask.cli import build_parser, run_config
from stream_mask.config import UNRECORDED_FIELDS, OutputSpec, RunConfig
from stream_mask.errors import StreamMaskError
from stream_mask.pipeline import run
from stream_mask.settings import OUTPUTS_KEY, checked, to_run_config, to_settings


def from_settings(settings: dict) -> RunConfig:
    return to_run_config(checked(settings, "test"), "test")

CLIP = MEDIA / "people" / "CiscoVT2people_320x192_12fps.mp4"  # 9 frames, 320x192, 12 fps


def run_settings(*argv: str) -> dict:
    """Run the real command; the settings of its one output's sidecar."""
    result = run_cli("run", *argv)
    assert result.returncode == 0, result.stderr
    output = argv[argv.index("-o") + 1]
    return json.loads(open(f"{output}.json").read())["settings"]


def decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]


@needs_shared
def test_every_run_setting_is_in_the_sidecar_or_left_out_on_purpose(tmp_path):
    """A field added to RunConfig appears in every sidecar unless it is listed (and explained) as not shaping the
    output; every field of the output's own spec is there too. (Before: a hand-kept list that lacked --size/--fps.)"""
    settings = run_settings(str(CLIP), "--model", "selfie", "-o", str(tmp_path / "m.mkv"))
    run_fields = {field.name for field in fields(RunConfig)} - {"outputs"}
    output_fields = {field.name for field in fields(OutputSpec)}
    assert run_fields - set(UNRECORDED_FIELDS) <= set(settings)
    assert not set(UNRECORDED_FIELDS) & set(settings) and set(UNRECORDED_FIELDS) <= run_fields
    assert set(settings) <= run_fields | {OUTPUTS_KEY} and len(settings[OUTPUTS_KEY]) == 1
    assert set(settings[OUTPUTS_KEY][0]) == output_fields
    assert settings["size"] is None and settings["fps"] is None  # the camera requests, asked of no camera here


@needs_shared
def test_a_sidecar_rebuilds_the_run_that_made_it(tmp_path):
    """Every setting given on the command line comes back from the sidecar as the same RunConfig."""
    argv = (str(CLIP), "--model", str(SELFIE), "--confidence", "0.55", "--refine", "2", "--smooth", "0.5",
            "--every", "2", "--faces", "2", "--mirror", "--realtime", "--edges", "guided", "--min-island", "5",
            "--fill-holes", "6", "--shrink", "1", "--grow", "2", "--feather", "3",
            "--parts", "person", "--kind", "composite", "--soft", "--effect", "blur:5", "--invert",
            "-o", str(tmp_path / "c.mkv"))
    settings = run_settings(*argv)
    expected = run_config(build_parser().parse_args(["run", *argv]))
    assert from_settings(settings) == expected
    assert to_settings(expected, expected.outputs[0]) == settings


@needs_shared
def test_a_bare_runs_sidecar_runs_again_to_the_same_output(tmp_path, monkeypatch):
    """The bare command's sidecar names every default it used; run again from it, the output is the same."""
    first = tmp_path / "m.mkv"
    settings = run_settings(str(CLIP), "--model", "selfie", "-o", str(first))
    output = settings[OUTPUTS_KEY][0]
    assert output["parts"] == ["person"] and output["kind"] == "mask" and settings["smooth"] == 0.0
    elsewhere = {**settings, OUTPUTS_KEY: [{**output, "path": str(tmp_path / "again.mkv")}]}
    again = from_settings(elsewhere)
    assert to_settings(again, again.outputs[0]) == elsewhere
    monkeypatch.setenv("STREAM_MASK_MODEL_DIR", str(MODELS))  # as run_cli gives the command
    run(replace(again, progress=False))
    assert [np.array_equal(a, b) for a, b in zip(decoded(first), decoded(tmp_path / "again.mkv"), strict=True)] \
        == [True] * 9


def test_unknown_settings_are_one_line_errors():
    out = {OUTPUTS_KEY: [{"path": "m.mkv"}]}
    with pytest.raises(StreamMaskError, match=r"^test: unknown key 'smoothing' \(did you mean 'smooth'\?\); valid "):
        from_settings({"input": "a.mp4", **out, "smoothing": 0.5})
    with pytest.raises(StreamMaskError, match="^test: unknown key 'finish.blur'"):
        from_settings({"input": "a.mp4", **out, "finish": {"blur": 2}})
    with pytest.raises(StreamMaskError, match=r"^test: output\[1\] has no path: give -o OUTPUT for it$"):
        from_settings({"input": "a.mp4", OUTPUTS_KEY: [{"kind": "mask"}]})
