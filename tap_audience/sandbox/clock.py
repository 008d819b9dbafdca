"""The sandbox's data clock and the time arithmetic shared by handlers and oracle.

The data clock decides which buckets/days exist and how "partial" the newest one is. It is
separate from real time on purpose: token expiry uses ``time.time()`` (the tap compares ``exp``
with the real clock), while tests move the data clock to watch partial data being revised.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_S = 1_000_000


def require_aware(value: datetime, what: str = "datetime") -> datetime:
    """Reject naive datetimes: guessing a zone would hide tap bugs."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {value!r}")
    return value.astimezone(UTC)


def epoch_us(value: datetime) -> int:
    """Exact integer microseconds since the epoch (floats lose precision near 1e15 us)."""
    return (value - EPOCH) // timedelta(microseconds=1)


def from_epoch_s(seconds: int) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


def utc_key(seconds: int) -> str:
    """Angus bucket key: Python ``isoformat()`` of the UTC start, e.g. ``...T05:00:00+00:00``."""
    return from_epoch_s(seconds).isoformat()


class DataClock:
    """Thread-safe settable clock; readers take one snapshot per request."""

    def __init__(self, now: datetime | None = None) -> None:
        if now is None:
            now = datetime.now(UTC).replace(microsecond=0)
        self._now = require_aware(now, "now")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, value: datetime) -> None:
        aware = require_aware(value, "now")
        with self._lock:
            self._now = aware

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now = self._now + delta
            return self._now


# Angus clients send several ISO flavours (docs/vendors.md A4): "+0200", "+00:00", "Z", with or
# without (milli/micro)seconds. An explicit regex keeps this identical on every Python version
# and rejects naive values, whose meaning on the real API is unknown.
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?"
    r"(Z|z|[+-]\d{2}:?\d{2})$"
)


def parse_iso_with_offset(text: str) -> datetime:
    """Parse an offset-carrying ISO-8601 datetime, keeping the caller's offset for echoing."""
    match = _ISO.match(text.strip())
    if match is None:
        raise ValueError(f"invalid datetime {text!r}")
    year, month, day, hour, minute, second, frac, offset = match.groups()
    if offset in ("Z", "z"):
        tz = UTC
    else:
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if delta >= timedelta(hours=24):
            raise ValueError(f"invalid offset in {text!r}")
        tz = timezone(sign * delta)
    micro = int((frac or "0").ljust(6, "0"))
    return datetime(
        int(year),
        int(month),
        int(day),
        int(hour),
        int(minute),
        int(second or 0),
        micro,
        tzinfo=tz,
    )
