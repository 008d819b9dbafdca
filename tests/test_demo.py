"""The demo's last step prints every table of a DuckDB file laid out as target-duckdb does.

The demo runs in the `sandbox` environment, so it writes and shows that environment's file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.meltano_project import ENVIRONMENT, PRODUCTION, loader_config

pytestmark = pytest.mark.slow  # Meltano, targets, databases: see pyproject markers

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_DUCKDB = loader_config("target-duckdb", ENVIRONMENT)


def sandbox_like_file(tmp_path: Path) -> Path:
    """A DuckDB file named and laid out as target-duckdb writes the sandbox environment's: the
    tables in `default_target_schema` (show_duckdb attaches the file under an alias, whatever
    its own catalog name)."""
    path = tmp_path / Path(SANDBOX_DUCKDB["filepath"]).name
    schema = SANDBOX_DUCKDB["default_target_schema"]
    catalog = path.stem  # DuckDB names a file's catalog after the file
    connection = duckdb.connect(str(path))
    connection.execute(f'create schema "{schema}"')
    connection.execute(f'create table "{catalog}"."{schema}".eq_os (campaign_id int, imps int)')
    connection.execute(f'insert into "{catalog}"."{schema}".eq_os values (37054, 12), (41001, 7)')
    connection.close()
    return path


def show_duckdb(*args: str, check: bool) -> subprocess.CompletedProcess[str]:
    """`scripts/show_duckdb.py *args`, as the demo runs it."""
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "show_duckdb.py"), *args],
        capture_output=True,
        text=True,
        check=check,
    )


def test_show_duckdb_prints_counts_and_rows(tmp_path):
    path = sandbox_like_file(tmp_path)
    schema = SANDBOX_DUCKDB["default_target_schema"]
    shown = show_duckdb(str(path), check=True).stdout
    assert f"== {schema}.eq_os: 2 rows" in shown
    assert "campaign_id | imps" in shown
    assert "37054 | 12" in shown


def test_show_duckdb_runs_the_query_given_after_the_file(tmp_path):
    """The query the demo's last lines suggest names its tables `schema.table`."""
    path = sandbox_like_file(tmp_path)
    schema = SANDBOX_DUCKDB["default_target_schema"]
    query = f"select campaign_id, imps from {schema}.eq_os order by imps"
    shown = show_duckdb(str(path), query, check=True).stdout
    assert shown == "campaign_id | imps\n41001 | 7\n37054 | 12\n"


def test_show_duckdb_names_a_query_that_fails(tmp_path):
    path = sandbox_like_file(tmp_path)
    shown = show_duckdb(str(path), "select nope", check=False)
    assert shown.returncode == 1
    assert shown.stdout == ""
    (line,) = shown.stderr.splitlines()
    assert line.startswith("show_duckdb.py: the query failed: Binder Error: ")


def test_show_duckdb_names_a_file_it_cannot_read(tmp_path):
    missing = tmp_path / "never-loaded.duckdb"
    shown = show_duckdb(str(missing), check=False)
    assert shown.returncode == 1
    assert shown.stdout == ""
    (line,) = shown.stderr.splitlines()
    assert line.startswith(f"show_duckdb.py: cannot read {missing}: ")


def test_the_demo_writes_and_shows_the_sandbox_environments_file():
    filepath = SANDBOX_DUCKDB["filepath"]
    assert filepath != loader_config("target-duckdb", PRODUCTION)["filepath"]
    demo = (ROOT / "scripts" / "demo.sh").read_text(encoding="utf-8")
    assert f"--environment {ENVIRONMENT} run --full-refresh tap-audience target-duckdb" in demo
    assert f"rm -f {filepath}\n" in demo
    assert f"show_duckdb.py {filepath}\n" in demo
    show = (ROOT / "scripts" / "show_duckdb.py").read_text(encoding="utf-8")
    assert f'\nDEFAULT_FILE = "{filepath}"' in show  # its default


def test_show_duckdb_piped_into_head_ends_quietly(tmp_path):
    """`... | head` closes the pipe early: what head shows is all, with no traceback (the
    answer is larger than a pipe's buffer, so the write really fails)."""
    path = sandbox_like_file(tmp_path)
    script = ROOT / "scripts" / "show_duckdb.py"
    query = "select range as n from range(200000)"
    command = f'"{sys.executable}" "{script}" "{path}" "{query}" | head -1'
    shown = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.stderr == ""
    assert shown.returncode == 0
    assert shown.stdout == "n\n"
