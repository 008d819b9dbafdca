"""Settings declared once: each is a field of its owner's typed view, carrying its JSON Schema.

A part of the connector (the run, a vendor) declares its settings as the fields of one frozen
dataclass, each with `setting(...)`: the JSON Schema users see (`--about`, `meltano.yml`,
an Airbyte spec), the default, whether it is secret, and how its raw value becomes the typed
value the code reads. The connector concatenates the parts' schemas; `from_config` builds a
part's typed view from a validated config without naming a setting again.

Plain JSON Schema, no singer-sdk: any output face can publish it. The `type` of a
top-level setting is nullable, as singer-sdk's `PropertiesList` makes it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tap_audience.core.files import replace_problem
from tap_audience.core.origins import insecure_url_problem
from tap_audience.core.timeutil import parse_datetime, utc_now

SettingsT = TypeVar("SettingsT", bound="SettingsPart")
DEFAULT_START_DAYS_AGO = 30


@dataclass(frozen=True)
class Setting:
    """One user-facing setting: its schema and what the code needs to know about it."""

    name: str
    value_schema: Mapping[str, Any]  # `type` (not nullable) and its constraints
    title: str
    description: str
    default: Any = None
    secret: bool = False
    base_url: bool = False  # a vendor base URL: checked for scheme and plain http
    sandbox_replaces: bool = False  # `sandbox: true` points it at the emulator
    credential: bool = False  # identifies a vendor account: never combined with the sandbox

    def json_schema(self) -> dict[str, Any]:
        """The property as singer-sdk's `th.Property` would write it."""
        kind = self.value_schema["type"]
        schema: dict[str, Any] = {
            "type": [kind, "null"],
            **{k: v for k, v in self.value_schema.items() if k != "type"},
            "title": self.title,
        }
        if self.default is not None:
            schema["default"] = self.default
        schema["description"] = self.description
        if self.secret:
            schema["secret"] = True
            schema["writeOnly"] = True
        return schema


def setting(
    value_schema: Mapping[str, Any],
    *,
    title: str,
    description: str,
    default: Any = None,
    secret: bool = False,
    base_url: bool = False,
    sandbox_replaces: bool = False,
    credential: bool = False,
    read: Callable[[Any], Any] | None = None,
) -> Any:
    """A dataclass field declaring one setting; `read` turns the raw value (or the default)
    into the field's typed value."""
    declared = Setting(
        name="",  # the field's name, filled in by `SettingsPart.settings()`
        value_schema=value_schema,
        title=title,
        description=description,
        default=default,
        secret=secret,
        base_url=base_url,
        sandbox_replaces=sandbox_replaces,
        credential=credential,
    )
    return field(
        repr=not secret,
        metadata={"setting": declared, "read": read},
    )


class SettingsPart:
    """Base of a typed settings view (a frozen dataclass whose fields are `setting(...)`s)."""

    @classmethod
    def settings(cls) -> list[Setting]:
        return [
            dataclasses.replace(f.metadata["setting"], name=f.name)
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if "setting" in f.metadata
        ]

    @classmethod
    def from_config(cls: type[SettingsT], config: Mapping[str, Any]) -> SettingsT:
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if "setting" not in f.metadata or not f.init:
                continue
            raw = config.get(f.name)
            if raw is None:
                raw = f.metadata["setting"].default
            read = f.metadata["read"]
            values[f.name] = read(raw) if read is not None else raw
        return cls(**values)


def properties(parts: tuple[type[SettingsPart], ...]) -> dict[str, dict[str, Any]]:
    """Every part's settings as JSON Schema properties, in the parts' order."""
    return {s.name: s.json_schema() for part in parts for s in part.settings()}


# --- readers: raw value → typed value -------------------------------------------------------
def optional_text(value: Any) -> str | None:
    return str(value) if value else None


def optional_datetime(value: Any) -> dt.datetime | None:
    return parse_datetime(value) if value else None


def optional_float(value: Any) -> float | None:
    return float(value) if value else None


def email_check(name: str) -> Callable[[Mapping[str, Any]], list[str]]:
    """A config check: the setting, when given, looks like an email address."""

    def problems(config: Mapping[str, Any]) -> list[str]:
        value = config.get(name)
        if isinstance(value, str) and value and "@" not in value:
            return [f"{name} must be an email address (got {value!r})"]
        return []

    return problems


# --- the run's settings ---------------------------------------------------------------------
STRING: dict[str, Any] = {"type": "string"}
DATE_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}


def integer(minimum: int | None = None) -> dict[str, Any]:
    return {"type": "integer"} if minimum is None else {"type": "integer", "minimum": minimum}


def number(
    *, minimum: float | None = None, exclusive_minimum: float | None = None
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "number"}
    if minimum is not None:
        schema["minimum"] = minimum
    if exclusive_minimum is not None:
        schema["exclusiveMinimum"] = exclusive_minimum
    return schema


@dataclass(frozen=True)
class RunSettings(SettingsPart):
    """What one run extracts and how: range, requests, limits, shards, failure policy.

    Times are aware UTC; `end` is read once per run, so every stream stops at the same moment.
    """

    start_date: dt.datetime | None = setting(
        DATE_TIME,
        title="Start date",
        description="First data to extract when there is no bookmark. "
        f"Default: {DEFAULT_START_DAYS_AGO} days before now.",
        read=optional_datetime,
    )
    end_date: dt.datetime | None = setting(
        DATE_TIME,
        title="End date",
        description="Last data to extract (exclusive). Default: now, read once at start.",
        read=optional_datetime,
    )
    allow_insecure_http: bool = setting(
        BOOLEAN,
        default=False,
        title="Allow insecure HTTP",
        description="Accept `http://` base URLs on hosts other than loopback (tokens then cross "
        "the network in clear text). Loopback URLs (the sandbox) are always accepted.",
        read=bool,
    )
    request_timeout_seconds: float = setting(
        number(exclusive_minimum=0),
        default=60,
        title="Request timeout (s)",
        description="Seconds to wait for a response before retrying.",
        read=float,
    )
    max_retries: int = setting(
        integer(minimum=0),
        default=8,
        title="Max retries",
        description="Retries per request on 429, 5xx, timeouts and dropped connections.",
        read=int,
    )
    max_retry_wait_seconds: float = setting(
        number(minimum=0),
        default=300,
        title="Max retry wait (s)",
        description="Longest single wait between retries (also caps `Retry-After`).",
        read=float,
    )
    max_concurrency: int = setting(
        integer(minimum=1),
        default=8,
        title="Max concurrency",
        description="Requests in flight at once per vendor (across partitions, windows and "
        "pages). Output order does not depend on it. Halved on a 429, then recovers.",
        read=int,
    )
    max_requests_per_second: float | None = setting(
        number(exclusive_minimum=0),
        title="Max requests per second",
        description="Optional request budget per vendor (token bucket). Default: unlimited.",
        read=optional_float,
    )
    shard_count: int = setting(
        integer(minimum=1),
        default=1,
        title="Shard count",
        description="Split the partitions among this many tap processes (each with its own "
        "state id); each partition key (camera, campaign, coordinate) goes to one shard, "
        "balanced by its stream partitions.",
        read=int,
    )
    shard_index: int = setting(
        integer(minimum=0),
        default=0,
        title="Shard index",
        description="This process's shard, 0 to shard_count - 1. Unset (or 0), it is "
        "Kubernetes' JOB_COMPLETION_INDEX when that is set, so one Indexed Job runs every shard.",
        read=int,
    )
    progress_interval_seconds: float = setting(
        number(minimum=0),
        default=10,
        title="Progress interval (s)",
        description="Seconds between progress lines per stream (partitions and windows done "
        "of total, records, rate, ETA).",
        read=float,
    )
    fail_fast: bool = setting(
        BOOLEAN,
        default=False,
        title="Fail fast",
        description="Stop at the first failed partition instead of skipping it, finishing the "
        "others and exiting non-zero at the end.",
        read=bool,
    )
    run_summary_path: str | None = setting(
        STRING,
        title="Run summary file",
        description="Write a JSON summary of every run here at its end (also after SIGTERM, "
        "SIGINT or a failed partition), atomically: records, partitions ok/failed with "
        "reasons, windows, requests, retries and seconds per stream; the exit status, the "
        "final bookmarks and the shard.",
        read=optional_text,
    )
    run_metrics_path: str | None = setting(
        STRING,
        title="Run metrics file",
        description="Write the run summary's numbers here at the end of every run, in "
        "node-exporter's textfile collector format (a `.prom` file in its directory), "
        "atomically.",
        read=optional_text,
    )
    start: dt.datetime = field(init=False)
    end: dt.datetime = field(init=False)

    def __post_init__(self) -> None:
        now = utc_now()
        start = self.start_date or now - dt.timedelta(days=DEFAULT_START_DAYS_AGO)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", self.end_date or now)


# --- checks JSON Schema cannot express (see connector/config_checks.py) --------------------
def date_range_problems(config: Mapping[str, Any]) -> list[str]:
    try:
        start = parse_datetime(config["start_date"]) if config.get("start_date") else None
        end = parse_datetime(config["end_date"]) if config.get("end_date") else None
    except (TypeError, ValueError, AttributeError):
        return ["start_date and end_date must be ISO 8601 date-times, e.g. 2026-01-31T00:00:00Z"]
    if start and end and end <= start:
        return [f"end_date ({end.isoformat()}) must be after start_date ({start.isoformat()})"]
    return []


def shard_problems(config: Mapping[str, Any]) -> list[str]:
    count, index = config.get("shard_count") or 1, config.get("shard_index") or 0
    if isinstance(count, int) and isinstance(index, int) and index >= count:
        return [
            f"shard_index ({index}) must be below shard_count ({count}): shards are numbered from 0"
        ]
    return []


def url_problems(config: Mapping[str, Any], names: list[str]) -> list[str]:
    """The base URL settings `names`: http(s), and no plain http off loopback unless allowed."""
    problems = []
    for name in names:
        url = config.get(name)
        if not isinstance(url, str):
            continue
        if not url.lower().startswith(("http://", "https://")):
            problems.append(
                f"{name} must be an http(s) URL, e.g. https://data.angus.ai (got {url!r})"
            )
        elif not config.get("allow_insecure_http") and (problem := insecure_url_problem(name, url)):
            problems.append(problem)
    return problems


RUN_FILE_SETTINGS = ("run_summary_path", "run_metrics_path")


def run_file_problems(config: Mapping[str, Any]) -> list[str]:
    """The run summary and metrics files can be written: checked at start, before any
    request, not found out after the whole run (`core.files.replace_problem`)."""
    problems = []
    for name in RUN_FILE_SETTINGS:
        path = config.get(name)
        if isinstance(path, str) and path and (problem := replace_problem(path)):
            problems.append(f"{name}: {problem}")
    return problems


RUN_CHECKS: tuple[Callable[[Mapping[str, Any]], list[str]], ...] = (
    date_range_problems,
    shard_problems,
    run_file_problems,
)
