"""Config checks JSON Schema cannot express: exact problem lines, per part and all together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tap_audience.angus.settings import camera_problems
from tap_audience.connector.config_checks import CHECKS, base_url_problems, config_problems
from tap_audience.connector.sandbox_guard import no_environment_hint, sandbox_problems
from tap_audience.connector.settings import (
    SANDBOX_REFUSES,
    SANDBOX_REPLACES,
    URL_SETTINGS,
    secret_values,
)
from tap_audience.core.settings import (
    date_range_problems,
    email_check,
    shard_problems,
    url_problems,
)
from tap_audience.eqworks.settings import (
    Coordinate,
    coordinate_problems,
    parse_coordinate,
    token_file_problems,
)

PLAIN_HTTP = (
    "plain http sends the vendor's tokens in clear text; use https:// (or set "
    "allow_insecure_http: true if the network in between is trusted)"
)
BAD_DATES = "start_date and end_date must be ISO 8601 date-times, e.g. 2026-01-31T00:00:00Z"


def cam(client_id: str, token: str = "tok-abcdef") -> dict[str, str]:
    return {"client_id": client_id, "access_token": token}


# --- date_range_problems --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param({}, [], id="neither"),
        pytest.param({"start_date": "2026-01-01T00:00:00Z"}, [], id="start-only"),
        pytest.param({"end_date": "2026-01-01T00:00:00Z"}, [], id="end-only"),
        pytest.param(
            {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-01-02T00:00:00Z"},
            [],
            id="ordered",
        ),
        pytest.param({"start_date": "2026-01-01", "end_date": "2026-01-02"}, [], id="dates-only"),
        pytest.param(
            {"start_date": "2026-01-02T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
            [
                "end_date (2026-01-01T00:00:00+00:00) must be after start_date "
                "(2026-01-02T00:00:00+00:00)"
            ],
            id="reversed",
        ),
        pytest.param(
            {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
            [
                "end_date (2026-01-01T00:00:00+00:00) must be after start_date "
                "(2026-01-01T00:00:00+00:00)"
            ],
            id="equal",
        ),
        pytest.param(
            {"start_date": "2026-01-01T05:00:00+05:00", "end_date": "2026-01-01T00:00:00Z"},
            [
                "end_date (2026-01-01T00:00:00+00:00) must be after start_date "
                "(2026-01-01T00:00:00+00:00)"
            ],
            id="equal-across-zones-in-utc",
        ),
        pytest.param(
            {"start_date": "2026-01-01T00:00:00", "end_date": "2026-01-01T00:00:01Z"},
            [],
            id="naive-is-utc",
        ),
        pytest.param({"start_date": "yesterday"}, [BAD_DATES], id="junk-start"),
        pytest.param(
            {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-13-01"},
            [BAD_DATES],
            id="impossible-end",
        ),
        pytest.param({"end_date": 20260101}, [BAD_DATES], id="number"),
        pytest.param({"start_date": "", "end_date": None}, [], id="empty-values"),
    ],
)
def test_date_range_problems(config: dict[str, Any], expected: list[str]) -> None:
    assert date_range_problems(config) == expected


# --- shard_problems -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param({}, [], id="defaults"),
        pytest.param({"shard_count": 4, "shard_index": 3}, [], id="last-shard"),
        pytest.param({"shard_count": 4, "shard_index": 0}, [], id="first-shard"),
        pytest.param(
            {"shard_count": 4, "shard_index": 4},
            ["shard_index (4) must be below shard_count (4): shards are numbered from 0"],
            id="index-equals-count",
        ),
        pytest.param(
            {"shard_index": 1},
            ["shard_index (1) must be below shard_count (1): shards are numbered from 0"],
            id="index-without-count",
        ),
        pytest.param({"shard_count": 3, "shard_index": None}, [], id="index-none"),
        pytest.param({"shard_count": "2", "shard_index": 5}, [], id="wrong-type-left-to-schema"),
    ],
)
def test_shard_problems(config: dict[str, Any], expected: list[str]) -> None:
    assert shard_problems(config) == expected


# --- url_problems ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param({}, [], id="unset"),
        pytest.param({"api": "https://data.angus.ai"}, [], id="https"),
        pytest.param({"api": "HTTPS://Data.Angus.AI/x"}, [], id="upper-case-scheme"),
        pytest.param({"api": "http://localhost:8080"}, [], id="http-localhost"),
        pytest.param({"api": "http://127.0.0.1:5000/prod"}, [], id="http-ipv4-loopback"),
        pytest.param({"api": "http://[::1]:5000"}, [], id="http-ipv6-loopback"),
        pytest.param(
            {"api": "http://data.angus.ai/api"},
            [f"api is http://data.angus.ai: {PLAIN_HTTP}"],
            id="plain-http",
        ),
        pytest.param(
            {"api": "http://10.0.0.5:8080/x?k=v"},
            [f"api is http://10.0.0.5:8080: {PLAIN_HTTP}"],
            id="plain-http-port-no-path",
        ),
        pytest.param(
            {"api": "http://data.angus.ai", "allow_insecure_http": True}, [], id="http-allowed"
        ),
        pytest.param(
            {"api": "data.angus.ai"},
            ["api must be an http(s) URL, e.g. https://data.angus.ai (got 'data.angus.ai')"],
            id="no-scheme",
        ),
        pytest.param(
            {"api": "ftp://x", "allow_insecure_http": True},
            ["api must be an http(s) URL, e.g. https://data.angus.ai (got 'ftp://x')"],
            id="ftp-even-if-allowed",
        ),
        pytest.param({"api": 5}, [], id="wrong-type-left-to-schema"),
        pytest.param(
            {"api": "", "auth": "http://auth.example.com"},
            [
                "api must be an http(s) URL, e.g. https://data.angus.ai (got '')",
                f"auth is http://auth.example.com: {PLAIN_HTTP}",
            ],
            id="both-in-order",
        ),
    ],
)
def test_url_problems(config: dict[str, Any], expected: list[str]) -> None:
    assert url_problems(config, ["api", "auth"]) == expected


def test_url_settings_are_the_vendor_base_urls() -> None:
    assert URL_SETTINGS == (
        "angus_auth_url",
        "angus_api_url",
        "eq_auth_url",
        "eq_api_url",
        "locus_api_url",
    )
    config = {name: "gopher://x" for name in URL_SETTINGS}
    assert base_url_problems(config) == [
        f"{name} must be an http(s) URL, e.g. https://data.angus.ai (got 'gopher://x')"
        for name in URL_SETTINGS
    ]


# --- email checks and camera_problems -------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("a@b.c", [], id="email"),
        pytest.param(None, [], id="unset"),
        pytest.param("", [], id="empty"),
        pytest.param(42, [], id="wrong-type-left-to-schema"),
        pytest.param("bob", ["eq_user must be an email address (got 'bob')"], id="no-at"),
    ],
)
def test_email_check(value: Any, expected: list[str]) -> None:
    assert email_check("eq_user")({"eq_user": value}) == expected


NO_USER = "angus_streams is set but angus_username is not: set the Angus console login email"
TWICE = "angus_streams lists the same client_id twice; list each camera stream once"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param({}, [], id="nothing"),
        pytest.param({"angus_streams": []}, [], id="no-streams-no-user"),
        pytest.param(
            {"angus_username": "a@b.c", "angus_streams": [cam("1"), cam("2")]}, [], id="ok"
        ),
        pytest.param({"angus_streams": [cam("1")]}, [NO_USER], id="no-user"),
        pytest.param(
            {"angus_username": "", "angus_streams": [cam("1")]}, [NO_USER], id="empty-user"
        ),
        pytest.param(
            {"angus_username": "a@b.c", "angus_streams": [cam("1"), cam("2"), cam("1", "t2")]},
            [TWICE],
            id="duplicate",
        ),
        pytest.param({"angus_streams": [cam("1"), cam("1")]}, [NO_USER, TWICE], id="both-in-order"),
        pytest.param({"angus_streams": "cam"}, [], id="wrong-type-left-to-schema"),
        pytest.param({"angus_streams": ["cam", 3]}, [], id="non-object-items-ignored"),
    ],
)
def test_camera_problems(config: dict[str, Any], expected: list[str]) -> None:
    assert camera_problems(config) == expected


# --- parse_coordinate and coordinate_problems -----------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "43.6532,-79.3832", Coordinate("43.6532,-79.3832", 43.6532, -79.3832), id="toronto"
        ),
        pytest.param(
            " 43.65 , -79.38 ", Coordinate("43.65,-79.38", 43.65, -79.38), id="spaces-trimmed"
        ),
        pytest.param("0,0", Coordinate("0,0", 0.0, 0.0), id="origin"),
        pytest.param("90,180", Coordinate("90,180", 90.0, 180.0), id="upper-bounds"),
        pytest.param("-90,-180", Coordinate("-90,-180", -90.0, -180.0), id="lower-bounds"),
        pytest.param("1e1,2", Coordinate("1e1,2", 10.0, 2.0), id="exponent-kept-as-text"),
    ],
)
def test_parse_coordinate(text: str, expected: Coordinate) -> None:
    assert parse_coordinate(text) == expected


def shape(text: str) -> str:
    return f'locus_coords entry {text!r} must be "lat,lon", e.g. "43.6532,-79.3832"'


def numbers(text: str) -> str:
    return f"locus_coords entry {text!r}: latitude and longitude must be numbers"


def bounds(text: str) -> str:
    return f"locus_coords entry {text!r}: latitude must be in [-90, 90], longitude in [-180, 180]"


BAD_COORDINATES = [
    ("43.65", shape),
    ("1,2,3", shape),
    ("", shape),
    ("43.65;-79.38", shape),
    ("a,b", numbers),
    ("43.65,", numbers),
    ("91,0", bounds),
    ("-90.5,0", bounds),
    ("0,180.01", bounds),
    ("0,-181", bounds),
    ("nan,0", bounds),
    ("0,inf", bounds),
]


@pytest.mark.parametrize(
    ("text", "line"),
    [pytest.param(text, make(text), id=text or "empty") for text, make in BAD_COORDINATES],
)
def test_parse_coordinate_refuses(text: str, line: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_coordinate(text)
    assert str(caught.value) == line


@pytest.mark.parametrize(
    ("coords", "expected"),
    [
        pytest.param(None, [], id="unset"),
        pytest.param([], [], id="empty"),
        pytest.param(["43.65,-79.38", "0,0"], [], id="good"),
        pytest.param(
            ["43.65,-79.38", "x", "91,0"], [shape("x"), bounds("91,0")], id="each-bad-one"
        ),
        pytest.param("43.65,-79.38", [], id="wrong-type-left-to-schema"),
    ],
)
def test_coordinate_problems(coords: Any, expected: list[str]) -> None:
    assert coordinate_problems({"locus_coords": coords}) == expected


# --- token_file_problems --------------------------------------------------------------------
def login_hint(product: str, path: str) -> str:
    return (
        f"Create it with `tap-audience eq-login --user <email> --product {product} "
        f"--token-file {path}`"
    )


def token_file(tmp_path: Path, kind: str) -> str:
    path = tmp_path / f"{kind}.jwt"
    if kind == "ok":
        path.write_text("header.payload.signature\n")
    elif kind == "empty":
        path.write_text("")
    elif kind == "blank":
        path.write_text("  \n\t\n")
    elif kind == "directory":
        path.mkdir()
    return str(path)


@pytest.mark.parametrize("setting", ["eq_token_file", "locus_token_file"])
@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        pytest.param("ok", None, id="ok"),
        pytest.param("missing", "{name}: {path} does not exist. {hint}", id="missing"),
        pytest.param("empty", "{name}: {path} is empty. {hint}", id="empty"),
        pytest.param("blank", "{name}: {path} is empty. {hint}", id="only-whitespace"),
        pytest.param("directory", "{name}: {path} is not a readable file", id="directory"),
    ],
)
def test_token_file_problems(tmp_path: Path, setting: str, kind: str, problem: str | None) -> None:
    path = token_file(tmp_path, kind)
    product = "locus" if setting == "locus_token_file" else "atom"
    expected = (
        []
        if problem is None
        else [problem.format(name=setting, path=path, hint=login_hint(product, path))]
    )
    assert token_file_problems({setting: path}) == expected


def test_token_file_problems_both_in_order(tmp_path: Path) -> None:
    atom, locus = str(tmp_path / "atom.jwt"), token_file(tmp_path, "empty")
    assert token_file_problems({"locus_token_file": locus, "eq_token_file": atom}) == [
        f"eq_token_file: {atom} does not exist. {login_hint('atom', atom)}",
        f"locus_token_file: {locus} is empty. {login_hint('locus', locus)}",
    ]


@pytest.mark.parametrize(
    "value", [None, "", 5], ids=["unset", "empty-string", "wrong-type-left-to-schema"]
)
def test_token_file_problems_ignores_unset(value: Any) -> None:
    assert token_file_problems({"eq_token_file": value, "locus_token_file": value}) == []


def test_token_file_problems_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "atom.jwt").write_text("tok")
    assert token_file_problems({"eq_token_file": "~/atom.jwt"}) == []
    assert token_file_problems({"eq_token_file": "~/nope.jwt"}) == [
        f"eq_token_file: ~/nope.jwt does not exist. {login_hint('atom', '~/nope.jwt')}"
    ]


# --- config_problems: every part together ---------------------------------------------------
ANGUS_SECRET = "angus-access-token-SECRET-1"
EQ_SECRET = "eq-atom-jwt-SECRET-2"
LOCUS_SECRET = "eq-locus-jwt-SECRET-3"


def everything_wrong(tmp_path: Path) -> dict[str, Any]:
    return {
        "start_date": "2026-02-01T00:00:00Z",
        "end_date": "2026-01-01T00:00:00Z",
        "shard_count": 2,
        "shard_index": 2,
        "angus_api_url": "http://data.angus.ai",
        "eq_api_url": "api.eqworks.io",
        "angus_username": "not-an-email",
        "angus_streams": [cam("cam-1", ANGUS_SECRET), cam("cam-1", ANGUS_SECRET + "b")],
        "eq_user": "nobody",
        "eq_jwt": EQ_SECRET,
        "locus_jwt": LOCUS_SECRET,
        "locus_coords": ["43.65,-79.38", "100,0"],
        "eq_token_file": str(tmp_path / "missing.jwt"),
    }


def test_config_problems_every_part_in_order(tmp_path: Path) -> None:
    config = everything_wrong(tmp_path)
    missing = str(tmp_path / "missing.jwt")
    assert config_problems(config) == [
        "end_date (2026-01-01T00:00:00+00:00) must be after start_date (2026-02-01T00:00:00+00:00)",
        "shard_index (2) must be below shard_count (2): shards are numbered from 0",
        f"angus_api_url is http://data.angus.ai: {PLAIN_HTTP}",
        "eq_api_url must be an http(s) URL, e.g. https://data.angus.ai (got 'api.eqworks.io')",
        "angus_username must be an email address (got 'not-an-email')",
        TWICE,
        "eq_user must be an email address (got 'nobody')",
        bounds("100,0"),
        f"eq_token_file: {missing} does not exist. {login_hint('atom', missing)}",
    ]


def test_config_problems_no_secret_in_any_line(tmp_path: Path) -> None:
    config = everything_wrong(tmp_path)
    secrets = secret_values(config)
    assert sorted(secrets) == sorted([ANGUS_SECRET, ANGUS_SECRET + "b", EQ_SECRET, LOCUS_SECRET])
    problems = config_problems(config)
    assert len(problems) == 9
    for line in problems:
        for secret in secrets:
            assert secret not in line


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({}, id="empty"),
        pytest.param(
            {
                "start_date": "2026-01-01T00:00:00Z",
                "angus_username": "a@b.c",
                "angus_streams": [cam("1"), cam("2")],
                "eq_user": "a@b.c",
                "locus_coords": ["43.65,-79.38"],
                "angus_api_url": "http://127.0.0.1:9000",
                "shard_count": 3,
                "shard_index": 2,
            },
            id="good",
        ),
    ],
)
def test_config_problems_none(config: dict[str, Any]) -> None:
    assert config_problems(config) == []


def test_sandbox_replaces_exactly_the_vendor_account_settings() -> None:
    assert set(SANDBOX_REPLACES) == {
        "angus_username",
        "angus_streams",
        "angus_auth_url",
        "angus_api_url",
        "eq_user",
        "eq_jwt",
        "locus_jwt",
        "eq_campaign_ids",
        "locus_coords",
        "eq_auth_url",
        "eq_api_url",
        "locus_api_url",
        "eq_token_file",
        "locus_token_file",
    }
    assert set(URL_SETTINGS) <= set(SANDBOX_REPLACES)


def test_sandbox_suppresses_checks_of_replaced_settings(tmp_path: Path) -> None:
    config = {**everything_wrong(tmp_path), "sandbox": True}
    # The account's settings refuse the sandbox; what it does not replace is still checked.
    assert config_problems(config) == [
        "sandbox: true cannot be combined with a real account's settings (angus_username, "
        "angus_streams, angus_api_url, eq_user, eq_jwt, locus_jwt, eq_api_url, eq_token_file): "
        "the emulator's rows and bookmarks would go where that account's data goes. Unset "
        "sandbox (TAP_AUDIENCE_SANDBOX) to sync the account, or unset those settings to try "
        "the emulator",
        "end_date (2026-01-01T00:00:00+00:00) must be after start_date (2026-02-01T00:00:00+00:00)",
        "shard_index (2) must be below shard_count (2): shards are numbered from 0",
    ]


def test_the_sandbox_refuses_exactly_credentials_and_urls() -> None:
    assert set(SANDBOX_REFUSES) == set(SANDBOX_REPLACES) - {"eq_campaign_ids", "locus_coords"}


MELTANO = "MELTANO_PROJECT_ROOT"
ACCOUNT = "sandbox: true cannot be combined with a real account's settings"


@pytest.mark.parametrize(
    ("config", "environ", "expected"),
    [
        pytest.param({"eq_jwt": "t"}, {}, [], id="no-sandbox"),
        pytest.param({"sandbox": True}, {}, [], id="sandbox-alone"),
        pytest.param({"sandbox": True, "eq_campaign_ids": [1]}, {}, [], id="partitions"),
        pytest.param(
            {"sandbox": True, "eq_api_url": "https://api.eqworks.io"}, {}, [], id="default-url"
        ),
        pytest.param({"sandbox": True, "eq_user": "a@b.c"}, {}, [ACCOUNT], id="user"),
        pytest.param({"sandbox": True, "locus_token_file": "x"}, {}, [ACCOUNT], id="token-file"),
        pytest.param(
            {"sandbox": True, "locus_api_url": "http://127.0.0.1:1"}, {}, [ACCOUNT], id="url"
        ),
        pytest.param(
            {"sandbox": True},
            {MELTANO: "/p", "MELTANO_ENVIRONMENT": "sandbox"},
            [],
            id="meltano-sandbox",
        ),
        pytest.param(
            {"sandbox": True},
            {MELTANO: "/p", "MELTANO_ENVIRONMENT": "prod"},
            ["sandbox: true is refused in the Meltano environment 'prod'"],
            id="meltano-prod",
        ),
        pytest.param(
            {"sandbox": True},
            {MELTANO: "/p", "MELTANO_ENVIRONMENT": "sandbox-copy"},
            ["sandbox: true is refused in the Meltano environment 'sandbox-copy'"],
            id="meltano-other",
        ),
        pytest.param(
            {"sandbox": True},
            {MELTANO: "/p"},
            ["sandbox: true is refused in a Meltano run without an environment"],
            id="meltano-none",
        ),
        # An exported MELTANO_ENVIRONMENT alone is not Meltano running the tap.
        pytest.param({"sandbox": True}, {"MELTANO_ENVIRONMENT": "prod"}, [], id="not-meltano"),
        pytest.param(
            {"sandbox": True, "angus_username": "a@b.c"},
            {MELTANO: "/p", "MELTANO_ENVIRONMENT": "prod"},
            [ACCOUNT, "sandbox: true is refused in the Meltano environment 'prod'"],
            id="both",
        ),
    ],
)
def test_sandbox_problems(
    config: dict[str, Any], environ: dict[str, str], expected: list[str]
) -> None:
    problems = sandbox_problems(config, environ)
    assert len(problems) == len(expected)
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        pytest.param("angus_api_url", "ftp://x", id="url"),
        pytest.param("angus_username", "nobody", id="angus-username"),
        pytest.param("angus_streams", [cam("1"), cam("1")], id="angus-streams"),
        pytest.param("eq_user", "nobody", id="eq-user"),
        pytest.param("locus_coords", ["x"], id="locus-coords"),
        pytest.param("eq_token_file", "/nonexistent/atom.jwt", id="eq-token-file"),
        pytest.param("locus_token_file", "/nonexistent/locus.jwt", id="locus-token-file"),
    ],
)
@pytest.mark.parametrize("sandbox", [False, True], ids=["real", "sandbox"])
def test_sandbox_setting_by_setting(setting: str, value: Any, sandbox: bool) -> None:
    assert setting in SANDBOX_REPLACES
    problems = config_problems({setting: value, "sandbox": sandbox})
    if not sandbox:
        assert problems != []
    elif setting in SANDBOX_REFUSES:  # refused outright; the value itself is not checked
        assert len(problems) == 1 and problems[0].startswith(f"{ACCOUNT} ({setting})")
    else:  # partitions the emulator replaces: not checked, not used
        assert problems == []


def test_sandbox_false_checks_everything(tmp_path: Path) -> None:
    config = everything_wrong(tmp_path)
    assert config_problems({**config, "sandbox": False}) == config_problems(config)


def test_face_checks_come_last() -> None:
    def face(config: Any) -> list[str]:
        return ["batch_config is wrong"]

    assert config_problems({"shard_index": 1}, (face,)) == [
        "shard_index (1) must be below shard_count (1): shards are numbered from 0",
        "batch_config is wrong",
    ]
    assert len(CHECKS) == 9  # run, URL, Angus and EQ checks, run files included


def test_run_files_must_be_writable_files(tmp_path: Path) -> None:
    from tap_audience.core.settings import run_file_problems

    new_folder = tmp_path / "new" / "deeper" / "summary.json"  # created when written
    assert run_file_problems({"run_summary_path": str(new_folder)}) == []
    assert run_file_problems({"run_metrics_path": str(tmp_path)}) == [
        f"run_metrics_path: {tmp_path} is a folder: give a file in it, e.g. {tmp_path}/run.json"
    ]
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert run_file_problems({"run_summary_path": str(blocker / "summary.json")}) == [
        f"run_summary_path: cannot create {blocker}/summary.json: {blocker} is not a writable "
        "folder"
    ]


@pytest.mark.parametrize(
    ("environ", "hinted"),
    [
        ({}, False),  # not run by Meltano
        ({"MELTANO_PROJECT_ROOT": "/p", "MELTANO_ENVIRONMENT": "prod"}, False),
        ({"MELTANO_PROJECT_ROOT": "/p", "MELTANO_ENVIRONMENT": ""}, True),
        ({"MELTANO_PROJECT_ROOT": "/p"}, True),
    ],
)
def test_no_environment_hint(environ: dict[str, str], hinted: bool) -> None:
    hint = no_environment_hint(environ)
    assert bool(hint) is hinted
    if hinted:
        assert "meltano --environment sandbox config test tap-audience" in hint
