"""Whole lines to stdout, buffered, never cut in half by a signal: what every face writes with.

Lines are collected in one buffer that is written when the face asks (a state message: it
must reach stdout after the records it covers), when it grows past `FLUSH_BYTES`, and at the
end: far fewer system calls than a flush per message. Writes go straight to file descriptor 1
under the interrupt guard (`core.interrupt`), so a signal cannot leave half a line behind.
"""

from __future__ import annotations

import os
import sys
import threading
import typing as t

from tap_audience.core.interrupt import INTERRUPTS

FLUSH_BYTES = 1 << 20


class LineBuffer:
    def __init__(self) -> None:
        self._buffer = bytearray()
        # Log lines may come from fetch workers while the main thread writes records.
        self._lock = threading.RLock()

    def add(self, line: bytes | bytearray, *, flush: bool = False) -> None:
        """Append one line (ending in a newline); write everything out if `flush`."""
        with self._lock:
            self._buffer += line
            if flush or len(self._buffer) >= FLUSH_BYTES:
                self.flush()

    def flush(self) -> None:
        main = threading.current_thread() is threading.main_thread()
        with self._lock:
            if not self._buffer:
                return
            # The guard goes up before the buffer is taken: a signal in between would
            # otherwise lose lines that a later state message claims were written. Only the
            # main thread (where signal handlers run) raises it: a worker writing log lines
            # must not hold a signal back; the main thread's own flush on the way out waits
            # for the worker's write on the lock, so lines stay whole all the same.
            outer = INTERRUPTS.writing
            if main:
                INTERRUPTS.writing = True
            try:
                data, self._buffer = bytes(self._buffer), bytearray()
                sys.stdout.flush()  # anything printed through sys.stdout goes first
                view = memoryview(data)
                fd = _stdout_fd()
                while view:
                    written = os.write(fd, view) if fd is not None else _write_text(view)
                    view = view[written:]
            finally:
                if main:
                    INTERRUPTS.writing = outer
        if main and not outer:
            INTERRUPTS.checkpoint()  # a caller that set the guard itself acts afterwards


def _stdout_fd() -> int | None:
    try:
        return sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return None  # captured stdout (tests): no file descriptor


def _write_text(view: memoryview) -> int:
    stream: t.Any = sys.stdout
    stream.write(bytes(view).decode())
    return len(view)
