"""Stopping a run the orderly way: SIGINT (Ctrl-C), SIGTERM (kill, systemd, Docker) and SIGHUP (a closed
terminal) become a request the frame loop checks, rather than an exception raised at an arbitrary point of
the main thread (inside an encoder's close() while a writer thread still encodes, which PyAV does not
survive). Once outputs are open, the loop ends at the next frame and every output is finalised; further
signals are ignored with a note, so a second Ctrl-C cannot break that shutdown.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator, Sequence

# What the command treats as "stop": Ctrl-C, kill/systemd/Docker, a closed terminal (SIGHUP is POSIX only).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
_NOTE = b"stream-mask: stopping, please wait (further interrupts are ignored)\n"


class StopRequest:
    """Set by a stop signal. Before `defer()` (nothing written yet: models loading, a download) the first signal
    raises KeyboardInterrupt at once, as Python's default Ctrl-C does; after it, signals are only recorded and
    the pipeline finishes its outputs."""

    def __init__(self) -> None:
        self.signal: int | None = None  # the first stop signal received
        self._deferred = False
        self._noted = False

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def defer(self) -> None:
        """From now on a signal only asks the loop to stop (outputs are about to open)."""
        self._deferred = True

    @property
    def exit_code(self) -> int:
        """The shell's convention for a run ended by a signal: 128 + its number (130 for Ctrl-C)."""
        return 128 + (self.signal or signal.SIGINT)

    def _handle(self, signum: int, _frame: object) -> None:
        # Runs on the main thread between two bytecodes: set plain attributes only (no locks, no buffered
        # I/O, which may be half-way through a write of the interrupted code).
        if self.signal is not None:
            if not self._noted:
                self._noted = True
                with contextlib.suppress(OSError):  # stderr may be gone with its terminal (SIGHUP)
                    os.write(2, _NOTE)
            return
        self.signal = signum
        if not self._deferred:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def handling(self, signals: Sequence[int] = STOP_SIGNALS) -> Iterator[StopRequest]:
        """Route `signals` to this request while the block runs, then restore the previous handlers. A signal
        ignored on purpose (`nohup` ignores SIGHUP, a background job SIGINT) stays ignored. Only the main thread
        can install handlers: elsewhere this does nothing (the caller keeps its own)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {}
        try:
            for number in signals:
                if signal.getsignal(number) is not signal.SIG_IGN:
                    previous[number] = signal.signal(number, self._handle)
            yield self
        finally:
            for number, handler in previous.items():
                signal.signal(number, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
