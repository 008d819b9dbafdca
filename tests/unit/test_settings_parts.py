"""Settings declared once: typed views built from a config, and the schema users see."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import jwt
import pytest

from tap_audience.angus.settings import ANGUS_METRICS, AngusCamera, AngusSettings
from tap_audience.connector.settings import (
    CONFIG_SCHEMA,
    PARTS,
    SandboxSettings,
    Settings,
    secret_values,
)
from tap_audience.core.errors import ConfigurationError
from tap_audience.core.settings import (
    DEFAULT_START_DAYS_AGO,
    RunSettings,
    Setting,
    SettingsPart,
    properties,
)
from tap_audience.core.timeutil import utc_now
from tap_audience.eqworks.settings import Coordinate, EqSettings

UTC = dt.timezone.utc
KEY = "a-test-signing-key-of-32-bytes!!"


def token(**claims: Any) -> str:
    return jwt.encode(claims, KEY, algorithm="HS256")


def fields_of(part: SettingsPart) -> dict[str, Any]:
    return {f.name: getattr(part, f.name) for f in dataclasses.fields(part)}  # type: ignore[arg-type]


# --- RunSettings ----------------------------------------------------------------------------
def test_run_settings_defaults() -> None:
    before = utc_now()
    run = RunSettings.from_config({})
    after = utc_now()
    values = fields_of(run)
    start, end = values.pop("start"), values.pop("end")
    assert values == {
        "start_date": None,
        "end_date": None,
        "allow_insecure_http": False,
        "request_timeout_seconds": 60.0,
        "max_retries": 8,
        "max_retry_wait_seconds": 300.0,
        "max_concurrency": 8,
        "max_requests_per_second": None,
        "shard_count": 1,
        "shard_index": 0,
        "progress_interval_seconds": 10.0,
        "fail_fast": False,
        "run_summary_path": None,
        "run_metrics_path": None,
    }
    assert type(run.request_timeout_seconds) is float
    assert type(run.max_retries) is int
    # end: now, read once, aware UTC, whole seconds; start: 30 days before that same now.
    assert before <= end <= after
    assert end.tzinfo is UTC
    assert end.microsecond == 0
    assert end - start == dt.timedelta(days=DEFAULT_START_DAYS_AGO) == dt.timedelta(days=30)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param(
            {"request_timeout_seconds": 5, "max_retry_wait_seconds": 0},
            {"request_timeout_seconds": 5.0, "max_retry_wait_seconds": 0.0},
            id="ints-to-floats",
        ),
        pytest.param(
            {"max_retries": "3", "shard_count": "4", "shard_index": "2"},
            {"max_retries": 3, "shard_count": 4, "shard_index": 2},
            id="text-to-ints",
        ),
        pytest.param(
            {"max_requests_per_second": 2}, {"max_requests_per_second": 2.0}, id="rate-float"
        ),
        pytest.param(
            {"allow_insecure_http": True, "fail_fast": 1},
            {"allow_insecure_http": True, "fail_fast": True},
            id="booleans",
        ),
        pytest.param(
            {"max_retries": None, "max_concurrency": None},
            {"max_retries": 8, "max_concurrency": 8},
            id="none-is-default",
        ),
        pytest.param({"max_retries": 0}, {"max_retries": 0}, id="zero-is-not-default"),
        pytest.param({"unknown_key": 1}, {"max_retries": 8}, id="unknown-keys-ignored"),
    ],
)
def test_run_settings_readers(config: dict[str, Any], expected: dict[str, Any]) -> None:
    run = RunSettings.from_config(config)
    for name, value in expected.items():
        assert getattr(run, name) == value
        assert type(getattr(run, name)) is type(value)


@pytest.mark.parametrize(
    ("config", "start", "end"),
    [
        pytest.param(
            {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-02-01T00:00:00Z"},
            dt.datetime(2026, 1, 1, tzinfo=UTC),
            dt.datetime(2026, 2, 1, tzinfo=UTC),
            id="both-z",
        ),
        pytest.param(
            {"start_date": "2026-01-01T05:30:00+05:30", "end_date": "2026-01-02"},
            dt.datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
            dt.datetime(2026, 1, 2, tzinfo=UTC),
            id="offset-and-date",
        ),
        pytest.param(
            {"start_date": "2026-01-01T00:00:00", "end_date": "2026-01-01T12:00:00z"},
            dt.datetime(2026, 1, 1, tzinfo=UTC),
            dt.datetime(2026, 1, 1, 12, tzinfo=UTC),
            id="naive-is-utc-lower-z",
        ),
        pytest.param(
            {"start_date": dt.datetime(2026, 3, 1, 9, tzinfo=UTC), "end_date": ""},
            dt.datetime(2026, 3, 1, 9, tzinfo=UTC),
            None,
            id="datetime-value-empty-end",
        ),
    ],
)
def test_run_settings_start_end(
    config: dict[str, Any], start: dt.datetime, end: dt.datetime | None
) -> None:
    before = utc_now()
    run = RunSettings.from_config(config)
    assert run.start == run.start_date == start
    assert run.start.utcoffset() == dt.timedelta(0)
    if end is None:
        assert run.end_date is None
        assert before <= run.end <= utc_now()
    else:
        assert run.end == run.end_date == end
        assert run.end.utcoffset() == dt.timedelta(0)


def test_run_settings_end_only_keeps_default_start() -> None:
    # The documented default is "30 days before now", not 30 days before end_date.
    before = utc_now()
    run = RunSettings.from_config({"end_date": "2030-01-01T00:00:00Z"})
    assert run.end == dt.datetime(2030, 1, 1, tzinfo=UTC)
    assert before - dt.timedelta(days=30) <= run.start <= utc_now() - dt.timedelta(days=30)


def test_run_settings_is_frozen() -> None:
    run = RunSettings.from_config({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.max_retries = 1  # type: ignore[misc]


# --- AngusSettings --------------------------------------------------------------------------
def test_angus_settings_defaults() -> None:
    angus = AngusSettings.from_config({})
    assert fields_of(angus) == {
        "angus_username": None,
        "angus_streams": (),
        "angus_time_bucket": "by_hour",
        "angus_metrics": ANGUS_METRICS,
        "angus_lookback_hours": 2,
        "angus_window_days": 7,
        "angus_auth_url": "https://console.angus.ai",
        "angus_api_url": "https://data.angus.ai",
    }
    assert angus.cameras == ()
    assert angus.lookback == dt.timedelta(hours=2)
    assert angus.secrets() == []


def test_angus_settings_readers() -> None:
    angus = AngusSettings.from_config(
        {
            "angus_username": "ops@example.com",
            "angus_streams": [
                {"client_id": "cam-1", "access_token": "tok-one-secret"},
                {"client_id": 2, "access_token": "tok-two-secret", "label": "ignored"},
            ],
            "angus_time_bucket": "by_day",
            "angus_metrics": ["passing_by", "gender"],
            "angus_lookback_hours": "0",
            "angus_window_days": 1,
        }
    )
    assert angus.cameras == (
        AngusCamera("cam-1", "tok-one-secret"),
        AngusCamera("2", "tok-two-secret"),
    )
    assert angus.angus_metrics == ("passing_by", "gender")
    assert angus.angus_time_bucket == "by_day"
    assert angus.lookback == dt.timedelta(0)
    assert angus.angus_window_days == 1
    assert angus.secrets() == ["tok-one-secret", "tok-two-secret"]
    # Secrets stay out of reprs (log lines, tracebacks).
    assert "tok-one-secret" not in repr(angus)
    assert "tok-one-secret" not in repr(angus.cameras[0])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("", None, id="empty-is-none"),
        pytest.param(None, None, id="none"),
        pytest.param("a@b.c", "a@b.c", id="text"),
    ],
)
def test_angus_username_optional_text(value: Any, expected: str | None) -> None:
    assert AngusSettings.from_config({"angus_username": value}).angus_username == expected


# --- EqSettings -----------------------------------------------------------------------------
def test_eq_settings_defaults() -> None:
    eq = EqSettings.from_config({})
    assert fields_of(eq) == {
        "eq_user": None,
        "eq_jwt": None,
        "locus_jwt": None,
        "eq_campaign_ids": (),
        "eq_window_days": 7,
        "eq_lookback_days": 3,
        "locus_coords": (),
        "eq_auth_url": "https://auth.eqworks.io/prod",
        "eq_api_url": "https://api.eqworks.io",
        "locus_api_url": "https://api.locus.place",
        "eq_refresh_days": 14,
        "eq_token_file": None,
        "locus_token_file": None,
        "atom_token": None,
        "locus_token": None,
        "user": None,
    }
    assert eq.lookback == dt.timedelta(days=3)
    assert eq.secrets() == []


def test_eq_settings_readers() -> None:
    eq = EqSettings.from_config(
        {
            "eq_campaign_ids": ["37054", 12],
            "locus_coords": ["43.6532,-79.3832", " 45.5 , -73.56 "],
            "eq_lookback_days": 0,
            "eq_window_days": "14",
        }
    )
    assert eq.eq_campaign_ids == (37054, 12)
    assert eq.locus_coords == (
        Coordinate("43.6532,-79.3832", 43.6532, -79.3832),
        Coordinate("45.5,-73.56", 45.5, -73.56),
    )
    assert eq.lookback == dt.timedelta(0)
    assert eq.eq_window_days == 14


@pytest.mark.parametrize(
    ("config", "atom", "locus", "user"),
    [
        pytest.param({"eq_jwt": "atom-opaque"}, "atom-opaque", None, None, id="opaque-atom"),
        pytest.param(
            {"eq_jwt": token(email="ops@example.com")},
            token(email="ops@example.com"),
            None,
            "ops@example.com",
            id="user-from-token-email",
        ),
        pytest.param(
            {"eq_jwt": token(email="ops@example.com"), "eq_user": "me@example.com"},
            token(email="ops@example.com"),
            None,
            "me@example.com",
            id="eq-user-wins",
        ),
        pytest.param(
            {"eq_jwt": token(email=5)}, token(email=5), None, None, id="non-text-email-claim"
        ),
        pytest.param(
            {"locus_jwt": token(email="ops@example.com")},
            None,
            token(email="ops@example.com"),
            None,
            id="user-never-from-locus",
        ),
        pytest.param(
            {"eq_jwt": "atom-opaque", "locus_jwt": ""},
            "atom-opaque",
            None,
            None,
            id="locus-never-from-atom",
        ),
    ],
)
def test_eq_tokens_and_user(
    config: dict[str, Any], atom: str | None, locus: str | None, user: str | None
) -> None:
    eq = EqSettings.from_config(config)
    assert (eq.atom_token, eq.locus_token, eq.user) == (atom, locus, user)
    assert eq.secrets() == [t for t in (atom, locus) if t]


def test_eq_token_files_win(tmp_path: Path) -> None:
    atom_file, locus_file = tmp_path / "atom.jwt", tmp_path / "locus.jwt"
    atom_file.write_text("  " + token(email="file@example.com") + "\n")
    locus_file.write_text("locus-from-file\n")
    for file in (atom_file, locus_file):
        file.chmod(0o600)
    eq = EqSettings.from_config(
        {
            "eq_jwt": "inline-atom",
            "locus_jwt": "inline-locus",
            "eq_token_file": str(atom_file),
            "locus_token_file": str(locus_file),
        }
    )
    assert eq.atom_token == token(email="file@example.com")
    assert eq.locus_token == "locus-from-file"
    assert eq.user == "file@example.com"
    assert eq.secrets() == [token(email="file@example.com"), "locus-from-file"]
    assert "inline-atom" not in repr(eq) and "locus-from-file" not in repr(eq)


@pytest.mark.parametrize(
    ("content", "prefix"),
    [
        # A file that vanished after the config checks: say which, with the OS's reason.
        pytest.param(None, "eq_token_file: cannot read {path} (No such file", id="gone"),
        pytest.param(" \n", "eq_token_file: {path} is empty. Create it with", id="empty"),
    ],
)
def test_eq_token_file_unusable(tmp_path: Path, content: str | None, prefix: str) -> None:
    path = tmp_path / "atom.jwt"
    if content is not None:
        path.write_text(content)
        path.chmod(0o600)
    with pytest.raises(ConfigurationError) as caught:
        EqSettings.from_config({"eq_token_file": str(path), "eq_jwt": "inline-atom"})
    assert str(caught.value).startswith(prefix.format(path=path))


# --- Setting.json_schema --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        pytest.param(
            Setting("n", {"type": "integer", "minimum": 1}, "T", "D", default=8),
            {
                "type": ["integer", "null"],
                "minimum": 1,
                "title": "T",
                "default": 8,
                "description": "D",
            },
            id="default-and-constraint",
        ),
        pytest.param(
            Setting("n", {"type": "string", "format": "date-time"}, "T", "D"),
            {"type": ["string", "null"], "format": "date-time", "title": "T", "description": "D"},
            id="no-default",
        ),
        pytest.param(
            Setting("n", {"type": "boolean"}, "T", "D", default=False),
            {"type": ["boolean", "null"], "title": "T", "default": False, "description": "D"},
            id="false-default-kept",
        ),
        pytest.param(
            Setting("n", {"type": "integer"}, "T", "D", default=0),
            {"type": ["integer", "null"], "title": "T", "default": 0, "description": "D"},
            id="zero-default-kept",
        ),
        pytest.param(
            Setting("n", {"type": "string"}, "T", "D", secret=True),
            {
                "type": ["string", "null"],
                "title": "T",
                "description": "D",
                "secret": True,
                "writeOnly": True,
            },
            id="secret",
        ),
        pytest.param(
            Setting("n", {"type": "string"}, "T", "D", base_url=True, sandbox_replaces=True),
            {"type": ["string", "null"], "title": "T", "description": "D"},
            id="internal-flags-not-published",
        ),
    ],
)
def test_setting_json_schema(declared: Setting, expected: dict[str, Any]) -> None:
    schema = declared.json_schema()
    assert schema == expected
    assert list(schema) == list(expected)  # th.Property's key order


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            "max_retries",
            {
                "type": ["integer", "null"],
                "minimum": 0,
                "title": "Max retries",
                "default": 8,
                "description": "Retries per request on 429, 5xx, timeouts and dropped connections.",
            },
            id="max_retries",
        ),
        pytest.param(
            "eq_jwt",
            {
                "type": ["string", "null"],
                "title": "EQ ATOM token",
                "description": "ATOM-scoped EQ JWT.",
                "secret": True,
                "writeOnly": True,
            },
            id="eq_jwt",
        ),
        pytest.param(
            "angus_time_bucket",
            {
                "type": ["string", "null"],
                "enum": ["by_hour", "by_day"],
                "title": "Angus time bucket",
                "default": "by_hour",
                "description": "Bucket size requested from the Angus API.",
            },
            id="angus_time_bucket",
        ),
        pytest.param(
            "max_requests_per_second",
            {
                "type": ["number", "null"],
                "exclusiveMinimum": 0,
                "title": "Max requests per second",
                "description": "Optional request budget per vendor (token bucket). "
                "Default: unlimited.",
            },
            id="max_requests_per_second",
        ),
    ],
)
def test_published_property(name: str, expected: dict[str, Any]) -> None:
    assert CONFIG_SCHEMA["properties"][name] == expected


def test_angus_streams_schema_marks_tokens_secret() -> None:
    streams = CONFIG_SCHEMA["properties"]["angus_streams"]
    assert streams["type"] == ["array", "null"]
    assert streams["default"] == []
    assert (streams["secret"], streams["writeOnly"]) == (True, True)
    item = streams["items"]["properties"]
    assert item["access_token"] == {"type": ["string"], "secret": True, "writeOnly": True}
    assert item["client_id"] == {"type": ["string"]}
    assert secret_values({"angus_streams": [{"client_id": "cam", "access_token": "t0k"}]}) == [
        "t0k"
    ]


# --- CONFIG_SCHEMA: every part's settings, each exactly once --------------------------------
def test_parts() -> None:
    assert (RunSettings, AngusSettings, EqSettings, SandboxSettings) == PARTS


def test_config_schema_has_each_setting_once() -> None:
    declared = [s.name for part in PARTS for s in part.settings()]
    assert len(declared) == len(set(declared))  # no part shadows another's setting
    assert list(CONFIG_SCHEMA["properties"]) == declared
    assert CONFIG_SCHEMA["type"] == "object"
    assert properties(PARTS) == CONFIG_SCHEMA["properties"]


@pytest.mark.parametrize("part", PARTS, ids=lambda p: p.__name__)
def test_every_part_is_published(part: type[SettingsPart]) -> None:
    settings = part.settings()
    assert settings
    init_fields = [f.name for f in dataclasses.fields(part) if f.init]  # type: ignore[arg-type]
    assert [s.name for s in settings] == init_fields
    for declared in settings:
        assert CONFIG_SCHEMA["properties"][declared.name] == declared.json_schema()
        assert CONFIG_SCHEMA["properties"][declared.name]["type"][-1] == "null"


@pytest.mark.parametrize(
    ("part", "count"),
    [(RunSettings, 14), (AngusSettings, 8), (EqSettings, 13), (SandboxSettings, 2)],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_part_sizes(part: type[SettingsPart], count: int) -> None:
    assert len(part.settings()) == count


@pytest.mark.parametrize(
    "name", ["angus_streams", "eq_jwt", "locus_jwt"], ids=lambda n: f"secret-{n}"
)
def test_secret_settings(name: str) -> None:
    published = CONFIG_SCHEMA["properties"][name]
    assert (published.get("secret"), published.get("writeOnly")) == (True, True)


def test_only_those_are_secret() -> None:
    secret = sorted(n for n, p in CONFIG_SCHEMA["properties"].items() if p.get("secret"))
    assert secret == ["angus_streams", "eq_jwt", "locus_jwt"]


def test_settings_from_config() -> None:
    settings = Settings.from_config(
        {
            "sandbox": True,
            "sandbox_seed": "7",
            "angus_streams": [{"client_id": "cam", "access_token": "angus-secret"}],
            "eq_jwt": "atom-secret",
        }
    )
    assert (settings.sandbox.sandbox, settings.sandbox.sandbox_seed) == (True, 7)
    assert settings.run.max_retries == 8
    assert settings.secrets() == ["angus-secret", "atom-secret"]
