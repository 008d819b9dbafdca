"""ATOM campaign insights: `GET /beta/insights/<dimension>?c=&start=&end=`, one stream each.

The nine dimensions differ only in path and in the key that names the dimension inside
`_id`, so they are rows of `INSIGHT_DIMENSIONS`: one `InsightsEndpoint` instance each. Rows
are per campaign-local day, so each campaign's range is cut into dates in its own time zone
(from the campaign list; UTC when unknown) and clamped to the campaign's dates. `start`/`end`
are inclusive.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from typing_extensions import override

from tap_audience.core.convert import as_float, as_int
from tap_audience.core.endpoint import Endpoint, EndpointInfo, Partition, Record
from tap_audience.core.errors import TapAudienceError
from tap_audience.core.http import ApiRequest, VendorClient
from tap_audience.core.settings import RunSettings
from tap_audience.core.timeutil import UTC
from tap_audience.core.windows import DAY, Window, date_windows
from tap_audience.eqworks.connection import ATOM_VENDOR, EqConnection
from tap_audience.eqworks.settings import EqSettings

# dimension → key of the dimension value inside `_id` (docs/vendors.md B4; the last four are
# the documented best guesses, kept here so a correction is a one-line change).
INSIGHT_DIMENSIONS: dict[str, str] = {
    "user_segment": "UserSegment",
    "session": "Session",
    "banner": "BannerCode",
    "browser": "Browser",
    "banner_pos": "BannerPosition",
    "iab": "IAB",
    "lang": "Lang",
    "network": "Network",
    "os": "OS",
}

# API metric → column. Counts are integers, money is float.
INT_METRICS = {
    "Imps": "imps",
    "Clicks": "clicks",
    "Actions": "actions",
    "Bids": "bids",
    "VastView": "vast_view",
    "VastCompletion0": "vast_completion_0",
    "VastCompletion25": "vast_completion_25",
    "VastCompletion50": "vast_completion_50",
    "VastCompletion75": "vast_completion_75",
    "VastCompletion100": "vast_completion_100",
}
FLOAT_METRICS = {"BidAmount": "bid_amount", "ImpCost": "imp_cost", "Revenue": "revenue"}


KNOWN_ROW_FIELDS = frozenset(("_id", *INT_METRICS, *FLOAT_METRICS))


def insight_record(campaign_id: int, id_key: str, row: dict[str, Any]) -> Record:
    ids = row["_id"]
    if not isinstance(ids, dict):
        raise ValueError(f"_id is {ids!r}, expected an object")
    value = ids.get(id_key)
    if value is None:  # an unexpected key name: take whichever key is not Date
        value = next((v for k, v in ids.items() if k != "Date"), None)
    if value is None:
        raise ValueError(f"_id {ids!r} has no dimension value")
    record: Record = {
        "campaign_id": campaign_id,
        "date": dt.date.fromisoformat(str(ids["Date"])).isoformat(),
        "dimension_value": str(value),
        "_id": ids,
    }
    for api_name, column in INT_METRICS.items():
        record[column] = as_int(row.get(api_name), api_name)
    for api_name, column in FLOAT_METRICS.items():
        record[column] = as_float(row.get(api_name), api_name)
    return record


def insights_info(dimension: str) -> EndpointInfo:
    return EndpointInfo(
        name=f"eq_{dimension}",
        primary_keys=("campaign_id", "date", "dimension_value"),
        replication_key="date",
        partition_key="campaign_id",
        vendor=ATOM_VENDOR,
        path=f"/beta/insights/{dimension}",
    )


INFOS: tuple[EndpointInfo, ...] = tuple(insights_info(d) for d in INSIGHT_DIMENSIONS)


class InsightsEndpoint(Endpoint):
    """One insights dimension; every dimension is an instance of this class."""

    def __init__(
        self,
        dimension: str,
        run: RunSettings,
        settings: EqSettings,
        connection: EqConnection,
    ) -> None:
        super().__init__(insights_info(dimension), run)
        self.dimension = dimension
        self.id_key = INSIGHT_DIMENSIONS[dimension]
        self.settings = settings
        self.connection = connection

    @override
    def all_partitions(self) -> list[dict[str, Any]]:
        if not self.settings.atom_token:
            return []
        if self.settings.eq_campaign_ids:
            return [{"campaign_id": c} for c in self.settings.eq_campaign_ids]
        # No list configured: every campaign the token sees that overlaps the sync range.
        campaigns = self.connection.campaigns().campaigns()
        return [
            {"campaign_id": code}
            for code, campaign in campaigns.items()
            if campaign.overlaps(self.run.start, self.run.end)
        ]

    @override
    def known_partitions(self) -> list[dict[str, Any]]:
        if not self.settings.atom_token or self.settings.eq_campaign_ids:
            return self.all_partitions()
        # Discovered: every campaign the token sees, not only those overlapping this range.
        try:
            return [{"campaign_id": code} for code in self.connection.campaigns().campaigns()]
        except TapAudienceError:
            return []  # the campaign list is unavailable: it is reported where it is needed

    @override
    def canonical_context(self, context: Mapping[str, Any]) -> dict[str, Any]:
        campaign = context.get("campaign_id")
        if isinstance(campaign, str) and campaign.strip().isdigit():
            return {**context, "campaign_id": int(campaign)}
        return dict(context)

    @override
    def bookmark_value(self, value: Any) -> str:
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return dt.date.fromisoformat(value).isoformat()
        raise ValueError(f"{value!r} is not a campaign-local date like 2026-11-20")

    @override
    def unconfigured_reason(self) -> str:
        if not self.settings.atom_token:
            return "no EQ ATOM token configured (set eq_jwt or eq_token_file)"
        return "the ATOM token sees no campaign that overlaps the sync range"

    @override
    def client(self, partition: Partition) -> VendorClient:
        return self.connection.atom()

    @override
    def plan(self, partition: Partition, bookmark: str | None) -> list[Window]:
        # Rows are per campaign-local day: the range is cut in the campaign's time zone (UTC
        # when it is unknown), and the bookmark is such a day. `end` is exclusive.
        campaign = self.connection.campaign(int(partition["campaign_id"]))
        zone = campaign.zone if campaign else UTC
        first = self.run.start.astimezone(zone).date()
        if bookmark:
            first = max(first, dt.date.fromisoformat(bookmark) - self.settings.lookback)
        last = (self.run.end - dt.timedelta(microseconds=1)).astimezone(zone).date()
        # No request for days the campaign did not run.
        if campaign and campaign.start:
            first = max(first, campaign.start.astimezone(zone).date())
        if campaign and campaign.end:
            last = min(last, campaign.end.astimezone(zone).date())
        return [
            Window(
                partition=partition,
                start=dt.datetime.combine(first_day, dt.time(), zone),
                end=dt.datetime.combine(last_day + DAY, dt.time(), zone),
            )
            for first_day, last_day in date_windows(first, last, self.settings.eq_window_days)
        ]

    @override
    def first_request(self, window: Window) -> ApiRequest:
        return ApiRequest(
            self.path,
            [
                ("c", str(window.partition["campaign_id"])),
                ("start", window.start.date().isoformat()),
                ("end", (window.end.date() - DAY).isoformat()),
            ],
        )

    @override
    def rows(self, window: Window, payload: Any) -> Iterator[tuple[str, Any]]:
        if not isinstance(payload, list):
            raise self.malformed(f"expected a JSON array of rows, got {type(payload).__name__}")
        for index, row in enumerate(payload):
            if isinstance(row, dict) and (extra := row.keys() - KNOWN_ROW_FIELDS):
                self.note_unknown_fields("row", extra)
            yield f"row {index}", row

    @override
    def record(self, window: Window, row: Any) -> Record:
        return insight_record(int(window.partition["campaign_id"]), self.id_key, row)


def endpoints(run: RunSettings, settings: EqSettings, connection: EqConnection) -> list[Endpoint]:
    """The nine insights endpoints of one run, in `INSIGHT_DIMENSIONS` order."""
    return [InsightsEndpoint(d, run, settings, connection) for d in INSIGHT_DIMENSIONS]
