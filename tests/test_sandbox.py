"""The sandbox over real HTTP: vendor behaviour (docs/vendors.md) and agreement with its oracle."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from typing import Any

import jwt
import pytest
import requests

from tap_audience.sandbox import ANGUS_METRICS, DIMENSIONS, Response, Sandbox

UTC = timezone.utc
NOW = datetime(2024, 3, 10, 14, 30, tzinfo=UTC)
ANALYST = "analyst@eq.example"
TORONTO = "43.6532,-79.3832"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=7, now=NOW) as sandbox:
        yield sandbox
        assert sandbox.errors == []


@pytest.fixture
def fresh() -> Iterator[Sandbox]:
    """A private sandbox for tests that move the clock or change knobs."""
    with Sandbox(seed=3, now=NOW) as sandbox:
        yield sandbox
        assert sandbox.errors == []


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


# --- helpers -----------------------------------------------------------------------------------
def angus_token(sb: Sandbox, http: requests.Session, camera: int = 0) -> str:
    client_id, access_token = sb.cameras[camera]
    body = {"username": "demo@angus.example", "client_id": client_id, "access_token": access_token}
    resp = http.post(f"{sb.angus_auth_url}/api-token-authstream/", json=body)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["token"])


def entities(
    sb: Sandbox, http: requests.Session, token: str, **params: Any
) -> requests.models.Response:
    return http.get(
        f"{sb.angus_api_url}/api/1/entities",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
    )


def to_records(client_id: str, time_bucket: str, body: dict[str, Any], metrics: list[str]):
    """What the tap is expected to do with one page (reference transformation)."""
    out = []
    for key, values in body["entities"].items():

        def value(name: str, values: dict[str, Any] = values) -> Any:
            return values[name]["value"] if name in values and name in metrics else None

        gender = values.get("gender")
        out.append(
            {
                "client_id": client_id,
                "time_bucket": time_bucket,
                "bucket_start": key,
                "passing_by": value("passing_by"),
                "interested": value("interested"),
                "stop_time": value("stop_time"),
                "attention_time": value("attention_time"),
                "satisfaction": value("satisfaction"),
                "category": values.get("category"),
                "gender": None
                if gender is None
                else {"female": gender["female"], "male": gender["male"], "unknown": gender["?"]},
            }
        )
    return out


def sync_angus(
    sb: Sandbox, http: requests.Session, camera: int, time_bucket: str, from_date: str, **extra: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Follow next_page to the end; return (records sorted by bucket_start, raw pages)."""
    token = angus_token(sb, http, camera)
    metrics = ",".join(ANGUS_METRICS)
    first = entities(
        sb, http, token, metrics=metrics, from_date=from_date, time=time_bucket, **extra
    )
    pages = [first.json()]
    while pages[-1]["next_page"]:
        resp = http.get(pages[-1]["next_page"], headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text
        pages.append(resp.json())
    client_id = sb.cameras[camera][0]
    records = [r for p in pages for r in to_records(client_id, time_bucket, p, list(ANGUS_METRICS))]
    return sorted(records, key=lambda r: r["bucket_start"]), pages


def eq_headers(sb: Sandbox, product: str = "atom", user: str = ANALYST) -> dict[str, str]:
    return {"eq-api-user": user, "eq-api-jwt": sb.mint_eq_token(user, product)}


def insights_records(campaign: int, dimension: str, rows: list[dict[str, Any]]):
    key = DIMENSIONS[dimension][0]
    names = {
        "Imps": "imps", "Clicks": "clicks", "Actions": "actions", "Bids": "bids",
        "BidAmount": "bid_amount", "ImpCost": "imp_cost", "Revenue": "revenue",
        "VastView": "vast_view", "VastCompletion0": "vast_completion_0",
        "VastCompletion25": "vast_completion_25", "VastCompletion50": "vast_completion_50",
        "VastCompletion75": "vast_completion_75", "VastCompletion100": "vast_completion_100",
    }  # fmt: skip
    out = []
    for row in rows:
        rec = {
            "campaign_id": campaign,
            "date": row["_id"]["Date"],
            "dimension_value": str(row["_id"][key]),
            "_id": row["_id"],
        }
        rec.update({col: row[api] for api, col in names.items()})
        out.append(rec)
    return sorted(out, key=lambda r: (r["date"], r["dimension_value"]))


# --- lifecycle, config, log --------------------------------------------------------------------
def test_credentials_are_a_usable_config(sb: Sandbox) -> None:
    cfg = sb.credentials()
    assert cfg["angus_username"] == "demo@angus.example"
    assert len(cfg["angus_streams"]) == 3
    for stream in cfg["angus_streams"]:
        assert uuid.UUID(stream["client_id"]).version == 4
        assert uuid.UUID(stream["access_token"]).version == 4
    assert [(s["client_id"], s["access_token"]) for s in cfg["angus_streams"]] == sb.cameras
    assert cfg["angus_api_url"] == sb.base_url + "/angus-data"
    assert cfg["eq_auth_url"].endswith("/eq-auth/prod")
    assert cfg["eq_campaign_ids"] == [c["CampCode"] for c in sb.campaigns]
    assert TORONTO in cfg["locus_coords"] and len(cfg["locus_coords"]) == 3
    atom = jwt.decode(cfg["eq_jwt"], options={"verify_signature": False})
    locus = jwt.decode(cfg["locus_jwt"], options={"verify_signature": False})
    assert (atom["product"], locus["product"]) == ("atom", "locus")
    assert atom["email"] == ANALYST and atom["exp"] - atom["iat"] == 90 * 86400
    assert atom["api_access"]["wl"] == [1202] and atom["prefix"] == "customers"
    # deterministic from the seed
    assert Sandbox(seed=7).cameras == sb.cameras
    assert Sandbox(seed=8).cameras != sb.cameras


def test_request_log_keep_alive_and_fault_hook(fresh: Sandbox, http: requests.Session) -> None:
    fresh.clear_requests()
    token = angus_token(fresh, http)
    entities(fresh, http, token, metrics="interested", from_date="2024-03-10T00:00:00Z")
    log = fresh.requests
    assert [(r.method, r.path, r.status) for r in log] == [
        ("POST", "/angus-console/api-token-authstream/", 200),
        ("GET", "/angus-data/api/1/entities", 200),
    ]
    assert log[1].query["metrics"] == ["interested"]
    assert fresh.connections_accepted == 1  # the Session reused its connection

    def boom(req: Any) -> Response | None:
        return (
            Response(503, {"Content-Type": "text/plain"}, b"maintenance")
            if "eq" in req.path
            else None
        )

    fresh.faults.append(boom)
    assert http.get(f"{fresh.eq_auth_url}/login", params={"user": ANALYST}).status_code == 503
    assert entities(fresh, http, token, metrics="interested", from_date="2024-03-10T00:00Z").ok
    fresh.clear_requests()
    assert fresh.requests == []


def test_stop_really_stops() -> None:
    sandbox = Sandbox(now=NOW).start()
    url = sandbox.eq_auth_url
    with requests.Session() as session:
        assert session.get(url).json()["STAGE"] == "prod"
        sandbox.stop()
        with pytest.raises(requests.ConnectionError):
            session.get(url, timeout=2)


# --- Angus auth --------------------------------------------------------------------------------
def test_angus_token_success_json_form_and_no_slash(sb: Sandbox, http: requests.Session) -> None:
    client_id, access_token = sb.cameras[1]
    body = {"username": "demo@angus.example", "client_id": client_id, "access_token": access_token}
    for resp in (
        http.post(f"{sb.angus_auth_url}/api-token-authstream/", json=body),
        http.post(f"{sb.angus_auth_url}/api-token-authstream", data=body),
    ):
        assert resp.status_code == 200, resp.text
        claims = jwt.decode(resp.json()["token"], options={"verify_signature": False})
        assert claims["client_id"] == client_id
        assert claims["username"] == claims["email"] == "demo@angus.example"
        assert claims["exp"] - claims["orig_iat"] == 18000
        assert "iat" not in claims and isinstance(claims["user_id"], int)


def test_angus_token_errors(sb: Sandbox, http: requests.Session) -> None:
    url = f"{sb.angus_auth_url}/api-token-authstream/"
    client_id, access_token = sb.cameras[0]
    wrong = {"username": "demo@angus.example", "client_id": client_id, "access_token": "nope"}
    resp = http.post(url, json=wrong)
    assert resp.status_code == 400
    assert resp.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    # someone else's stream
    other = {**wrong, "client_id": sb.cameras[1][0], "access_token": access_token}
    assert http.post(url, json=other).json()["non_field_errors"]
    resp = http.post(url, json={"client_id": client_id, "access_token": access_token})
    assert (resp.status_code, resp.json()) == (400, {"username": ["This field is required."]})
    resp = http.post(url, json={"username": "demo@angus.example"})
    assert set(resp.json()) == {"client_id", "access_token"}
    assert http.get(url).status_code == 405


def test_entities_auth_failures(sb: Sandbox, http: requests.Session) -> None:
    url = f"{sb.angus_api_url}/api/1/entities"
    params = {"metrics": "interested", "from_date": "2024-03-10T00:00:00+00:00"}
    resp = http.get(url, params=params)
    assert resp.status_code == 401 and resp.json()["code"] == "authorization_header_missing"
    resp = http.get(url, params=params, headers={"Authorization": "Bearer garbage"})
    assert resp.status_code == 401 and resp.json()["code"] == "invalid_jwt"
    foreign = Sandbox(seed=99).mint_angus_token(sb.cameras[0][0])
    assert entities(sb, http, foreign, **params).json()["code"] == "invalid_jwt"
    expired = sb.mint_angus_token(sb.cameras[0][0], ttl_seconds=-5)
    resp = entities(sb, http, expired, **params)
    assert resp.status_code == 401
    assert resp.json() == {"code": "expired_jwt", "message": "Signature has expired"}


_D = "2024-03-10T00:00Z"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"from_date": _D}, "missing_mandatory_param"),
        ({"metrics": "interested"}, "missing_mandatory_param"),
        ({"metrics": "interested,bogus", "from_date": _D}, "unexisting_metric"),
        ({"metrics": "interested, gender", "from_date": _D}, "unexisting_metric"),
        ({"metrics": "interested", "from_date": _D, "time": "hourly"}, "unexisting_time"),
        ({"metrics": "interested", "from_date": _D, "page": "2"}, "page_not_existing"),
        ({"metrics": "interested", "from_date": _D, "page": "0"}, "page_not_existing"),
        ({"metrics": "interested", "from_date": "2024-03-10T00:00:00"}, "invalid_date"),
    ],
)
def test_entities_param_errors(
    sb: Sandbox, http: requests.Session, params: dict[str, str], code: str
) -> None:
    resp = entities(sb, http, sb.mint_angus_token(sb.cameras[0][0]), **params)
    assert resp.status_code == 400
    assert resp.json()["code"] == code and resp.json()["message"]


# --- Angus data --------------------------------------------------------------------------------
def test_pagination_follows_next_page_and_matches_oracle(
    sb: Sandbox, http: requests.Session
) -> None:
    records, pages = sync_angus(sb, http, 0, "by_hour", "2024-03-07T00:00:00+00:00")
    # 3 full days + 14 whole hours + the partial 14:00 bucket
    assert pages[0]["total_results"] == 72 + 15 == len(records)
    assert [p["nb_of_pages"] for p in pages] == [2, 2] and [p["page"] for p in pages] == [1, 2]
    assert pages[0]["next_page"].startswith(sb.angus_api_url + "/api/1/entities?")
    assert "page=2" in pages[0]["next_page"] and pages[1]["next_page"] == ""
    assert pages[0]["to_date"] == "2024-03-10T14:30:00+00:00"
    first_keys = list(pages[0]["entities"])
    assert first_keys != sorted(first_keys)  # order is not guaranteed: the tap must sort
    expected = sb.expected_angus(
        sb.cameras[0][0], datetime(2024, 3, 7, tzinfo=UTC), datetime(2024, 3, 11, tzinfo=UTC)
    )
    assert records == expected
    assert records[-1]["bucket_start"] == "2024-03-10T14:00:00+00:00"


def test_page_size_relative_next_page_and_empty(fresh: Sandbox, http: requests.Session) -> None:
    fresh.angus_page_size = 10
    fresh.angus_next_page_relative = True
    token = angus_token(fresh, http)
    body = entities(
        fresh, http, token, metrics="passing_by", from_date="2024-03-10T00:00:00Z", time="by_hour"
    ).json()
    assert (body["total_results"], body["nb_of_pages"], len(body["entities"])) == (15, 2, 10)
    assert body["next_page"].startswith("/angus-data/api/1/entities?")
    last = http.get(
        fresh.base_url + body["next_page"], headers={"Authorization": f"Bearer {token}"}
    )
    assert len(last.json()["entities"]) == 5
    future = entities(fresh, http, token, metrics="passing_by", from_date="2024-04-01T00:00:00Z")
    empty = entities(
        fresh, http, token, metrics="passing_by", from_date="2024-04-01T00:00:00Z", time="by_day"
    ).json()
    assert future.json()["entities"]["global"]["passing_by"] == {"value": 0}
    assert (empty["entities"], empty["total_results"], empty["nb_of_pages"]) == ({}, 0, 1)


def test_date_flavours_and_echo(sb: Sandbox, http: requests.Session) -> None:
    token = angus_token(sb, http)
    seen = []
    for from_date in (
        "2024-03-09T05:45:00+0200",
        "2024-03-09T05:45:00+02:00",
        "2024-03-09T03:45:00Z",
        "2024-03-09T03:45:00.000Z",
        "2024-03-09T03:45:00.123456+00:00",
    ):
        resp = entities(sb, http, token, metrics="passing_by", from_date=from_date, time="by_day")
        assert resp.status_code == 200, resp.text
        seen.append(resp.json())
    assert {tuple(sorted(b["entities"])) for b in seen} == {
        ("2024-03-09T00:00:00+00:00", "2024-03-10T00:00:00+00:00")
    }
    assert seen[0]["from_date"] == "2024-03-09T05:45:00+02:00"
    assert seen[0]["to_date"] == "2024-03-10T16:30:00+02:00"  # default now, caller's offset
    assert seen[2]["from_date"] == "2024-03-09T03:45:00+00:00"
    to = entities(
        sb,
        http,
        token,
        metrics="passing_by",
        from_date="2024-03-09T00:00:00Z",
        to_date="2024-03-09T03:00:00Z",
        time="by_hour",
    ).json()
    assert sorted(to["entities"]) == [f"2024-03-09T0{h}:00:00+00:00" for h in range(3)]


def test_partial_bucket_is_revised_as_clock_advances(
    fresh: Sandbox, http: requests.Session
) -> None:
    client_id = fresh.cameras[0][0]
    start, end = datetime(2024, 3, 10, 12, tzinfo=UTC), datetime(2024, 3, 11, tzinfo=UTC)

    def current() -> list[dict[str, Any]]:
        records, _ = sync_angus(
            fresh, http, 0, "by_hour", "2024-03-10T12:00:00Z", to_date="2024-03-11T00:00:00Z"
        )
        assert records == fresh.expected_angus(client_id, start, end)
        return records

    half = current()
    assert [r["bucket_start"][11:13] for r in half] == ["12", "13", "14"]
    fresh.advance(timedelta(minutes=25))  # 14:55
    later = current()
    assert later[:2] == half[:2]  # complete hours never change
    assert later[2]["passing_by"] > half[2]["passing_by"]
    assert later[2]["passing_by"] <= int(later[1]["passing_by"] * 5)  # plausible, bounded
    fresh.set_now(datetime(2024, 3, 10, 16, 0, tzinfo=UTC))
    final = current()
    assert len(final) == 5 and final[4]["passing_by"] == 0  # the 16:00 bucket just started
    assert final[2]["passing_by"] >= later[2]["passing_by"]
    # by_day is the aggregate of the hours as of now
    day = fresh.expected_angus(client_id, start, end, time_bucket="by_day")[0]
    hours = fresh.expected_angus(client_id, datetime(2024, 3, 10, tzinfo=UTC), end)
    assert day["passing_by"] == sum(h["passing_by"] for h in hours)
    assert day["gender"]["unknown"] == sum(h["gender"]["unknown"] for h in hours)


def test_bucket_values_are_plausible_and_satisfaction_sometimes_missing(
    sb: Sandbox, http: requests.Session
) -> None:
    records = sb.expected_angus(
        sb.cameras[2][0], datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)
    )
    assert len(records) == 29 * 24
    missing = sum(r["satisfaction"] is None and r["interested"] > 0 for r in records)
    assert 0.04 < missing / len(records) < 0.2
    for r in records:
        assert 0 <= r["interested"] <= r["passing_by"] <= 300
        assert sum(r["gender"].values()) <= r["interested"]
        assert sum(r["category"].values()) <= r["interested"]
        if r["interested"] == 0:
            assert r["stop_time"] is r["attention_time"] is r["satisfaction"] is None
        else:
            assert r["attention_time"] <= r["stop_time"]
    # the API omits the key itself, even when requested
    token = angus_token(sb, http, 2)
    body = entities(
        sb,
        http,
        token,
        metrics="satisfaction,interested",
        from_date="2024-02-01T00:00:00Z",
        to_date="2024-03-01T00:00:00Z",
        time="by_hour",
        page=1,
    ).json()
    assert any("satisfaction" not in v for v in body["entities"].values())
    assert all(set(v) <= {"satisfaction", "interested"} for v in body["entities"].values())


def test_metric_subset_and_global(sb: Sandbox, http: requests.Session) -> None:
    client_id = sb.cameras[1][0]
    token = angus_token(sb, http, 1)
    body = entities(
        sb, http, token, metrics="gender,stop_time", from_date="2024-03-09T00:00:00Z", time="by_day"
    ).json()
    got = sorted(
        to_records(client_id, "by_day", body, ["gender", "stop_time"]),
        key=lambda r: r["bucket_start"],
    )
    start, end = datetime(2024, 3, 9, tzinfo=UTC), NOW
    expected = sb.expected_angus(client_id, start, end, "by_day", ["gender", "stop_time"])
    assert got == expected and expected[0]["passing_by"] is None
    total = entities(sb, http, token, metrics="passing_by", from_date="2024-03-09T00:00:00Z").json()
    hours = sb.expected_angus(client_id, start, end)
    assert total["entities"]["global"]["passing_by"]["value"] == sum(h["passing_by"] for h in hours)


# --- keywarden ---------------------------------------------------------------------------------
def test_keywarden_login_verify_confirm_refresh(fresh: Sandbox, http: requests.Session) -> None:
    auth = fresh.eq_auth_url
    resp = http.get(f"{auth}/login", params={"user": " Analyst@EQ.example ", "product": "locus"})
    assert resp.json() == {
        "message": f"Login passcode sent to {ANALYST} through email",
        "user": ANALYST,
    }
    otp = fresh.last_otp(ANALYST)
    assert otp is not None and len(otp) == 6 and otp == otp.upper()
    int(otp, 16)
    # a second login within 5 minutes re-sends the same OTP
    http.get(f"{auth}/login", params={"user": ANALYST, "product": "locus"})
    assert fresh.last_otp(ANALYST) == otp
    bad = "000000" if otp != "000000" else "111111"
    resp = http.get(f"{auth}/verify", params={"user": ANALYST, "otp": bad, "product": "locus"})
    assert resp.status_code == 403
    assert resp.json() == {
        "message": f"Invalid OTP for user {ANALYST}",
        "statusCode": 403,
        "logLevel": "WARNING",
    }
    resp = http.get(
        f"{auth}/verify", params={"user": ANALYST, "otp": otp.lower(), "product": "locus"}
    )
    body = resp.json()
    assert resp.status_code == 200 and body["user"] == body["email"] == ANALYST
    assert body["product"] == "locus" and body["access"]["prefix"] == "customers"
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["product"] == "locus" and claims["api_access"]["wl"] == [1202]
    again = http.get(f"{auth}/verify", params={"user": ANALYST, "otp": otp, "product": "locus"})
    assert again.status_code == 403
    assert again.json()["message"] == f"No OTP to redeem for user {ANALYST}"

    token = body["token"]
    resp = http.get(f"{auth}/confirm", params={"light": "1"}, headers={"eq-api-jwt": token})
    assert resp.status_code == 403 and resp.json()["message"] == "JWT not valid for this resource"
    for product in ("locus", "all"):
        resp = http.get(
            f"{auth}/confirm",
            params={"light": "1", "product": product},
            headers={"eq-api-jwt": token},
        )
        assert resp.status_code == 200, resp.text
        confirmed = resp.json()
        assert confirmed["light"] is True and confirmed["user"] == ANALYST
        assert 89 * 86400 * 1000 < confirmed["ttl"]["millis"] <= 90 * 86400 * 1000
        assert confirmed["ttl"]["friendly"] == "3 months"
    resp = http.get(f"{auth}/refresh", params={"product": "locus"}, headers={"eq-api-jwt": token})
    assert resp.status_code == 200, resp.text
    refreshed = jwt.decode(resp.json()["token"], options={"verify_signature": False})
    assert refreshed["product"] == "locus" and refreshed["exp"] >= claims["exp"]
    assert refreshed["jwt_uuid"] == claims["jwt_uuid"]


def test_keywarden_errors(sb: Sandbox, http: requests.Session) -> None:
    auth = sb.eq_auth_url
    resp = http.get(f"{auth}/login")
    assert (resp.status_code, resp.json()["message"]) == (
        400,
        "Missing 'user' in query string parameters",
    )
    resp = http.get(f"{auth}/login", params={"user": "ghost@eq.example"})
    assert (resp.status_code, resp.json()["message"]) == (404, "User ghost@eq.example not found")
    resp = http.get(f"{auth}/verify", params={"user": ANALYST})
    assert resp.status_code == 400 and "'otp'" in resp.json()["message"]
    resp = http.get(f"{auth}/verify", params={"user": "viewer@eq.example", "otp": "ABCDEF"})
    assert resp.json()["message"] == "No OTP to redeem for user viewer@eq.example"
    resp = http.get(f"{auth}/confirm")
    assert (resp.status_code, resp.json()["message"]) == (403, "Invalid JWT: undefined")
    expired = sb.mint_eq_token(ANALYST, "atom", ttl_seconds=-10)
    for path in ("confirm", "refresh"):
        resp = http.get(f"{auth}/{path}", headers={"eq-api-jwt": expired})
        assert resp.status_code == 403
        assert resp.json() == {
            "message": f"Invalid JWT: {expired}",
            "statusCode": 403,
            "logLevel": "WARNING",
        }


# --- ATOM --------------------------------------------------------------------------------------
def test_atom_auth_and_param_errors(sb: Sandbox, http: requests.Session) -> None:
    url = f"{sb.eq_api_url}/beta/insights/os"
    params = {"c": "37054", "start": "2024-03-01", "end": "2024-03-05"}
    resp = http.get(url, params=params)
    assert (resp.status_code, resp.json()) == (401, {"message": "Invalid JWT"})
    resp = http.get(url, params=params, headers={"eq-api-user": ANALYST, "eq-api-jwt": "junk"})
    assert (resp.status_code, resp.json()) == (403, {"message": "Invalid JWT: junk"})
    expired = sb.mint_eq_token(ANALYST, "atom", ttl_seconds=-1)
    resp = http.get(url, params=params, headers={"eq-api-user": ANALYST, "eq-api-jwt": expired})
    assert resp.status_code == 403 and resp.json()["message"] == f"Invalid JWT: {expired}"
    resp = http.get(url, params=params, headers=eq_headers(sb, "locus"))
    assert (resp.status_code, resp.json()) == (403, {"message": "JWT not valid for this resource"})
    headers = {**eq_headers(sb), "eq-api-user": "viewer@eq.example"}
    assert http.get(url, params=params, headers=headers).status_code == 403
    viewer = eq_headers(sb, user="viewer@eq.example")
    assert http.get(url, params=params, headers=viewer).status_code == 403
    headers = eq_headers(sb)
    resp = http.get(f"{sb.eq_api_url}/beta/insights/planets", params=params, headers=headers)
    assert resp.status_code == 404 and resp.json()["message"]
    resp = http.get(url, params={"start": "2024-03-01", "end": "2024-03-02"}, headers=headers)
    assert (resp.status_code, resp.json()) == (
        400,
        {"message": "Missing 'c' in query string parameters"},
    )
    resp = http.get(url, params={**params, "c": "99999"}, headers=headers)
    assert (resp.status_code, resp.json()) == (404, {"message": "Campaign 99999 not found"})
    resp = http.get(url, params={**params, "start": "03/01/2024"}, headers=headers)
    assert resp.status_code == 400


@pytest.mark.parametrize("dimension", sorted(DIMENSIONS))
def test_insights_match_oracle(sb: Sandbox, http: requests.Session, dimension: str) -> None:
    headers = eq_headers(sb)
    for code in (37054, 41001, 52210):
        resp = http.get(
            f"{sb.eq_api_url}/beta/insights/{dimension}",
            params={"c": code, "start": "2024-02-20", "end": "2024-03-15"},
            headers=headers,
        )
        assert resp.status_code == 200, resp.text
        rows = resp.json()
        key, kind = DIMENSIONS[dimension]
        assert all(set(r["_id"]) == {key, "Date"} and type(r["_id"][key]) is kind for r in rows)
        expected = sb.expected_insights(dimension, code, date(2024, 2, 20), date(2024, 3, 15))
        assert insights_records(code, dimension, rows) == expected
        assert 3 <= len({r["dimension_value"] for r in expected}) <= 8
        assert max(r["date"] for r in expected) <= "2024-03-10"  # nothing after local today


def test_insights_windows_revisions_and_unix_dates(fresh: Sandbox, http: requests.Session) -> None:
    headers = eq_headers(fresh)
    campaigns = {c["CampCode"]: c for c in fresh.campaigns}
    ended = campaigns[41001]
    assert ended["EndDate"] == "2024-02-29 23:59:59" and ended["TimeZone"] == "America/Vancouver"
    assert campaigns[37054]["StartDate"] == "2023-11-11 00:00:00"
    rows = fresh.expected_insights("browser", 41001, date(2024, 2, 25), date(2024, 3, 10))
    assert rows and max(r["date"] for r in rows) <= "2024-02-29"
    # Unix seconds are accepted and mean the same campaign-local days
    url = f"{fresh.eq_api_url}/beta/insights/lang"
    by_day = http.get(
        url, params={"c": 52210, "start": "2024-03-01", "end": "2024-03-03"}, headers=headers
    )
    unix = {"c": 52210, "start": "1709251200", "end": "1709424000"}  # 03-01 and 03-03 00:00 UTC
    assert http.get(url, params=unix, headers=headers).json() == by_day.json()
    # recent days are revised upwards; older ones are final
    before = fresh.expected_insights("os", 52210, date(2024, 3, 1), date(2024, 3, 10))
    fresh.advance(timedelta(days=1))
    after = fresh.expected_insights("os", 52210, date(2024, 3, 1), date(2024, 3, 10))
    old = {(r["date"], r["dimension_value"]): r for r in after}
    for r in before:
        now_r = old[(r["date"], r["dimension_value"])]
        if r["date"] <= "2024-03-07":
            assert now_r == r
        else:
            assert now_r["imps"] >= r["imps"] and now_r["bids"] >= r["bids"]
    today = [r for r in before if r["date"] == "2024-03-10"]
    assert today and any(
        old[("2024-03-10", r["dimension_value"])]["bids"] > r["bids"] for r in today
    )
    # video campaign: completions are monotone
    for r in fresh.expected_insights("os", 41001, date(2024, 2, 1), date(2024, 2, 29)):
        assert r["vast_completion_0"] >= r["vast_completion_50"] >= r["vast_completion_100"]


def test_campaign_list(sb: Sandbox, http: requests.Session) -> None:
    resp = http.get(f"{sb.eq_api_url}/beta/campaigns/", headers=eq_headers(sb))
    body = resp.json()
    assert body["ancestors"] == [] and set(body["campaigns"]) == {"37054", "41001", "52210"}
    assert body["campaigns"]["37054"]["Name"]
    viewer = http.get(
        f"{sb.eq_api_url}/beta/campaigns", headers=eq_headers(sb, user="viewer@eq.example")
    )
    assert viewer.json()["campaigns"] == {}


# --- LOCUS -------------------------------------------------------------------------------------
def test_hh_segments_match_oracle_and_errors(sb: Sandbox, http: requests.Session) -> None:
    url = f"{sb.locus_api_url}/prod/segment/hh-segments"
    coords = sb.credentials()["locus_coords"]
    locus = {"eq-api-jwt": sb.mint_eq_token(ANALYST, "locus")}
    resp = http.get(url, params={"coords[]": coords}, headers=locus)
    assert resp.status_code == 200, resp.text
    for text, item in zip(coords, resp.json(), strict=True):
        flat = [
            {"coords": text, "lat": item["lat"], "lon": item["lon"], **seg}
            for seg in item["segments"]
        ]
        assert sorted(flat, key=lambda r: r["segment_id"]) == sb.expected_hh_segments(text)
        assert 5 <= len(flat) <= 12
    alias = http.get(url, params={"coords": TORONTO}, headers=locus).json()
    assert alias == resp.json()[:1]

    resp = http.get(url, params={"coords[]": TORONTO})
    assert (resp.status_code, resp.json()) == (401, {"message": "Unauthorized"})
    resp = http.get(url, params={"coords[]": TORONTO}, headers={"eq-api-jwt": "junk"})
    assert resp.status_code == 403 and resp.json() == {
        "Message": "User is not authorized to access this resource with an explicit deny"
    }
    atom = {"eq-api-jwt": sb.mint_eq_token(ANALYST, "atom")}
    resp = http.get(url, params={"coords[]": TORONTO}, headers=atom)
    assert (resp.status_code, resp.json()) == (401, {"message": "Invalid JWT"})
    resp = http.get(url, headers=locus)
    assert (resp.status_code, resp.json()) == (400, {"message": "Missing coords in query"})
    resp = http.get(url, params={"coords[]": "toronto"}, headers=locus)
    assert (resp.status_code, resp.json()) == (400, {"message": "Invalid coords: toronto"})
    paris = "48.8566,2.3522"
    resp = http.get(url, params={"coords[]": paris}, headers=locus)
    assert (resp.status_code, resp.json()) == (403, {"message": "Access not allowed"})
    assert sb.expected_hh_segments(paris) == []
    viewer = {"eq-api-jwt": sb.mint_eq_token("viewer@eq.example", "locus")}
    assert http.get(url, params={"coords[]": TORONTO}, headers=viewer).status_code == 403


def test_concurrent_clients_agree_with_oracle(sb: Sandbox) -> None:
    def one(camera: int) -> bool:
        with requests.Session() as session:
            records, _ = sync_angus(
                sb, session, camera, "by_hour", "2024-03-05T00:00:00Z", to_date=NOW.isoformat()
            )
        expected = sb.expected_angus(sb.cameras[camera][0], datetime(2024, 3, 5, tzinfo=UTC), NOW)
        return records == expected

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert all(pool.map(one, [0, 1, 2, 0, 1, 2]))
