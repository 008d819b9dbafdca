"""Time helpers. Every datetime inside the tap is timezone-aware UTC; naive values are refused."""

from __future__ import annotations

import datetime as dt

UTC = dt.timezone.utc


def utc_now() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


def parse_datetime(value: str | dt.datetime | dt.date) -> dt.datetime:
    """Parse a config or state value into aware UTC; a naive value is taken to be UTC."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    else:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def floor_day(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def floor_hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def isoformat_utc(moment: dt.datetime) -> str:
    """`2026-11-20T10:00:00+00:00`: the form the Angus API uses for its bucket keys."""
    return moment.astimezone(UTC).isoformat()
