"""A run's outputs, built from its RunConfig: one Output per `-o` (a `{part}` path: one per part), their sinks
opened together, the preview window, and the LiveSettings its hotkeys change for all of them."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING

from .config import PART_FIELD, OutputSpec, RunConfig
from .errors import StreamMaskError
from .frames import SourceInfo
from .outputs import LiveSettings, Output, make_output
from .parts import Part, available_parts, resolve_parts
from .sinks import names_a_file
from .subjects import SubjectTracker

if TYPE_CHECKING:
    from .preview import PreviewWindow


def open_outputs(config: RunConfig, source: SourceInfo, labels: list[str], model_name: str,
                 subjects: SubjectTracker | None = None) -> tuple[list[Output], PreviewWindow | None]:
    """Every output's sink opened (nothing left behind if one fails), and the preview window if asked; `subjects`
    is the masker's choice of people, which the window's clicks change."""
    live = LiveSettings(config.confidence, subjects=subjects)
    outputs = make_outputs(config, labels, model_name, live)
    opened: list[Output] = []
    try:
        for output in outputs:
            output.open(source, config.overwrite, config.h264())
            opened.append(output)
        preview = _open_preview(config, labels, model_name, outputs, live) if config.preview else None
    except BaseException:
        discard(opened)
        raise
    return outputs, preview


def make_outputs(config: RunConfig, labels: list[str], model_name: str, live: LiveSettings) -> list[Output]:
    """One Output per spec; a `{part}` path becomes one output per selected part."""
    outputs = [make_output(spec, parts, live, config.finish, labels)
               for spec, parts in output_parts(config, labels, model_name)]
    paths = [os.path.realpath(output.spec.path) if names_a_file(output.spec.path) else output.spec.path
             for output in outputs]
    if len(set(paths)) != len(paths):
        raise StreamMaskError("two outputs have the same path")
    return outputs


def output_parts(config: RunConfig, labels: list[str], model_name: str) -> list[tuple[OutputSpec, list[Part]]]:
    """Each output the run writes with its parts: one per -o, and a `{part}` path one per selected part."""
    chosen = []
    for spec in config.outputs:
        parts = resolve_parts(spec.parts, labels, model_name)
        if PART_FIELD not in spec.path:
            chosen.append((spec, parts))
            continue
        for part in parts:
            chosen.append((replace(spec, path=spec.path.replace(PART_FIELD, part.name), parts=(part.name,)), [part]))
    return chosen


def discard(outputs: list[Output]) -> None:
    """Leave nothing of these outputs behind (their sinks' partial files go)."""
    for output in outputs:
        output.close()
        if output.sink is not None:
            output.sink.abort()


def _open_preview(config: RunConfig, labels: list[str], model_name: str, outputs: list[Output],
                  live: LiveSettings) -> PreviewWindow:
    """The window starts with the first output's parts and effect (the model's defaults without one)."""
    from .preview import PreviewWindow  # opens a GUI toolkit: only when asked

    first = next((output for output in outputs if output.selectable), None)
    live.parts = first.parts if first else resolve_parts(config.preview_parts, labels, model_name)
    effect = next((output.spec.effect for output in outputs if output.spec.effect), config.preview_effect)
    return PreviewWindow(list(available_parts(labels).values()), live, effect, config.finish)
