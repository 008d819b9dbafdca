"""ATOM's campaign list: its rows, their records, and the directory other streams consult.

`GET /beta/campaigns/` (unfiltered, fetched once per run) gives the insights streams their
partitions when `eq_campaign_ids` is empty, and every campaign's time zone, so insights dates
can be requested as campaign-local days. The `eq_campaigns` stream (`eqworks.campaigns`)
reads the same list per state.

Campaign `StartDate`/`EndDate` are naive `YYYY-MM-DD HH:MM:SS` in the campaign's `TimeZone`
(docs/vendors.md B7); records keep them as given plus UTC conversions.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tap_audience.core.convert import as_int, as_str
from tap_audience.core.endpoint import Record
from tap_audience.core.errors import TapAudienceError
from tap_audience.core.http import ApiRequest, VendorClient, malformed
from tap_audience.core.timeutil import UTC, isoformat_utc

LOGGER = logging.getLogger("tap_audience.eqworks.campaign_list")

CAMPAIGNS_PATH = "/beta/campaigns/"
CAMPAIGN_STATES = ("running", "pending", "paused", "completed")
KNOWN_FIELDS = frozenset(
    ("CampCode", "Name", "StartDate", "EndDate", "TimeZone", "DaysLeft", "TotalDays")
) | {"Currency", "Enabled"}


@dataclass(frozen=True)
class Campaign:
    code: int
    name: str | None
    start: dt.datetime | None  # aware, UTC
    end: dt.datetime | None
    zone: dt.tzinfo

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        return (self.start is None or self.start < end) and (self.end is None or self.end >= start)


def zone_of(name: Any) -> dt.tzinfo:
    try:
        return ZoneInfo(str(name)) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        LOGGER.warning("unknown campaign time zone %r: using UTC", name)
        return UTC


def local_to_utc(value: Any, zone: dt.tzinfo) -> dt.datetime | None:
    if not value:
        return None
    naive = dt.datetime.fromisoformat(str(value))
    return naive.replace(tzinfo=naive.tzinfo or zone).astimezone(UTC)


def parse_campaign(row: dict[str, Any]) -> Campaign:
    code = as_int(row.get("CampCode"), "CampCode")
    if code is None:
        raise ValueError("CampCode is null")
    zone = zone_of(row.get("TimeZone"))
    return Campaign(
        code=code,
        name=as_str(row.get("Name"), "Name"),
        start=local_to_utc(row.get("StartDate"), zone),
        end=local_to_utc(row.get("EndDate"), zone),
        zone=zone,
    )


def campaign_rows(payload: Any) -> list[dict[str, Any]]:
    campaigns = payload.get("campaigns") if isinstance(payload, dict) else None
    if not isinstance(campaigns, dict) or not all(isinstance(v, dict) for v in campaigns.values()):
        raise ValueError("the body has no 'campaigns' object of campaign objects")
    return list(campaigns.values())


def campaign_record(row: dict[str, Any], state: str) -> Record:
    campaign = parse_campaign(row)
    enabled = as_int(row.get("Enabled"), "Enabled")
    return {
        "campaign_id": campaign.code,
        "name": campaign.name,
        "state": state,
        "time_zone": as_str(row.get("TimeZone"), "TimeZone"),
        "start_date": as_str(row.get("StartDate"), "StartDate"),
        "end_date": as_str(row.get("EndDate"), "EndDate"),
        "start_utc": isoformat_utc(campaign.start) if campaign.start else None,
        "end_utc": isoformat_utc(campaign.end) if campaign.end else None,
        "days_left": as_int(row.get("DaysLeft"), "DaysLeft"),
        "total_days": as_int(row.get("TotalDays"), "TotalDays"),
        "currency": as_str(row.get("Currency"), "Currency"),
        "enabled": None if enabled is None else bool(enabled),
    }


class CampaignDirectory:
    """Every campaign the ATOM token may see, fetched once per run on first use.

    A failure is kept too: every partition that asks afterwards gets the same error instead
    of sending the request (and its retries) again.
    """

    def __init__(self, client: VendorClient) -> None:
        self._client = client
        self._campaigns: dict[int, Campaign] | None = None
        self._failure: TapAudienceError | None = None
        self._lock = threading.Lock()

    def campaigns(self) -> dict[int, Campaign]:
        with self._lock:
            if self._failure is not None:
                raise self._failure
            if self._campaigns is None:
                try:
                    self._campaigns = self._load()
                except TapAudienceError as exc:
                    self._failure = exc
                    raise
            return self._campaigns

    def _load(self) -> dict[int, Campaign]:
        payload = self._client.request_json(ApiRequest(CAMPAIGNS_PATH))
        try:
            parsed = [parse_campaign(row) for row in campaign_rows(payload)]
        except (TypeError, ValueError, AttributeError) as exc:
            raise malformed(str(exc), vendor="EQ ATOM", path=CAMPAIGNS_PATH) from None
        return {c.code: c for c in sorted(parsed, key=lambda c: c.code)}
