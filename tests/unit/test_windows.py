"""Windows, resume points and shards: the pure planning functions of the core."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import zlib
from typing import Any

import pytest

from tap_audience.core.endpoint import resume_point, shard_of
from tap_audience.core.windows import DAY, Window, date_windows, day_aligned_windows

UTC = dt.timezone.utc


def at(day: int, hour: int = 0, minute: int = 0, month: int = 1) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


def d(day: int, month: int = 1) -> dt.date:
    return dt.date(2026, month, day)


def test_day_is_one_day() -> None:
    assert dt.timedelta(days=1) == DAY


# --- day_aligned_windows --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "end", "days", "expected"),
    [
        pytest.param(
            at(1),
            at(4),
            1,
            [(at(1), at(2)), (at(2), at(3)), (at(3), at(4))],
            id="midnight-start-one-day",
        ),
        pytest.param(
            at(1, 10, 30),
            at(10),
            3,
            [(at(1, 10, 30), at(4)), (at(4), at(7)), (at(7), at(10))],
            id="mid-day-start-first-window-shorter",
        ),
        pytest.param(
            at(1),
            at(3, 12),
            1,
            [(at(1), at(2)), (at(2), at(3)), (at(3), at(3, 12))],
            id="mid-day-end-last-window-cut",
        ),
        pytest.param(
            at(1, 23, 59),
            at(2, 0, 1),
            1,
            [(at(1, 23, 59), at(2)), (at(2), at(2, 0, 1))],
            id="two-minutes-across-midnight",
        ),
        pytest.param(
            at(1, 6),
            at(1, 18),
            7,
            [(at(1, 6), at(1, 18))],
            id="range-shorter-than-window",
        ),
        pytest.param(
            at(1),
            at(15),
            7,
            [(at(1), at(8)), (at(8), at(15))],
            id="whole-weeks",
        ),
        pytest.param(
            at(28, month=1),
            at(3, month=2),
            3,
            [(at(28), at(31)), (at(31), at(3, month=2))],
            id="across-month-end",
        ),
        pytest.param(at(5), at(5), 1, [], id="empty-range"),
        pytest.param(at(6), at(5), 1, [], id="end-before-start"),
    ],
)
def test_day_aligned_windows(
    start: dt.datetime,
    end: dt.datetime,
    days: int,
    expected: list[tuple[dt.datetime, dt.datetime]],
) -> None:
    assert list(day_aligned_windows(start, end, days)) == expected


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        pytest.param(at(1, 10, 30), at(20, 7), 1, id="1-day"),
        pytest.param(at(1, 10, 30), at(20, 7), 3, id="3-days"),
        pytest.param(at(1), at(2, 5, month=3), 7, id="7-days"),
    ],
)
def test_day_aligned_windows_tile_the_range(
    start: dt.datetime, end: dt.datetime, days: int
) -> None:
    windows = list(day_aligned_windows(start, end, days))
    assert windows[0][0] == start
    assert windows[-1][1] == end
    for (_, upper), (lower, _) in itertools.pairwise(windows):
        assert upper == lower  # contiguous, no gap, no overlap
    for _, upper in windows[:-1]:
        assert (upper.hour, upper.minute, upper.second, upper.microsecond) == (0, 0, 0, 0)
    for lower, upper in windows[1:-1]:
        assert upper - lower == DAY * days


@pytest.mark.parametrize("days", [0, -1], ids=["zero", "negative"])
def test_day_aligned_windows_refuses_short_windows(days: int) -> None:
    with pytest.raises(ValueError, match="at least one day"):
        list(day_aligned_windows(at(1), at(2), days))


# --- date_windows ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("first", "last", "days", "expected"),
    [
        pytest.param(
            d(1), d(10), 3, [(d(1), d(3)), (d(4), d(6)), (d(7), d(9)), (d(10), d(10))], id="3-days"
        ),
        pytest.param(d(1), d(3), 1, [(d(1), d(1)), (d(2), d(2)), (d(3), d(3))], id="1-day"),
        pytest.param(d(1), d(7), 7, [(d(1), d(7))], id="exactly-one-window"),
        pytest.param(d(1), d(8), 7, [(d(1), d(7)), (d(8), d(8))], id="one-day-over"),
        pytest.param(d(5), d(5), 7, [(d(5), d(5))], id="single-day"),
        pytest.param(d(6), d(5), 1, [], id="last-before-first"),
        pytest.param(
            d(27, 2),
            d(3, 3),
            2,
            [(d(27, 2), d(28, 2)), (d(1, 3), d(2, 3)), (d(3, 3), d(3, 3))],
            id="across-february",
        ),
    ],
)
def test_date_windows(
    first: dt.date, last: dt.date, days: int, expected: list[tuple[dt.date, dt.date]]
) -> None:
    assert list(date_windows(first, last, days)) == expected


@pytest.mark.parametrize("days", [0, -3], ids=["zero", "negative"])
def test_date_windows_refuses_short_windows(days: int) -> None:
    with pytest.raises(ValueError, match="at least one day"):
        list(date_windows(d(1), d(2), days))


# --- Window ---------------------------------------------------------------------------------
def test_window_defaults() -> None:
    window = Window(partition={"client_id": "cam"}, start=at(1), end=at(2))
    assert (window.rows, window.max_replication_value, window.done) == (0, None, False)


@pytest.mark.parametrize(
    ("values", "rows", "maximum"),
    [
        pytest.param([], 0, None, id="nothing"),
        pytest.param([None, None], 2, None, id="only-none"),
        pytest.param(["2026-01-02", "2026-01-01"], 2, "2026-01-02", id="older-after-newer"),
        pytest.param(["2026-01-01", None, "2026-01-03"], 3, "2026-01-03", id="none-in-between"),
        pytest.param(["b", "a", "b"], 3, "b", id="ties"),
    ],
)
def test_window_note_record(values: list[str | None], rows: int, maximum: str | None) -> None:
    window = Window(partition={}, start=at(1), end=at(2))
    for value in values:
        window.note_record(value)
    assert (window.rows, window.max_replication_value) == (rows, maximum)


# --- resume_point ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "bookmark", "lookback", "expected"),
    [
        pytest.param(at(1), None, dt.timedelta(hours=2), at(1), id="no-bookmark-start"),
        pytest.param(at(1), at(10, 5), dt.timedelta(hours=2), at(10, 3), id="bookmark-lookback"),
        pytest.param(at(1), at(10, 5), dt.timedelta(0), at(10, 5), id="zero-lookback"),
        pytest.param(at(10), at(10, 1), dt.timedelta(hours=2), at(10), id="lookback-before-start"),
        pytest.param(
            at(10), at(10, 2), dt.timedelta(hours=2), at(10), id="lookback-lands-on-start"
        ),
        pytest.param(at(10), at(5), dt.timedelta(days=3), at(10), id="bookmark-before-start"),
        pytest.param(at(1), at(10), dt.timedelta(days=3), at(7), id="days-lookback"),
    ],
)
def test_resume_point(
    start: dt.datetime, bookmark: dt.datetime | None, lookback: dt.timedelta, expected: dt.datetime
) -> None:
    assert resume_point(start=start, bookmark=bookmark, lookback=lookback) == expected


# --- shard_of -------------------------------------------------------------------------------
def documented_shard(partition: dict[str, Any], count: int) -> int:
    return zlib.crc32(json.dumps(partition, sort_keys=True, default=str).encode()) % count


# Literal values: a change in the hash would move partitions between shards of a running setup.
@pytest.mark.parametrize(
    ("partition", "by_count"),
    [
        pytest.param({"client_id": "cam-1"}, {2: 1, 3: 1, 4: 3, 7: 4, 10: 7}, id="angus-camera"),
        pytest.param({"campaign_id": 37054}, {2: 1, 3: 1, 4: 1, 7: 2, 10: 7}, id="atom-campaign"),
        pytest.param(
            {"coords": "43.6532,-79.3832"}, {2: 0, 3: 1, 4: 2, 7: 5, 10: 0}, id="locus-coords"
        ),
        pytest.param({"state": "all"}, {2: 0, 3: 2, 4: 2, 7: 6, 10: 4}, id="campaign-state"),
    ],
)
def test_shard_of_known_partitions(partition: dict[str, Any], by_count: dict[int, int]) -> None:
    for count, expected in by_count.items():
        assert shard_of(partition, count) == expected
        assert shard_of(partition, count) == documented_shard(partition, count)


@pytest.mark.parametrize(
    "partition",
    [
        pytest.param({"client_id": "x"}, id="text"),
        pytest.param({"campaign_id": 1}, id="int"),
        pytest.param({"client_id": "a", "time_bucket": "by_hour"}, id="two-keys"),
        pytest.param({"when": dt.date(2026, 1, 1)}, id="date-value-via-str"),
    ],
)
def test_shard_of_one_shard_is_zero(partition: dict[str, Any]) -> None:
    assert shard_of(partition, 1) == 0
    assert shard_of(partition, 5) == documented_shard(partition, 5)


@pytest.mark.parametrize("count", [2, 3, 4, 5, 8, 16], ids=lambda n: f"{n}-shards")
@pytest.mark.parametrize("key", ["campaign_id", "client_id"])
def test_shard_of_covers_every_shard(key: str, count: int) -> None:
    partitions = [{key: i if key == "campaign_id" else f"cam-{i}"} for i in range(500)]
    shards = [shard_of(p, count) for p in partitions]
    assert set(shards) == set(range(count))
    assert all(0 <= s < count for s in shards)


@pytest.mark.parametrize("count", [2, 3, 7, 10])
def test_shard_of_ignores_key_order(count: int) -> None:
    items = [("client_id", "cam-9"), ("time_bucket", "by_day"), ("extra", 3)]
    shards = {shard_of(dict(order), count) for order in itertools.permutations(items)}
    assert shards == {documented_shard(dict(items), count)}


def test_shard_of_is_repeatable() -> None:
    partition = {"campaign_id": 123456}
    assert len({shard_of(dict(partition), 7) for _ in range(20)}) == 1
