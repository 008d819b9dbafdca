"""`eq_campaigns`: every campaign the ATOM token may see, one record per campaign and state.

`GET /beta/campaigns/?state=<s>` lists the campaigns in one state; the tap asks for each of
the API's four states (`running`, `pending`, `paused`, `completed`), so every record carries
the state it was listed under (docs/vendors.md B5).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from typing_extensions import override

from tap_audience.core.endpoint import EndpointInfo, FullTableEndpoint, Partition, Record
from tap_audience.core.http import ApiRequest, VendorClient
from tap_audience.core.settings import RunSettings
from tap_audience.core.windows import Window
from tap_audience.eqworks.campaign_list import (
    CAMPAIGN_STATES,
    CAMPAIGNS_PATH,
    KNOWN_FIELDS,
    campaign_record,
    campaign_rows,
)
from tap_audience.eqworks.connection import ATOM_VENDOR, EqConnection
from tap_audience.eqworks.settings import EqSettings

INFO = EndpointInfo(
    name="eq_campaigns",
    primary_keys=("campaign_id",),
    partition_key="state",
    vendor=ATOM_VENDOR,
    path=CAMPAIGNS_PATH,
)


class EqCampaigns(FullTableEndpoint):
    def __init__(self, run: RunSettings, settings: EqSettings, connection: EqConnection) -> None:
        super().__init__(INFO, run)
        self.settings = settings
        self.connection = connection

    @override
    def all_partitions(self) -> list[dict[str, Any]]:
        if not self.settings.atom_token:
            return []
        return [{"state": state} for state in CAMPAIGN_STATES]

    @override
    def unconfigured_reason(self) -> str:
        return "no EQ ATOM token configured (set eq_user and eq_jwt)"

    @override
    def client(self, partition: Partition) -> VendorClient:
        return self.connection.atom()

    @override
    def first_request(self, window: Window) -> ApiRequest:
        return ApiRequest(self.path, [("state", window.partition["state"])])

    @override
    def rows(self, window: Window, payload: Any) -> Iterator[tuple[str, Any]]:
        try:
            rows = campaign_rows(payload)
        except ValueError as exc:
            raise self.malformed(str(exc)) from None
        for row in rows:
            if extra := row.keys() - KNOWN_FIELDS:
                self.note_unknown_fields("campaign", extra)
            yield f"campaign {row.get('CampCode')!r}", row

    @override
    def record(self, window: Window, row: Any) -> Record:
        return campaign_record(row, window.partition["state"])
