"""Failures to connect: which are worth retrying, and the hosts a run found unreachable.

The rule (also in README, "Choices where the vendors' documentation is silent"):

* **Permanent, never retried**: the host name does not exist (DNS answered "no such name":
  `EAI_NONAME`, `EAI_NODATA`) and the server's TLS certificate fails verification (untrusted
  authority, self-signed, expired, issued for another name). Every try within a run would get
  the same answer; only the setting (or the trust store) can change it.
* **Refused** (`ECONNREFUSED`, nothing listens at that host and port): a short budget,
  `REFUSED_WAITS`, since a server restarting refuses for a moment; then the host is unreachable.
* **Transient, the full retry ladder** (`max_retries`, exponential backoff): timeouts
  (connecting or reading), a connection reset or closed without an answer, a DNS server that
  did not answer (`EAI_AGAIN`), other TLS and network failures, and the HTTP answers a
  vendor's error table retries (429, 5xx). A failure to connect that outlasts its ladder
  also makes the host unreachable.

Once a vendor's host is unreachable, every later request of the run from that vendor to that
host (queued windows, other partitions, other cameras' token requests) fails at once with the
same line: N partitions cost one retry budget, not N. A connection test (`--test`, Airbyte
`check`) retries no failure to connect: it reports it at once.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

import requests

from tap_audience.core.errors import HostUnreachableError

# 3 retries, 0.5 + 1 + 2 = 3.5 s: a server being restarted (a deploy, a process manager)
# listens again within that; a wrong port is still reported within seconds.
REFUSED_WAITS: tuple[float, ...] = (0.5, 1.0, 2.0)

# getaddrinfo's "this name does not exist", as opposed to EAI_AGAIN (no DNS answer, transient).
NO_SUCH_NAME = frozenset(
    code
    for code in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None))  # no EAI_NODATA on BSDs
    if code is not None
)


@dataclass(frozen=True)
class ConnectionFailure:
    """What a `requests.ConnectionError` means for retrying."""

    problem: str  # in a person's words: "unknown host", "connection refused"
    # What to do, with `{setting}` and `{url}`: where the host came from.
    fix: str
    connecting: bool  # no connection was made (rather than one lost after connecting)
    permanent: bool = False
    refused: bool = False


E = TypeVar("E", bound=BaseException)

# A connection lost after it was made (http.client's RemoteDisconnected is a reset too).
CLOSED = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)

CHECK_NETWORK = (
    "check the host and port in {setting} ({url}) and the network (DNS, proxy, firewall)"
)


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and everything it wraps: requests wraps urllib3's MaxRetryError, whose `reason`
    wraps the socket's or ssl's own error (as its cause)."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = (*current.args, getattr(current, "reason", None), current.__cause__)
        todo.extend(item for item in linked if isinstance(item, BaseException))


def classify(error: requests.ConnectionError) -> ConnectionFailure:  # noqa: PLR0911 - a return per kind
    """What went wrong with a connection, and whether trying again can help (module doc)."""
    causes = list(_causes(error))

    def first(kind: type[E]) -> E | None:
        return next((cause for cause in causes if isinstance(cause, kind)), None)

    if (certificate := first(ssl.SSLCertVerificationError)) is not None:
        # `verify_message` says why ("self-signed certificate"); set by ssl's C code only.
        why = getattr(certificate, "verify_message", None) or certificate.strerror or "not trusted"
        return ConnectionFailure(
            f"TLS certificate not accepted: {why}",
            "the server's certificate did not verify: check the host in {setting} ({url}); "
            "a certificate from a private authority needs REQUESTS_CA_BUNDLE set to that "
            "authority's certificate file",
            connecting=True,
            permanent=True,
        )
    if (lookup := first(socket.gaierror)) is not None:
        if lookup.errno in NO_SUCH_NAME:
            return ConnectionFailure(
                "unknown host",
                "no such host name: correct the host in {setting} ({url})",
                connecting=True,
                permanent=True,
            )
        return ConnectionFailure(f"host name lookup failed: {lookup.strerror}", CHECK_NETWORK, True)
    if first(ConnectionRefusedError) is not None:
        return ConnectionFailure(
            "connection refused",
            "nothing accepts connections there: check the host and port in {setting} ({url}) "
            "and that the server is up",
            connecting=True,
            refused=True,
        )
    if (tls := first(ssl.SSLError)) is not None:
        why = getattr(tls, "reason", None) or tls.strerror or type(tls).__name__
        return ConnectionFailure(f"TLS failed: {why}", CHECK_NETWORK, True)
    if any(isinstance(cause, CLOSED) for cause in causes):
        return ConnectionFailure("the connection was closed without an answer", "", False)
    # Any other error of the system's own (network unreachable, no route to host) comes from
    # connecting: once connected, requests reports a lost connection as one of CLOSED.
    system = next(
        (
            cause
            for cause in causes
            if isinstance(cause, OSError)
            and cause.strerror
            and not isinstance(cause, requests.RequestException)
        ),
        None,
    )
    if system is not None and system.strerror:
        return ConnectionFailure(system.strerror.lower(), CHECK_NETWORK, True)
    return ConnectionFailure(type(error).__name__, CHECK_NETWORK, False)


class UnreachableHosts:
    """The hosts found unreachable in a run, by vendor and origin, with the line that said so.

    One per run (`ClientFactory`), shared by every client: the first request to give up on a
    host records its line; every later one fails with that same line at once."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], tuple[str, bool]] = {}
        self._lock = threading.Lock()

    def known(self, vendor: str, origin: str) -> HostUnreachableError | None:
        with self._lock:
            found = self._found.get((vendor, origin))
        return None if found is None else HostUnreachableError(found[0], permanent=found[1])

    def mark(self, vendor: str, origin: str, line: str, *, permanent: bool) -> HostUnreachableError:
        """Record `origin` as unreachable; the error to raise (the first line recorded wins,
        so requests giving up at the same moment all report the same line)."""
        with self._lock:
            line, permanent = self._found.setdefault((vendor, origin), (line, permanent))
        return HostUnreachableError(line, permanent=permanent)
