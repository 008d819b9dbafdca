"""Socket layer: a threaded HTTP/1.1 keep-alive server that only translates to/from ``Request``.

Tuned for the benchmark (~200k Angus records over one ``requests.Session``): keep-alive with
Content-Length, header and body flushed in one buffered write with TCP_NODELAY (separate small
writes + Nagle + delayed ACK would add ~40 ms per response), and no per-request logging.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from typing_extensions import override

from .clock import DataClock
from .http_types import Request, Response, json_response

Dispatch = Callable[[Request], Response]


class TrackingHTTPServer(ThreadingHTTPServer):
    """A threaded server that can really stop (it cuts its keep-alive sockets) and that never
    prints tracebacks: they go to ``on_error``, which the sandbox points at its redactor."""

    daemon_threads = True
    # Idle keep-alive connections would make server_close() wait forever; stop() closes them.
    block_on_close = False
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(address, handler)
        self.on_error = on_error
        self._connections: set[socket.socket] = set()
        self.accepted = 0  # connections ever accepted: lets tests prove keep-alive reuse
        self._connections_lock = threading.Lock()

    @override
    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
            self.accepted += 1
        super().process_request(request, client_address)

    @override
    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    @override
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Replace socketserver's traceback on stderr (unredacted, and noise for the client's
        own hang-ups, e.g. a timeout before a slow answer) with the sandbox's error list."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return  # the socket failed (a client hang-up, a dropped connection): not a bug
        if self.on_error is not None:
            self.on_error(traceback.format_exc())

    def close_connections(self) -> None:
        """Cut live keep-alive sockets so a stopped sandbox really stops answering."""
        with self._connections_lock:
            live = list(self._connections)
        for conn in live:
            with contextlib.suppress(OSError):  # already closed by the peer
                conn.shutdown(socket.SHUT_RDWR)

    def serve_in_background(self, name: str) -> threading.Thread:
        """Serve on a daemon thread; `stop_serving` ends it."""
        thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop_serving() returns quickly
            name=name,
            daemon=True,
        )
        thread.start()
        return thread

    def stop_serving(self, thread: threading.Thread | None) -> None:
        """Stop answering at once: end the loop, cut keep-alive sockets, close, join."""
        self.shutdown()
        self.close_connections()
        self.server_close()
        if thread is not None:
            thread.join()


class SandboxHTTPServer(TrackingHTTPServer):
    def __init__(
        self,
        address: tuple[str, int],
        dispatch: Dispatch,
        clock: DataClock,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(address, _Handler, on_error)
        self.dispatch = dispatch
        self.clock = clock


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tap-audience-sandbox"
    disable_nagle_algorithm = True
    wbufsize = 1 << 16  # buffered: handle_one_request flushes headers + body together
    server: SandboxHTTPServer

    @override
    def version_string(self) -> str:
        return self.server_version

    @override
    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default one-line-per-request stderr log."""

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._write(json_response(400, {"message": "Bad Content-Length"}))
            return
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = Request(
            method=self.command,
            path=unquote(split.path),
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            now=self.server.clock.now(),
            base_url=f"http://{host}",
            target=self.path,
        )
        self._write(self.server.dispatch(request))

    def _write(self, response: Response) -> None:
        if response.delay_seconds:
            time.sleep(response.delay_seconds)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.drop_after is None:
            self.wfile.write(response.body)
            return
        # A connection lost mid-body: the full Content-Length was promised, part is sent, then
        # the socket closes, so the client sees an incomplete read rather than a short body.
        self.wfile.write(response.body[: response.drop_after])
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_PATCH = _serve
    do_DELETE = _serve
