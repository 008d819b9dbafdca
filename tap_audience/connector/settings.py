"""The tap's public settings: their JSON schema, their checks, and their typed, resolved form.

`CONFIG_SCHEMA` is the interface users see (`--about`, `meltano.yml`, the README table).
`Settings` is what the rest of the code reads: defaults applied, times resolved to aware UTC
once per run, coordinates parsed. Nothing outside this module reads the raw config.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from singer_sdk import typing as th

from tap_audience.core.errors import ConfigurationError, TapAudienceError
from tap_audience.core.jwt_claims import unverified_claims
from tap_audience.core.timeutil import parse_datetime, utc_now

ANGUS_METRICS = (
    "passing_by",
    "interested",
    "stop_time",
    "attention_time",
    "category",
    "gender",
    "satisfaction",
)
ANGUS_TIME_BUCKETS = ("by_hour", "by_day")
DEFAULT_START_DAYS_AGO = 30
LOGGER = logging.getLogger("tap_audience.connector.settings")
# What `sandbox: true` points at the emulator (its URLs, credentials and partitions).
SANDBOX_CREDENTIALS = (
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
)
# ... and what it switches off because the emulator's tokens replace them.
SANDBOX_REPLACES = (*SANDBOX_CREDENTIALS, "eq_token_file", "locus_token_file")
URL_SETTINGS = ("angus_auth_url", "angus_api_url", "eq_auth_url", "eq_api_url", "locus_api_url")

CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "start_date",
        th.DateTimeType,
        title="Start date",
        description="First data to extract when there is no bookmark. "
        f"Default: {DEFAULT_START_DAYS_AGO} days before now.",
    ),
    th.Property(
        "end_date",
        th.DateTimeType,
        title="End date",
        description="Last data to extract (exclusive). Default: now, read once at start.",
    ),
    th.Property(
        "angus_username",
        th.StringType,
        title="Angus username",
        description="Angus console login (the account's email address).",
    ),
    th.Property(
        "angus_streams",
        th.ArrayType(
            th.ObjectType(
                th.Property("client_id", th.StringType, required=True),
                th.Property("access_token", th.StringType, required=True, secret=True),
            )
        ),
        default=[],
        title="Angus camera streams",
        description="One `{client_id, access_token}` per Angus camera stream; each is a "
        "partition with its own JWT.",
        secret=True,
    ),
    th.Property(
        "angus_time_bucket",
        th.StringType,
        default="by_hour",
        allowed_values=list(ANGUS_TIME_BUCKETS),
        title="Angus time bucket",
        description="Bucket size requested from the Angus API.",
    ),
    th.Property(
        "angus_metrics",
        th.ArrayType(th.StringType(allowed_values=list(ANGUS_METRICS))),
        default=list(ANGUS_METRICS),
        title="Angus metrics",
        description="Angus metrics to request; metrics not requested are null.",
    ),
    th.Property(
        "angus_lookback_hours",
        th.IntegerType(minimum=0),
        default=2,
        title="Angus lookback (hours)",
        description="Re-read this many hours before the bookmark (the newest bucket is "
        "partial when it is read).",
    ),
    th.Property(
        "angus_window_days",
        th.IntegerType(minimum=1),
        default=7,
        title="Angus window (days)",
        description="UTC days per Angus request window; each window is paged to the end "
        "and bookmarked once emitted.",
    ),
    th.Property(
        "angus_auth_url",
        th.StringType,
        default="https://console.angus.ai",
        title="Angus auth URL",
        description="Base URL of the Angus token endpoint.",
    ),
    th.Property(
        "angus_api_url",
        th.StringType,
        default="https://data.angus.ai",
        title="Angus API URL",
        description="Base URL of the Angus Data API.",
    ),
    th.Property(
        "eq_user",
        th.StringType,
        title="EQ user",
        description="EQ account email (`eq-api-user`).",
    ),
    th.Property(
        "eq_jwt",
        th.StringType,
        secret=True,
        title="EQ ATOM token",
        description="ATOM-scoped EQ JWT.",
    ),
    th.Property(
        "locus_jwt",
        th.StringType,
        secret=True,
        title="EQ LOCUS token",
        description="LOCUS-scoped EQ JWT. EQ tokens are scoped to one product, so the ATOM "
        "token cannot stand in: without a LOCUS token, locus_hh_segments syncs nothing.",
    ),
    th.Property(
        "eq_campaign_ids",
        th.ArrayType(th.IntegerType),
        default=[],
        title="ATOM campaign IDs",
        description="ATOM campaign codes; each is a partition of every insights stream.",
    ),
    th.Property(
        "eq_window_days",
        th.IntegerType(minimum=1),
        default=7,
        title="EQ window (days)",
        description="Days per ATOM insights request.",
    ),
    th.Property(
        "eq_lookback_days",
        th.IntegerType(minimum=0),
        default=3,
        title="EQ lookback (days)",
        description="Re-read this many days before the bookmark (ATOM revises recent days).",
    ),
    th.Property(
        "locus_coords",
        th.ArrayType(th.StringType),
        default=[],
        title="LOCUS coordinates",
        description='LOCUS coordinates as `"lat,lon"` strings; one partition each.',
    ),
    th.Property(
        "eq_auth_url",
        th.StringType,
        default="https://auth.eqworks.io/prod",
        title="EQ auth URL",
        description="Base URL of EQ's keywarden auth service (with its stage).",
    ),
    th.Property(
        "eq_api_url",
        th.StringType,
        default="https://api.eqworks.io",
        title="ATOM API URL",
        description="Base URL of the ATOM API (overseer).",
    ),
    th.Property(
        "locus_api_url",
        th.StringType,
        default="https://api.locus.place",
        title="LOCUS API URL",
        description="Base URL of the LOCUS API.",
    ),
    th.Property(
        "allow_insecure_http",
        th.BooleanType,
        default=False,
        title="Allow insecure HTTP",
        description="Accept `http://` base URLs on hosts other than loopback (tokens then cross "
        "the network in clear text). Loopback URLs (the sandbox) are always accepted.",
    ),
    th.Property(
        "request_timeout_seconds",
        th.NumberType(exclusive_minimum=0),
        default=60,
        title="Request timeout (s)",
        description="Seconds to wait for a response before retrying.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=0),
        default=8,
        title="Max retries",
        description="Retries per request on 429, 5xx, timeouts and dropped connections.",
    ),
    th.Property(
        "max_retry_wait_seconds",
        th.NumberType(minimum=0),
        default=300,
        title="Max retry wait (s)",
        description="Longest single wait between retries (also caps `Retry-After`).",
    ),
    th.Property(
        "eq_refresh_days",
        th.IntegerType(minimum=0),
        default=14,
        title="EQ refresh window (days)",
        description="Refresh an EQ token at start when it expires within this many days "
        "(keywarden /refresh; needs the token to be still valid).",
    ),
    th.Property(
        "eq_token_file",
        th.StringType,
        title="ATOM token file",
        description="File holding the ATOM token (read instead of eq_jwt; it must exist: "
        "`tap-audience eq-login --token-file` creates it); "
        "every refreshed token is written back to it atomically, mode 0600.",
    ),
    th.Property(
        "locus_token_file",
        th.StringType,
        title="LOCUS token file",
        description="Like eq_token_file, for the LOCUS token.",
    ),
    th.Property(
        "max_concurrency",
        th.IntegerType(minimum=1),
        default=8,
        title="Max concurrency",
        description="Requests in flight at once per vendor (across partitions, windows and "
        "pages). Output order does not depend on it. Halved on a 429, then recovers.",
    ),
    th.Property(
        "max_requests_per_second",
        th.NumberType(exclusive_minimum=0),
        title="Max requests per second",
        description="Optional request budget per vendor (token bucket). Default: unlimited.",
    ),
    th.Property(
        "shard_count",
        th.IntegerType(minimum=1),
        default=1,
        title="Shard count",
        description="Split the partitions among this many tap processes (each with its own "
        "state id); a stable hash of each partition key decides its shard.",
    ),
    th.Property(
        "shard_index",
        th.IntegerType(minimum=0),
        default=0,
        title="Shard index",
        description="This process's shard, 0 to shard_count - 1.",
    ),
    th.Property(
        "progress_interval_seconds",
        th.NumberType(minimum=0),
        default=10,
        title="Progress interval (s)",
        description="Seconds between progress lines per stream (partitions and windows done "
        "of total, records, rate, ETA).",
    ),
    th.Property(
        "fail_fast",
        th.BooleanType,
        default=False,
        title="Fail fast",
        description="Stop at the first failed partition instead of skipping it, finishing the "
        "others and exiting non-zero at the end.",
    ),
    th.Property(
        "sandbox",
        th.BooleanType,
        default=False,
        title="Sandbox",
        description="Start the built-in sandbox on a free loopback port and point every URL "
        "and credential at it (demo and tests; no internet needed).",
    ),
    th.Property(
        "sandbox_seed",
        th.IntegerType,
        default=0,
        title="Sandbox seed",
        description="Seed of the sandbox's deterministic data.",
    ),
).to_dict()


@dataclass(frozen=True)
class AngusCamera:
    client_id: str
    access_token: str = field(repr=False)


@dataclass(frozen=True)
class Coordinate:
    text: str
    lat: float
    lon: float


def parse_coordinate(text: str) -> Coordinate:
    """`"43.65,-79.38"` → Coordinate; raises ValueError with a readable reason."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 2:
        raise ValueError(f'locus_coords entry {text!r} must be "lat,lon", e.g. "43.6532,-79.3832"')
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(
            f"locus_coords entry {text!r}: latitude and longitude must be numbers"
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(
            f"locus_coords entry {text!r}: latitude must be in [-90, 90], longitude in [-180, 180]"
        )
    return Coordinate(text=f"{parts[0]},{parts[1]}", lat=lat, lon=lon)


def token_email(token: str | None) -> str | None:
    """The `email` claim of an EQ token, if it is a readable JWT that has one."""
    if not token:
        return None
    try:
        email = unverified_claims(token, what="eq_jwt").get("email")
    except TapAudienceError:
        return None
    return email if isinstance(email, str) else None


def read_token_file(setting: str, path: str | None) -> str | None:
    """The token kept in `path` (whitespace stripped); None when `path` is not set.

    The config checks (`config_checks.token_file_problems`) have already refused a missing,
    unreadable or empty file, so a failure here is a file that vanished since: say which.
    """
    if not path:
        return None
    file = Path(path).expanduser()
    try:
        mode = file.stat().st_mode
        token = file.read_text().strip()
    except OSError as exc:
        raise ConfigurationError(f"{setting}: cannot read {path} ({exc.strerror})") from None
    if mode & 0o077:
        LOGGER.warning(
            "%s: %s is open to other users (mode %s): run `chmod 600 %s`",
            setting,
            path,
            oct(mode & 0o777)[2:],
            path,
        )
    if not token:
        raise ConfigurationError(f"{setting}: {path} is empty. {eq_login_hint(setting, path)}")
    return token


def eq_login_hint(setting: str, path: str) -> str:
    product = "locus" if setting.startswith("locus") else "atom"
    return (
        f"Create it with `tap-audience eq-login --user <email> --product {product} "
        f"--token-file {path}`"
    )


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Times are aware UTC; `end` is fixed once per run."""

    start: dt.datetime
    end: dt.datetime
    angus_username: str | None
    angus_cameras: tuple[AngusCamera, ...]
    angus_time_bucket: str
    angus_metrics: tuple[str, ...]
    angus_lookback: dt.timedelta
    angus_window_days: int
    angus_auth_url: str
    angus_api_url: str
    eq_user: str | None
    eq_jwt: str | None = field(repr=False)
    locus_jwt: str | None = field(repr=False)
    eq_campaign_ids: tuple[int, ...]
    eq_window_days: int
    eq_lookback: dt.timedelta
    locus_coords: tuple[Coordinate, ...]
    eq_auth_url: str
    eq_api_url: str
    locus_api_url: str
    request_timeout_seconds: float
    max_retries: int
    max_retry_wait_seconds: float
    eq_refresh_days: int
    eq_token_file: str | None
    locus_token_file: str | None
    fail_fast: bool
    max_concurrency: int
    shard_count: int
    progress_interval_seconds: float
    shard_index: int
    max_requests_per_second: float | None

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, now: dt.datetime | None = None) -> Settings:
        now = now or utc_now()

        def get(name: str) -> Any:
            value = config.get(name)
            return CONFIG_SCHEMA["properties"][name].get("default") if value is None else value

        start_value = config.get("start_date")
        end_value = config.get("end_date")
        eq_jwt = read_token_file("eq_token_file", config.get("eq_token_file")) or config.get(
            "eq_jwt"
        )
        locus_jwt = read_token_file(
            "locus_token_file", config.get("locus_token_file")
        ) or config.get("locus_jwt")
        return cls(
            start=parse_datetime(start_value)
            if start_value
            else now - dt.timedelta(days=DEFAULT_START_DAYS_AGO),
            end=parse_datetime(end_value) if end_value else now,
            angus_username=config.get("angus_username") or None,
            angus_cameras=tuple(
                AngusCamera(str(s["client_id"]), str(s["access_token"]))
                for s in get("angus_streams")
            ),
            angus_time_bucket=get("angus_time_bucket"),
            angus_metrics=tuple(get("angus_metrics")),
            angus_lookback=dt.timedelta(hours=int(get("angus_lookback_hours"))),
            angus_window_days=int(get("angus_window_days")),
            angus_auth_url=get("angus_auth_url"),
            angus_api_url=get("angus_api_url"),
            # The token names its user: eq-api-user defaults to it.
            eq_user=config.get("eq_user") or token_email(eq_jwt),
            eq_jwt=eq_jwt or None,
            # Never eq_jwt: EQ tokens are scoped to one product, an ATOM token cannot read LOCUS.
            locus_jwt=locus_jwt or None,
            eq_campaign_ids=tuple(int(c) for c in get("eq_campaign_ids")),
            eq_window_days=int(get("eq_window_days")),
            eq_lookback=dt.timedelta(days=int(get("eq_lookback_days"))),
            locus_coords=tuple(parse_coordinate(c) for c in get("locus_coords")),
            eq_auth_url=get("eq_auth_url"),
            eq_api_url=get("eq_api_url"),
            locus_api_url=get("locus_api_url"),
            request_timeout_seconds=float(get("request_timeout_seconds")),
            max_retries=int(get("max_retries")),
            max_retry_wait_seconds=float(get("max_retry_wait_seconds")),
            eq_refresh_days=int(get("eq_refresh_days")),
            eq_token_file=config.get("eq_token_file") or None,
            locus_token_file=config.get("locus_token_file") or None,
            fail_fast=bool(get("fail_fast")),
            max_concurrency=int(get("max_concurrency")),
            shard_count=int(get("shard_count")),
            progress_interval_seconds=float(get("progress_interval_seconds")),
            shard_index=int(get("shard_index")),
            max_requests_per_second=float(config["max_requests_per_second"])
            if config.get("max_requests_per_second")
            else None,
        )

    def secrets(self) -> list[str]:
        """The secret values in use, including tokens read from token files."""
        values = [c.access_token for c in self.angus_cameras]
        return [v for v in (*values, self.eq_jwt, self.locus_jwt) if v]


def secret_values(value: Any, schema: Mapping[str, Any] = CONFIG_SCHEMA) -> list[str]:
    """Every value in `value` (a config) that the schema marks `secret`, as text.

    Nested schemas are followed to their most specific mark, so the access tokens inside
    `angus_streams` count but the client ids beside them do not.
    """
    if isinstance(value, Mapping) and "properties" in schema:
        return [
            secret
            for name, child in schema["properties"].items()
            if name in value
            for secret in secret_values(value[name], child)
        ]
    if isinstance(value, list) and "properties" in schema.get("items", {}):
        return [secret for item in value for secret in secret_values(item, schema["items"])]
    if schema.get("secret") and value is not None:
        return [str(value)]
    return []
