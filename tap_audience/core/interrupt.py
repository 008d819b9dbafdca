"""SIGTERM/SIGINT that never cut an output message (a Singer line) in half.

The handler only records the signal while a message is being written; the writer raises
`SyncInterrupted` right after its write completes. Anywhere else the handler raises at once,
which also breaks out of a long retry wait or a slow request. What is on stdout at that
point ends with whole lines, and the STATE written on the way out covers only windows whose
records were all written.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


class SyncInterrupted(BaseException):
    """Raised in the main thread when SIGTERM or SIGINT asks the run to stop."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class Interrupts:
    def __init__(self) -> None:
        self.pending: int | None = None
        self.writing = False

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._handle)
            signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.pending = signum
        if not self.writing:
            raise SyncInterrupted(signum)

    def checkpoint(self) -> None:
        """Raise if a signal arrived while it could not be acted on."""
        if self.pending is not None:
            raise SyncInterrupted(self.pending)


INTERRUPTS = Interrupts()
