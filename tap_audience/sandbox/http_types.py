"""Transport-neutral request/response values passed through the single dispatch function.

Handlers never touch sockets: they map a ``Request`` to a ``Response``. That keeps them testable
and lets the fault layer (``fault_layer``) wrap or replace any response in one place.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    now: datetime  # data-clock snapshot taken once per request
    base_url: str = ""  # "http://host:port" as the client addressed us (for absolute links)
    # Path and query exactly as sent (a redirect fault's Location repeats them verbatim);
    # empty for in-process requests, which are rebuilt from ``path`` and ``query`` instead.
    target: str = ""

    def arg(self, name: str) -> str | None:
        """First value of a query parameter, like Express/Django's single-value accessors."""
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Response(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes
    # Socket-level faults, acted on by the transport (in-process callers just see the values):
    delay_seconds: float = 0.0  # sleep before answering (a slow upstream)
    drop_after: int | None = None  # send this many body bytes, then close the connection


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    status: int = 0


# A fault hook sees every request first; returning a Response short-circuits the vendor logic.
FaultHook = Callable[[Request], "Response | None"]


def json_response(status: int, payload: Any) -> Response:
    """Serialise once, compactly: this is the hot path of the 200k-record benchmark."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, dict(JSON_HEADERS), body)


def text_response(status: int, text: str, content_type: str = "text/html") -> Response:
    return Response(status, {"Content-Type": f"{content_type}; charset=utf-8"}, text.encode())
