"""The sandbox's redirect fault and its decoy host, over real HTTP with ``requests``.

The decoy is what a tap test uses to prove no credential leaves for another host: these tests
prove the decoy itself would catch one (it records method, target, headers and body).
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
import requests

from tap_audience.sandbox import Fault, Request, Sandbox, parse_fault_spec
from tests.helpers import start_sandbox_process

NOW = datetime(2024, 3, 10, 14, 30, tzinfo=timezone.utc)
ANALYST = "analyst@eq.example"
STATUSES = (301, 302, 303, 307, 308)
INSIGHTS = "/eq-api/beta/insights/os?c=37054&start=2024-03-01&end=2024-03-05"
HH = "/locus/prod/segment/hh-segments?coords=43.6532,-79.3832"
# One realistic request target per vendor prefix (the fault fires before any vendor logic).
PREFIX_TARGETS = {
    "/angus-console": "/angus-console/api-token-authstream/",
    "/angus-data": "/angus-data/api/1/entities?metrics=passing_by&time=by_hour",
    "/eq-auth/prod": "/eq-auth/prod/refresh?product=atom",
    "/eq-api": INSIGHTS,
    "/locus": HH,
}


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=7, now=NOW) as sandbox:
        yield sandbox
        assert sandbox.errors == []


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def eq_headers(sb: Sandbox) -> dict[str, str]:
    return {"eq-api-user": ANALYST, "eq-api-jwt": sb.mint_eq_token(ANALYST, "atom")}


# --- the redirect answer ------------------------------------------------------------------------
@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize(("method", "target"), [("GET", INSIGHTS), ("POST", HH)])
def test_each_status_points_at_the_decoy(
    sb: Sandbox, http: requests.Session, status: int, method: str, target: str
) -> None:
    sb.inject(Fault.redirect(status))
    resp = http.request(method, sb.base_url + target, allow_redirects=False)
    assert resp.status_code == status
    assert resp.headers["Location"] == sb.decoy.base_url + target
    assert sb.decoy.base_url.startswith("http://127.0.0.2:")
    assert resp.json() == {"message": "Moved"}
    assert sb.fault_log[0][:2] == ("redirect", method)
    assert sb.decoy.requests == []  # not followed: nothing reached the decoy


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("prefix", list(PREFIX_TARGETS))
def test_every_vendor_prefix_and_method(
    sb: Sandbox, http: requests.Session, prefix: str, method: str
) -> None:
    target = PREFIX_TARGETS[prefix]
    sb.inject(Fault.redirect(308, path=prefix, method=method))
    resp = http.request(method, sb.base_url + target, json={"a": 1}, allow_redirects=False)
    assert resp.status_code == 308
    assert resp.headers["Location"] == sb.decoy.base_url + target
    other = "POST" if method == "GET" else "GET"
    # The target keys still apply: another method is answered by the vendor as usual.
    assert http.request(other, sb.base_url + target, allow_redirects=False).status_code != 308


def test_target_and_trigger_keys_apply(sb: Sandbox, http: requests.Session) -> None:
    sb.inject(Fault.redirect(302, path="/locus", query={"coords": "1,2"}, schedule=[2], limit=1))
    url = f"{sb.locus_api_url}/prod/segment/hh-segments"
    statuses = [
        http.get(url, params={"coords": c}, allow_redirects=False).status_code
        for c in ("1,2", "1,2", "3,4", "1,2")
    ]
    assert statuses[1] == 302 and 302 not in (statuses[0], statuses[2], statuses[3])
    assert len(sb.fault_log) == 1


def test_absolute_url_is_used_verbatim(sb: Sandbox, http: requests.Session) -> None:
    elsewhere = "https://login.example.invalid/sso?next=%2Fhome&x=1"
    sb.inject(Fault.redirect(to=elsewhere, path="/eq-auth"))
    resp = http.get(f"{sb.eq_auth_url}/login?user=a", allow_redirects=False)
    assert (resp.status_code, resp.headers["Location"]) == (307, elsewhere)


def test_in_process_dispatch_rebuilds_the_target(sb: Sandbox) -> None:
    sb.inject(Fault.redirect(to="decoy"))
    req = Request("GET", "/locus/a b", {"coords": ["1,2"]}, {}, b"", NOW)
    resp = sb.dispatch(req)
    assert resp.headers["Location"] == sb.decoy.base_url + "/locus/a%20b?coords=1%2C2"


def test_the_decoy_runs_only_when_a_redirect_fault_needs_it() -> None:
    sandbox = Sandbox(seed=7, now=NOW)
    with sandbox:
        assert not sandbox.decoy.running  # a host without 127.0.0.2 still gets a sandbox
        sandbox.inject(Fault.redirect())
        assert sandbox.decoy.running
        resp = sandbox.dispatch(Request("GET", "/eq-api/x", {}, {}, b"", NOW))
        assert resp.status == 307
        assert dict(resp.headers)["Location"].startswith(sandbox.decoy.base_url)
    assert not sandbox.decoy.running


# --- following it ------------------------------------------------------------------------------
@pytest.mark.parametrize("status", STATUSES)
def test_following_reaches_the_decoy_which_records_everything(
    sb: Sandbox, http: requests.Session, status: int
) -> None:
    sb.inject(Fault.redirect(status, path="/eq-api"))
    resp = http.post(
        sb.base_url + INSIGHTS, headers={"eq-api-jwt": "xyz", "X-Custom": "1"}, data=b"secret=1"
    )
    assert resp.json() == {"decoy": True} and resp.history[0].status_code == status
    [seen] = sb.decoy.requests
    # requests keeps the method and body on 307/308 and turns POST into a bodiless GET otherwise.
    kept = status in (307, 308)
    assert seen.method == ("POST" if kept else "GET")
    assert seen.body == (b"secret=1" if kept else b"")
    assert seen.path == INSIGHTS
    assert seen.url_path == "/eq-api/beta/insights/os"
    assert seen.query == {"c": ["37054"], "start": ["2024-03-01"], "end": ["2024-03-05"]}
    # The leak a tap test looks for: a custom credential header survives a cross-host redirect.
    assert seen.headers["EQ-API-JWT"] == seen.header("eq-api-jwt") == "xyz"
    assert "x-custom" in seen.headers and "X-Custom" in list(seen.headers)
    assert seen.headers["host"] == f"127.0.0.2:{sb.decoy.port}"
    sb.decoy.clear()
    assert sb.decoy.requests == []


def test_redirect_to_self_once_is_followed_to_the_normal_answer(
    sb: Sandbox, http: requests.Session
) -> None:
    headers = eq_headers(sb)
    sb.inject(Fault.redirect(to="self", first=1, path="/eq-api"))
    resp = http.get(sb.base_url + INSIGHTS, headers=headers)
    assert [r.status_code for r in resp.history] == [307]
    assert resp.history[0].headers["Location"] == sb.base_url + INSIGHTS
    assert resp.status_code == 200
    assert resp.json() == http.get(sb.base_url + INSIGHTS, headers=headers).json()
    assert [r.status for r in sb.requests] == [307, 200, 200]
    assert len(sb.fault_log) == 1 and sb.decoy.requests == []


def test_redirect_to_self_keeps_a_post_body(sb: Sandbox, http: requests.Session) -> None:
    client_id, access_token = sb.cameras[0]
    body = {"username": "demo@angus.example", "client_id": client_id, "access_token": access_token}
    sb.inject(Fault.redirect(308, to="self", first=1, path="/angus-console", method="POST"))
    resp = http.post(f"{sb.angus_auth_url}/api-token-authstream/", json=body)
    assert [r.status_code for r in resp.history] == [308]
    assert resp.status_code == 200 and resp.json()["token"]


# --- the decoy on its own ----------------------------------------------------------------------
def test_decoy_answers_any_method_and_reads_any_body(sb: Sandbox, http: requests.Session) -> None:
    url = sb.decoy.start().base_url + "/any/where?q=1"
    for method in ("GET", "PUT", "DELETE", "OPTIONS", "PROPFIND"):
        resp = http.request(method, url)
        assert (resp.status_code, resp.json()) == (200, {"decoy": True}), method
    assert http.head(url).content == b""
    # A chunked body (a generator) must be recorded whole and keep the connection usable.
    http.post(url, data=(part for part in (b"to", b"ken=", b"abc")))
    http.get(url)
    seen = sb.decoy.requests
    assert [r.method for r in seen] == [
        "GET",
        "PUT",
        "DELETE",
        "OPTIONS",
        "PROPFIND",
        "HEAD",
        "POST",
        "GET",
    ]
    assert seen[6].body == b"token=abc" and seen[6].path == "/any/where?q=1"


def test_decoy_records_concurrent_requests(sb: Sandbox) -> None:
    def hit(i: int) -> int:
        return requests.get(f"{sb.decoy.base_url}/n/{i}").status_code

    sb.decoy.start()
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(hit, range(40))) == {200}
    assert sorted(int(r.path.rsplit("/", 1)[1]) for r in sb.decoy.requests) == list(range(40))


def test_decoy_stops_with_the_sandbox(http: requests.Session) -> None:
    with Sandbox(seed=7, now=NOW) as sandbox:
        decoy = sandbox.decoy.start()
        port = decoy.port
        assert http.get(decoy.base_url).status_code == 200  # a live keep-alive connection
    assert not decoy.running
    with pytest.raises(RuntimeError, match="not started"):
        _ = decoy.base_url
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", port), timeout=2).close()
    with pytest.raises(requests.ConnectionError):
        http.get(f"http://127.0.0.2:{port}/", timeout=2)


# --- spec and validation -----------------------------------------------------------------------
def test_specs_parse_and_round_trip() -> None:
    fault = parse_fault_spec("redirect=308,to=decoy,path=/eq-api")
    assert fault == Fault.redirect(308, to="decoy", path="/eq-api")
    assert parse_fault_spec("redirect") == Fault.redirect()
    assert Fault.redirect().describe() == "redirect=307,to=decoy"
    for fault in (
        Fault.redirect(),
        Fault.redirect(301, path=("/eq-api", "/locus"), method="POST", schedule=[1, 3]),
        Fault.redirect(302, to="self", first=1, limit=1, name="hop"),
        Fault.redirect(303, to="https://evil.example.invalid/x?a=1&b=2", rate=0.5, seed=3),
        Fault.redirect(308, query={"c": "37054"}, every=2),
    ):
        assert parse_fault_spec(fault.describe()) == fault


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("redirect=200", r"status must be a redirect status \(301, 302, 303, 307, 308\), got 200"),
        ("redirect=305", "status must be a redirect status"),
        ("redirect=abc", "status must be an integer"),
        ("redirect,to=elsewhere", "to must be 'decoy', 'self' or an http"),
        ("redirect,to=ftp://host/x", "to must be 'decoy', 'self' or an http"),
        ("redirect,metrics=a", "'metrics' does not apply to redirect"),
        ("status=503,to=decoy", "'to' does not apply to status"),
    ],
)
def test_bad_specs_are_readable(spec: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_fault_spec(spec)


def test_constructor_rejects_non_redirect_status() -> None:
    with pytest.raises(ValueError, match="redirect: status must be a redirect status"):
        Fault.redirect(404)


def test_cli_serves_the_fault_and_prints_the_decoy() -> None:
    process, text, config = start_sandbox_process("--fault", "redirect=308,to=decoy,path=/eq-api")
    try:
        decoy = next(line.split()[1] for line in text.splitlines() if "decoy_url" in line)
        assert decoy.startswith("http://127.0.0.2:")
        assert "redirect=308,path=/eq-api,to=decoy" in text
        resp = requests.get(config["eq_api_url"] + "/beta/campaigns", allow_redirects=False)
        assert resp.status_code == 308
        assert resp.headers["Location"] == decoy + "/eq-api/beta/campaigns"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
