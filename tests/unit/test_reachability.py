"""Which failures to connect are retried (core.reachability), from the errors requests raises.

Each error is built as requests and urllib3 build it (requests' error around urllib3's
MaxRetryError, whose reason has the socket's or ssl's error as its cause), including the ones
no test can cause at will (a DNS server that does not answer, a network that is down).
"""

from __future__ import annotations

import errno
import socket
import ssl
import threading

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError
from urllib3.exceptions import SSLError as Urllib3SSLError

from tap_audience.core.reachability import REFUSED_WAITS, UnreachableHosts, classify


def wrapped(
    cause: BaseException, *, via: type[Exception] = NewConnectionError
) -> requests.ConnectionError:
    """`cause` as requests raises it: around urllib3's MaxRetryError and its `reason`."""
    reason = via(None, f"Failed to establish a new connection: {cause}")
    reason.__cause__ = cause
    error_type = (
        requests.exceptions.SSLError if via is Urllib3SSLError else requests.ConnectionError
    )
    return error_type(MaxRetryError(None, "/", reason))


def certificate_error() -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(
        1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"
    )
    error.verify_message = "self-signed certificate"
    return error


# An https URL on a plain-http port; a connection reset before any answer (both transient).
WRONG_TLS_VERSION = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
RESET = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")


@pytest.mark.parametrize(
    ("error", "problem", "permanent", "refused", "connecting"),
    [
        pytest.param(
            wrapped(socket.gaierror(socket.EAI_NONAME, "Name or service not known")),
            "unknown host", True, False, True, id="no-such-name",
        ),
        pytest.param(
            wrapped(socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")),
            "host name lookup failed: Temporary failure in name resolution", False, False, True,
            id="dns-did-not-answer",
        ),
        pytest.param(
            wrapped(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")),
            "connection refused", False, True, True, id="refused",
        ),
        pytest.param(
            wrapped(certificate_error(), via=Urllib3SSLError),
            "TLS certificate not accepted: self-signed certificate", True, False, True,
            id="untrusted-certificate",
        ),
        pytest.param(
            wrapped(WRONG_TLS_VERSION, via=Urllib3SSLError),
            "TLS failed: [SSL: WRONG_VERSION_NUMBER] wrong version number", False, False, True,
            id="other-tls-failure",
        ),
        pytest.param(
            wrapped(OSError(errno.ENETUNREACH, "Network is unreachable")),
            "network is unreachable", False, False, True, id="network-down",
        ),
        pytest.param(
            requests.ConnectionError(ProtocolError("Connection aborted.", RESET)),
            "the connection was closed without an answer", False, False, False, id="reset",
        ),
    ],
)  # fmt: skip
def test_classify(error, problem, permanent, refused, connecting):
    failure = classify(error)
    assert (failure.problem, failure.permanent, failure.refused, failure.connecting) == (
        problem,
        permanent,
        refused,
        connecting,
    )
    if connecting:  # the line names where the host came from
        assert "{setting}" in failure.fix
        assert "{url}" in failure.fix


def test_the_refused_budget_is_a_few_seconds():
    assert 2 <= len(REFUSED_WAITS) <= 5
    assert sum(REFUSED_WAITS) <= 5


def test_the_first_line_recorded_for_a_host_wins():
    hosts = UnreachableHosts()
    assert hosts.known("Angus", "http://127.0.0.1:1") is None
    lines = [f"Angus: cannot connect (attempt {n})" for n in range(20)]
    where = ("Angus", "http://127.0.0.1:1")
    threads = [
        threading.Thread(target=hosts.mark, args=(*where, line), kwargs={"permanent": False})
        for line in lines
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    known = hosts.known("Angus", "http://127.0.0.1:1")
    assert known is not None
    assert str(known) in lines
    assert hosts.mark("Angus", "http://127.0.0.1:1", "another", permanent=True).args == known.args
    # Another vendor, or another origin, is not affected.
    assert hosts.known("EQ ATOM", "http://127.0.0.1:1") is None
    assert hosts.known("Angus", "http://127.0.0.1:2") is None
