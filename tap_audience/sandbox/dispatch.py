"""The ONE place every request goes through: fault hooks, vendor routing, request log.

Keeping this a pure ``Request -> Response`` function means the later fault-injection and
redacted-logging work can wrap a single call instead of every handler.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable

from . import api_angus, api_atom, api_keywarden, api_locus
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


def route(state: SandboxState, req: Request) -> Response:
    for prefix, handler in PREFIXES:
        if req.path == prefix or req.path.startswith(prefix + "/"):
            return handler(state, req, req.path[len(prefix) :])
    return json_response(404, {"message": f"No sandbox vendor at {req.path}"})


class Dispatcher:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.faults: list[FaultHook] = []  # consulted in order; first non-None response wins
        self.errors: list[str] = []  # tracebacks of handler crashes (tests assert it is empty)
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
                response = route(self.state, req)
        except Exception:  # a sandbox bug must surface as a visible 500, not a hung socket
            with self._lock:
                self.errors.append(traceback.format_exc())
            response = json_response(500, {"message": "sandbox internal error"})
        entry = LoggedRequest(req.method, req.path, req.query, response.status)
        with self._lock:
            self._log.append(entry)
        return response

    def logged(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def clear(self) -> None:
        with self._lock:
            self._log.clear()
