"""One HTTP client for both vendors: JSON in, JSON out, retries, readable errors.

Retried: connection errors, timeouts, bodies cut off mid-stream, 429 and 5xx (waiting what
`Retry-After` asks, capped). Re-authenticated once: a response the authenticator recognises
as an expired token. Everything else becomes a `VendorError` naming the vendor, the path
(never the query string, which may carry identifiers) and the vendor's own message.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import backoff
import requests

from tap_audience.core.errors import (
    MalformedResponseError,
    RetriesExhaustedError,
    RunStoppingError,
    VendorError,
)
from tap_audience.core.limits import VendorLimits
from tap_audience.core.redaction import REDACTOR

LOGGER = logging.getLogger("tap_audience.http")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class ApiRequest:
    """A request relative to a client's base URL."""

    path: str
    params: Sequence[tuple[str, str]] = ()
    method: str = "GET"
    json_body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 8
    base_wait_seconds: float = 1.0
    max_wait_seconds: float = 300.0


class RequestStats:
    """Requests sent and retries made on behalf of one unit of work (a window)."""

    def __init__(self) -> None:
        self.requests = 0
        self.retries = 0
        self._lock = threading.Lock()  # pages of one window may be fetched by several workers

    def sent(self) -> None:
        with self._lock:
            self.requests += 1

    def retried(self) -> None:
        with self._lock:
            self.retries += 1


class RetryableError(Exception):
    """Internal: one failed attempt that is worth another try."""

    def __init__(self, description: str, retry_after: float | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _retry_waits(policy: RetryPolicy) -> Generator[float, Any, None]:
    """Full-jitter exponential waits; a server's `Retry-After` wins when it gives one."""
    failure = yield 0.0
    attempt = 0
    while True:
        hinted = getattr(failure, "retry_after", None)
        if hinted is not None:
            wait = min(float(hinted), policy.max_wait_seconds)
        else:
            ceiling = min(policy.max_wait_seconds, policy.base_wait_seconds * 2**attempt)
            wait = random.uniform(0, ceiling)
        attempt += 1
        failure = yield wait


def vendor_message(response: requests.Response) -> str:
    """The vendor's own error text, whichever of the documented shapes it came in."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip().replace("\n", " ")
        return REDACTOR.redact(text[:300]) or response.reason or "empty body"
    message: Any = body
    if isinstance(body, dict):
        for key in ("message", "Message", "non_field_errors", "detail", "error"):
            if key in body:
                message = body[key]
                break
        else:
            message = "; ".join(f"{k}: {v}" for k, v in body.items())
        if isinstance(message, list):
            message = " ".join(str(m) for m in message)
        if isinstance(body.get("code"), str):
            message = f"{body['code']}: {message}"
    return REDACTOR.redact(str(message))


class Reauthenticator:
    """What an authenticator offers the client besides signing requests."""

    def reauthenticate_after(self, response: requests.Response) -> bool:
        """True when `response` says the token expired and a fresh one is now in place."""
        return False


@dataclass
class VendorClient:
    """JSON over HTTP against one vendor base URL, with one authenticator."""

    vendor: str
    base_url: str
    session: requests.Session
    auth: Any = None  # a requests auth callable, optionally also a Reauthenticator
    timeout_seconds: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    headers: Mapping[str, str] = field(default_factory=dict)
    on_retry: Callable[[str], None] | None = None
    limits: VendorLimits | None = None
    stopping: threading.Event | None = None

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def request_json(self, request: ApiRequest, stats: RequestStats | None = None) -> Any:
        """Send `request` and return its decoded JSON body, retrying what is worth retrying."""
        stats = stats or RequestStats()

        def log_retry(details: Mapping[str, Any]) -> None:
            failure = details.get("exception")
            what = getattr(failure, "description", str(failure))
            line = (
                f"{self.vendor} {request.path}: {what}; retry {details['tries']} of "
                f"{self.retry.max_retries} in {details['wait']:.1f}s"
            )
            LOGGER.warning(line)
            stats.retried()
            if self.on_retry is not None:
                self.on_retry(line)

        def give_up(details: Mapping[str, Any]) -> None:
            failure = details.get("exception")
            what = getattr(failure, "description", str(failure))
            raise RetriesExhaustedError(
                f"{self.vendor} {request.path} still failing after {self.retry.max_retries} "
                f"retries: {what}"
            ) from None

        attempt = backoff.on_exception(
            lambda: _retry_waits(self.retry),
            RetryableError,
            max_tries=self.retry.max_retries + 1,
            jitter=None,
            on_backoff=log_retry,
            on_giveup=give_up,
            logger=None,
        )(self._attempt)
        return attempt(request, stats)

    def _attempt(self, request: ApiRequest, stats: RequestStats) -> Any:
        if self.stopping is not None and self.stopping.is_set():
            raise RunStoppingError(f"{self.vendor} {request.path}: not sent, the run is stopping")
        stats.sent()
        response = self._send(request)
        if self.auth is not None and response.status_code in (401, 403):
            reauth = getattr(self.auth, "reauthenticate_after", None)
            if reauth is not None and reauth(response):
                stats.sent()
                response = self._send(request)
        status = response.status_code
        if self.limits is not None:
            if status == 429:
                self.limits.concurrency.rate_limited()
            elif status < 400:
                self.limits.concurrency.succeeded()
        if status in RETRYABLE_STATUSES:
            raise RetryableError(
                f"HTTP {status} {vendor_message(response)}",
                parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 400:
            raise VendorError(
                vendor=self.vendor,
                status=status,
                path=request.path,
                vendor_message=vendor_message(response),
            )
        try:
            return response.json()
        except ValueError as exc:
            # A 200 whose body is not JSON: usually a proxy page or a cut-off body.
            snippet = REDACTOR.redact(response.text[:80].replace("\n", " "))
            raise RetryableError(f"HTTP {status} body is not JSON ({snippet!r})") from exc

    def _send(self, request: ApiRequest) -> requests.Response:
        with self.limits.request() if self.limits is not None else nullcontext():
            return self._send_now(request)

    def _send_now(self, request: ApiRequest) -> requests.Response:
        try:
            return self.session.request(
                request.method,
                self.url(request.path),
                params=list(request.params),
                json=request.json_body,
                headers={**self.headers, **(request.headers or {})},
                auth=self.auth,
                timeout=self.timeout_seconds,
            )
        except requests.Timeout as exc:
            raise RetryableError(f"timed out after {self.timeout_seconds:g}s") from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise RetryableError(f"connection failed ({type(exc).__name__})") from exc


def malformed(what: str, *, vendor: str, path: str) -> MalformedResponseError:
    """The error for a response that breaks its documented shape, naming the endpoint."""
    return MalformedResponseError(f"{vendor} {path}: unexpected response: {what}")
