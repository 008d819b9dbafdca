"""`run_summary_path`: one JSON file at the end of every run, whose numbers equal the output."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from tap_audience.sandbox import Fault
from tests.helpers import parse_messages, sandbox_config

TAP = [sys.executable, "-m", "tap_audience", "--config"]


def write(path: Path, content: object) -> Path:
    path.write_text(json.dumps(content))
    return path


def run_tap_process(config: dict, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The tap as a process (a sync), its config written to a file in `tmp_path`."""
    return subprocess.run(
        [*TAP, str(write(tmp_path / "config.json", config))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def singer_counts(stdout: str) -> Counter[str]:
    return Counter({stream: len(rows) for stream, rows in parse_messages(stdout).records.items()})


def summary_counts(summary: dict) -> Counter[str]:
    return Counter({name: s["records"] for name, s in summary["streams"].items() if s["records"]})


def test_a_successful_run_summarises_what_it_wrote(sandbox, tmp_path):
    path = tmp_path / "runs" / "summary.json"  # its folder is created
    config = sandbox_config(sandbox, run_summary_path=str(path), shard_count=2, shard_index=1)
    process = run_tap_process(config, tmp_path)
    assert process.returncode == 0, process.stderr
    summary = json.loads(path.read_text())
    assert summary["status"] == "succeeded" and summary["exit_code"] == 0
    assert summary["error"] is None
    assert summary["protocol"] == "singer" and summary["shard"] == {"count": 2, "index": 1}
    # This shard's share of the sandbox's 13 partition groups (37 stream partitions).
    work = summary["shard_work"]
    assert (work["all_groups"], work["all_partitions"]) == (13, 37)
    assert 0 < work["groups"] < 13 and work["partitions"] <= 1.5 * 37 / 2
    assert summary_counts(summary) == singer_counts(process.stdout)
    assert summary["records"] == sum(singer_counts(process.stdout).values())
    assert summary["bookmarks"] == parse_messages(process.stdout).final_state["bookmarks"]
    entities = summary["streams"]["angus_entities"]
    assert entities["partitions_failed"] == 0 and entities["failures"] == []
    assert entities["windows_done"] == entities["windows_planned"] > 0
    assert entities["requests"] > 0
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_a_failed_partition_is_in_the_summary_with_its_reason(sandbox, tmp_path):
    sandbox.inject(Fault.wrong_types(path="/eq-api/beta/insights/os", limit=1))
    path = tmp_path / "summary.json"
    path.write_text("the previous run's summary")
    config = sandbox_config(sandbox, run_summary_path=str(path))
    process = run_tap_process(config, tmp_path)
    assert process.returncode == 1
    summary = json.loads(path.read_text())  # replaced whole
    assert summary["status"] == "failed" and summary["exit_code"] == 1
    assert "1 partition(s) failed" in summary["error"]
    (failure,) = summary["streams"]["eq_os"]["failures"]
    assert "Imps is 'n/a'" in failure["error"]
    assert set(failure["partition"]) == {"campaign_id"}
    # The failed partition's records of its unfinished window count: they were written.
    assert summary_counts(summary) == singer_counts(process.stdout)


def hold_after(requests: int, release: threading.Event):
    """A sandbox hook: after `requests` answers, hold every request until `release` is set,
    so the tap is surely still running when the test signals it."""
    seen = itertools.count(1)

    def hook(_request):
        if next(seen) > requests:
            release.wait(timeout=30)

    return hook


def test_an_interrupted_run_still_leaves_its_summary(sandbox, tmp_path):
    release = threading.Event()
    sandbox.faults.append(hold_after(60, release))
    path = tmp_path / "summary.json"
    config = sandbox_config(
        sandbox,
        start_date="2026-11-15T00:00:00+00:00",
        angus_window_days=1,
        run_summary_path=str(path),
    )
    process = subprocess.Popen(
        [*TAP, str(write(tmp_path / "config.json", config))],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith('{"type":"STATE"') and len(lines) > 20:
            break
    process.send_signal(signal.SIGTERM)
    lines.append(process.stdout.read())
    process.wait(timeout=30)
    release.set()
    assert process.returncode == 143
    summary = json.loads(path.read_text())
    assert summary["status"] == "interrupted" and summary["exit_code"] == 143
    assert summary["error"] == "interrupted by SIGTERM"
    stdout = "".join(lines)
    assert summary_counts(summary) == singer_counts(stdout)
    assert summary["bookmarks"] == parse_messages(stdout).final_state["bookmarks"]


def test_the_airbyte_face_writes_the_same_summary(sandbox, tmp_path):
    from tests.test_airbyte import configured_catalog, source

    path = tmp_path / "summary.json"
    config = sandbox_config(sandbox, run_summary_path=str(path))
    catalog = configured_catalog(tmp_path, config)
    output = source(tmp_path, "read", config=config, catalog=catalog)
    assert output.code == 0
    summary = json.loads(path.read_text())
    assert summary["protocol"] == "airbyte" and summary["status"] == "succeeded"
    assert summary_counts(summary) == Counter(
        {name: len(rows) for name, rows in output.records().items() if rows}
    )
    assert summary["bookmarks"] == {
        state["stream"]["stream_descriptor"]["name"]: state["stream"]["stream_state"]
        for state in output.last_states()
    }


def test_the_metrics_textfile_carries_the_summarys_numbers(sandbox, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    summary_path, metrics_path = tmp_path / "summary.json", tmp_path / "textfile" / "tap.prom"
    config = sandbox_config(
        sandbox, run_summary_path=str(summary_path), run_metrics_path=str(metrics_path)
    )
    process = run_tap_process(config, tmp_path)
    assert process.returncode == 0, process.stderr
    summary = json.loads(summary_path.read_text())
    families = {f.name: f for f in text_string_to_metric_families(metrics_path.read_text())}
    # node-exporter reads the textfile as its own user.
    assert metrics_path.stat().st_mode & 0o777 == summary_path.stat().st_mode & 0o777 == 0o644
    (exit_code,) = families["tap_audience_run_exit_code"].samples
    assert exit_code.value == 0
    assert exit_code.labels == {"connector": "tap-audience", "shard": "0", "shards": "1"}
    records = {s.labels["stream"]: s.value for s in families["tap_audience_stream_records"].samples}
    assert records == {name: stream["records"] for name, stream in summary["streams"].items()}
    assert sum(records.values()) == sum(singer_counts(process.stdout).values())


def test_a_summary_path_that_cannot_be_written_is_one_readable_line(sandbox, tmp_path):
    # A folder is refused at start, before anything is read.
    folder = sandbox_config(sandbox, run_summary_path=str(tmp_path))
    process = run_tap_process(folder, tmp_path)
    assert process.returncode == 1
    assert f"run_summary_path: {tmp_path} is a folder" in process.stderr.splitlines()[-1]
    assert "Traceback" not in process.stderr and "RECORD" not in process.stdout
    # A folder that cannot be created (inside /proc, even for root): refused at start too,
    # the folder being tried for real.
    stuck = sandbox_config(sandbox, run_summary_path="/proc/no-such-folder/summary.json")
    process = run_tap_process(stuck, tmp_path)
    assert process.returncode == 1
    last = process.stderr.splitlines()[-1]
    assert re.search(
        r"run_summary_path: cannot create /proc/no-such-folder/summary\.json: /proc is not a "
        r"writable folder",
        last,
    ), last
    assert "Traceback" not in process.stderr
    assert not sandbox.requests


def test_a_summary_path_that_is_a_symlink_is_written_through(sandbox, tmp_path):
    # A link someone made (into a textfile collector's folder, a mounted volume) stays a link.
    target = tmp_path / "collector" / "tap.prom"
    target.parent.mkdir()
    target.write_text("the previous run's metrics")
    link = tmp_path / "metrics.prom"
    link.symlink_to(target)
    process = run_tap_process(sandbox_config(sandbox, run_metrics_path=str(link)), tmp_path)
    assert process.returncode == 0, process.stderr
    assert link.is_symlink() and link.resolve() == target
    assert "tap_audience_run_exit_code" in target.read_text()


def permission_bound() -> list[str]:
    """A command prefix under which a process is bound by file permissions, as the tap is
    where it runs. The tests run as root (CI too), and root bypasses permissions; so there
    the process runs without the capabilities that let it (CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH, CAP_FOWNER: dropped from its bounding set by util-linux's
    `setpriv`, so the kernel never grants them to the exec'd tap). It stays uid 0, and so
    still reads the virtualenv and the test's files as their owner."""
    if os.geteuid() != 0:
        return []
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]
    if shutil.which("setpriv") is None:
        pytest.skip("root without setpriv (util-linux): no file is unwritable to this process")
    if subprocess.run([*prefix, "true"], check=False).returncode != 0:
        pytest.skip("root, and setpriv cannot drop CAP_DAC_OVERRIDE here (no CAP_SETPCAP?)")
    return prefix


def unwritable(tmp_path: Path, case: str) -> tuple[Path, str]:
    """A run file path that cannot be written, made for real, and the problem's text."""
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    locked.chmod(0o555)  # whatever the umask
    if case == "read-only folder":
        path = locked / "summary.json"
        return path, f"cannot create {path}: {locked} is not a writable folder (Permission denied)"
    if case == "missing folder in a read-only one":
        path = locked / "runs" / "summary.json"
        return path, f"cannot create {path}: {locked} is not a writable folder (Permission denied)"
    if case == "read-only file":
        path = tmp_path / "summary.json"
        path.write_text("the previous run's summary")
        path.chmod(0o444)
        return path, f"cannot write {path}: the file is read-only for this user: make it writable"
    if case == "dangling symlink":
        path = tmp_path / "summary.json"
        path.symlink_to(tmp_path / "gone" / "summary.json")
        return path, f"{path} is a symlink to {tmp_path}/gone/summary.json, which does not exist"
    if case == "folder":
        return tmp_path, f"{tmp_path} is a folder: give a file in it"
    assert case == "not a regular file"
    return Path(os.devnull), f"{os.devnull} is not a regular file: give the path of a file"


UNWRITABLE = (
    "read-only folder",
    "missing folder in a read-only one",
    "read-only file",
    "dangling symlink",
    "folder",
    "not a regular file",
)


@pytest.mark.parametrize("face", ["singer", "airbyte"])
@pytest.mark.parametrize("case", UNWRITABLE)
def test_a_run_file_that_cannot_be_written_stops_the_run_before_any_request(
    sandbox, tmp_path, face, case
):
    from tests.test_airbyte import Output, airbyte_catalog, configure

    prefix = permission_bound()
    files = tmp_path / "inputs"
    files.mkdir()
    path, problem = unwritable(tmp_path, case)
    setting = "run_summary_path" if face == "singer" else "run_metrics_path"
    config = write(files / "config.json", sandbox_config(sandbox, **{setting: str(path)}))
    try:
        if face == "singer":
            process = subprocess.run(
                [*prefix, *TAP, str(config)], capture_output=True, text=True, timeout=120
            )
            last = [line for line in process.stderr.splitlines() if "| ERROR" in line][-1]
        else:
            catalog = write(files / "catalog.json", configure(airbyte_catalog.discovered()))
            command = ["read", "--config", str(config), "--catalog", str(catalog)]
            process = subprocess.run(
                [*prefix, sys.executable, "-m", "tap_audience.airbyte", *command],
                capture_output=True,
                text=True,
                timeout=120,
            )
            (error,) = Output(process).errors()
            last = error["message"]
    finally:
        (tmp_path / "locked").chmod(0o755)  # the test's folder can be cleaned up
    assert process.returncode == 1, process.stderr
    assert f"{setting}: {problem}" in last
    assert "Traceback" not in process.stdout + process.stderr
    assert '"RECORD"' not in process.stdout
    assert not sandbox.requests  # refused before any request
    if case == "read-only file":
        assert path.read_text() == "the previous run's summary"
