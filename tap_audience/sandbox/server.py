"""``Sandbox``: the public face of the emulator (lifecycle, clock, fixtures, oracle)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any

from . import oracle
from .data_angus import ANGUS_METRICS
from .data_locus import SAMPLE_COORDS
from .decoy import DECOY_HOST, DecoyServer
from .dispatch import Dispatcher
from .fault_layer import FiredFault
from .faults import Fault
from .http_types import FaultHook, LoggedRequest, Request, Response
from .redact import Redactor
from .state import ANGUS_USERNAME, SandboxState
from .tokens import EQ_TOKEN_TTL
from .transport import SandboxHTTPServer

EQ_ANALYST = "analyst@eq.example"


class Sandbox:
    """A local HTTP server emulating Angus.ai and EQ Works (keywarden, ATOM, LOCUS).

    ``now`` is the *data clock* (what data exists); token expiry always uses real time.
    ``decoy`` is a second server on another loopback host (``decoy_host``) that records every
    request reaching it: the target of ``Fault.redirect`` (see ``decoy``).
    """

    def __init__(
        self,
        seed: int = 0,
        now: datetime | None = None,
        port: int = 0,
        *,
        angus_page_size: int = 50,
        angus_token_ttl: int = 18000,
        host: str = "127.0.0.1",
        n_cameras: int = 3,
        decoy_host: str = DECOY_HOST,
    ) -> None:
        self._state = SandboxState(seed, now, angus_page_size, angus_token_ttl, n_cameras)
        state = self._state
        secrets = [c.access_token for c in state.cameras] + [state.angus_secret, state.eq_secret]
        self.redact = Redactor(secrets)  # masks credentials in any text the sandbox emits
        self._dispatcher = Dispatcher(state, self.redact, decoy_url=self._decoy_url)
        self.faults: list[FaultHook] = self._dispatcher.faults  # the same list dispatch reads
        # Where redirect faults send clients (another host, recording everything); started and
        # stopped with the sandbox. Its crashes land, redacted, in ``errors``.
        self.decoy = DecoyServer(decoy_host, on_error=self._dispatcher.record_error)
        self._host, self._port = host, port
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Sandbox:
        with self._lifecycle:
            if self._server is None:
                # The decoy starts only when a redirect fault needs it (`inject`): a host that
                # cannot bind 127.0.0.2 still gets a working sandbox.
                server = SandboxHTTPServer(
                    (self._host, self._port),
                    self._dispatcher,
                    self._state.clock,
                    on_error=self._dispatcher.record_error,
                )
                self._server = server
                self._thread = server.serve_in_background("tap-audience-sandbox")
        return self

    def stop(self) -> None:
        with self._lifecycle:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            server.stop_serving(thread)
        self.decoy.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def dispatch(self, request: Request) -> Response:
        """The single request path (HTTP or in-process)."""
        return self._dispatcher(request)

    # --- addresses ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("sandbox is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def angus_auth_url(self) -> str:
        return self.base_url + "/angus-console"

    @property
    def angus_api_url(self) -> str:
        return self.base_url + "/angus-data"

    @property
    def eq_auth_url(self) -> str:
        return self.base_url + "/eq-auth/prod"

    @property
    def eq_api_url(self) -> str:
        return self.base_url + "/eq-api"

    @property
    def locus_api_url(self) -> str:
        return self.base_url + "/locus"

    def _decoy_url(self) -> str:
        return self.decoy.start().base_url

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted since start (1 for a keep-alive ``requests.Session``)."""
        return 0 if self._server is None else self._server.accepted

    # --- clock and knobs ---------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        return self._state.clock.now()

    def set_now(self, value: datetime) -> None:
        self._state.clock.set(value)

    def advance(self, delta: timedelta) -> datetime:
        return self._state.clock.advance(delta)

    @property
    def seed(self) -> int:
        return self._state.seed

    @property
    def angus_page_size(self) -> int:
        return self._state.angus_page_size

    @angus_page_size.setter
    def angus_page_size(self, value: int) -> None:
        if value < 1:
            raise ValueError("angus_page_size must be >= 1")
        self._state.angus_page_size = value

    @property
    def angus_token_ttl(self) -> int:
        return self._state.angus_token_ttl

    @angus_token_ttl.setter
    def angus_token_ttl(self, value: int) -> None:
        self._state.angus_token_ttl = value

    @property
    def angus_next_page_relative(self) -> bool:
        return self._state.angus_next_page_relative

    @angus_next_page_relative.setter
    def angus_next_page_relative(self, value: bool) -> None:
        self._state.angus_next_page_relative = value

    # --- request log -------------------------------------------------------------------------
    @property
    def requests(self) -> list[LoggedRequest]:
        """A snapshot copy of every request served so far, in arrival order."""
        return self._dispatcher.logged()

    def clear_requests(self) -> None:
        self._dispatcher.clear()

    @property
    def errors(self) -> list[str]:
        """Tracebacks of handler crashes (each also answered with a 500), credentials masked."""
        return list(self._dispatcher.errors)

    def log_requests_to(self, sink: Callable[[str], None] | None) -> None:
        """Send ``"GET /path 200"`` per request to ``sink`` (masked, no query string); None: off."""
        self._dispatcher.request_sink = sink

    def announce_passcodes_to(self, sink: Callable[[str], None] | None) -> None:
        """Send ``"keywarden: mailed passcode 1A2B3C to analyst@eq.example (product atom)"`` to
        ``sink`` each time keywarden's ``/login`` "mails" a passcode (a re-send too), so a person
        can type it into ``tap-audience eq-login``; None: off (the default).

        Off unless asked for: in the tap (``sandbox: true``) stdout carries Singer messages. The
        passcodes are the sandbox's own fake ones and are shown; the line is still redacted, so
        no token can ride along.
        """
        if sink is None:
            self._state.otp_listener = None
            return

        def announce(email: str, product: str, passcode: str) -> None:
            sink(
                self.redact(f"keywarden: mailed passcode {passcode} to {email} (product {product})")
            )

        self._state.otp_listener = announce

    # --- faults (see faults.py for the kinds) ------------------------------------------------
    def inject(self, fault: Fault) -> Fault:
        """Activate ``fault`` after those already injected; it counts requests from now on."""
        if fault.kind == "redirect" and fault.redirect_to == "decoy":
            self.decoy.start()
        self._dispatcher.fault_layer.add(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault and forget ``fault_log`` (hooks in ``faults`` stay)."""
        self._dispatcher.fault_layer.clear()

    @property
    def active_faults(self) -> list[Fault]:
        return self._dispatcher.fault_layer.faults()

    @property
    def fault_log(self) -> list[FiredFault]:
        """``(name, method, path)`` for every answer a fault changed, in order."""
        return self._dispatcher.fault_layer.log()

    # --- fixtures ----------------------------------------------------------------------------
    @property
    def cameras(self) -> list[tuple[str, str]]:
        return [(c.client_id, c.access_token) for c in self._state.cameras]

    @property
    def campaigns(self) -> list[dict[str, Any]]:
        now = self.now
        return [c.to_api(now) for c in self._state.campaigns]

    def mint_eq_token(self, email: str, product: str, ttl_seconds: int = EQ_TOKEN_TTL) -> str:
        """A keywarden-signed token (negative ttl: already expired)."""
        return self._state.mint_eq_token(email, product, ttl_seconds)

    def mint_angus_token(self, client_id: str, ttl_seconds: int | None = None) -> str:
        return self._state.mint_angus_token(client_id, ttl_seconds)

    def last_otp(self, email: str) -> str | None:
        return self._state.last_otp(email)

    def credentials(self) -> dict[str, Any]:
        """A ready-to-use tap config pointing at this sandbox (fresh EQ tokens each call)."""
        return {
            "angus_username": ANGUS_USERNAME,
            "angus_streams": [
                {"client_id": cid, "access_token": token} for cid, token in self.cameras
            ],
            "angus_auth_url": self.angus_auth_url,
            "angus_api_url": self.angus_api_url,
            "eq_user": EQ_ANALYST,
            "eq_jwt": self.mint_eq_token(EQ_ANALYST, "atom"),
            "locus_jwt": self.mint_eq_token(EQ_ANALYST, "locus"),
            "eq_campaign_ids": [c.code for c in self._state.campaigns],
            "locus_coords": list(SAMPLE_COORDS),
            "eq_auth_url": self.eq_auth_url,
            "eq_api_url": self.eq_api_url,
            "locus_api_url": self.locus_api_url,
        }

    # --- oracle ------------------------------------------------------------------------------
    def expected_angus(
        self,
        client_id: str,
        start: datetime,
        end: datetime,
        time_bucket: str = "by_hour",
        metrics: Sequence[str] = ANGUS_METRICS,
    ) -> list[dict[str, Any]]:
        return oracle.expected_angus(
            self._state, client_id, start, end, time_bucket=time_bucket, metrics=metrics
        )

    def expected_insights(
        self, dimension: str, campaign_id: int, start: date, end: date
    ) -> list[dict[str, Any]]:
        return oracle.expected_insights(self._state, dimension, campaign_id, start, end)

    def expected_hh_segments(self, coords: str) -> list[dict[str, Any]]:
        return oracle.expected_hh_segments(self._state, coords)

    def expected_campaigns(self) -> list[dict[str, Any]]:
        return oracle.expected_campaigns(self._state)
