"""EQ Works data: keywarden users, ATOM campaigns and insights rows (one shared generator).

Insight rows are sparse per (dimension value, campaign-local day). Whether a row exists and its
*final* values depend only on (seed, campaign, dimension, value, date); the data clock only
decides which days exist yet (campaign-local "today") and how complete the last three days are,
because ATOM revises recent delivery data (docs/vendors.md B4, C11).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from .det import digest, rng, units, uuid4_from

DimValue = int | str

# path -> (_id key, value type). docs/vendors.md C10: the guessed keys live in this one table.
DIMENSIONS: dict[str, tuple[str, type]] = {
    "user_segment": ("UserSegment", int),
    "session": ("Session", int),
    "banner": ("BannerCode", int),
    "browser": ("Browser", int),
    "banner_pos": ("BannerPosition", int),
    "iab": ("IAB", str),
    "lang": ("Lang", str),
    "network": ("Network", int),
    "os": ("OS", int),
}
_POOLS: dict[str, Sequence[DimValue]] = {
    "user_segment": range(1000, 10000),
    "session": range(1, 13),
    "banner": range(100000, 1000000),
    "browser": (3, 7, 10, 12, 24, 29, 46, 55, 61),  # 10/24/29/46 seen in raw output (AX)
    "banner_pos": range(8),
    "iab": ("IAB1", "IAB1-2", "IAB2-3", "IAB3", "IAB5-1", "IAB7-13", "IAB9-30", "IAB12",
            "IAB13-4", "IAB17-44", "IAB19-6", "IAB20-18", "IAB22"),
    "lang": ("ar", "de", "en", "es", "fr", "it", "pa", "pt", "tl", "zh"),
    "network": range(1, 61),
    "os": (1, 2, 3, 10, 20, 31, 39, 45, 52),
}  # fmt: skip
# API metric name -> tap column name, in the API's field order (B4).
METRICS = (
    ("Imps", "imps"),
    ("Clicks", "clicks"),
    ("Actions", "actions"),
    ("Bids", "bids"),
    ("BidAmount", "bid_amount"),
    ("ImpCost", "imp_cost"),
    ("Revenue", "revenue"),
    ("VastView", "vast_view"),
    ("VastCompletion0", "vast_completion_0"),
    ("VastCompletion25", "vast_completion_25"),
    ("VastCompletion50", "vast_completion_50"),
    ("VastCompletion75", "vast_completion_75"),
    ("VastCompletion100", "vast_completion_100"),
)
# Share of the final counts visible N campaign-local days ago (0 = today). Older days are final,
# so a 3-day lookback is enough to pick up every revision.
REVISION = {0: 0.5, 1: 0.8, 2: 0.95}
_ROW_PRESENT = 0.6
_FLOAT_METRICS = ("BidAmount", "ImpCost", "Revenue")
_INT_METRICS = tuple(api for api, _ in METRICS if api not in _FLOAT_METRICS)


@dataclass
class EqUser:
    email: str
    wl: list[int] | int  # -1 = unrestricted (keywarden v0 access)
    customers: list[int] | int
    prefix: str
    jwt_uuid: str  # mutable: verify?reset_uuid=1 rotates it (revokes older tokens)

    def api_access(self) -> dict[str, Any]:
        return {
            "info": {},
            "wl": self.wl,
            "customers": self.customers,
            "read": 10,
            "write": 0,
            "version": 0,
        }


def make_users(seed: int) -> dict[str, EqUser]:
    g = rng(seed, "eq-users")
    users = [
        EqUser("analyst@eq.example", [1202], [12175, 12180], "customers", uuid4_from(g)),
        # A white-label outside LOCUS's allow-list (1202/1367) owning no sandbox campaign.
        EqUser("viewer@eq.example", [51], [300], "customers", uuid4_from(g)),
        EqUser("internal@eq.example", -1, -1, "internal", uuid4_from(g)),
    ]
    return {u.email: u for u in users}


@dataclass(frozen=True)
class Campaign:
    code: int
    name: str
    time_zone: str
    start_date: date
    end_date: date
    customer: int
    video: bool  # only video campaigns have Vast* counts
    scale: float  # delivery volume multiplier

    def local_today(self, now: datetime) -> date:
        return now.astimezone(ZoneInfo(self.time_zone)).date()

    def to_api(self, now: datetime) -> dict[str, Any]:
        today = self.local_today(now)
        return {
            "CampCode": self.code,
            "Name": self.name,
            "StartDate": f"{self.start_date.isoformat()} 00:00:00",
            "EndDate": f"{self.end_date.isoformat()} 23:59:59",
            "TimeZone": self.time_zone,
            "DaysLeft": max(0, (self.end_date - today).days),
            "TotalDays": (self.end_date - self.start_date).days + 1,
            "Currency": "CAD",
            "Enabled": 1,
        }

    def state(self, now: datetime) -> str:
        today = self.local_today(now)
        if today < self.start_date:
            return "pending"
        return "completed" if today > self.end_date else "running"


# (code, name, zone, start offset days, end offset days, customer, video, scale)
_CAMPAIGNS = (
    (37054, "Spring Launch - Toronto", "America/Toronto", -120, 60, 12175, False, 1.0),
    (41001, "Winter Video - Vancouver", "America/Vancouver", -90, -10, 12175, True, 0.6),
    (52210, "National Awareness", "UTC", -45, 30, 12180, False, 1.6),
)


def make_campaigns(anchor: datetime) -> list[Campaign]:
    """Campaign dates are fixed at construction, relative to the data clock's local date."""
    out = []
    for code, name, zone, start, end, customer, video, scale in _CAMPAIGNS:
        today = anchor.astimezone(ZoneInfo(zone)).date()
        out.append(
            Campaign(
                code,
                name,
                zone,
                today + timedelta(days=start),
                today + timedelta(days=end),
                customer,
                video,
                scale,
            )
        )
    return out


@lru_cache(maxsize=1024)
def dimension_values(seed: int, code: int, dimension: str) -> tuple[DimValue, ...]:
    """The 3-8 values a campaign has for one dimension, sorted (stable row order)."""
    g = rng(seed, "atom-values", code, dimension)
    chosen = g.sample(_POOLS[dimension], g.randint(3, 8))
    return tuple(sorted(chosen, key=_sort_key))


def _sort_key(value: DimValue) -> tuple[int, str]:
    # A pool is all ints or all strings; ints must sort numerically.
    return (value, "") if isinstance(value, int) else (0, value)


def _final_row(
    seed: int, campaign: Campaign, dimension: str, value: DimValue, day: date
) -> tuple[dict[str, int], float, float, float] | None:
    """Final counts plus the per-unit prices used to (re)compute the floats, or None if absent."""
    u = units(digest(seed, "atom-row", campaign.code, dimension, value, day.isoformat()))
    if u[0] >= _ROW_PRESENT:
        return None
    bids = int((150 + 4800 * u[1]) * campaign.scale)
    imps = int(bids * (0.25 + 0.60 * u[2]))
    clicks = int(imps * 0.02 * u[3])
    counts = {"Imps": imps, "Clicks": clicks, "Actions": int(clicks * 0.5 * u[4]), "Bids": bids}
    view = c0 = c25 = c50 = c75 = c100 = 0
    if campaign.video:
        view = int(imps * (0.6 + 0.4 * u[8]))
        c0 = view
        c25 = int(c0 * (0.85 + 0.10 * u[9]))
        c50 = int(c25 * (0.80 + 0.15 * u[10]))
        c75 = int(c50 * (0.80 + 0.15 * u[11]))
        c100 = int(c75 * (0.75 + 0.20 * u[12]))
    counts.update(
        VastView=view,
        VastCompletion0=c0,
        VastCompletion25=c25,
        VastCompletion50=c50,
        VastCompletion75=c75,
        VastCompletion100=c100,
    )
    bid_cpm = 1.5 + 4.5 * u[5]  # BidAmount sums CPM bids (doc example: 512.4 for 221 bids)
    paid_cpm = bid_cpm * (0.5 + 0.4 * u[6])
    markup = 1.3 + 1.2 * u[7]
    return counts, bid_cpm, paid_cpm, markup


def _metrics(
    final: tuple[dict[str, int], float, float, float], factor: float
) -> dict[str, int | float]:
    """Visible metrics: counts floored by the revision factor, floats recomputed from them."""
    counts, bid_cpm, paid_cpm, markup = final
    seen = {k: int(counts[k] * factor) for k in _INT_METRICS}
    cost = seen["Imps"] * paid_cpm / 1000
    floats = {
        "BidAmount": round(seen["Bids"] * bid_cpm, 4),
        "ImpCost": round(cost, 4),
        "Revenue": round(cost * markup, 4),
    }
    return {api: seen[api] if api in seen else floats[api] for api, _ in METRICS}


def insight_days(campaign: Campaign, start: date, end: date, now: datetime) -> list[date]:
    """Days of [start, end] within the campaign that have begun in the campaign's zone."""
    lo = max(start, campaign.start_date)
    hi = min(end, campaign.end_date, campaign.local_today(now))
    return [lo + timedelta(days=i) for i in range((hi - lo).days + 1)]


InsightRow = tuple[DimValue, date, dict[str, int | float]]


def insight_rows(
    seed: int, campaign: Campaign, dimension: str, start: date, end: date, *, now: datetime
) -> list[InsightRow]:
    """Rows in API order (by dimension value, then date)."""
    today = campaign.local_today(now)
    days = insight_days(campaign, start, end, now)
    rows: list[InsightRow] = []
    for value in dimension_values(seed, campaign.code, dimension):
        for day in days:
            final = _final_row(seed, campaign, dimension, value, day)
            if final is not None:
                factor = REVISION.get((today - day).days, 1.0)
                rows.append((value, day, _metrics(final, factor)))
    return rows


def api_row(dimension: str, row: InsightRow) -> dict[str, Any]:
    value, day, metrics = row
    return {"_id": {DIMENSIONS[dimension][0]: value, "Date": day.isoformat()}, **metrics}


def record(campaign_id: int, dimension: str, row: InsightRow) -> dict[str, Any]:
    value, day, metrics = row
    out: dict[str, Any] = {
        "campaign_id": campaign_id,
        "date": day.isoformat(),
        "dimension_value": str(value),
        "_id": {DIMENSIONS[dimension][0]: value, "Date": day.isoformat()},
    }
    for api, column in METRICS:
        out[column] = metrics[api]
    return out
