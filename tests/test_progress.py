"""Progress lines while syncing and the summary table at the end."""

from __future__ import annotations

import logging
import re

from tap_audience.core.progress import StreamProgress
from tap_audience.sandbox import Fault
from tests.helpers import run_tap, sandbox_config


def test_progress_lines_count_partitions_windows_records(sandbox, caplog):
    with caplog.at_level("INFO"):
        run_tap(
            sandbox_config(sandbox, progress_interval_seconds=0, angus_window_days=5),
            streams=["angus_entities"],
        )
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("progress:")]
    # 3 cameras × 4 windows of 5 days over 19.4 days, one line per window plus a final one
    assert len(lines) == 13
    assert re.fullmatch(
        r"progress: angus_entities: partitions 0/3, windows 1/12, [\d,]+ records, "
        r"[\d,]+ records/s, ETA \d+:\d\d:\d\d",
        lines[0],
    )
    assert lines[-1].startswith(
        "progress: angus_entities: partitions 3/3, windows 12/12, 1,401 records"
    )


def test_summary_table_has_records_partitions_requests_retries(sandbox, caplog):
    sandbox.inject(Fault.status(503, path="/angus-data", schedule=[2]))
    sandbox.inject(Fault.status(404, path="/eq-api/beta/insights/os", first=1))
    with caplog.at_level("INFO"):
        run_tap(
            sandbox_config(sandbox, max_retry_wait_seconds=0.01, max_concurrency=1),
            streams=["angus_entities", "eq_os"],
        )
    summary = [r.getMessage()[9:] for r in caplog.records if r.getMessage().startswith("summary:")]
    assert summary[0].split() == [
        "stream",
        "records",
        "ok",
        "failed",
        "requests",
        "retries",
        "seconds",
    ]
    angus = summary[1].split()
    assert angus[:6] == ["angus_entities", "1401", "3", "0", "34", "1"]  # 33 pages + 1 retry
    os_row = summary[2].split()
    assert os_row[0] == "eq_os" and os_row[2:4] == ["2", "1"]
    assert summary[3].split()[0] == "total"
    assert summary[4].startswith("FAILED eq_os [campaign_id=37054]: EQ ATOM answered HTTP 404")


def test_eta_is_the_average_window_time_times_the_windows_left():
    now = [100.0]
    progress = StreamProgress(
        "s", partitions=2, windows=10, logger=logging.getLogger("t"), clock=lambda: now[0]
    )
    now[0] = 104.0
    for _ in range(4):
        progress.window_done(records=25)
    assert (
        progress.line() == "s: partitions 0/2, windows 4/10, 100 records, 25 records/s, ETA 0:00:06"
    )
    progress.partition_done(windows_skipped=3)  # a failed partition's unfetched windows
    assert "windows 4/7" in progress.line()
