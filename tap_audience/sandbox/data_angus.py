"""Angus.ai audience data: one deterministic generator shared by the HTTP API and the oracle.

Model: every camera has dense hourly buckets whose *full* values are a pure function of
(seed, client_id, hour start). What the API shows depends on the data clock only through
(a) which buckets exist (start <= now) and (b) the bucket containing ``now``, whose counts are
scaled by the elapsed fraction so that a later sync sees it revised. Daily and global buckets are
aggregates of the hourly ones as of ``now``, so the three granularities always agree.
"""

from __future__ import annotations

import hashlib
import random
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from .clock import US_PER_S, utc_key
from .det import digest, uuid4_from

ANGUS_METRICS = (
    "passing_by",
    "interested",
    "stop_time",
    "attention_time",
    "category",
    "gender",
    "satisfaction",
)
TIME_BUCKETS = ("by_hour", "by_day", "global")
STEP_SECONDS = {"by_hour": 3600, "by_day": 86400}
HOUR = 3600
HOUR_US = HOUR * US_PER_S

# Relative traffic by *local* hour for a store-front camera (open ~9h-21h), shifted to UTC for a
# Toronto-ish (UTC-5) site so UTC buckets show a believable daily curve.
_LOCAL_SHAPE = (
    0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.12, 0.25, 0.45, 0.60, 0.75,
    0.90, 0.85, 0.80, 0.80, 0.85, 0.95, 1.00, 0.90, 0.70, 0.45, 0.20, 0.07,
)  # fmt: skip
_UTC_SHAPE = tuple(_LOCAL_SHAPE[(h - 5) % 24] for h in range(24))
_TWELVE_U16 = struct.Struct(">12H")
_OMIT_SATISFACTION_BELOW = 26  # first digest byte < 26/256 -> ~10% of buckets omit the key


class Bucket(NamedTuple):
    passing_by: int
    interested: int
    stop_time: float | None
    attention_time: float | None
    satisfaction: float | None
    has_satisfaction: bool  # False: the API omits the "satisfaction" key entirely
    category: tuple[int, int, int, int]  # senior_female, senior_male, young_female, young_male
    gender: tuple[int, int, int]  # female, male, unknown ("?" on the wire)


@dataclass(frozen=True)
class Camera:
    client_id: str
    access_token: str
    peak: int  # busiest-hour mean of passing_by
    key: bytes  # blake2b key: makes the per-hour hash one cheap call


def make_cameras(seed: int, count: int) -> list[Camera]:
    generator = random.Random(seed)
    cameras = []
    for _ in range(count):
        client_id = uuid4_from(generator)
        access_token = uuid4_from(generator)
        peak = 80 + generator.randrange(121)
        cameras.append(Camera(client_id, access_token, peak, digest(seed, "angus", client_id)))
    return cameras


@lru_cache(maxsize=131072)
def _full_hour(key: bytes, peak: int, hour: int) -> Bucket:
    """Complete values of one hour. Cached: by_day/global and re-syncs revisit the same hours."""
    raw = hashlib.blake2b(hour.to_bytes(8, "big", signed=True), key=key, digest_size=26).digest()
    u = [x / 65536.0 for x in _TWELVE_U16.unpack_from(raw)]
    weekday = (hour // 86400 + 3) % 7  # 1970-01-01 was a Thursday; 5, 6 = weekend
    mean = peak * _UTC_SHAPE[(hour // HOUR) % 24] * (1.25 if weekday >= 5 else 1.0)
    passing_by = min(300, int(mean * (0.6 + 0.8 * u[0])))
    interested = int(passing_by * (0.05 + 0.30 * u[1]))
    unknown = int(interested * 0.12 * u[2])
    female = int((interested - unknown) * (0.35 + 0.30 * u[3]))
    gender = (female, interested - unknown - female, unknown)
    # People without an age/gender estimate are left out of category, so its sum <= interested.
    known = interested - int(interested * 0.15 * u[4])
    senior = int(known * (0.2 + 0.3 * u[5]))
    young = known - senior
    senior_female = int(senior * u[6])
    young_female = int(young * u[7])
    category = (senior_female, senior - senior_female, young_female, young - young_female)
    if interested:
        stop = round(3.0 + 27.0 * u[8], 2)
        attention: float | None = round(1.0 + (stop - 1.0) * (0.2 + 0.7 * u[9]), 2)
        satisfaction: float | None = round(0.2 + 0.75 * u[10], 3)
        stop_time: float | None = stop
    else:
        stop_time = attention = satisfaction = None
    has_sat = raw[24] >= _OMIT_SATISFACTION_BELOW
    return Bucket(
        passing_by, interested, stop_time, attention, satisfaction, has_sat, category, gender
    )


def _scaled(full: Bucket, frac: float) -> Bucket:
    """The partial current bucket: counts floor(full * elapsed fraction); averages unchanged."""

    def f(value: int) -> int:
        return int(value * frac)

    interested = f(full.interested)
    keep = interested > 0
    return Bucket(
        f(full.passing_by),
        interested,
        full.stop_time if keep else None,
        full.attention_time if keep else None,
        full.satisfaction if keep else None,
        full.has_satisfaction,
        (f(full.category[0]), f(full.category[1]), f(full.category[2]), f(full.category[3])),
        (f(full.gender[0]), f(full.gender[1]), f(full.gender[2])),
    )


def hour_bucket(camera: Camera, hour: int, now_us: int) -> Bucket | None:
    """The hour starting at ``hour`` (epoch s) as of ``now_us``; None if it has not started."""
    start_us = hour * US_PER_S
    if start_us > now_us:
        return None
    full = _full_hour(camera.key, camera.peak, hour)
    elapsed = now_us - start_us
    return full if elapsed >= HOUR_US else _scaled(full, elapsed / HOUR_US)


def _weighted(pairs: list[tuple[float, int]]) -> float | None:
    weight = sum(w for _, w in pairs)
    if weight == 0:
        return None
    return sum(v * w for v, w in pairs) / weight


def combine(parts: Iterable[Bucket], has_satisfaction: bool = True) -> Bucket:
    """Aggregate hourly buckets: sums for counts, averages weighted by ``interested``."""
    passing = interested = 0
    cat = [0, 0, 0, 0]
    gen = [0, 0, 0]
    stops: list[tuple[float, int]] = []
    attentions: list[tuple[float, int]] = []
    sats: list[tuple[float, int]] = []
    for b in parts:
        passing += b.passing_by
        interested += b.interested
        for i in range(4):
            cat[i] += b.category[i]
        for i in range(3):
            gen[i] += b.gender[i]
        if b.stop_time is not None:
            stops.append((b.stop_time, b.interested))
        if b.attention_time is not None:
            attentions.append((b.attention_time, b.interested))
        if b.satisfaction is not None and b.has_satisfaction:
            sats.append((b.satisfaction, b.interested))
    stop, att, sat = _weighted(stops), _weighted(attentions), _weighted(sats)
    return Bucket(
        passing,
        interested,
        None if stop is None else round(stop, 2),
        None if att is None else round(att, 2),
        None if sat is None else round(sat, 3),
        has_satisfaction,
        (cat[0], cat[1], cat[2], cat[3]),
        (gen[0], gen[1], gen[2]),
    )


def day_bucket(camera: Camera, day: int, now_us: int) -> Bucket | None:
    """UTC day starting at ``day`` (epoch s): the 24 hourly buckets as of ``now_us``."""
    if day * US_PER_S > now_us:
        return None
    hours = (hour_bucket(camera, day + i * HOUR, now_us) for i in range(24))
    flag = hashlib.blake2b(b"day" + day.to_bytes(8, "big", signed=True), key=camera.key).digest()
    return combine((h for h in hours if h is not None), flag[0] >= _OMIT_SATISFACTION_BELOW)


def global_bucket(camera: Camera, from_us: int, to_us: int, now_us: int) -> Bucket:
    """One aggregate over the hours from floor_hour(from) that start before to and by now."""
    first = from_us // HOUR_US * HOUR
    count = bucket_count(first, to_us, now_us, HOUR)
    return combine(b for i in range(count) if (b := hour_bucket(camera, first + i * HOUR, now_us)))


def first_bucket(from_us: int, step: int) -> int:
    """Floor a start to the bucket size in UTC (by_day keys are UTC midnight, A4)."""
    return from_us // (step * US_PER_S) * step


def bucket_count(first: int, to_us: int, now_us: int, step: int) -> int:
    """How many buckets start at ``first + k*step`` with start < to and start <= now."""
    start_us, step_us = first * US_PER_S, step * US_PER_S
    before_to = -(-(to_us - start_us) // step_us) if to_us > start_us else 0
    by_now = (now_us - start_us) // step_us + 1 if now_us >= start_us else 0
    return max(0, min(before_to, by_now))


def bucket_at(camera: Camera, time_bucket: str, start: int, now_us: int) -> Bucket:
    found = (hour_bucket if time_bucket == "by_hour" else day_bucket)(camera, start, now_us)
    if found is None:  # callers only ask for buckets counted by bucket_count
        raise ValueError(f"bucket {start} starts after now")
    return found


def api_metrics(bucket: Bucket, metrics: Sequence[str]) -> dict[str, Any]:
    """Metric objects as the Data API shows them (the-metrics, A4)."""
    out: dict[str, Any] = {}
    for name in metrics:
        if name == "passing_by":
            out[name] = {"value": bucket.passing_by}
        elif name == "interested":
            out[name] = {"value": bucket.interested}
        elif name == "stop_time":
            out[name] = {"value": bucket.stop_time}
        elif name == "attention_time":
            out[name] = {"value": bucket.attention_time}
        elif name == "satisfaction":
            if bucket.has_satisfaction:
                out[name] = {"value": bucket.satisfaction}
        elif name == "category":
            sf, sm, yf, ym = bucket.category
            out[name] = {
                "senior_female": sf,
                "senior_male": sm,
                "young_female": yf,
                "young_male": ym,
            }
        elif name == "gender":
            female, male, unknown = bucket.gender
            out[name] = {"?": unknown, "female": female, "male": male}
    return out


def record(
    client_id: str, time_bucket: str, start: int, bucket: Bucket, metrics: Sequence[str]
) -> dict[str, Any]:
    """The tap's output row for one bucket: absent/unrequested metrics are None."""
    wanted = set(metrics)

    def pick(name: str, value: Any) -> Any:
        return value if name in wanted else None

    sf, sm, yf, ym = bucket.category
    female, male, unknown = bucket.gender
    return {
        "client_id": client_id,
        "time_bucket": time_bucket,
        "bucket_start": utc_key(start),
        "passing_by": pick("passing_by", bucket.passing_by),
        "interested": pick("interested", bucket.interested),
        "stop_time": pick("stop_time", bucket.stop_time),
        "attention_time": pick("attention_time", bucket.attention_time),
        "satisfaction": bucket.satisfaction
        if "satisfaction" in wanted and bucket.has_satisfaction
        else None,
        "category": pick(
            "category",
            {"senior_female": sf, "senior_male": sm, "young_female": yf, "young_male": ym},
        ),
        "gender": pick("gender", {"female": female, "male": male, "unknown": unknown}),
    }
