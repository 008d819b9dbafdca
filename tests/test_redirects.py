"""Credentials stay with their vendor: a redirect to another origin is refused, not followed.

The sandbox redirects one endpoint (every vendor endpoint and every auth endpoint, with each
redirect status) to a decoy server on 127.0.0.2 that records whatever reaches it. `requests`
itself would follow these redirects and keep custom headers such as `eq-api-jwt` (it strips
only `Authorization` when the host changes): the decoy must stay untouched.
"""

from __future__ import annotations

import logging

import pytest
import requests

from tap_audience.core.errors import TapAudienceError
from tap_audience.core.origins import SameOriginSession, origin
from tap_audience.sandbox import Fault
from tests.helpers import eq_login_without_input, run_tap, sandbox_config
from tests.test_eq_auth import log_in

START = "2026-11-19T00:00:00+00:00"

# (sandbox path, stream to sync, config overrides): every request that carries a credential.
ENDPOINTS = {
    "angus token": ("/angus-console/api-token-authstream/", "angus_entities", {}),
    "angus entities": ("/angus-data/api/1/entities", "angus_entities", {}),
    "keywarden confirm (atom)": ("/eq-auth/prod/confirm", "eq_os", {}),
    "keywarden confirm (locus)": ("/eq-auth/prod/confirm", "locus_hh_segments", {}),
    "keywarden refresh": ("/eq-auth/prod/refresh", "eq_os", {"eq_refresh_days": 365}),
    "atom campaigns": ("/eq-api/beta/campaigns/", "eq_campaigns", {}),
    "atom insights": ("/eq-api/beta/insights/os", "eq_os", {}),
    "locus segments": ("/locus/prod/segment/hh-segments", "locus_hh_segments", {}),
}
STATUSES = (301, 302, 303, 307, 308)


def failure_text(sandbox, caplog, stream, **overrides):
    """What the run reported: failed partitions' reasons, or the error that stopped it."""
    config = sandbox_config(sandbox, start_date=START, **overrides)
    with caplog.at_level(logging.WARNING):
        try:
            result = run_tap(config, streams=[stream])
        except TapAudienceError as stopped:
            return str(stopped)
    assert result.failure is not None, "the redirect went unnoticed"
    return caplog.text


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_no_credential_follows_a_redirect_to_another_host(sandbox, caplog, endpoint, status):
    path, stream, overrides = ENDPOINTS[endpoint]
    sandbox.inject(Fault.redirect(status, to="decoy", path=path))
    text = failure_text(sandbox, caplog, stream, **overrides)
    assert not sandbox.decoy.requests, "a request reached the other host"
    assert f"refused to follow an HTTP {status} redirect" in text
    assert "to http://127.0.0.2:" in text  # the target host is named
    assert "retry" not in text  # refused at once, not retried


def test_eq_login_refuses_a_redirect_to_another_host(sandbox):
    sandbox.inject(Fault.redirect(307, to="decoy", path="/eq-auth/prod/login"))
    process = eq_login_without_input(sandbox.eq_auth_url)
    assert process.returncode == 1
    assert "refused to follow an HTTP 307 redirect" in process.stderr
    assert "Traceback" not in process.stderr
    assert not sandbox.decoy.requests


@pytest.mark.parametrize("status", STATUSES)
def test_a_same_origin_redirect_is_followed(sandbox, status):
    sandbox.inject(Fault.redirect(status, to="self", path="/eq-api/beta/insights/os", first=1))
    result = run_tap(sandbox_config(sandbox, start_date=START), streams=["eq_os"])
    assert result.failure is None
    assert result.records["eq_os"]
    assert not sandbox.decoy.requests


def test_redirect_loops_within_the_origin_stop_after_a_few_hops(sandbox, caplog):
    sandbox.inject(Fault.redirect(302, to="self", path="/eq-api/beta/insights/os"))
    text = failure_text(sandbox, caplog, "eq_os")
    assert "TooManyRedirects" in text and "Exceeded 3 redirects" in text


@pytest.mark.parametrize(
    ("source", "target", "same"),
    [
        ("https://api.eqworks.io/a", "https://api.eqworks.io/b?x=1", True),
        ("https://api.eqworks.io/a", "https://API.eqworks.io:443/b", True),
        ("http://127.0.0.1:80/a", "http://127.0.0.1/b", True),
        ("https://api.eqworks.io/a", "http://api.eqworks.io/a", False),  # downgrade
        ("https://api.eqworks.io/a", "https://api.eqworks.io:8443/a", False),
        ("https://api.eqworks.io/a", "https://evil.example/a", False),
        ("https://api.eqworks.io/a", "https://eqworks.io/a", False),
    ],
)
def test_origins(source, target, same):
    assert (origin(source) == origin(target)) is same


def test_a_downgrade_to_http_is_refused_before_sending():
    # A redirect from https to http on the same host would put the token on the wire in clear.
    session = SameOriginSession()
    response = requests.Response()
    response.status_code = 301
    response.request = requests.Request("GET", "https://api.eqworks.io/a").prepare()
    target = requests.Request("GET", "http://api.eqworks.io/a", headers={"eq-api-jwt": "t"})
    with pytest.raises(requests.RequestException, match=r"from https://api\.eqworks\.io to http"):
        session.rebuild_auth(target.prepare(), response)


def test_eq_login_refuses_a_redirect_of_the_passcode_check(sandbox):
    sandbox.inject(Fault.redirect(308, to="decoy", path="/eq-auth/prod/verify"))
    code, out, err = log_in(sandbox, "--product", "atom")
    assert code == 1
    assert out == ""
    assert "refused to follow an HTTP 308 redirect" in err
    assert "Traceback" not in err
    assert not sandbox.decoy.requests
