"""The demo's last step prints every table of a DuckDB file laid out as target-duckdb does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]


def test_show_duckdb_prints_counts_and_rows(tmp_path):
    path = tmp_path / "audience.duckdb"
    connection = duckdb.connect(str(path))
    # target-duckdb names the schema after the file: catalog and schema are both "audience".
    connection.execute("create schema audience")
    connection.execute("create table audience.audience.eq_os (campaign_id int, imps int)")
    connection.execute("insert into audience.audience.eq_os values (37054, 12), (41001, 7)")
    connection.close()
    shown = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "show_duckdb.py"), str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "== audience.eq_os: 2 rows" in shown
    assert "campaign_id | imps" in shown
    assert "37054 | 12" in shown
