"""Angus's settings: the account, its camera streams, what to request and where."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tap_audience.core.settings import (
    STRING,
    SettingsPart,
    email_check,
    integer,
    optional_text,
    setting,
)

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


@dataclass(frozen=True)
class AngusCamera:
    client_id: str
    access_token: str = field(repr=False)


def read_cameras(value: Any) -> tuple[AngusCamera, ...]:
    return tuple(AngusCamera(str(s["client_id"]), str(s["access_token"])) for s in value)


@dataclass(frozen=True)
class AngusSettings(SettingsPart):
    angus_username: str | None = setting(
        STRING,
        title="Angus username",
        description="Angus console login (the account's email address).",
        sandbox_replaces=True,
        credential=True,
        read=optional_text,
    )
    angus_streams: tuple[AngusCamera, ...] = setting(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "client_id": {"type": ["string"]},
                    "access_token": {"type": ["string"], "secret": True, "writeOnly": True},
                },
                "required": ["client_id", "access_token"],
                "additionalProperties": True,
            },
        },
        default=[],
        title="Angus camera streams",
        description="One `{client_id, access_token}` per Angus camera stream; each is a "
        "partition with its own JWT.",
        secret=True,
        sandbox_replaces=True,
        credential=True,
        read=read_cameras,
    )
    angus_time_bucket: str = setting(
        {"type": "string", "enum": list(ANGUS_TIME_BUCKETS)},
        default="by_hour",
        title="Angus time bucket",
        description="Bucket size requested from the Angus API.",
        read=str,
    )
    angus_metrics: tuple[str, ...] = setting(
        {"type": "array", "items": {"type": ["string"], "enum": list(ANGUS_METRICS)}},
        default=list(ANGUS_METRICS),
        title="Angus metrics",
        description="Angus metrics to request; metrics not requested are null.",
        read=tuple,
    )
    angus_lookback_hours: int = setting(
        integer(minimum=0),
        default=2,
        title="Angus lookback (hours)",
        description="Re-read this many hours before the bookmark (the newest bucket is "
        "partial when it is read).",
        read=int,
    )
    angus_window_days: int = setting(
        integer(minimum=1),
        default=7,
        title="Angus window (days)",
        description="UTC days per Angus request window; each window is paged to the end "
        "and bookmarked once emitted.",
        read=int,
    )
    angus_auth_url: str = setting(
        STRING,
        default="https://console.angus.ai",
        title="Angus auth URL",
        description="Base URL of the Angus token endpoint.",
        base_url=True,
        sandbox_replaces=True,
        read=str,
    )
    angus_api_url: str = setting(
        STRING,
        default="https://data.angus.ai",
        title="Angus API URL",
        description="Base URL of the Angus Data API.",
        base_url=True,
        sandbox_replaces=True,
        read=str,
    )

    @property
    def cameras(self) -> tuple[AngusCamera, ...]:
        return self.angus_streams

    @property
    def lookback(self) -> dt.timedelta:
        return dt.timedelta(hours=self.angus_lookback_hours)

    def secrets(self) -> list[str]:
        return [camera.access_token for camera in self.cameras]


# --- checks JSON Schema cannot express (see connector/config_checks.py) --------------------
def camera_problems(config: Mapping[str, Any]) -> list[str]:
    streams = config.get("angus_streams")
    cameras = [c for c in streams if isinstance(c, Mapping)] if isinstance(streams, list) else []
    problems = []
    if cameras and not config.get("angus_username"):
        problems.append(
            "angus_streams is set but angus_username is not: set the Angus console login email"
        )
    ids = [c.get("client_id") for c in cameras]
    if len(ids) != len(set(ids)):
        problems.append(
            "angus_streams lists the same client_id twice; list each camera stream once"
        )
    return problems


CONFIG_CHECKS: tuple[Callable[[Mapping[str, Any]], list[str]], ...] = (
    email_check("angus_username"),
    camera_problems,
)
