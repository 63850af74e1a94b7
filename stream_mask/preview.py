"""The live preview window (OpenCV highgui) and its hotkeys.

It runs on the model's thread, right after each frame is segmented (GUI toolkits want one thread),
and shows one of four views of that frame. Hotkeys change the run's LiveSettings, the parts and the
threshold that the window *and every output* read, so what you see is what the recording or the
virtual camera gets.

    q / Esc quit     space pause     1-6 toggle parts     [ / ] confidence -/+ 0.05
    m next view      f stats         h help               click a person: only them    a all people
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from . import effects
from .config import Finish
from .errors import StreamMaskError
from .frames import Frame
from .outputs import FrameMattes, LiveSettings, open_effect
from .parts import Part

VIEWS = ("composite", "mask", "overlay", "cutout")
CONFIDENCE_STEP = 0.05
HELP = ("q/Esc quit", "space pause", "1-6 toggle parts", "[ ] confidence", "m next view", "f stats", "h help",
        "click a person: only them", "a all people")
_ESC = 27


def display_available() -> bool:
    """Whether a window can open: always on Windows and macOS, with an X or Wayland display on Linux."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@dataclass
class LiveStatus:
    """Figures for the stats overlay, kept by the pipeline."""

    dropped: int = 0
    inference_ms: float = 0.0
    stopping: Callable[[], bool] = lambda: False  # a stop signal arrived: a paused window gives way


class PreviewWindow:
    """An OpenCV window showing the composite, mask, overlay or cutout view of each frame."""

    def __init__(self, choices: Sequence[Part], live: LiveSettings, effect: str | None = None,
                 finish: Finish = Finish(), title: str = "stream-mask") -> None:
        if not display_available():
            raise StreamMaskError("no display for the preview window: give -o OUTPUT to run without one")
        self.title = title
        self.choices = list(choices)[:6]  # keys 1-6
        self.live = live  # the parts shown and the confidence, shared with the outputs
        self.view = VIEWS[0]
        self.effect = open_effect(effect or "blur")
        self.finish = finish  # the outputs' edge clean-up, so that the window shows what they get
        self.show_stats = False
        self.show_help = False
        self._shown = 0
        self.latencies: list[float] = []  # seconds from capture to shown, per frame
        self._last_time = time.monotonic()
        self._fps = 0.0
        self._size: tuple[int, int] | None = None  # of the frame shown: a click's place is a share of it
        cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        cv2.setMouseCallback(title, self._on_mouse)

    def _on_mouse(self, event: int, x: int, y: int, flags: int, param: object) -> None:
        """A left click on a person makes them the one subject of the window and every output (from the next frame).

        OpenCV calls this from inside waitKey, on the model's thread; x and y are in the picture's pixels."""
        if event == cv2.EVENT_LBUTTONDOWN and self.live.subjects is not None and self._size is not None:
            height, width = self._size
            self.live.subjects.pick((x + 0.5) / width, (y + 0.5) / height)

    @property
    def parts(self) -> list[Part]:
        return self.live.parts

    @property
    def confidence(self) -> float:
        return self.live.confidence

    def show(self, frame: Frame, mattes: FrameMattes, status: LiveStatus) -> bool:
        """Draw this frame and handle the keys pressed since the last one; False when the user quits."""
        if self._shown and not self._window_open():
            return False  # the window was closed
        now = time.monotonic()
        self._fps = 0.9 * self._fps + 0.1 / max(now - self._last_time, 1e-6) if self._shown else 0.0
        self._last_time = now
        picture = self.render(mattes)
        self._size = picture.shape[:2]
        self._annotate(picture, frame, status)
        cv2.imshow(self.title, picture)
        if not self._shown:  # without a window manager Qt opens it tiny: start at the frame's size, within 1280x720
            scale = min(1.0, 1280 / picture.shape[1], 720 / picture.shape[0])
            cv2.resizeWindow(self.title, round(picture.shape[1] * scale), round(picture.shape[0] * scale))
        self._shown += 1
        key = cv2.waitKey(1)  # the frame is painted here
        if frame.captured:
            self.latencies.append(time.monotonic() - frame.captured)
        paused = False
        while True:
            if key in (ord("q"), _ESC):
                return False
            if key == ord(" "):
                paused = not paused
            elif key != -1:
                self.handle_key(key)
                if paused:  # show the change on the paused frame
                    picture = self.render(mattes)
                    self._annotate(picture, frame, status)
                    cv2.imshow(self.title, picture)
            if not paused:
                return True
            key = cv2.waitKey(50)
            if not self._window_open() or status.stopping():
                return False

    def _window_open(self) -> bool:
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:  # Qt, once its last window is closed: "NULL guiReceiver"
            return False

    def handle_key(self, key: int) -> None:
        """Apply one hotkey: the part and confidence keys change the live settings (the outputs read them too)."""
        char = chr(key & 0xFF)
        if char in "123456" and int(char) <= len(self.choices):
            self.live.toggle(self.choices[int(char) - 1])
        elif char in "[]":
            self.live.step_confidence(CONFIDENCE_STEP if char == "]" else -CONFIDENCE_STEP)
        elif char == "a" and self.live.subjects is not None:
            self.live.subjects.keep_all()
        elif char == "m":
            self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]
        elif char == "f":
            self.show_stats = not self.show_stats
        elif char == "h":
            self.show_help = not self.show_help

    def render(self, mattes: FrameMattes) -> np.ndarray:
        """The current view as a BGR picture for imshow (mattes shared with the outputs that match)."""
        rgb = mattes.rgb
        mask = mattes.matte(self.parts, self.confidence, False, self.finish)
        if self.view == "mask":
            return cv2.cvtColor(mask, cv2.COLOR_GRAY2BGR)
        if self.view == "overlay":
            per_part = [mattes.matte([part], self.confidence, False, self.finish) / 255.0 for part in self.parts]
            return cv2.cvtColor(effects.overlay(rgb, per_part), cv2.COLOR_RGB2BGR)
        alpha = mask.astype(np.float32) / 255.0
        if self.view == "cutout":
            return cv2.cvtColor(effects.composite(rgb, alpha, _checkerboard(rgb.shape)), cv2.COLOR_RGB2BGR)
        return cv2.cvtColor(self.effect.apply(rgb, alpha), cv2.COLOR_RGB2BGR)

    def _annotate(self, picture: np.ndarray, frame: Frame, status: LiveStatus) -> None:
        lines = [f"{self.view} | {', '.join(p.name for p in self.parts) or 'no parts'} | > {self.confidence:.2f}"
                 f"{self._subjects_shown()}"]
        if self.show_stats:
            latency = (time.monotonic() - frame.captured) * 1000 if frame.captured else 0.0
            lines.append(f"{self._fps:.1f} fps  latency {latency:.0f} ms  inference {status.inference_ms:.1f} ms  "
                         f"dropped {status.dropped}")
        if self.show_help:
            keys = ", ".join(f"{i + 1} {p.name}" for i, p in enumerate(self.choices))
            lines += [*HELP, f"parts: {keys}"]
        for row, text in enumerate(lines):
            origin = (10, 24 + 22 * row)
            cv2.putText(picture, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(picture, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)

    def _subjects_shown(self) -> str:
        subjects = self.live.subjects
        if subjects is None:
            return ""
        return f" | {f'{subjects.count} subject(s)' if subjects.count else 'all people'}"

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)  # let the GUI process the close
        except cv2.error:  # the user closed the window already (Qt: "NULL guiReceiver")
            pass


@functools.lru_cache(maxsize=2)
def _checkerboard(shape: tuple[int, ...], square: int = 16) -> np.ndarray:
    """The grey checks editors draw behind transparency."""
    rows, cols = np.indices(shape[:2]) // square
    light = ((rows + cols) % 2).astype(np.uint8)
    return np.repeat((102 + 51 * light)[..., None], 3, axis=2)
