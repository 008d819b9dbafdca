"""A Singer message writer that buffers records and flushes whole lines on STATE.

singer-sdk's writers flush stdout after every message. Here RECORD lines are serialised
with msgspec into one buffer (`core.output.LineBuffer`) that is written when a STATE message
arrives, when it grows past its size limit, and at the end: far fewer system calls, and a
STATE line never reaches stdout before the records it covers. Writes go straight to file
descriptor 1 under the interrupt guard, so a signal cannot leave half a line behind.
"""

from __future__ import annotations

import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter, serialize_jsonl
from singer_sdk.singerlib.encoding.base import SingerMessageType
from singer_sdk.singerlib.encoding.simple import Message, RecordMessage
from typing_extensions import override

from tap_audience.core.output import LineBuffer


class BufferedSingerWriter(MsgSpecWriter):
    def __init__(self) -> None:
        self._lines = LineBuffer()

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
        self._lines.add(
            self.format_message(message), flush=message.type != SingerMessageType.RECORD
        )

    def flush(self) -> None:
        self._lines.flush()
