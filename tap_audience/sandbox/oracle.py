"""What a correct sync must output, computed from the same generators the handlers use.

No HTTP here: the oracle reads the data clock once and walks the generators directly, so a test
can compare the tap's records with these lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from . import data_angus, data_eq, data_locus
from .clock import epoch_us, require_aware
from .state import SandboxState


def expected_angus(
    state: SandboxState,
    client_id: str,
    start: datetime,
    end: datetime,
    *,
    time_bucket: str = "by_hour",
    metrics: Sequence[str] = data_angus.ANGUS_METRICS,
) -> list[dict[str, Any]]:
    camera = state.cameras_by_id.get(client_id)
    if camera is None:
        raise ValueError(f"unknown Angus client_id {client_id!r}")
    if time_bucket not in data_angus.STEP_SECONDS:
        raise ValueError(f"time_bucket must be by_hour or by_day, got {time_bucket!r}")
    unknown = set(metrics) - set(data_angus.ANGUS_METRICS)
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)}")
    step = data_angus.STEP_SECONDS[time_bucket]
    now_us = epoch_us(state.clock.now())
    first = data_angus.first_bucket(epoch_us(require_aware(start, "start")), step)
    count = data_angus.bucket_count(first, epoch_us(require_aware(end, "end")), now_us, step)
    out = []
    for i in range(count):
        bucket_start = first + i * step
        bucket = data_angus.bucket_at(camera, time_bucket, bucket_start, now_us)
        out.append(data_angus.record(client_id, time_bucket, bucket_start, bucket, metrics))
    return out


def expected_insights(
    state: SandboxState, dimension: str, campaign_id: int, start: date, end: date
) -> list[dict[str, Any]]:
    if dimension not in data_eq.DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    campaign = state.campaigns_by_code.get(int(campaign_id))
    if campaign is None:
        raise ValueError(f"unknown campaign {campaign_id!r}")
    now = state.clock.now()
    rows = data_eq.insight_rows(state.seed, campaign, dimension, start, end, now=now)
    records = [data_eq.record(campaign.code, dimension, row) for row in rows]
    return sorted(records, key=lambda r: (r["date"], r["dimension_value"]))


def expected_hh_segments(state: SandboxState, coords: str) -> list[dict[str, Any]]:
    return data_locus.records(state.seed, coords)


def expected_campaigns(state: SandboxState) -> list[dict[str, Any]]:
    """`eq_campaigns` records for the analyst (who sees every campaign), sorted by code."""
    now = state.clock.now()
    records = []
    for campaign in sorted(state.campaigns, key=lambda c: c.code):
        row = campaign.to_api(now)
        zone = ZoneInfo(campaign.time_zone)
        start = datetime.fromisoformat(row["StartDate"]).replace(tzinfo=zone)
        end = datetime.fromisoformat(row["EndDate"]).replace(tzinfo=zone)
        records.append(
            {
                "campaign_id": campaign.code,
                "name": campaign.name,
                "state": campaign.state(now),
                "time_zone": campaign.time_zone,
                "start_date": row["StartDate"],
                "end_date": row["EndDate"],
                "start_utc": start.astimezone(timezone.utc).isoformat(),
                "end_utc": end.astimezone(timezone.utc).isoformat(),
                "days_left": row["DaysLeft"],
                "total_days": row["TotalDays"],
                "currency": row["Currency"],
                "enabled": bool(row["Enabled"]),
            }
        )
    return records
