"""`bash scripts/demo.sh`, twice: the second run shows the same tables as the first.

The demo deletes output/sandbox.duckdb before its `meltano run`; if that run resumed from the
state the first demo stored, the new file would hold only the lookback (9 Angus rows instead
of the whole month). The demo passes `--full-refresh` for that; this test proves it.

The demo runs as the README shows it, `bash scripts/demo.sh`, in a throwaway copy of the Meltano
project (tests/meltano_project.py) whose `scripts/demo.sh` and `scripts/show_duckdb.py` are links
to the repository's files and whose `.venv` and `.venv-meltano` are links to the real venvs.
`DEMO_SKIP_BOOTSTRAP=1` skips bootstrap.sh's pip checks (the venvs exist: they run this test).

In the demo the tap starts its own sandbox on the real clock (`sandbox: true`), whose newest
Angus bucket and recent ATOM days change minute by minute. For the two runs to be comparable
row for row, `TAP_AUDIENCE_START_DATE`/`TAP_AUDIENCE_END_DATE` pin the range to settled days
(the demo's command line is untouched: Meltano hands those settings to the tap).

The demo's last lines name the DuckDB file, a query to paste, the config check and the README
section to read next; the commands they print run here as printed, after the demo.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tap_audience.sandbox import Sandbox
from tests.meltano_project import (
    DEMO,
    ENVIRONMENT,
    MELTANO_BIN,
    MELTANO_MISSING,
    REPO,
    STREAMS,
    UTC,
    MeltanoProject,
    cache_lock,
    loader_config,
)

duckdb = pytest.importorskip("duckdb")
if not MELTANO_BIN.exists():
    pytest.skip(MELTANO_MISSING, allow_module_level=True)

DEMO_FILES = ("scripts/demo.sh", "scripts/show_duckdb.py")
DUCKDB = loader_config("target-duckdb", ENVIRONMENT)
# Settled data: ATOM days settle over three days, and only the current Angus hour is partial.
END = dt.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=4)
START = END - dt.timedelta(days=7)
# The sandbox anchors its campaigns' dates to the local day in these zones when it starts (a
# start on either side of a midnight gives other ATOM rows): see day_stamp().
CAMPAIGN_ZONES = ("America/Toronto", "America/Vancouver", "UTC")

Tables = dict[str, tuple[int, str]]


def day_stamp() -> tuple[dt.date, ...]:
    now = dt.datetime.now(UTC)
    return tuple(now.astimezone(ZoneInfo(zone)).date() for zone in CAMPAIGN_ZONES)


LOADED = DUCKDB["default_target_schema"]
MARTS = f"{LOADED}_marts"  # where dbt builds the marts (transform/dbt_project.yml)


def extraction_time(column: str) -> bool:
    """When each run extracted and loaded a row: the target's `_sdc_*`, the marts' copies."""
    return column.startswith("_sdc_") or column.endswith("extracted_at_utc")


def settled(value: Any) -> Any:
    return round(value, 9) if isinstance(value, float) else value


def tables_in(path: Path) -> tuple[Tables, list[dict[str, Any]]]:
    """Every loaded table's and every mart's (row count, SHA-256 of its sorted rows), keyed
    `schema.table`, and the Angus rows themselves; extraction times left out."""
    tables: Tables = {}
    with duckdb.connect() as connection:  # closed again: an open handle locks the next run out
        # Under an alias, as scripts/show_duckdb.py reads it.
        connection.execute(f"ATTACH '{path}' AS loaded (READ_ONLY)")
        names = connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_catalog = 'loaded' AND table_schema IN (?, ?)",
            [LOADED, MARTS],
        ).fetchall()
        angus: list[dict[str, Any]] = []
        for schema, name in names:
            cursor = connection.execute(f'SELECT * FROM loaded."{schema}"."{name}"')
            columns = [column[0] for column in cursor.description]
            kept = [i for i, column in enumerate(columns) if not extraction_time(column)]
            columns = [columns[i] for i in kept]
            rows = [tuple(row[i] for i in kept) for row in cursor.fetchall()]
            # Floats to 9 decimals: DuckDB sums doubles in parallel, in no fixed order, so a
            # weighted average can differ in its last bit between two builds of the same rows.
            comparable = [tuple(map(settled, row)) for row in rows]
            digest = hashlib.sha256("\n".join(sorted(map(repr, comparable))).encode()).hexdigest()
            tables[f"{schema}.{name}"] = (len(rows), digest)
            if (schema, name) == (LOADED, "angus_entities"):
                angus = [dict(zip(columns, row, strict=True)) for row in rows]
    return tables, angus


ENV = {
    "DEMO_SKIP_BOOTSTRAP": "1",
    "TAP_AUDIENCE_START_DATE": START.isoformat(),
    "TAP_AUDIENCE_END_DATE": END.isoformat(),
}


@dataclass(frozen=True)
class Demo:
    project: MeltanoProject
    first: Tables
    second: Tables
    angus: list[dict[str, Any]]  # the second run's Angus rows
    shown: str  # what the second run printed


def run_demo(project: MeltanoProject) -> tuple[Tables, list[dict[str, Any]], str]:
    shown = project.shell(DEMO, env=ENV).stdout
    tables, angus = tables_in(project.root / DUCKDB["filepath"])
    # What the demo printed (show_duckdb.py) is what the file holds: the loaded tables, then
    # the marts.
    printed = {
        name: int(count)
        for name, count in re.findall(r"^== (\S+): (\d+) rows$", shown, re.MULTILINE)
    }
    assert printed == {name: count for name, (count, _) in tables.items()}
    assert list(printed)[-1].startswith(f"{MARTS}."), "the demo ends with the marts"
    return tables, angus, shown


def expected_angus() -> set[tuple[str, str, int | None]]:
    """(camera, bucket start, passing_by) of every bucket the demo's sandbox has in the range."""
    oracle = Sandbox(seed=0)  # what `sandbox: true` starts (sandbox_seed defaults to 0)
    return {
        (record["client_id"], record["bucket_start"], record["passing_by"])
        for client_id, _ in oracle.cameras
        for record in oracle.expected_angus(client_id, START, END)
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The demo, run twice in one throwaway copy of the project."""
    project = MeltanoProject(tmp_path_factory.mktemp("demo") / "project")
    project.link_venvs()
    for name in DEMO_FILES:
        (project.root / name).parent.mkdir(exist_ok=True)
        (project.root / name).symlink_to(REPO / name)

    for _ in range(2):  # a second try only if a campaign's local day changed in between
        days = day_stamp()
        first, _, _ = run_demo(project)
        second, angus, shown = run_demo(project)
        if day_stamp() == days:
            break
    return Demo(project, first, second, angus, shown)


@pytest.mark.slow
def test_the_demo_run_twice_shows_the_same_tables(demo):
    first, second, angus = demo.first, demo.second, demo.angus
    assert {name for name in first if name.startswith(f"{LOADED}.")} == {
        f"{LOADED}.{stream}" for stream in STREAMS
    }  # every stream has a table
    assert len([name for name in first if name.startswith(f"{MARTS}.")]) == 7  # and every mart
    assert all(count for count, _ in first.values()), first
    # The same rows, not only as many: the second run did not resume from the first's state,
    # and the marts built from them are the same too.
    assert second == first
    # And they are all of them: every Angus bucket the sandbox has in the range.
    loaded = {
        (row["client_id"], row["bucket_start"].replace(tzinfo=UTC).isoformat(), row["passing_by"])
        for row in angus
    }
    assert len(loaded) == first[f"{LOADED}.angus_entities"][0]
    assert loaded == expected_angus()


# --- the demo's last lines ---------------------------------------------------------------------
def last_lines(shown: str) -> list[str]:
    """What the demo prints after the tables: from its `Done.` line on."""
    lines = shown.splitlines()
    (done,) = [i for i, line in enumerate(lines) if line.startswith("Done. ")]
    return lines[done:]


def printed_commands(shown: str) -> dict[str, str]:
    """The commands the last lines suggest (indented), by the line above each."""
    lines = last_lines(shown)
    return {
        lines[i - 1]: line.strip() for i, line in enumerate(lines) if line.startswith("  .venv")
    }


@pytest.mark.slow
def test_the_demo_ends_saying_where_the_data_is_and_what_to_try_next(demo):
    lines = last_lines(demo.shown)
    done = lines[0]
    # The README shows them as they are.
    assert "\n```text\n" + "\n".join(lines) + "\n```\n" in (REPO / "README.md").read_text("utf-8")
    assert f"The data: {DUCKDB['filepath']} " in done
    assert (demo.project.root / DUCKDB["filepath"]).is_file()
    assert f"schema {LOADED}," in done and f"marts in {MARTS})" in done
    # The README section it sends the reader to is one.
    (section,) = re.findall(r'^Next: README.md, section "([^"]+)"', lines[-1], re.MULTILINE)
    assert f"\n## {section}\n" in (REPO / "README.md").read_text(encoding="utf-8")

    # The query runs as printed, in a fresh shell after the demo, and answers.
    (query,) = [c for above, c in printed_commands(demo.shown).items() if above == "Query it:"]
    assert query.startswith(f".venv/bin/python scripts/show_duckdb.py {DUCKDB['filepath']} ")
    answer = demo.project.shell(["bash", "-euo", "pipefail", "-c", query], env=ENV).stdout
    header, *rows = answer.splitlines()
    assert header == "camera_id | day_utc | passing_by | interested | attention_rate"
    assert len(rows) == 5
    cameras = {row.split(" | ")[0] for row in rows}
    assert cameras <= {row["client_id"] for row in demo.angus}


@pytest.mark.slow
def test_the_config_check_the_demo_prints_says_the_config_is_valid(demo):
    """`meltano config` ignores default_environment: without `--environment sandbox` it checks
    the production config, which has no credentials yet. The demo prints the command that
    checks the sandbox's, and right after the demo it says valid."""
    (check,) = [c for c in printed_commands(demo.shown).values() if " config test " in c]
    assert check == ".venv-meltano/bin/meltano --environment sandbox config test tap-audience"
    checked = demo.project.shell(["bash", "-euo", "pipefail", "-c", check], env=ENV)
    assert "Plugin configuration is valid" in checked.stdout
    assert "Plugin configuration is invalid" not in checked.stdout + checked.stderr
    # The bare command checks production's config (no credentials yet): it says so and
    # names the command that checks the sandbox's.
    with cache_lock():
        bare = subprocess.run(
            ["bash", "-c", ".venv-meltano/bin/meltano config test tap-audience"],
            cwd=demo.project.root,
            env={**demo.project.base_env, **ENV},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert bare.returncode != 0
    said = bare.stdout + bare.stderr
    assert "Meltano ran the tap without an environment" in said
    assert "meltano --environment sandbox config test tap-audience" in said
