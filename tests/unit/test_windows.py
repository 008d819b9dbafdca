"""Windows and resume points: the pure planning functions of the core (shards: test_shards.py)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from tap_audience.core.endpoint import resume_point
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
