"""One HTTP client for both vendors: JSON in, JSON out, retries, readable errors.

Retried: timeouts, dropped connections, bodies cut off mid-stream, and the answers the
vendor's error table (`core.error_rules`) marks RETRY (429 and 5xx for every vendor),
waiting what `Retry-After` asks, capped. A failure to connect follows `core.reachability`:
an unknown host or an untrusted certificate is never retried, a refused connection gets a
few quick retries, and a host found unreachable fails every later request to it at once.
Re-authenticated once: an answer the table marks REAUTHENTICATE. Every other error answer
becomes a `VendorError` carrying its rule, naming the vendor, the URL (never the query
string, which may carry identifiers) and the vendor's own message.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import backoff
import requests

from tap_audience.core.error_rules import Action, ErrorRules
from tap_audience.core.errors import (
    HostUnreachableError,
    MalformedResponseError,
    RedirectRefusedError,
    RequestFailedError,
    RetriesExhaustedError,
    RunStoppingError,
    VendorError,
)
from tap_audience.core.limits import VendorLimits
from tap_audience.core.origins import CrossOriginRedirectError, describe_origin
from tap_audience.core.reachability import (
    CHECK_NETWORK,
    REFUSED_WAITS,
    ConnectionFailure,
    UnreachableHosts,
    classify,
)
from tap_audience.core.redaction import REDACTOR, one_line

LOGGER = logging.getLogger("tap_audience.http")


class Authenticator(Protocol):
    """A requests auth callable that can replace a credential the vendor refused."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest: ...

    def reauthenticate(self, response: requests.Response) -> None:
        """Get a fresh credential after `response` refused the one it was sent with (once,
        however many workers ask); raise when no fresh one can be had."""


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
    # False in a connection test: a failure to connect is reported at once, not retried.
    retry_unreachable: bool = True


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

    def __init__(
        self,
        description: str,
        retry_after: float | None = None,
        *,
        connection: ConnectionFailure | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.retry_after = retry_after
        self.connection = connection  # a failed connection: how to retry it (reachability)

    @property
    def connecting(self) -> bool:
        """No connection was made at all (refused, no answer, DNS down)."""
        return self.connection is not None and self.connection.connecting

    @property
    def refused(self) -> bool:
        return self.connection is not None and self.connection.refused


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        try:
            return float(value)
        except ValueError:  # a digit float() cannot read, such as "²": junk
            return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def retry_wait(policy: RetryPolicy, failure: BaseException, attempt: int) -> float:
    """Full-jitter exponential wait; a server's `Retry-After` wins when it gives one."""
    hinted = getattr(failure, "retry_after", None)
    if hinted is not None:
        return min(float(hinted), policy.max_wait_seconds)
    # The exponent is capped first: 2**attempt of a huge max_retries would overflow a float.
    ceiling = min(policy.max_wait_seconds, policy.base_wait_seconds * 2.0 ** min(attempt, 64))
    return random.uniform(0, ceiling)


HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
EXCERPT_CHARS = 200


def body_excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A non-JSON body as one short line: an HTML page by its title, other text collapsed."""
    head = text.lstrip()[:15].lower()
    if head.startswith(("<!doctype html", "<html", "<head", "<body")):
        title = HTML_TITLE.search(text)
        text = (
            f"an HTML page titled {' '.join(title.group(1).split())!r}" if title else "an HTML page"
        )
    text = " ".join(text.split())
    return one_line(text if len(text) <= limit else text[: limit - 1] + "…")


def vendor_message(response: requests.Response) -> str:
    """The vendor's own error text, whichever of the documented shapes it came in."""
    try:
        body = response.json()
    except ValueError:
        # Redact before cutting: a secret cut in half would no longer be recognised.
        return body_excerpt(REDACTOR.redact(response.text)) or response.reason or "empty body"
    message: Any = body
    if isinstance(body, dict):
        for key in ("message", "Message", "non_field_errors", "detail", "error"):
            if key in body:
                message = body[key]
                break
        else:
            # No message field: every field, the code among them (not prefixed again).
            return body_excerpt(REDACTOR.redact("; ".join(f"{k}: {v}" for k, v in body.items())))
        if isinstance(message, list):
            message = " ".join(str(m) for m in message)
        if isinstance(body.get("code"), str):
            message = f"{body['code']}: {message}"
    return body_excerpt(REDACTOR.redact(str(message)))


@dataclass
class VendorClient:
    """JSON over HTTP against one vendor base URL, with one authenticator."""

    vendor: str
    base_url: str
    session: requests.Session
    # What each error answer means (retry, re-authenticate, fail the partition, ...).
    rules: ErrorRules
    # The setting the base URL comes from, named when an answer suggests the URL is wrong.
    base_url_setting: str | None = None
    auth: Authenticator | None = None
    timeout_seconds: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    headers: Mapping[str, str] = field(default_factory=dict)
    on_retry: Callable[[str], None] | None = None
    limits: VendorLimits | None = None
    stopping: threading.Event | None = None
    # The run's record of unreachable hosts (None: this client's requests alone).
    unreachable_hosts: UnreachableHosts | None = None

    @property
    def origin(self) -> str:
        return describe_origin(self.base_url)

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def request_json(
        self,
        request: ApiRequest,
        stats: RequestStats | None = None,
        cancel: threading.Event | None = None,
    ) -> Any:
        """Send `request` and return its decoded JSON body, retrying what is worth retrying.

        `cancel` (the partition was abandoned) and `stopping` (the run is closing) end the
        retries at once, even in the middle of a wait, and so does this vendor's host being
        found unreachable by another request.
        """
        stats = stats or RequestStats()
        # Refused connections have their own short budget (core.reachability).
        refused_budget = min(self.retry.max_retries, len(REFUSED_WAITS))
        refused = 0

        def waits() -> Generator[float, Any, None]:
            # python-backoff sleeps with time.sleep, which nothing can cut short; the waiting
            # (and its log line) happens here instead, on an event, and backoff sleeps 0.
            failure = yield 0.0
            attempt = 0
            while True:
                if isinstance(failure, RetryableError) and failure.refused:
                    # `final` has counted this refusal already.
                    wait = min(REFUSED_WAITS[refused - 1], self.retry.max_wait_seconds)
                    number, budget = refused, refused_budget
                else:
                    wait = retry_wait(self.retry, failure, attempt)
                    number, budget = attempt + 1, self.retry.max_retries
                attempt += 1
                what = getattr(failure, "description", str(failure))
                line = (
                    f"{self.vendor} {request.path}: {what}; retry {number} of {budget} in "
                    f"{wait:.1f}s"
                )
                LOGGER.warning(line)
                stats.retried()
                if self.on_retry is not None:
                    self.on_retry(line)
                self._pause(wait, cancel)
                failure = yield 0.0

        def give_up(details: Mapping[str, Any]) -> None:
            failure = details.get("exception")
            if self._cancelled(cancel):
                raise RunStoppingError(f"{self.vendor} {request.path}: retries abandoned")
            if (known := self._known_unreachable()) is not None:
                raise known from None
            what = getattr(failure, "description", str(failure))
            if isinstance(failure, RetryableError) and failure.connecting:
                assert failure.connection is not None  # `connecting` says so
                raise self._unreachable(
                    failure.connection, tries=details["tries"], elapsed=details["elapsed"]
                ) from None
            raise RetriesExhaustedError(
                f"{self.vendor} {self.url(request.path)} still failing after "
                f"{self.retry.max_retries} retries: {what}"
            ) from None

        def final(failure: Exception) -> bool:
            """Whether to give up now; called once per failure, before its wait."""
            nonlocal refused
            if self._cancelled(cancel) or self._known_unreachable() is not None:
                return True
            if not isinstance(failure, RetryableError):
                return False
            if failure.connecting and not self.retry.retry_unreachable:
                return True
            if failure.refused:
                refused += 1
                return refused > refused_budget
            return False

        attempt = backoff.on_exception(
            waits,
            RetryableError,
            max_tries=self.retry.max_retries + 1,
            giveup=final,
            jitter=None,
            on_giveup=give_up,
            logger=None,
        )(self._attempt)
        return attempt(request, stats, cancel)

    def _setting_hint(self) -> str:
        if not self.base_url_setting:
            return ""
        return f" (check {self.base_url_setting}: {self.base_url})"

    def _known_unreachable(self) -> HostUnreachableError | None:
        if self.unreachable_hosts is None:
            return None
        return self.unreachable_hosts.known(self.vendor, self.origin)

    def _unreachable(
        self, connection: ConnectionFailure, *, tries: int = 1, elapsed: float = 0.0
    ) -> HostUnreachableError:
        """The one line for a host this client cannot connect to, recorded for the run."""
        attempts = f", {tries} attempts in {elapsed:.1f}s" if tries > 1 else ""
        fix = connection.fix.format(setting=self.base_url_setting or "the URL", url=self.base_url)
        line = (
            f"{self.vendor}: cannot connect to {self.origin} ({connection.problem}{attempts}): "
            f"{fix}"
        )
        if self.unreachable_hosts is None:
            return HostUnreachableError(line, permanent=connection.permanent)
        return self.unreachable_hosts.mark(
            self.vendor, self.origin, line, permanent=connection.permanent
        )

    def _cancelled(self, cancel: threading.Event | None) -> bool:
        return bool(
            (self.stopping is not None and self.stopping.is_set())
            or (cancel is not None and cancel.is_set())
        )

    def _pause(self, seconds: float, cancel: threading.Event | None) -> None:
        """Sleep, but wake within a fraction of a second once cancelled or stopping."""
        deadline = time.monotonic() + seconds
        while (
            (left := deadline - time.monotonic()) > 0
            and not self._cancelled(cancel)
            and self._known_unreachable() is None
        ):
            time.sleep(min(left, 0.1))

    def _attempt(
        self, request: ApiRequest, stats: RequestStats, cancel: threading.Event | None
    ) -> Any:
        if self._cancelled(cancel):
            raise RunStoppingError(f"{self.vendor} {request.path}: not sent, no longer needed")
        if (known := self._known_unreachable()) is not None:
            raise known  # another request found the host unreachable: no ladder of our own
        stats.sent()
        response, generation = self._send(request)
        status = response.status_code
        rule = None
        if status >= 400:
            message = vendor_message(response)
            rule = self.rules.match(status, request.path, message)
            if rule is not None and rule.action is Action.REAUTHENTICATE and self.auth is not None:
                # One fresh credential, sent once; refused again, the answer means what the
                # rest of the table says.
                self.auth.reauthenticate(response)
                stats.sent()
                response, generation = self._send(request)
                status = response.status_code
                if status >= 400:
                    message = vendor_message(response)
                    rule = self.rules.match(
                        status, request.path, message, skip=frozenset({Action.REAUTHENTICATE})
                    )
        if self.limits is not None:
            if status == 429:
                self.limits.concurrency.rate_limited(generation)
            elif status < 400:
                self.limits.concurrency.succeeded()
        if status >= 400:
            if rule is not None and rule.action is Action.RETRY:
                raise RetryableError(
                    f"HTTP {status} {message}",
                    parse_retry_after(response.headers.get("Retry-After")),
                )
            hint = self._setting_hint() if self.rules.suggests_wrong_url(status) else ""
            raise VendorError(
                vendor=self.vendor,
                status=status,
                path=request.path,
                url=self.url(request.path),
                vendor_message=message + hint,
                rule=rule,
            )
        try:
            return response.json()
        except ValueError as exc:
            # A 200 whose body is not JSON: usually a proxy page or a cut-off body.
            snippet = body_excerpt(REDACTOR.redact(response.text), limit=80)
            raise RetryableError(f"HTTP {status} body is not JSON ({snippet!r})") from exc

    def _send(self, request: ApiRequest) -> tuple[requests.Response, int]:
        """The response, and the concurrency generation the request was sent in."""
        if self.limits is None:
            return self._send_now(request), 0
        with self.limits.request() as generation:
            return self._send_now(request), generation

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
        except requests.ConnectTimeout as exc:
            raise RetryableError(
                f"no connection to {self.origin} within {self.timeout_seconds:g}s",
                connection=ConnectionFailure(
                    f"no answer within {self.timeout_seconds:g}s", CHECK_NETWORK, connecting=True
                ),
            ) from exc
        except requests.Timeout as exc:
            raise RetryableError(f"timed out after {self.timeout_seconds:g}s") from exc
        except requests.exceptions.ChunkedEncodingError as exc:
            raise RetryableError("the connection dropped in the middle of the answer") from exc
        except requests.ConnectionError as exc:
            connection = classify(exc)
            if connection.permanent:  # the same answer on every try: core.reachability
                raise self._unreachable(connection) from None
            what = (
                f"cannot connect to {self.origin} ({connection.problem})"
                if connection.connecting
                else connection.problem
            )
            raise RetryableError(what, connection=connection) from exc
        except CrossOriginRedirectError as exc:
            raise RedirectRefusedError(
                f"{self.vendor} {self.url(request.path)}: {exc}. If the vendor really moved, "
                "set its base URL to the new address"
            ) from None
        except requests.RequestException as exc:  # invalid URL, redirect loop, bad encoding
            raise RequestFailedError(
                f"{self.vendor} {request.path}: request failed ({type(exc).__name__}: "
                f"{REDACTOR.redact(str(exc))})"
            ) from None


def malformed(what: str, *, vendor: str, path: str) -> MalformedResponseError:
    """The error for a response that breaks its documented shape, naming the endpoint."""
    return MalformedResponseError(f"{vendor} {path}: unexpected response: {what}")
