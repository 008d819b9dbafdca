"""Airbyte protocol messages, as the JSON each stdout line holds, and the writer of those lines.

Plain dicts serialised with msgspec: the protocol's own pydantic models validate every line
in the tests (tests/test_airbyte.py), not on the hot path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from typing_extensions import override

from tap_audience.core.output import LineBuffer
from tap_audience.core.redaction import REDACTOR, one_line

Message = dict[str, Any]
_ENCODER = msgspec.json.Encoder()


def now_ms() -> int:
    return int(time.time() * 1000)


def descriptor(stream: str) -> dict[str, str]:
    return {"name": stream}


def spec(connection_specification: Mapping[str, Any], documentation_url: str) -> Message:
    return {
        "type": "SPEC",
        "spec": {
            "documentationUrl": documentation_url,
            "connectionSpecification": dict(connection_specification),
        },
    }


def connection_status(succeeded: bool, message: str) -> Message:
    status = "SUCCEEDED" if succeeded else "FAILED"
    return {"type": "CONNECTION_STATUS", "connectionStatus": {"status": status, "message": message}}


def catalog(streams: Sequence[Mapping[str, Any]]) -> Message:
    return {"type": "CATALOG", "catalog": {"streams": list(streams)}}


def record(stream: str, data: Mapping[str, Any], emitted_at: int) -> Message:
    return {"type": "RECORD", "record": {"stream": stream, "data": data, "emitted_at": emitted_at}}


def stream_state(stream: str, state: Mapping[str, Any], record_count: int) -> Message:
    return {
        "type": "STATE",
        "state": {
            "type": "STREAM",
            "stream": {"stream_descriptor": descriptor(stream), "stream_state": dict(state)},
            "sourceStats": {"recordCount": float(record_count)},
        },
    }


def stream_status(stream: str, status: str) -> Message:
    """`status`: STARTED, RUNNING, COMPLETE or INCOMPLETE."""
    return {
        "type": "TRACE",
        "trace": {
            "type": "STREAM_STATUS",
            "emitted_at": float(now_ms()),
            "stream_status": {"stream_descriptor": descriptor(stream), "status": status},
        },
    }


def error_trace(message: str, failure_type: str, stream: str | None = None) -> Message:
    """`failure_type`: config_error, system_error or transient_error."""
    error: dict[str, Any] = {
        "message": one_line(REDACTOR.redact(message)),
        "failure_type": failure_type,
    }
    if stream is not None:
        error["stream_descriptor"] = descriptor(stream)
    return {
        "type": "TRACE",
        "trace": {"type": "ERROR", "emitted_at": float(now_ms()), "error": error},
    }


def log(level: str, message: str) -> Message:
    return {"type": "LOG", "log": {"level": level, "message": message}}


def connector_config(config: Mapping[str, Any]) -> Message:
    """The config to store from now on (a refreshed token), for the platform to persist."""
    return {
        "type": "CONTROL",
        "control": {
            "type": "CONNECTOR_CONFIG",
            "emitted_at": float(now_ms()),
            "connectorConfig": {"config": dict(config)},
        },
    }


class AirbyteWriter:
    """One message per stdout line, buffered; a STATE (and anything but a RECORD) flushes."""

    def __init__(self) -> None:
        self._lines = LineBuffer()

    def write(self, message: Message) -> None:
        self._lines.add(_ENCODER.encode(message) + b"\n", flush=message["type"] != "RECORD")

    def flush(self) -> None:
        self._lines.flush()


LEVELS = {
    logging.CRITICAL: "FATAL",
    logging.ERROR: "ERROR",
    logging.WARNING: "WARN",
    logging.INFO: "INFO",
    logging.DEBUG: "DEBUG",
}


class LogMessageHandler(logging.Handler):
    """Python logging as Airbyte LOG messages (redacted, one line each) on the same stdout."""

    def __init__(self, writer: AirbyteWriter) -> None:
        super().__init__()
        self._writer = writer

    @override
    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = one_line(REDACTOR.redact(self.format(record)))
            self._writer.write(log(LEVELS.get(record.levelno, "INFO"), text))
        except Exception:
            self.handleError(record)
