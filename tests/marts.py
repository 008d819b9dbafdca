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
DELIVERY_METRICS = (
    "imps",
    "clicks",
    "actions",
    "bids",
    "bid_amount",
    "imp_cost",
    "revenue",
    "vast_view",
    "vast_completion_0",
    "vast_completion_25",
    "vast_completion_50",
    "vast_completion_75",
    "vast_completion_100",
)


def truth(sandbox: Sandbox) -> dict[str, dict[tuple[Any, ...], Row]]:
    """What each mart must hold, keyed by its grain, from the sandbox's oracle."""
    records = expected_records(sandbox)
    hourly = {(r["client_id"], r["bucket_start"]): r for r in records["angus_entities"]}
    hours_of_day: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for (camera, hour), record in hourly.items():
        hours_of_day[camera, hour[:10]].append(record)
    daily = {
        (r["client_id"], r["bucket_start"][:10]): daily_truth(
            r, hours_of_day[r["client_id"], r["bucket_start"][:10]], sandbox.now
        )
        for camera in sorted({camera for camera, _ in hourly})
        for r in sandbox.expected_angus(camera, START, sandbox.now, time_bucket="by_day")
    }
    cameras: dict[tuple[Any, ...], Row] = {}
    for camera, hour in sorted(hourly):
        span = cameras.setdefault((camera,), {"first": hour})
        span["last"] = hour
    delivery = {
        (r["campaign_id"], dimension, r["dimension_value"], r["date"]): r
        for dimension in DIMENSIONS
        for r in records[f"eq_{dimension}"]
    }
    delivery_daily: dict[tuple[Any, ...], Row] = {}
    for (campaign, dimension, _, day), r in delivery.items():
        total = delivery_daily.setdefault((campaign, dimension, day), defaultdict(float))
        total["values"] += 1
        for metric in DELIVERY_METRICS:
            total[metric] += r[metric]
    segments = records["locus_hh_segments"]
    households: dict[str, int] = defaultdict(int)
    for r in segments:
        households[r["coords"]] += r["households"]
    return {
        "fct_audience_hourly": hourly,
        "fct_audience_daily": daily,
        "dim_cameras": cameras,
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


def daily_truth(day: Row, hours: list[Row], now: dt.datetime) -> Row:
    """The sandbox's daily bucket for a camera-day, with what the mart adds from the hours."""
    last_hour = max(dt.datetime.fromisoformat(hour["bucket_start"]) for hour in hours)
    truth = {
        **day,
        "hours": len(hours),
        # All 24 there, and the last one over by the data clock (in the sandbox the tap reads
        # long after its clock, so the mart's "read after it ended" is that).
        "complete": len(hours) == 24 and last_hour + dt.timedelta(hours=1) <= now,
    }
    if day["satisfaction"] is None:  # Angus leaves it out of some days; the mart keeps it
        rated = [h for h in hours if h["satisfaction"] is not None and h["interested"]]
        weight = sum(h["interested"] for h in rated)
        truth["satisfaction"] = (
            sum(h["satisfaction"] * h["interested"] for h in rated) / weight if weight else None
        )
    return truth


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


def differing(got: Row, expected: dict[str, tuple[Any, float]]) -> list[str]:
    """`column is X, expected Y` for every column not within its tolerance of the truth."""
    return [
        f"{column} is {got[column]!r}, expected {value!r}"
        for column, (value, tolerance) in expected.items()
        if not close(got[column], value, tolerance)
    ]


CATEGORIES = ("senior_female", "senior_male", "young_female", "young_male")
GENDERS = (("female", "female"), ("male", "male"), ("gender_unknown", "unknown"))


def audience_problems(got: Row, want: Row, averages: float = 1e-9, rounded: float = 0) -> list[str]:
    """Every column of an audience row. `averages`: how far stop and attention time may be from
    the truth's, `rounded` satisfaction (the oracle rounds its daily buckets as Angus shows
    them, to 2 and 3 decimals)."""
    category, gender = want["category"], want["gender"]
    categorised, gendered = sum(category.values()), sum(gender.values())
    expected: dict[str, tuple[Any, float]] = {
        "passing_by": (want["passing_by"], 0),
        "interested": (want["interested"], 0),
        "attention_rate": (ratio(want["interested"], want["passing_by"]), 1e-9),
        "avg_stop_time_seconds": (want["stop_time"], averages),
        "avg_attention_time_seconds": (want["attention_time"], averages),
        "avg_satisfaction": (want["satisfaction"], rounded or averages),
    }
    for name in CATEGORIES:
        expected[f"interested_{name}"] = (category[name], 0)
        expected[f"{name}_share"] = (ratio(category[name], categorised), 1e-9)
    for column, key in GENDERS:
        expected[f"interested_{column}"] = (gender[key], 0)
        expected[f"{column}_share"] = (ratio(gender[key], gendered), 1e-9)
    return differing(got, expected)


def hourly_problems(got: Row, want: Row) -> list[str]:
    problems = audience_problems(got, want)
    if got["day_utc"] != want["bucket_start"][:10]:
        problems.append(f"day_utc is {got['day_utc']}")
    return problems


def daily_problems(got: Row, want: Row) -> list[str]:
    problems = audience_problems(got, want, averages=0.005 + 1e-9, rounded=0.0005 + 1e-9)
    if (got["hours_present"], got["is_complete_day"]) != (want["hours"], want["complete"]):
        problems.append(f"{got['hours_present']} hours, complete {got['is_complete_day']}")
    if got["source_time_bucket"] != "by_hour":
        problems.append(f"built from {got['source_time_bucket']}")
    return problems


def camera_problems(got: Row, want: Row) -> list[str]:
    span = (got["first_bucket_start_utc"], got["last_bucket_start_utc"])
    expected = tuple(want[end][:19].replace("T", " ") for end in ("first", "last"))
    return [] if span == expected else [f"buckets {span}, expected {expected}"]


# mart column -> the tap's column it sums or copies
DELIVERY_COLUMNS = {
    "impressions": "imps",
    "clicks": "clicks",
    "actions": "actions",
    "bids": "bids",
    "bid_amount": "bid_amount",
    "spend": "imp_cost",
    "revenue": "revenue",
    "video_views": "vast_view",
    **{f"video_completions_{q}": f"vast_completion_{q}" for q in (0, 25, 50, 75, 100)},
}


def delivery_problems(got: Row, want: Row) -> list[str]:
    expected: dict[str, tuple[Any, float]] = {
        column: (want[metric], 1e-6) for column, metric in DELIVERY_COLUMNS.items()
    }
    expected["click_through_rate"] = (ratio(want["clicks"], want["imps"]), 1e-9)
    expected["win_rate"] = (ratio(want["imps"], want["bids"]), 1e-9)
    for q in (25, 50, 75, 100):
        rate = ratio(want[f"vast_completion_{q}"], want["vast_view"])
        expected[f"video_completion_rate_{q}"] = (rate, 1e-9)
    if "values" in want:  # a daily total
        expected["dimension_value_count"] = (want["values"], 0)
    return differing(got, expected)


def segment_problems(got: Row, want: Row) -> list[str]:
    problems = differing(
        got,
        {
            "households": (want["households"], 0),
            "household_share": (want["share"], 1e-9),
            "vendor_share": (want["percent"] / 100, 1e-9),
            "latitude": (want["lat"], 1e-9),
            "longitude": (want["lon"], 1e-9),
        },
    )
    if got["segment_name"] != want["segment_name"]:
        problems.append(f"segment_name is {got['segment_name']}")
    return problems


def campaign_problems(got: Row, want: Row) -> list[str]:
    expected = {
        "campaign_name": want["name"],
        "campaign_state": want["state"],
        "time_zone": want["time_zone"],
        "starts_at_local": want["start_date"],
        "ends_at_local": want["end_date"],
        "start_local_date": want["start_date"][:10],
        "end_local_date": want["end_date"][:10],
        "starts_at_utc": want["start_utc"][:19].replace("T", " "),
        "ends_at_utc": want["end_utc"][:19].replace("T", " "),
        "days_left": want["days_left"],
        "total_days": want["total_days"],
        "currency": want["currency"],
        "is_enabled": want["enabled"],
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
    "dim_cameras": (("camera_id",), camera_problems),
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
        rows = server.rows(f"{schema}_marts", mart)
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
