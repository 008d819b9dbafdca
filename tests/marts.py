"""What the dbt marts must hold, from the sandbox's oracle, and how to read them back.

The truth is computed here independently of transform/'s SQL: per camera and hour, per camera
and UTC day (the sandbox's `by_day` buckets, which it builds from its hours the way Angus does),
per campaign, dimension, value and local day, per campaign, dimension and day, per coordinate
and segment, and the campaigns' attributes. Used by tests/test_dbt.py and the README's `dbt`
blocks (tests/test_readme.py).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from tap_audience.sandbox import DIMENSIONS, Sandbox
from tests.meltano_project import START, expected_records
from tests.postgres_server import Postgres

Row = dict[str, Any]
Marts = Callable[[str], list[Row]]


# --- the truth ---------------------------------------------------------------------------------
def truth(sandbox: Sandbox) -> dict[str, dict[tuple[Any, ...], Row]]:
    """What each mart must hold, keyed by its grain, from the sandbox's oracle."""
    records = expected_records(sandbox)
    hourly = {(r["client_id"], r["bucket_start"]): r for r in records["angus_entities"]}
    hours_per_day: dict[tuple[str, str], int] = defaultdict(int)
    for camera, hour in hourly:
        hours_per_day[camera, hour[:10]] += 1
    daily = {
        (r["client_id"], r["bucket_start"][:10]): {
            **r,
            "hours": hours_per_day[r["client_id"], r["bucket_start"][:10]],
        }
        for camera in sorted({camera for camera, _ in hourly})
        for r in sandbox.expected_angus(camera, START, sandbox.now, time_bucket="by_day")
    }
    delivery = {
        (r["campaign_id"], dimension, r["dimension_value"], r["date"]): r
        for dimension in DIMENSIONS
        for r in records[f"eq_{dimension}"]
    }
    delivery_daily: dict[tuple[Any, ...], Row] = {}
    for (campaign, dimension, _, day), r in delivery.items():
        total = delivery_daily.setdefault((campaign, dimension, day), defaultdict(float))
        total["values"] += 1
        for metric in ("imps", "clicks", "bids", "imp_cost", "revenue", "vast_view"):
            total[metric] += r[metric]
        total["vast_completion_100"] += r["vast_completion_100"]
    segments = records["locus_hh_segments"]
    households = defaultdict(int)
    for r in segments:
        households[r["coords"]] += r["households"]
    return {
        "fct_audience_hourly": hourly,
        "fct_audience_daily": daily,
        "fct_campaign_delivery": delivery,
        "fct_campaign_delivery_daily": delivery_daily,
        "fct_household_segments": {
            (r["coords"], r["segment_id"]): {
                **r,
                "share": r["households"] / households[r["coords"]],
            }
            for r in segments
        },
        "dim_campaigns": {(r["campaign_id"],): r for r in records["eq_campaigns"]},
    }


def ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else numerator / denominator


def close(got: Any, want: Any, tolerance: float = 1e-6) -> bool:
    if want is None or got is None:
        return got is None and want is None
    return math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=tolerance)


def mismatches(mart: str, rows: list[Row], want: dict[tuple[Any, ...], Row]) -> list[str]:
    """What keeps a mart's rows from equalling the truth: short lines, the first few only."""
    grain, compare = GRAINS[mart]
    got = {tuple(row[column] for column in grain): row for row in rows}
    problems = []
    if len(got) != len(rows):
        problems.append(f"{mart}: {len(rows) - len(got)} rows repeat the grain {grain}")
    problems += [f"{mart}: missing {key}" for key in sorted(want.keys() - got.keys())]
    problems += [f"{mart}: unexpected {key}" for key in sorted(got.keys() - want.keys())]
    for key in sorted(want.keys() & got.keys()):
        problems += [f"{mart} {key}: {problem}" for problem in compare(got[key], want[key])]
    return problems[:8]


def hourly_problems(got: Row, want: Row, averages: float = 1e-9) -> list[str]:
    """`averages`: how far the mart's stop, attention and satisfaction averages may be from the
    truth's (the oracle rounds its daily ones as Angus shows them: 2 and 3 decimals)."""
    category = want["category"]
    categorised = sum(category.values())
    expected = {
        "passing_by": (want["passing_by"], 0),
        "interested": (want["interested"], 0),
        "attention_rate": (ratio(want["interested"], want["passing_by"]), 1e-9),
        "avg_stop_time_seconds": (want["stop_time"], averages),
        "avg_attention_time_seconds": (want["attention_time"], averages),
        "avg_satisfaction": (want["satisfaction"], averages),
        "senior_female_share": (ratio(category["senior_female"], categorised), 1e-9),
        "female_share": (ratio(want["gender"]["female"], sum(want["gender"].values())), 1e-9),
    }
    return [
        f"{column} is {got[column]}, expected {value}"
        for column, (value, tolerance) in expected.items()
        if not close(got[column], value, tolerance)
    ]


def daily_problems(got: Row, want: Row) -> list[str]:
    if want["satisfaction"] is None:  # Angus leaves it out of some days' buckets; the mart has it
        got = {**got, "avg_satisfaction": None}
    problems = hourly_problems(got, want, averages=0.005 + 1e-9)
    if got["hours_present"] != want["hours"] or got["is_complete_day"] != (want["hours"] == 24):
        problems.append(f"{got['hours_present']} hours, complete {got['is_complete_day']}")
    if got["source_time_bucket"] != "by_hour":
        problems.append(f"built from {got['source_time_bucket']}")
    return problems


def delivery_problems(got: Row, want: Row) -> list[str]:
    expected = {
        "impressions": want["imps"],
        "clicks": want["clicks"],
        "bids": want["bids"],
        "spend": want["imp_cost"],
        "revenue": want["revenue"],
        "video_views": want["vast_view"],
        "click_through_rate": ratio(want["clicks"], want["imps"]),
        "win_rate": ratio(want["imps"], want["bids"]),
        "video_completion_rate_100": ratio(want["vast_completion_100"], want["vast_view"]),
    }
    if "values" in want:  # a daily total
        expected["dimension_values"] = want["values"]
    return [
        f"{column} is {got[column]}, expected {value}"
        for column, value in expected.items()
        if not close(got[column], value)
    ]


def segment_problems(got: Row, want: Row) -> list[str]:
    expected = {
        "households": want["households"],
        "household_share": want["share"],
        "vendor_share": want["percent"] / 100,
        "latitude": want["lat"],
        "longitude": want["lon"],
    }
    problems = [
        f"{column} is {got[column]}, expected {value}"
        for column, value in expected.items()
        if not close(got[column], value, 1e-9)
    ]
    if got["segment_name"] != want["segment_name"]:
        problems.append(f"segment_name is {got['segment_name']}")
    return problems


def campaign_problems(got: Row, want: Row) -> list[str]:
    expected = {
        "campaign_name": want["name"],
        "campaign_state": want["state"],
        "time_zone": want["time_zone"],
        "start_local_date": want["start_date"][:10],
        "end_local_date": want["end_date"][:10],
        "starts_at_utc": want["start_utc"][:19].replace("T", " "),
        "is_listed": True,
    }
    return [
        f"{column} is {got[column]!r}, expected {value!r}"
        for column, value in expected.items()
        if got[column] != value
    ]


GRAINS: dict[str, tuple[tuple[str, ...], Callable[[Row, Row], list[str]]]] = {
    "fct_audience_hourly": (("camera_id", "hour_start_utc"), hourly_problems),
    "fct_audience_daily": (("camera_id", "day_utc"), daily_problems),
    "fct_campaign_delivery": (
        ("campaign_id", "dimension", "dimension_value", "local_date"),
        delivery_problems,
    ),
    "fct_campaign_delivery_daily": (
        ("campaign_id", "dimension", "local_date"),
        delivery_problems,
    ),
    "fct_household_segments": (("coords", "segment_id"), segment_problems),
    "dim_campaigns": (("campaign_id",), campaign_problems),
}


def assert_marts_equal_truth(marts: Marts, sandbox: Sandbox) -> dict[str, Any]:
    want = truth(sandbox)
    problems = [line for mart in GRAINS for line in mismatches(mart, marts(mart), want[mart])]
    assert not problems, "\n".join(problems)
    assert all(want.values()), "nothing was compared vacuously"
    return want


def assert_revised(before: dict[str, Any], after: dict[str, Any], partial: dt.datetime) -> None:
    """The second run had revisions to apply: the partial hour and ATOM's recent days."""
    hours = before["fct_audience_hourly"]
    changed = {key[1] for key, row in hours.items() if after["fct_audience_hourly"][key] != row}
    assert changed == {partial.isoformat()}
    days = before["fct_campaign_delivery_daily"]
    revised = {key for key, row in days.items() if after["fct_campaign_delivery_daily"][key] != row}
    assert len({key[2] for key in revised}) >= 3, revised  # three local days per campaign


# --- reading the marts -------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """A warehouse value as the truth has it (dates and timestamps as text, decimals as float)."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.tzinfo is None else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def duckdb_marts(path: Path, schema: str) -> Marts:
    def read(mart: str) -> list[Row]:
        with duckdb.connect() as connection:  # closed again: an open handle locks the next run out
            connection.execute(f"ATTACH '{path}' AS warehouse (READ_ONLY)")
            cursor = connection.execute(f'SELECT * FROM warehouse."{schema}_marts"."{mart}"')
            columns = [column[0] for column in cursor.description]
            return [
                {name: plain(value) for name, value in zip(columns, row, strict=True)}
                for row in cursor.fetchall()
            ]

    return read


def postgres_marts(server: Postgres, schema: str) -> Marts:
    def read(mart: str) -> list[Row]:
        rows = server.query(
            f'SELECT coalesce(json_agg(t), \'[]\') FROM "{schema}_marts"."{mart}" t'
        )
        # json_agg writes timestamps as 2026-11-20T10:00:00; the truth's are 2026-11-20 10:00:00.
        return [
            {
                column: value.replace("T", " ")
                if isinstance(value, str) and TIMESTAMP.fullmatch(value)
                else value
                for column, value in row.items()
            }
            for row in rows
        ]

    return read


TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def hourly_keys_as_text(marts: Marts) -> Marts:
    """The hourly grain as the oracle writes it (`2026-11-20T10:00:00+00:00`)."""

    def read(mart: str) -> list[Row]:
        rows = marts(mart)
        if mart == "fct_audience_hourly":
            for row in rows:
                row["hour_start_utc"] = row["hour_start_utc"].replace(" ", "T") + "+00:00"
        return rows

    return read
