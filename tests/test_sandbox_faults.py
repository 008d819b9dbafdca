"""Sandbox fault injection, seen from a client over real HTTP, plus spec parsing and redaction."""

from __future__ import annotations

import email.utils
import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from tap_audience.sandbox import Fault, FiredFault, Sandbox, parse_fault_spec
from tap_audience.sandbox.__main__ import main as sandbox_main
from tap_audience.sandbox.fault_mutations import EXTRA_NESTED, EXTRA_RECORD, EXTRA_TOP
from tap_audience.sandbox.redact import Redactor
from tests.helpers import start_sandbox_process

UTC = timezone.utc
NOW = datetime(2024, 3, 10, 14, 30, tzinfo=UTC)
ANALYST = "analyst@eq.example"
TORONTO = "43.6532,-79.3832"
MONTREAL = "45.5019,-73.5674"
HH = "/prod/segment/hh-segments"
DAYS = {"start": "2024-03-01", "end": "2024-03-05"}
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=5, now=NOW) as sandbox:
        yield sandbox
        assert sandbox.errors == []  # client hang-ups (timeouts, drops) are not sandbox errors


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


# --- helpers -----------------------------------------------------------------------------------
def angus_token(sb: Sandbox, http: requests.Session) -> str:
    client_id, access_token = sb.cameras[0]
    body = {"username": "demo@angus.example", "client_id": client_id, "access_token": access_token}
    resp = http.post(f"{sb.angus_auth_url}/api-token-authstream/", json=body)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["token"])


def entities(
    sb: Sandbox, http: requests.Session, token: str, metrics: str = "passing_by,interested"
) -> requests.Response:
    return http.get(
        f"{sb.angus_api_url}/api/1/entities",
        params={"metrics": metrics, "from_date": "2024-03-09T00:00:00Z", "time": "by_hour"},
        headers={"Authorization": f"Bearer {token}"},
    )


def insights(
    sb: Sandbox, http: requests.Session, token: str, campaign: int = 37054
) -> requests.Response:
    return http.get(
        f"{sb.eq_api_url}/beta/insights/os",
        params={"c": campaign, **DAYS},
        headers={"eq-api-user": ANALYST, "eq-api-jwt": token},
    )


def segments(sb: Sandbox, http: requests.Session, token: str, *coords: str) -> requests.Response:
    return http.get(
        f"{sb.locus_api_url}{HH}", params={"coords[]": list(coords)}, headers={"eq-api-jwt": token}
    )


def keywarden(sb: Sandbox, http: requests.Session, route: str, token: str) -> requests.Response:
    return http.get(f"{sb.eq_auth_url}/{route}", headers={"eq-api-jwt": token})


def statuses(http: requests.Session, url: str, n: int) -> list[int]:
    return [http.get(url).status_code for _ in range(n)]


# --- replacing faults --------------------------------------------------------------------------
def test_status_schedule_counts_only_matching_requests(sb: Sandbox, http: requests.Session) -> None:
    sb.inject(
        Fault.status(
            503,
            path="/locus",
            schedule=[1, 2],
            body="Scheduled system maintenance",
            content_type="text/plain",
        )
    )
    token = sb.mint_eq_token(ANALYST, "locus")
    first = segments(sb, http, token, TORONTO)
    assert first.status_code == 503 and first.text == "Scheduled system maintenance"
    assert first.headers["Content-Type"].startswith("text/plain")
    assert http.get(sb.eq_auth_url).status_code == 200  # another path: not counted
    assert segments(sb, http, token, TORONTO).status_code == 503
    assert segments(sb, http, token, TORONTO).status_code == 200
    assert sb.fault_log == [FiredFault("status", "GET", "/locus" + HH)] * 2
    assert sb.fault_log[0] == ("status", "GET", "/locus" + HH)


def test_status_default_body_and_retry_after(sb: Sandbox, http: requests.Session) -> None:
    sb.inject(Fault.status(504, first=1, retry_after=3))
    resp = http.get(sb.eq_auth_url)
    assert (resp.status_code, resp.json()) == (504, {"message": "Gateway Timeout"})
    assert resp.headers["Retry-After"] == "3"
    assert http.get(sb.eq_auth_url).status_code == 200


def test_rate_limited_retry_after_seconds_and_http_date(
    sb: Sandbox, http: requests.Session
) -> None:
    sb.inject(Fault.rate_limited(path="/angus-data", schedule=[1], retry_after=2))
    sb.inject(
        Fault.rate_limited(path="/eq-api", schedule=[1], retry_after_http_date=True, retry_after=1)
    )
    resp = entities(sb, http, angus_token(sb, http))
    assert (resp.status_code, resp.json()) == (429, {"message": "Too Many Requests"})
    assert resp.headers["Retry-After"] == "2"
    before = time.time()
    resp = insights(sb, http, sb.mint_eq_token(ANALYST, "atom"))
    assert resp.status_code == 429
    when = email.utils.parsedate_to_datetime(resp.headers["Retry-After"])
    assert resp.headers["Retry-After"].endswith(" GMT")
    assert before + 1 <= when.timestamp() <= before + 3  # rounded up to a whole second
    assert insights(sb, http, sb.mint_eq_token(ANALYST, "atom")).status_code == 200


@pytest.mark.parametrize("status", [502, 200])
def test_html_error_page(sb: Sandbox, http: requests.Session, status: int) -> None:
    sb.inject(Fault.html_error_page(path="/eq-api", schedule=[1], status=status))
    resp = insights(sb, http, sb.mint_eq_token(ANALYST, "atom"))
    assert resp.status_code == status
    assert resp.headers["Content-Type"].startswith("text/html")
    assert resp.text.startswith("<!DOCTYPE html>")
    with pytest.raises(requests.exceptions.JSONDecodeError):
        resp.json()


# --- transport faults --------------------------------------------------------------------------
def test_slow_answer_times_out_a_short_client_timeout(sb: Sandbox) -> None:
    lines: list[str] = []
    sb.log_requests_to(lines.append)
    sb.inject(Fault.slow(path="/eq-auth", delay_seconds=0.5, schedule=[1]))
    started = time.monotonic()
    with requests.Session() as http, pytest.raises(requests.exceptions.Timeout):
        http.get(sb.eq_auth_url, timeout=0.2)
    assert time.monotonic() - started < 0.45
    with requests.Session() as http:
        fast = time.monotonic()
        assert http.get(sb.eq_auth_url, timeout=2).json()["STAGE"] == "prod"
        assert time.monotonic() - fast < 0.2  # only the scheduled request is slow
    assert lines[0] == "GET /eq-auth/prod 200 (delayed 0.5s)"
    assert sb.fault_log == [("slow", "GET", "/eq-auth/prod")]
    time.sleep(max(0.0, 0.6 - (time.monotonic() - started)))
    assert sb.errors == []  # answering a client that gave up is not a sandbox error


def test_drop_connection_promises_the_full_length_then_closes(sb: Sandbox) -> None:
    sb.inject(Fault.drop_connection(path="/angus-data", schedule=[1]))
    with requests.Session() as http:
        token = angus_token(sb, http)
        resp = http.get(
            f"{sb.angus_api_url}/api/1/entities",
            params={"metrics": "gender", "from_date": "2024-03-09T00:00:00Z", "time": "by_hour"},
            headers={"Authorization": f"Bearer {token}"},
            stream=True,
        )
        assert resp.status_code == 200
        promised = int(resp.headers["Content-Length"])
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            _ = resp.content
    with requests.Session() as http:  # the next request gets the whole answer
        full = entities(sb, http, angus_token(sb, http), metrics="gender")
        assert full.status_code == 200 and len(full.content) == promised
        token = angus_token(sb, http)
        sb.inject(Fault.drop_connection(path="/angus-data", first=1, after_bytes=0))
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            entities(sb, http, token)


def test_truncated_body_has_a_matching_content_length(sb: Sandbox, http: requests.Session) -> None:
    sb.inject(Fault.truncated_body(path="/eq-api/beta/insights", schedule=[1]))
    token = sb.mint_eq_token(ANALYST, "atom")
    cut, full = insights(sb, http, token), insights(sb, http, token)
    assert cut.status_code == 200 and int(cut.headers["Content-Length"]) == len(cut.content)
    assert cut.content == full.content[: len(full.content) // 2]
    with pytest.raises(requests.exceptions.JSONDecodeError):
        cut.json()
    full.json()


# --- tokens and entitlement --------------------------------------------------------------------
def test_expired_angus_token_works_again_after_re_auth(sb: Sandbox, http: requests.Session) -> None:
    old = angus_token(sb, http)
    sb.inject(Fault.expire_tokens(vendor="angus", schedule=[3]))
    assert entities(sb, http, old).ok and entities(sb, http, old).ok
    for _ in range(2):  # from the 3rd data request on, the old token stays expired
        resp = entities(sb, http, old)
        assert (resp.status_code, resp.json()) == (
            401,
            {"code": "expired_jwt", "message": "Signature has expired"},
        )
    new = angus_token(sb, http)  # re-auth in the same second still gives a distinct token
    assert new != old and entities(sb, http, new).ok
    assert sb.fault_log == [("expire_tokens", "GET", "/angus-data/api/1/entities")] * 2


def test_expired_eq_tokens_everywhere_then_a_new_login(sb: Sandbox, http: requests.Session) -> None:
    atom, locus = sb.mint_eq_token(ANALYST, "atom"), sb.mint_eq_token(ANALYST, "locus")
    sb.inject(Fault.expire_tokens(vendor="eq", schedule=[1]))
    resp = insights(sb, http, atom)
    assert (resp.status_code, resp.json()) == (403, {"message": f"Invalid JWT: {atom}"})
    resp = keywarden(sb, http, "confirm", atom)
    assert resp.status_code == 403
    assert resp.json() == {
        "message": f"Invalid JWT: {atom}",
        "statusCode": 403,
        "logLevel": "WARNING",
    }
    assert keywarden(sb, http, "refresh", atom).status_code == 403  # too late to refresh
    resp = segments(sb, http, locus, TORONTO)
    assert resp.status_code == 403 and resp.json() == {
        "Message": "User is not authorized to access this resource with an explicit deny"
    }
    # keywarden's OTP login issues a token that works
    assert http.get(f"{sb.eq_auth_url}/login", params={"user": ANALYST}).ok
    otp = sb.last_otp(ANALYST)
    verified = http.get(f"{sb.eq_auth_url}/verify", params={"user": ANALYST, "otp": otp})
    assert insights(sb, http, verified.json()["token"]).ok
    assert segments(sb, http, sb.mint_eq_token(ANALYST, "locus"), TORONTO).ok


def test_expired_eq_token_refreshed_when_keywarden_is_spared(
    sb: Sandbox, http: requests.Session
) -> None:
    atom = sb.mint_eq_token(ANALYST, "atom")
    sb.inject(Fault.expire_tokens(vendor="eq", path=("/eq-api", "/locus"), schedule=[1]))
    assert insights(sb, http, atom).status_code == 403
    refreshed = keywarden(sb, http, "refresh", atom)
    assert refreshed.status_code == 200
    new = refreshed.json()["token"]
    assert new != atom and insights(sb, http, new).ok
    assert insights(sb, http, atom).status_code == 403


def test_deny_coordinate_after_the_auth_checks(sb: Sandbox, http: requests.Session) -> None:
    sb.inject(Fault.deny_coordinate(MONTREAL))
    token = sb.mint_eq_token(ANALYST, "locus")
    resp = segments(sb, http, token, MONTREAL)
    assert (resp.status_code, resp.json()) == (403, {"message": "Access not allowed"})
    assert segments(sb, http, token, TORONTO, "45.50190,-73.5674").status_code == 403
    alias = http.get(
        f"{sb.locus_api_url}{HH}", params={"coords": MONTREAL}, headers={"eq-api-jwt": token}
    )
    assert alias.status_code == 403
    assert segments(sb, http, token, TORONTO).ok
    assert segments(sb, http, "junk", MONTREAL).json() == {
        "Message": "User is not authorized to access this resource with an explicit deny"
    }
    assert len(sb.fault_log) == 3


# --- body mutations ----------------------------------------------------------------------------
def test_wrong_types(sb: Sandbox, http: requests.Session) -> None:
    token = angus_token(sb, http)
    atom = sb.mint_eq_token(ANALYST, "atom")
    clean_angus, clean_rows = entities(sb, http, token).json(), insights(sb, http, atom).json()
    sb.inject(Fault.wrong_types(path="/angus-data", schedule=[1]))
    sb.inject(Fault.wrong_types(path="/eq-api/beta/insights", schedule=[1]))
    body, rows = entities(sb, http, token).json(), insights(sb, http, atom).json()
    first = min(body["entities"])
    bucket, clean_bucket = body["entities"][first], clean_angus["entities"][first]
    assert bucket["passing_by"]["value"] == "abc"
    assert bucket["interested"]["value"] == str(clean_bucket["interested"]["value"])
    del body["entities"][first], clean_angus["entities"][first]
    assert body == clean_angus
    assert rows[0]["Imps"] == "n/a" and rows[0]["Clicks"] == str(clean_rows[0]["Clicks"])
    assert rows[0]["_id"] == clean_rows[0]["_id"] and rows[1:] == clean_rows[1:]
    assert entities(sb, http, token).json() == entities(sb, http, token).json()  # schedule over


def test_extra_fields(sb: Sandbox, http: requests.Session) -> None:
    token, locus = angus_token(sb, http), sb.mint_eq_token(ANALYST, "locus")
    clean_angus = entities(sb, http, token).json()
    clean_locus = segments(sb, http, locus, TORONTO).json()
    sb.inject(Fault.extra_fields(path=("/angus-data", "/locus")))
    body, items = entities(sb, http, token).json(), segments(sb, http, locus, TORONTO).json()
    assert body.pop(EXTRA_TOP[0]) == EXTRA_TOP[1]
    for bucket in body["entities"].values():
        assert bucket.pop(EXTRA_RECORD) == {"value": 1}
        for metric in bucket.values():
            assert metric.pop(EXTRA_NESTED[0]) == EXTRA_NESTED[1]
    assert body == clean_angus
    assert items[0].pop(EXTRA_RECORD) == 1
    for segment in items[0]["segments"]:
        assert segment.pop(EXTRA_NESTED[0]) == EXTRA_NESTED[1]
    assert items == clean_locus


def test_missing_metrics_and_no_firing_on_errors(sb: Sandbox, http: requests.Session) -> None:
    token = angus_token(sb, http)
    metrics = "passing_by,stop_time,satisfaction,gender"
    clean = entities(sb, http, token, metrics).json()
    sb.inject(
        Fault.missing_metrics(path="/angus-data", metrics=["satisfaction", "stop_time"], limit=1)
    )
    assert entities(sb, http, token, "nonsense").status_code == 400  # nothing to remove
    assert sb.fault_log == []
    body = entities(sb, http, token, metrics).json()
    assert set(body["entities"]) == set(clean["entities"])
    for key, bucket in body["entities"].items():
        assert set(bucket) == {"passing_by", "gender"}
        assert bucket["gender"] == clean["entities"][key]["gender"]
    assert entities(sb, http, token, metrics).json() == clean  # limit=1 is used up
    assert len(sb.fault_log) == 1


# --- triggers and targeting --------------------------------------------------------------------
def _rate_pattern(seed: int, n: int = 40) -> list[int]:
    with Sandbox(seed=1, now=NOW) as sandbox, requests.Session() as http:
        sandbox.inject(Fault.status(503, path="/eq-auth", rate=0.5, seed=seed))
        return statuses(http, sandbox.eq_auth_url, n)


def test_rate_is_reproducible_from_its_seed() -> None:
    pattern = _rate_pattern(11)
    assert pattern == _rate_pattern(11)
    draws = random.Random(11)
    assert pattern == [503 if draws.random() < 0.5 else 200 for _ in range(40)]
    assert pattern != _rate_pattern(12)
    assert {200, 503} == set(pattern)


def test_first_every_and_limit(sb: Sandbox, http: requests.Session) -> None:
    url = sb.eq_auth_url
    sb.inject(Fault.status(500, path="/eq-auth", every=3))
    assert statuses(http, url, 7) == [200, 200, 500, 200, 200, 500, 200]
    sb.clear_faults()
    assert sb.fault_log == [] and sb.active_faults == []
    sb.inject(Fault.status(500, first=2))
    assert statuses(http, url, 3) == [500, 500, 200]
    sb.clear_faults()
    sb.inject(Fault.status(500, rate=1.0, limit=2, name="two-only"))
    assert statuses(http, url, 4) == [500, 500, 200, 200]
    assert [entry.name for entry in sb.fault_log] == ["two-only"] * 2


def test_path_method_query_and_predicate_targeting(sb: Sandbox, http: requests.Session) -> None:
    atom = sb.mint_eq_token(ANALYST, "atom")
    sb.inject(Fault.status(500, path="/eq-api/beta/insights", query={"c": "41001"}))
    assert insights(sb, http, atom, 41001).status_code == 500
    assert insights(sb, http, atom, 37054).ok
    campaigns = http.get(
        f"{sb.eq_api_url}/beta/campaigns", headers={"eq-api-user": ANALYST, "eq-api-jwt": atom}
    )
    assert campaigns.ok
    sb.clear_faults()
    sb.inject(Fault.status(418, path="/angus-console", method="POST"))
    assert http.get(f"{sb.angus_auth_url}/api-token-authstream/").status_code == 405
    assert http.post(f"{sb.angus_auth_url}/api-token-authstream/", json={}).status_code == 418
    sb.clear_faults()
    sb.inject(Fault.status(503, when=lambda req: req.header("x-chaos") == "yes"))
    assert http.get(sb.eq_auth_url, headers={"x-chaos": "yes"}).status_code == 503
    assert http.get(sb.eq_auth_url).ok
    sb.clear_faults()
    sb.inject(Fault.status(503, path="/eq"))  # whole segments: "/eq" is not "/eq-auth"
    assert http.get(sb.eq_auth_url).ok


def test_concurrent_requests_fire_exactly_the_scheduled_share(sb: Sandbox) -> None:
    sb.inject(Fault.status(503, path="/eq-auth", every=4))

    def one(_: int) -> int:
        with requests.Session() as http:
            return statuses(http, sb.eq_auth_url, 10).count(503)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(one, range(8))) == 20
    assert len(sb.fault_log) == 20


# --- CLI grammar -------------------------------------------------------------------------------
def test_fault_specs_parse_and_round_trip() -> None:
    fault = parse_fault_spec("status=503,path=/locus,rate=0.3,seed=2")
    assert fault == Fault.status(503, path="/locus", rate=0.3, seed=2)
    fault = parse_fault_spec("rate_limited,path=/angus-data,rate=0.1,retry_after=1")
    assert fault == Fault.rate_limited(path="/angus-data", rate=0.1, retry_after=1)
    fault = parse_fault_spec("drop_connection,path=/eq-api,schedule=1;4")
    assert fault == Fault.drop_connection(path="/eq-api", schedule=[1, 4])
    assert parse_fault_spec(f"deny_coordinate={MONTREAL},limit=2") == Fault.deny_coordinate(
        MONTREAL, limit=2
    )
    fault = parse_fault_spec(
        "status=503,path=/locus|/eq-auth,query.c=37054,body=Down, sorry,retry_after=5,"
        "retry_after_http_date,content_type=text/plain"
    )
    assert fault.path == ("/locus", "/eq-auth") and fault.query == (("c", "37054"),)
    assert fault.body == "Down, sorry" and fault.retry_after_http_date
    assert parse_fault_spec("expire_tokens=eq").path == ("/eq-api", "/eq-auth", "/locus")
    assert parse_fault_spec("missing_metrics=Imps;Clicks").metrics == ("Imps", "Clicks")
    for fault in (
        Fault.slow(delay_seconds=2.5, path="/eq-api", every=3, limit=4, name="lag"),
        Fault.html_error_page(status=200, first=1),
        Fault.wrong_types(path="/angus-data", rate=0.25, seed=9),
        Fault.expire_tokens(vendor="angus", schedule=[3]),
    ):
        assert parse_fault_spec(fault.describe()) == fault


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("bogus", "unknown fault kind 'bogus'"),
        ("status", "status is required"),
        ("status=abc", "status must be an integer"),
        ("status=503,rate=2", "rate must be between 0 and 1"),
        ("status=503,rate=0.1,schedule=1", "choose one trigger"),
        ("status=503,colour=red", "unknown key 'colour'"),
        ("slow=1,metrics=a", "'metrics' does not apply to slow"),
        ("wrong_types=3", "wrong_types takes no value"),
        ("deny_coordinate=nowhere", "is not 'lat,lon'"),
        ("status=503,schedule=0", "1-based"),
        ("expire_tokens=google", "vendor must be one of angus, eq"),
    ],
)
def test_bad_fault_specs_are_readable(spec: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_fault_spec(spec)


def test_bad_fault_spec_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        sandbox_main(["--fault", "status=503,rate=lots"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --fault: bad fault spec 'status=503,rate=lots': rate must be a number" in err


# --- redaction ---------------------------------------------------------------------------------
def test_errors_and_request_log_are_redacted(http: requests.Session) -> None:
    with Sandbox(seed=5, now=NOW) as sb:
        _leak_and_check(sb, http)


def _leak_and_check(sb: Sandbox, http: requests.Session) -> None:
    jwt_token = sb.mint_eq_token(ANALYST, "atom")
    access_token = sb.cameras[0][1]
    lines: list[str] = []
    sb.log_requests_to(lines.append)

    def leaky(req: Any) -> None:
        if req.path.endswith("/boom"):
            raise RuntimeError(f"bad {req.header('eq-api-jwt')} for {access_token}")

    sb.faults.append(leaky)
    resp = http.get(f"{sb.eq_api_url}/boom", headers={"eq-api-jwt": jwt_token})
    assert resp.status_code == 500
    http.get(f"{sb.eq_api_url}/beta/campaigns/{jwt_token}", params={"otp": "ABC123"})
    errors = sb.errors
    assert len(errors) == 1 and "RuntimeError: bad *** for ***" in errors[0]
    assert jwt_token not in errors[0] and access_token not in errors[0]
    assert lines == ["GET /eq-api/boom 500", "GET /eq-api/beta/campaigns/*** 401"]


def test_redactor_masks_credentials_by_shape_and_value() -> None:
    redact = Redactor(["0f3c1c5e-aaaa-4bbb-8ccc-123456789abc"])
    text = (
        "Authorization: Bearer abc.def.ghi; eq-api-jwt=eyJhbGciOi.eyJlbWFpbCI6.sig "
        '{"token": "eyJxyz", "access_token": "0f3c1c5e-aaaa-4bbb-8ccc-123456789abc"} otp=1A2B3C'
    )
    assert redact(text) == (
        'Authorization: Bearer ***; eq-api-jwt=*** {"token": "***", "access_token": "***"} otp=***'
    )


def test_cli_lists_faults_and_logs_requests_without_secrets() -> None:
    process, text, config = start_sandbox_process(
        "--log-requests", "--fault", "status=503,path=/locus,schedule=1,body=maintenance"
    )
    try:
        assert "faults:\n  status=503,path=/locus,schedule=1,body=maintenance\n" in text
        locus = {"eq-api-jwt": config["locus_jwt"]}
        url = config["locus_api_url"] + HH
        assert requests.get(url, params={"coords[]": TORONTO}, headers=locus).status_code == 503
        assert requests.get(url, params={"coords[]": TORONTO}, headers=locus).ok
        requests.get(config["eq_api_url"] + "/beta/campaigns/" + config["eq_jwt"], timeout=5)
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    assert err.splitlines()[:3] == [
        f"GET /locus{HH} 503",
        f"GET /locus{HH} 200",
        "GET /eq-api/beta/campaigns/*** 401",
    ]
    assert "eyJ" not in err and config["eq_jwt"] not in err


def test_quiet_prints_only_the_config() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tap_audience.sandbox", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        rest = []
        for line in process.stdout:
            rest.append(line)
            if line.rstrip("\n") == "}":
                break
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert first == "{\n"
    assert json.loads(first + "".join(rest))["angus_streams"]
    assert out == "" and err == ""
