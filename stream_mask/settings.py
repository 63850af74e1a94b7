"""The settings schema: one shape for config files, presets, sidecars and the command line.

A settings dict holds RunConfig's fields by name (`finish` as a table of Finish's fields) and the outputs as a list
of tables of OutputSpec's fields under OUTPUTS_KEY (`[[output]]` in TOML). A key that is absent was not given and
takes its default when the run is built (`to_run_config`); layers are merged key by key (`merge`), so a flag given on
the command line beats a config file. Every check here names where the value came from and which key it is.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path
from typing import Any

from .config import (H264, PART_FIELD, UNRECORDED_FIELDS, Finish, OutputSpec, RunConfig, check_model_settings,
                     check_subjects, parse_parts, parse_size, parse_subjects)
from .errors import StreamMaskError

OUTPUTS_KEY = "output"  # the list of per-output tables
NOTES = ("description",)  # what a preset says about itself: allowed, shown by `stream-mask presets`, not a setting
RUN_KEYS = tuple(field.name for field in fields(RunConfig) if field.name != "outputs")
OUTPUT_KEYS = tuple(field.name for field in fields(OutputSpec))
FINISH_KEYS = tuple(field.name for field in fields(Finish))
INPUT_FIELDS = ("{stem}", "{name}", "{parent}")  # in an output path: from the input file's name (see expand_path)
TEXT_FORMS = {"parts": parse_parts, "size": parse_size, "subjects": parse_subjects}  # the command line's forms too:
# parts = "hair,face", size = "1280x720", subjects = "all"

Settings = dict[str, Any]


def to_settings(config: RunConfig, output: OutputSpec | None = None, *, recorded: bool = True) -> Settings:
    """`config` as plain values (JSON and TOML hold them): with `output`, the run that made that one output (a
    sidecar: pass it with its parts resolved, so that no default is left); else the run with all its outputs. With
    `recorded`, the fields that do not shape an output (UNRECORDED_FIELDS) are left out."""
    settings = {name: _plain(getattr(config, name)) for name in RUN_KEYS if not (recorded and name in UNRECORDED_FIELDS)}
    settings[OUTPUTS_KEY] = [_output_settings(spec) for spec in ((output,) if output else config.outputs)]
    return settings


def _output_settings(spec: OutputSpec) -> Settings:
    settings = {name: _plain(getattr(spec, name)) for name in OUTPUT_KEYS}
    settings["kind"] = spec.resolved_kind()  # the kind the path chose, named
    return settings


def _plain(value: Any) -> Any:
    """A setting as JSON holds it: a dataclass as a dict, a tuple as a list."""
    if is_dataclass(value):
        return asdict(value)
    return list(value) if isinstance(value, tuple) else value


def checked(settings: Mapping[str, Any], origin: str) -> Settings:
    """`settings` with every key known and every value of its key's type (lists as tuples, parts also as "a,b", a
    size also as "WxH"), and the limits of each value checked; errors are one line starting with `origin: `.
    Nulls (JSON's; TOML has none) count as not given."""
    if not isinstance(settings, Mapping):
        raise StreamMaskError(f"{origin}: expected a table of settings, got {_kind_of(settings)}")
    _known(settings, (*RUN_KEYS, OUTPUTS_KEY, *NOTES), origin, "")
    hints = typing.get_type_hints(RunConfig)
    result: Settings = {}
    for key, value in settings.items():
        if value is None or key in NOTES:
            continue
        if key == OUTPUTS_KEY:
            if not isinstance(value, Sequence) or isinstance(value, str):
                raise StreamMaskError(f"{origin}: '{OUTPUTS_KEY}' must be a list of tables ([[{OUTPUTS_KEY}]] in TOML), "
                                      f"got {_kind_of(value)}")
            result[key] = [_checked_output(table, f"{OUTPUTS_KEY}[{index + 1}]", origin)
                           for index, table in enumerate(value)]
        elif key == "finish":
            if not isinstance(value, Mapping):
                raise StreamMaskError(f"{origin}: 'finish' must be a table, got {_kind_of(value)}")
            _known(value, FINISH_KEYS, origin, "finish.")
            finish_hints = typing.get_type_hints(Finish)
            result[key] = {name: _coerce(item, finish_hints[name], f"finish.{name}", origin)
                           for name, item in value.items() if item is not None}
        else:
            result[key] = _coerce(value, hints[key], key, origin)
    _check_limits(result, origin)
    return result


def _checked_output(table: Any, where: str, origin: str) -> Settings:
    if not isinstance(table, Mapping):
        raise StreamMaskError(f"{origin}: {where} must be a table, got {_kind_of(table)}")
    _known(table, OUTPUT_KEYS, origin, f"{where}.")
    hints = typing.get_type_hints(OutputSpec)
    return {name: _coerce(value, hints[name], f"{where}.{name}", origin) for name, value in table.items()
            if value is not None}


def _check_limits(settings: Settings, origin: str) -> None:
    """The ranges of what `settings` gives, checked as a run would, but blamed on `origin`."""
    defaults = {field.name: field.default for field in fields(RunConfig)}
    try:
        check_model_settings(*(settings.get(name, defaults[name])
                               for name in ("confidence", "smooth", "refine", "every", "faces")))
        check_subjects(settings.get("subjects", defaults["subjects"]))
        Finish(**settings.get("finish", {}))
        H264(settings.get("h264_crf", defaults["h264_crf"]), settings.get("h264_preset", defaults["h264_preset"]))
        for table in settings.get(OUTPUTS_KEY, ()):
            if "path" in table:  # else the command line's -o gives it, and the run checks the output then
                OutputSpec(**table)
    except StreamMaskError as error:
        raise StreamMaskError(f"{origin}: {error}") from None


def merge(base: Mapping[str, Any], over: Mapping[str, Any], every_output: Mapping[str, Any] | None = None) -> Settings:
    """`over` on top of `base`, key by key (`finish` too). Outputs pair up by position: `over`'s k-th output table is
    `base`'s k-th with its keys replaced; further tables of either are kept. `every_output`: keys for every
    output (the command line's per-output flags given with no -o)."""
    merged = {**base, **{key: value for key, value in over.items() if key not in ("finish", OUTPUTS_KEY)}}
    if "finish" in base or "finish" in over:
        merged["finish"] = {**base.get("finish", {}), **over.get("finish", {})}
    below, above = list(base.get(OUTPUTS_KEY, ())), list(over.get(OUTPUTS_KEY, ()))
    tables = [{**(below[k] if k < len(below) else {}), **(above[k] if k < len(above) else {})}
              for k in range(max(len(below), len(above)))]
    if every_output:
        tables = [{**table, **every_output} for table in tables]
    if tables:
        merged[OUTPUTS_KEY] = tables
    return merged


def check_input(settings: Mapping[str, Any]) -> None:
    """A run needs an input, from the command line or the config."""
    if "input" not in settings:
        raise StreamMaskError("no input: give INPUT on the command line or `input = ...` in the config")


def to_run_config(settings: Mapping[str, Any], origin: str = "the settings") -> RunConfig:
    """The run `settings` describe (checked ones: see `checked`); what they leave out takes its default.
    `{stem}`, `{name}` and `{parent}` in an output path become the input's (see expand_path)."""
    check_input(settings)
    values = {key: value for key, value in settings.items() if key in RUN_KEYS}
    values["finish"] = Finish(**settings.get("finish", {}))
    outputs = []
    for index, table in enumerate(settings.get(OUTPUTS_KEY, ())):
        if "path" not in table:
            raise StreamMaskError(f"{origin}: {OUTPUTS_KEY}[{index + 1}] has no path: give -o OUTPUT for it")
        outputs.append(OutputSpec(**{**table, "path": expand_path(table["path"], values["input"])}))
    return RunConfig(outputs=tuple(outputs), **values)


def expand_path(path: str, input: str) -> str:
    """`{stem}`, `{name}` and `{parent}` in an output path: the input file's name without its extension, with it, and
    the name of its folder (`clips/talk.mp4` -> talk, talk.mp4, clips). `{part}` is left for the outputs to expand."""
    if not any(field in path for field in INPUT_FIELDS):
        return path
    if "://" in input or input.startswith("camera:") or input.isdigit() or any(c in input for c in "*?["):
        raise StreamMaskError(f"{', '.join(INPUT_FIELDS)} in {path!r} need one input file, not {input!r}")
    source = Path(input)
    named = path.replace(PART_FIELD, "\0")  # str.format would read {part} as a field too
    for field, value in zip(INPUT_FIELDS, (source.stem, source.name, source.resolve().parent.name)):
        named = named.replace(field, value)
    return named.replace("\0", PART_FIELD)


def _coerce(value: Any, hint: Any, key: str, origin: str) -> Any:
    """`value` as type `hint` (a RunConfig/OutputSpec/Finish annotation), or a one-line error."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(arg for arg in args if arg is not type(None))  # None (absent) was handled by the caller
        args = typing.get_args(hint)
    if hint is bool and isinstance(value, bool):
        return value
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is str and isinstance(value, str):
        return value
    text_form = TEXT_FORMS.get(key.rsplit(".", 1)[-1])
    if text_form is not None and isinstance(value, str):
        try:
            return text_form(value)
        except (ValueError, StreamMaskError) as error:
            raise StreamMaskError(f"{origin}: {key}: {error}") from None
    if typing.get_origin(hint) is tuple:
        if isinstance(value, (list, tuple)):
            wanted = [args[0]] * len(value) if args[-1] is Ellipsis else list(args)
            if len(wanted) == len(value) and all(_is(item, want) for item, want in zip(value, wanted)):
                return tuple(value)
    raise StreamMaskError(f"{origin}: {key} must be {_describe(hint)}, got {value!r}")


def _is(value: Any, hint: Any) -> bool:
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, hint) and not (hint is int and isinstance(value, bool))


def _describe(hint: Any) -> str:
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
    if hint in names:
        return names[hint]
    args = typing.get_args(hint)
    if args and args[-1] is Ellipsis:
        return f"a list of {_describe(args[0]).removeprefix('a ')}s"
    return f"a list of {len(args)} {_describe(args[0]).removeprefix('a ')}s"


def _kind_of(value: Any) -> str:
    return {str: "a string", list: "a list", dict: "a table", bool: "true/false"}.get(type(value), repr(value))


def _known(given: Mapping[str, Any], names: Sequence[str], origin: str, prefix: str) -> None:
    """Unknown keys: one line naming the first, a close match if there is one, and the valid keys."""
    for key in given:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise StreamMaskError(f"{origin}: unknown key '{prefix}{key}'{hint}; valid keys: {', '.join(names)}")
