"""Settings kept in files: presets (configs/ in the repository, installed as stream_mask.presets), TOML config
files, and sidecar JSONs (an output's own record, to run it again). All hold the schema of settings.py."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import tomli_w

from .errors import StreamMaskError
from .settings import OUTPUTS_KEY, Settings, checked

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, before it joined the standard library
    import tomli as tomllib

PRESETS = "stream_mask.presets"  # the package configs/ is installed as (pyproject.toml maps it)
FILE_SUFFIXES = (".toml", ".json")  # --config X.toml / X.json is a file; a bare name is a preset


def load(spec: str) -> Settings:
    """The checked settings of `--config SPEC`: a preset's name, a .toml file or a .json file (a sidecar, or
    settings written as JSON)."""
    if Path(spec).suffix.lower() not in FILE_SUFFIXES:
        return checked(_parse_toml(_preset_text(spec), f"preset {spec}"), f"preset {spec}")
    path = Path(spec)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise StreamMaskError(f"cannot read config {spec}: {getattr(error, 'strerror', None) or error}") from None
    if path.suffix.lower() == ".toml":
        return checked(_parse_toml(text, spec), spec)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise StreamMaskError(f"{spec}: invalid JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None
    if isinstance(data, dict) and isinstance(data.get("settings"), dict) and "versions" in data:
        data = data["settings"]  # a sidecar: the settings that made its output
    return checked(data, spec)


def presets() -> dict[str, str]:
    """Every preset's name and its one-line description, by name."""
    found = sorted(item.name for item in resources.files(PRESETS).iterdir() if item.name.endswith(".toml"))
    return {name[:-5]: str(_parse_toml(_preset_text(name[:-5]), name).get("description", ""))
            for name in found}


def description(spec: str) -> str | None:
    """A preset's description (None for a file)."""
    return None if Path(spec).suffix.lower() in FILE_SUFFIXES else presets().get(spec)


def to_toml(settings: Settings, header: str = "") -> str:
    """`settings` as TOML text that `load` reads back to the same settings: nulls (not given) left out, the
    outputs as [[output]] tables after the run's keys, `header` as comment lines on top."""
    def present(table: dict[str, Any]) -> dict[str, Any]:
        return {key: present(value) if isinstance(value, dict) else value
                for key, value in table.items() if value is not None}

    top = present({key: value for key, value in settings.items() if key != OUTPUTS_KEY})
    outputs = [present(table) for table in settings.get(OUTPUTS_KEY, [])]
    body = tomli_w.dumps({**top, **({OUTPUTS_KEY: outputs} if outputs else {})})
    comments = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    return comments + body


def _preset_text(name: str) -> str:
    resource = resources.files(PRESETS) / f"{name}.toml"
    if not resource.is_file():
        raise StreamMaskError(f"no preset named {name!r}: presets are {', '.join(presets())} "
                              f"(or give a file: --config FILE.toml)")
    return resource.read_text(encoding="utf-8")


def _parse_toml(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise StreamMaskError(f"{origin}: invalid TOML: {error}") from None
