"""``FaultLayer``: applies the injected ``Fault``s to one request, inside the dispatch function.

Three phases, each fault in injection order:

1. *replace* before the vendor handler runs (status, rate_limited, html_error_page, redirect,
   and expire_tokens once armed): the gateway or auth layer answers, the vendor logic never
   runs;
2. *mutate* the handler's answer (deny_coordinate on a 200, then the JSON mutations, then
   truncated_body), so untouched data still agrees with the oracle;
3. *transport* (slow, drop_connection): carried on the ``Response`` for the socket layer.

Thread safety: one lock guards the trigger counters, random draws, limits and the fired log, so
the n-th matching request (in arrival order) always gets the same decision for a given seed.
Handlers and JSON work run outside the lock.
"""

from __future__ import annotations

import copy
import json
import random
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

from . import fault_mutations as fm
from . import tokens
from .data_locus import parse_coords
from .faults import REDIRECT_DECOY, REDIRECT_SELF, Fault
from .http_types import Request, Response, json_response
from .state import SandboxState

_REPLACING = frozenset(("status", "rate_limited", "html_error_page", "redirect"))
_JSON_MUTATIONS = frozenset(("wrong_types", "extra_fields", "missing_metrics"))
_TRANSPORT = frozenset(("slow", "drop_connection"))
_LOCUS_DENY = "User is not authorized to access this resource with an explicit deny"
# Per vendor: (header carrying the token, scheme prefix to strip, claim holding the issue time).
_TOKEN_SOURCES = {
    "angus": ("authorization", "bearer ", "orig_iat"),
    "eq": ("eq-api-jwt", "", "iat"),
}


class FiredFault(NamedTuple):
    """One fault changing one answer: ``(name, method, path)``, path without the query."""

    name: str
    method: str
    path: str


class _Armed:
    """An injected fault plus its run-time state (the ``Fault`` itself stays immutable)."""

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.rng = random.Random(fault.seed)
        self.schedule = frozenset(fault.schedule or ())
        self.point = parse_coords(fault.coordinate) if fault.coordinate else None
        self.seen = 0  # matching requests so far
        self.fired = 0  # times it fired (what ``limit`` caps)
        self.cutoff = 0  # expire_tokens: tokens issued before this epoch second are expired

    def draw(self) -> bool:
        """Whether the next matching request triggers the fault (caller holds the lock)."""
        self.seen += 1
        f = self.fault
        if f.rate is not None:
            # Drawn on every matching request, fired or not, so the pattern depends only on
            # the seed and the request order.
            return self.rng.random() < f.rate
        if f.schedule is not None:
            return self.seen in self.schedule
        if f.first is not None:
            return self.seen <= f.first
        if f.every is not None:
            return self.seen % f.every == 0
        return True

    def matches(self, req: Request) -> bool:
        f = self.fault
        if f.path and not any(_under(req.path, prefix) for prefix in f.path):
            return False
        if f.method is not None and req.method.upper() != f.method.upper():
            return False
        for name, value in f.query:
            if value not in _query_values(req, name):
                return False
        if self.point is not None and self.point not in _request_points(req):
            return False
        return f.when is None or f.when(req)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _query_values(req: Request, name: str) -> list[str]:
    if name in ("coords", "coords[]"):  # one name to Express's qs parser (docs/vendors.md B6)
        return req.query.get("coords", []) + req.query.get("coords[]", [])
    return req.query.get(name, [])


def _request_points(req: Request) -> list[tuple[float, float]]:
    points = []
    for text in _query_values(req, "coords"):
        try:
            points.append(parse_coords(text))
        except ValueError:
            continue  # the handler reports malformed coordinates itself
    return points


class _Hit(NamedTuple):
    armed: _Armed
    triggered: bool
    armed_now: bool  # expire_tokens: this request moved the cutoff


def _no_decoy() -> str:
    raise RuntimeError("redirect to='decoy' needs the decoy server: start the Sandbox first")


class FaultLayer:
    def __init__(self, state: SandboxState, decoy_url: Callable[[], str] | None = None) -> None:
        self._state = state
        # A callable, not a URL: the decoy's port is only known once the Sandbox has started,
        # and a restart picks a new one.
        self._decoy_url = decoy_url or _no_decoy
        self._lock = threading.Lock()
        # Replaced, never mutated, so ``active`` and ``handle`` can read it without the lock.
        self._armed: tuple[_Armed, ...] = ()
        self._log: list[FiredFault] = []

    # --- management ------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return bool(self._armed)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._armed = (*self._armed, _Armed(fault))

    def clear(self) -> None:
        with self._lock:
            self._armed = ()
            self._log.clear()

    def faults(self) -> list[Fault]:
        return [a.fault for a in self._armed]

    def log(self) -> list[FiredFault]:
        with self._lock:
            return list(self._log)

    # --- the request path ------------------------------------------------------------------
    def handle(self, req: Request, handler: Callable[[], Response]) -> Response:
        hits = self._hits(req)
        if not hits:
            return handler()
        response = self._replace(req, hits)
        if response is None:
            response = self._mutate(req, hits, handler())
        return self._transport(req, hits, response)

    def _hits(self, req: Request) -> list[_Hit]:
        matching = [a for a in self._armed if a.matches(req)]
        if not matching:
            return []
        hits = []
        with self._lock:
            for armed in matching:
                triggered = armed.draw()
                armed_now = False
                if armed.fault.kind == "expire_tokens" and triggered and self._claim(armed):
                    # Whole seconds, as the claims: every token issued so far (this second
                    # included) is expired, and new ones are stamped at the cutoff or later.
                    armed.cutoff = int(time.time()) + 1
                    self._state.raise_token_floor(str(armed.fault.vendor), armed.cutoff)
                    armed_now = True
                hits.append(_Hit(armed, triggered, armed_now))
        return hits

    def _claim(self, armed: _Armed) -> bool:
        """Count one firing unless ``limit`` is used up (caller holds the lock)."""
        limit = armed.fault.limit
        if limit is not None and armed.fired >= limit:
            return False
        armed.fired += 1
        return True

    def _fire(self, armed: _Armed, req: Request, *, count: bool = True) -> bool:
        """Claim (if ``count``) and log one firing; False when the limit forbids it."""
        with self._lock:
            if count and not self._claim(armed):
                return False
            self._log.append(FiredFault(armed.fault.label, req.method, req.path))
            return True

    def _replace(self, req: Request, hits: list[_Hit]) -> Response | None:
        response: Response | None = None
        for armed, triggered, armed_now in hits:
            f = armed.fault
            if f.kind == "expire_tokens":
                rejection = None if response is not None else self._expired(req, armed)
                if rejection is not None or armed_now:
                    # Arming was counted against ``limit`` already; rejections are not
                    # firings of their own, the tokens simply stay expired.
                    self._fire(armed, req, count=False)
                if response is None:
                    response = rejection
            elif response is None and triggered and f.kind in _REPLACING and self._fire(armed, req):
                response = self._redirect(f, req) if f.kind == "redirect" else _replacement(f)
        return response

    def _redirect(self, f: Fault, req: Request) -> Response:
        to = f.redirect_to or REDIRECT_DECOY
        if to == REDIRECT_DECOY:
            location = self._decoy_url() + _target(req)
        elif to == REDIRECT_SELF:
            location = req.base_url + _target(req)  # relative (still same-origin) in-process
        else:
            location = to
        return fm.redirect_response(f.http_status or 307, location)

    def _expired(self, req: Request, armed: _Armed) -> Response | None:
        vendor = str(armed.fault.vendor)
        token = _token(req, vendor)
        # ``cutoff`` is read without the lock: an int attribute is read atomically, and a
        # request racing the arming one may see either value, as it would against a real API.
        if armed.cutoff == 0 or not token:
            return None  # not armed yet, or nothing to expire: the handler answers as usual
        secret = self._state.angus_secret if vendor == "angus" else self._state.eq_secret
        issued = tokens.issued_at(token, secret, _TOKEN_SOURCES[vendor][2])
        if issued is None or issued >= armed.cutoff:
            return None  # forged tokens are the handler's business; new ones are fine
        # Each service's own answer to an expired token (docs/vendors.md A4, B2.6, B4, B6).
        if _under(req.path, "/angus-data"):
            return json_response(401, {"code": "expired_jwt", "message": "Signature has expired"})
        if _under(req.path, "/eq-auth"):
            body = {"message": f"Invalid JWT: {token}", "statusCode": 403, "logLevel": "WARNING"}
            return json_response(403, body)
        if _under(req.path, "/locus"):
            return json_response(403, {"Message": _LOCUS_DENY})
        return json_response(403, {"message": f"Invalid JWT: {token}"})

    def _mutate(self, req: Request, hits: list[_Hit], response: Response) -> Response:
        armed = [h.armed for h in hits if h.triggered]
        for a in armed:
            # Entitlement is checked after authentication, so only a would-be 200 is denied.
            if a.fault.kind == "deny_coordinate" and response.status == 200 and self._fire(a, req):
                response = json_response(403, {"message": "Access not allowed"})
        mutations = [a for a in armed if a.fault.kind in _JSON_MUTATIONS]
        if mutations and fm.is_json_success(response):
            payload: Any = json.loads(response.body)
            changed = False
            for a in mutations:
                # Mutate a copy and keep it only if the fault may fire: a mutation that would
                # change nothing neither fires nor uses up the limit.
                candidate = copy.deepcopy(payload)
                if _apply(a.fault, candidate) and self._fire(a, req):
                    payload, changed = candidate, True
            if changed:
                response = fm.encode(payload, response)
        for a in armed:
            if (
                a.fault.kind == "truncated_body"
                and fm.is_json_success(response)
                and len(response.body) >= 2
                and self._fire(a, req)
            ):
                response = response._replace(body=response.body[: len(response.body) // 2])
        return response

    def _transport(self, req: Request, hits: list[_Hit], response: Response) -> Response:
        for armed, triggered, _ in hits:
            f = armed.fault
            if not triggered or f.kind not in _TRANSPORT or not self._fire(armed, req):
                continue
            if f.kind == "slow":
                delay = max(response.delay_seconds, f.delay_seconds)
                response = response._replace(delay_seconds=delay)
            else:
                size = len(response.body)
                # Short of the whole body, or the client would not notice anything.
                wanted = size // 2 if f.after_bytes is None else f.after_bytes
                response = response._replace(drop_after=max(0, min(wanted, size - 1)))
        return response


def _target(req: Request) -> str:
    """Path and query as the client sent them, so the redirected request differs only in host."""
    if req.target.startswith("/"):
        return req.target
    query = urlencode(req.query, doseq=True)  # in-process requests carry only the parsed form
    return quote(req.path) + (f"?{query}" if query else "")


def _token(req: Request, vendor: str) -> str:
    header, scheme, _ = _TOKEN_SOURCES[vendor]
    token = (req.header(header) or "").strip()
    if scheme and token.lower().startswith(scheme):
        token = token[len(scheme) :].strip()
    return token


def _apply(fault: Fault, payload: Any) -> bool:
    if fault.kind == "wrong_types":
        return fm.wrong_types(payload)
    if fault.kind == "extra_fields":
        return fm.extra_fields(payload)
    return fm.missing_metrics(payload, fault.metrics)


def _replacement(f: Fault) -> Response:
    if f.kind == "html_error_page":
        return fm.html_page(f.http_status or 502, f.body)
    if f.kind == "rate_limited":
        status, default = 429, "Too Many Requests"  # docs/vendors.md C16
    else:
        status, default = f.http_status or 503, None
    return fm.status_response(
        status,
        f.body,
        f.content_type,
        retry_after=f.retry_after,
        http_date=f.retry_after_http_date,
        default_message=default,
    )
