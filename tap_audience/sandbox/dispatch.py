"""The ONE place every request goes through: fault hooks and faults, vendor routing, logs.

Keeping this a pure ``Request -> Response`` function means fault injection (``fault_layer``) and
redacted logging wrap a single call instead of every handler.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable

from . import api_angus, api_atom, api_keywarden, api_locus
from .fault_layer import FaultLayer
from .http_types import FaultHook, LoggedRequest, Request, Response, json_response
from .state import SandboxState

VendorHandler = Callable[[SandboxState, Request, str], Response]

# Longest-prefix-first is unnecessary: no prefix is a prefix of another.
PREFIXES: tuple[tuple[str, VendorHandler], ...] = (
    ("/angus-console", api_angus.handle_console),
    ("/angus-data", api_angus.handle_data),
    ("/eq-auth/prod", api_keywarden.handle),
    ("/eq-api", api_atom.handle),
    ("/locus", api_locus.handle),
)


def _log_line(req: Request, response: Response) -> str:
    """Method, path and status; never the query string or headers, where credentials travel."""
    line = f"{req.method} {req.path} {response.status}"
    if response.delay_seconds:
        line += f" (delayed {response.delay_seconds:g}s)"
    if response.drop_after is not None:
        line += f" (connection dropped after {response.drop_after} body bytes)"
    return line


def route(state: SandboxState, req: Request) -> Response:
    for prefix, handler in PREFIXES:
        if req.path == prefix or req.path.startswith(prefix + "/"):
            return handler(state, req, req.path[len(prefix) :])
    return json_response(404, {"message": f"No sandbox vendor at {req.path}"})


def _unchanged(text: str) -> str:
    return text


class Dispatcher:
    def __init__(
        self,
        state: SandboxState,
        redact: Callable[[str], str] = _unchanged,
        decoy_url: Callable[[], str] | None = None,
    ) -> None:
        self.state = state
        self.faults: list[FaultHook] = []  # consulted in order; first non-None response wins
        # Declarative faults, after the hooks; ``decoy_url`` is where redirect faults point.
        self.fault_layer = FaultLayer(state, decoy_url)
        self.errors: list[str] = []  # tracebacks of handler crashes (tests assert it is empty)
        self.redact = redact  # applied to everything that leaves as text (errors, log lines)
        self.request_sink: Callable[[str], None] | None = None  # one line per request, if set
        self._log: list[LoggedRequest] = []
        self._lock = threading.Lock()

    def __call__(self, req: Request) -> Response:
        response: Response | None = None
        try:
            for hook in list(self.faults):
                response = hook(req)
                if response is not None:
                    break
            if response is None:
                if self.fault_layer.active:
                    response = self.fault_layer.handle(req, lambda: route(self.state, req))
                else:  # the benchmarked path: no closure, no fault bookkeeping
                    response = route(self.state, req)
        except Exception:  # a sandbox bug must surface as a visible 500, not a hung socket
            self.record_error(traceback.format_exc())
            response = json_response(500, {"message": "sandbox internal error"})
        entry = LoggedRequest(req.method, req.path, req.query, response.status)
        with self._lock:
            self._log.append(entry)
        sink = self.request_sink
        if sink is not None:
            sink(self.redact(_log_line(req, response)))
        return response

    def record_error(self, text: str) -> None:
        # Tracebacks quote exception messages, which may quote tokens from the request.
        with self._lock:
            self.errors.append(self.redact(text))

    def logged(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def clear(self) -> None:
        with self._lock:
            self._log.clear()
