"""SIGTERM/SIGINT that never cut an output message (a Singer line) in half.

The handler only records the signal while a message is being written; the writer raises
`SyncInterrupted` right after its write completes. Anywhere else the handler raises at once,
which also breaks out of a long retry wait or a slow request. What is on stdout at that
point ends with whole lines, and the STATE written on the way out covers only windows whose
records were all written. `Interrupts.held` holds a signal back the same way around a write
and the bookkeeping that must go with it (the run report's record count), so a signal lands
before both or after both.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType


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

    def held(self) -> Held:
        """`with INTERRUPTS.held():` a signal arriving in the block is acted on when it ends
        (unless the block raised: its own error goes on). Blocks nest; only the outermost
        acts. In a thread other than the main one it does nothing: signal handlers run in
        the main thread, and a worker must not hold its signals back."""
        return Held(self)


class Held:
    """`Interrupts.held`'s context manager: a class, not a generator function, because it is
    entered once per record written."""

    __slots__ = ("_interrupts", "_outer")

    def __init__(self, interrupts: Interrupts) -> None:
        self._interrupts = interrupts
        self._outer: bool | None = None  # None: not the main thread, nothing held

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._outer = self._interrupts.writing
            self._interrupts.writing = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._outer is None:
            return
        self._interrupts.writing = self._outer
        if exc_type is None and not self._outer:
            self._interrupts.checkpoint()


INTERRUPTS = Interrupts()
