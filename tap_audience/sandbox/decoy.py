"""``DecoyServer``: a second, unrelated host that answers everything and remembers it all.

A ``redirect`` fault (``faults``) sends clients here; a test then reads ``decoy.requests`` to
prove that no credential left for a host other than the configured one. It binds 127.0.0.2 by
default: Linux routes all of 127.0.0.0/8 to loopback, and a different *host* (not just another
port) is what makes ``requests`` treat the redirect as cross-origin, as a real attacker's would.

The decoy records raw evidence (method, request target, every header, body) and does not
redact it: tests must see exactly what leaked. It prints nothing; crashes go to ``on_error``
(the sandbox's redacting error list), never to stderr.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from typing_extensions import override

from .transport import TrackingHTTPServer

DECOY_HOST = "127.0.0.2"
_BODY = json.dumps({"decoy": True}).encode()
_MAX_LINE = 65537  # as http.server: a chunk-size line longer than this is not HTTP


class Headers(Mapping[str, str]):
    """Header name -> value, looked up case-insensitively; names keep the case they came in.

    A repeated header is joined with ", " (RFC 9110 5.3), so nothing sent is lost.
    """

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        merged: dict[str, tuple[str, str]] = {}
        for name, value in items:
            key = name.lower()
            if key in merged:
                merged[key] = (merged[key][0], f"{merged[key][1]}, {value}")
            else:
                merged[key] = (name, value)
        self._by_key = merged

    @override
    def __getitem__(self, name: str) -> str:
        return self._by_key[name.lower()][1]

    @override
    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_key

    @override
    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._by_key.values())

    @override
    def __len__(self) -> int:
        return len(self._by_key)

    @override
    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass(frozen=True)
class DecoyRequest:
    method: str
    path: str  # the request target as sent: path *and* query string, still percent-encoded
    headers: Headers
    body: bytes

    @property
    def url_path(self) -> str:
        """The path alone, decoded (as ``Request.path`` in the sandbox proper)."""
        return unquote(urlsplit(self.path).path)

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query, keep_blank_values=True)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class DecoyServer:
    """Start with ``start()`` (the ``Sandbox`` does it), read ``requests``, ``clear()`` between
    checks. Restartable; each start picks a fresh port unless ``port`` was given."""

    def __init__(
        self,
        host: str = DECOY_HOST,
        port: int = 0,
        *,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self._host, self._port, self._on_error = host, port, on_error
        self._server: _DecoyHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()
        self._lock = threading.Lock()  # guards _requests (one handler thread per connection)
        self._requests: list[DecoyRequest] = []

    def start(self) -> DecoyServer:
        with self._lifecycle:
            if self._server is None:
                server = _DecoyHTTPServer((self._host, self._port), self._record, self._on_error)
                self._server = server
                self._thread = server.serve_in_background("tap-audience-sandbox-decoy")
        return self

    def stop(self) -> None:
        with self._lifecycle:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            server.stop_serving(thread)

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("decoy server is not started (start the Sandbox first)")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def requests(self) -> list[DecoyRequest]:
        """A snapshot copy of every request that reached the decoy, in arrival order."""
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, request: DecoyRequest) -> None:
        with self._lock:
            self._requests.append(request)


class _DecoyHTTPServer(TrackingHTTPServer):
    def __init__(
        self,
        address: tuple[str, int],
        record: Callable[[DecoyRequest], None],
        on_error: Callable[[str], None] | None,
    ) -> None:
        super().__init__(address, _Handler, on_error)
        self.record = record


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the sandbox: a client may reuse the socket
    server_version = "tap-audience-decoy"
    server: _DecoyHTTPServer

    @override
    def version_string(self) -> str:
        return self.server_version

    @override
    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the default stderr line quotes the query string, where tokens travel."""

    def __getattr__(self, name: str) -> Callable[[], None]:
        # http.server looks up ``do_<METHOD>``; answering every name records any method at all
        # (GET, POST, OPTIONS, PROPFIND...), since a leak may use any of them.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        request = DecoyRequest(
            method=self.command,
            path=self.path,
            headers=Headers(self.headers.items()),
            body=self._read_body(),
        )
        # Recorded before answering, so a client that got the answer can assert on the record.
        self.server.record(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(_BODY)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(_BODY)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            # The body's end is unknown: keep what is recorded honest (empty) and do not read
            # the rest of the stream as a next request.
            self.close_connection = True
            return b""
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size_line = self.rfile.readline(_MAX_LINE)
            try:
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            except ValueError:
                # A client's malformed framing is not a decoy bug: keep what arrived, hang up.
                self.close_connection = True
                return b"".join(chunks)
            if size == 0:
                while self.rfile.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailers: nothing there for a decoy to keep apart from the body
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(_MAX_LINE)  # the CRLF closing the chunk
