"""A Singer message writer that buffers records and flushes whole lines on STATE.

singer-sdk's writers flush stdout after every message. Here RECORD lines are serialised
with msgspec into one buffer that is written when a STATE message arrives, when it grows past
`FLUSH_BYTES`, and at the end: far fewer system calls, and a STATE line never reaches stdout
before the records it covers. Writes go straight to file descriptor 1 under the interrupt
guard, so a signal cannot leave half a line behind.
"""

from __future__ import annotations

import os
import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter, serialize_jsonl
from singer_sdk.singerlib.encoding.base import SingerMessageType
from singer_sdk.singerlib.encoding.simple import Message, RecordMessage
from typing_extensions import override

from tap_audience.core.interrupt import INTERRUPTS

FLUSH_BYTES = 1 << 20


class BufferedSingerWriter(MsgSpecWriter):
    def __init__(self) -> None:
        self._buffer = bytearray()

    @override
    def serialize_message(self, message: Message) -> bytearray:
        if isinstance(message, RecordMessage):
            # `Message.to_dict` deep-copies the record through dataclasses.asdict; the record
            # is already plain JSON data, so build the envelope directly.
            envelope: dict[str, t.Any] = {
                "type": "RECORD",
                "stream": message.stream,
                "record": message.record,
            }
            if message.version is not None:
                envelope["version"] = message.version
            if message.time_extracted is not None:
                envelope["time_extracted"] = message.time_extracted
            return serialize_jsonl(envelope)
        return super().serialize_message(message)

    @override
    def write_message(self, message: Message) -> None:
        self._buffer += self.format_message(message)
        if message.type != SingerMessageType.RECORD or len(self._buffer) >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        # The guard goes up before the buffer is taken: a signal in between would otherwise
        # lose lines that a later STATE claims were written.
        outer, INTERRUPTS.writing = INTERRUPTS.writing, True
        try:
            data, self._buffer = bytes(self._buffer), bytearray()
            sys.stdout.flush()  # anything printed through sys.stdout goes first
            view = memoryview(data)
            fd = _stdout_fd()
            while view:
                written = os.write(fd, view) if fd is not None else _write_text(view)
                view = view[written:]
        finally:
            INTERRUPTS.writing = outer
        if not outer:  # a caller that set the guard itself acts on the signal afterwards
            INTERRUPTS.checkpoint()


def _stdout_fd() -> int | None:
    try:
        return sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return None  # captured stdout (tests): no file descriptor


def _write_text(view: memoryview) -> int:
    stream: t.Any = sys.stdout
    stream.write(bytes(view).decode())
    return len(view)
