"""Shared by the tests that run the tap through Meltano (test_meltano, test_postgres, ...).

Meltano runs as a real subprocess in a temporary copy of the project, so the repository's own
`.meltano/` and `output/` stay untouched; the copy gets an empty `output/` as the repository
ships it. Runs happen in the `sandbox` environment, which loads into its own outputs
(`loader_config` reads where: meltano.yml's environment over the loader's base config).

Plugin venvs live in `<repo>/.meltano-cache/`, shared by every test run: the first run installs
them (uv, from PyPI), later runs reuse them.

The data clock must be fixed for the expected records to be exact, so instead of the
`sandbox: true` setting (which starts a sandbox on the real clock inside the tap) the tests use
the `sandbox` fixture (seed 7, fixed clock; tests/conftest.py) and hand its URLs and credentials
to the tap the way a user would in production: `TAP_AUDIENCE_*` environment variables, arrays as
JSON text.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tap_audience.sandbox import DIMENSIONS, Sandbox
from tests.helpers import START as START_TEXT
from tests.helpers import expected_insights

REPO = Path(__file__).resolve().parents[1]
MELTANO_BIN = Path(os.environ.get("MELTANO_BIN") or REPO / ".venv-meltano" / "bin" / "meltano")
MELTANO_MISSING = (
    f"Meltano not found at {MELTANO_BIN}: install meltano==4.4.1 into .venv-meltano "
    "or point MELTANO_BIN at a meltano executable"
)
# Venvs hard-code their own absolute path, so the cache must sit at a stable place (not in tmp).
# Meltano only fingerprints `pip_url`, so the tap's venv there is rebuilt (fresh_tap_venv)
# whenever pyproject.toml (dependencies, console scripts, packages) changes.
PLUGIN_CACHE = REPO / ".meltano-cache"
# The tap's venv (the one running the tests, if the tap is installed there) and Meltano's:
# linked into a project copy as `.venv` and `.venv-meltano`, so commands written for the
# repository (`.venv-meltano/bin/meltano ...`, `.venv/bin/python ...`) run there as written.
TAP_VENV = (
    Path(sys.prefix) if (Path(sys.prefix) / "bin" / "tap-audience").exists() else REPO / ".venv"
)
MELTANO_VENV = MELTANO_BIN.parent.parent
# Cold installs download from PyPI; a warm `meltano run` takes about 6 s.
RUN_TIMEOUT = 900
# What the README runs by its path in `.venv` or `.venv-meltano`: a new user's shell has none of
# these on PATH, so neither have the README's commands in the tests (plain_path).
PROJECT_COMMANDS = ("meltano", "tap-audience", "source-audience", "dagster", "dbt")

UTC = dt.timezone.utc
START = dt.datetime.fromisoformat(START_TEXT)
ENVIRONMENT = "sandbox"  # meltano.yml's default_environment; it sets `sandbox: true`
# The README's demo line (tests/test_demo_twice.py runs it, tests/test_readme.py checks the README).
DEMO = ["bash", "scripts/demo.sh"]
PRODUCTION = "prod"  # the loaders' base config: the production outputs

ANGUS_KEYS = ("client_id", "time_bucket", "bucket_start")
INSIGHT_KEYS = ("campaign_id", "date", "dimension_value")
INSIGHT_STREAMS = tuple(f"eq_{dimension}" for dimension in DIMENSIONS)
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "angus_entities": ANGUS_KEYS,
    **{stream: INSIGHT_KEYS for stream in INSIGHT_STREAMS},
    "locus_hh_segments": ("coords", "segment_id"),
    "eq_campaigns": ("campaign_id",),
}
STREAMS = {
    "angus_entities",
    "eq_campaigns",
    "eq_user_segment",
    "eq_session",
    "eq_banner",
    "eq_browser",
    "eq_banner_pos",
    "eq_iab",
    "eq_lang",
    "eq_network",
    "eq_os",
    "locus_hh_segments",
}
assert set(PRIMARY_KEYS) == STREAMS  # the sandbox's dimensions are the tap's insights streams

ENTITIES_PATH = "/angus-data/api/1/entities"
INSIGHTS_PREFIX = "/eq-api/beta/insights/"


# --- the Meltano project ---------------------------------------------------------------------
def plain_path(path: str | None = None) -> str:
    """PATH as a new user's fresh shell has it: `path` (default: this process's PATH) without
    any virtualenv's bin folder and without any folder holding one of PROJECT_COMMANDS."""
    kept = []
    for entry in (os.environ.get("PATH", os.defpath) if path is None else path).split(os.pathsep):
        folder = Path(entry)
        if not entry or (folder.parent / "pyvenv.cfg").exists():
            continue
        if any((folder / command).exists() for command in PROJECT_COMMANDS):
            continue
        kept.append(entry)
    return os.pathsep.join(kept)


def loader_config(
    loader: str, environment: str = ENVIRONMENT, project_file: Path = REPO / "meltano.yml"
) -> dict[str, Any]:
    """A loader's config in `environment` (see plugin_config)."""
    return plugin_config("loaders", loader, environment, project_file)


def plugin_config(
    plugin_type: str,
    name: str,
    environment: str = ENVIRONMENT,
    project_file: Path = REPO / "meltano.yml",
) -> dict[str, Any]:
    """A plugin's config in `environment`: the environment's keys over the plugin's base config.

    `plugin_type` as meltano.yml groups them (`loaders`, `utilities`). (Meltano merges nested
    objects key by key; the settings here are all flat.)
    """
    project = yaml.safe_load(project_file.read_text(encoding="utf-8"))
    (plugin,) = [p for p in project["plugins"][plugin_type] if p["name"] == name]
    (env,) = [e for e in project["environments"] if e["name"] == environment]
    overrides = [
        p.get("config", {})
        for p in (env.get("config") or {}).get("plugins", {}).get(plugin_type, [])
        if p["name"] == name
    ]
    return {**plugin.get("config", {}), **(overrides[0] if overrides else {})}


class MeltanoProject:
    """A throwaway copy of the project plus the environment every `meltano` call gets."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.failures = 0
        root.mkdir(parents=True, exist_ok=True)
        source = (REPO / "meltano.yml").read_text(encoding="utf-8")
        # `-e .` would point at the tmp copy; the tap must come from this checkout.
        local = "pip_url: -e .\n"
        assert source.count(local) == 1, "meltano.yml should install the tap with `-e .`"
        (root / "meltano.yml").write_text(
            source.replace(local, f"pip_url: -e {REPO}\n"), encoding="utf-8"
        )
        # The repository ships `output/` (output/.gitkeep): target-duckdb does not create it.
        (root / "output").mkdir(exist_ok=True)
        # The dbt project the dbt-duckdb / dbt-postgres utilities run (without a previous
        # run's target/ and logs/).
        shutil.copytree(
            REPO / "transform",
            root / "transform",
            ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"),
            dirs_exist_ok=True,
        )
        inherited = {
            key: value
            for key, value in os.environ.items()
            # A developer's own settings or active venv must not leak into the runs.
            if not key.startswith(("TAP_AUDIENCE_", "TARGET_", "MELTANO_"))
            and key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
        }
        self.base_env = {
            **inherited,
            # A fresh shell's: the README's commands name their venvs' paths.
            "PATH": plain_path(),
            "MELTANO_SYS_DIR_ROOT": str(PLUGIN_CACHE),
            "MELTANO_DATABASE_URI": f"sqlite:///{root / 'meltano.db'}",
            # Meltano writes job logs under the XDG state dir (~/.local/state by default).
            "XDG_STATE_HOME": str(root / "xdg-state"),
        }

    def configure_tap(self, **config: Any) -> None:
        """Add `config` to the tap's config in the environment, as a user edits meltano.yml.

        For settings meltano.yml does not declare (the SDK's `stream_maps`, `flattening_*`):
        Meltano ignores `TAP_AUDIENCE_*` variables for those, but passes meltano.yml values on.
        """
        path = self.root / "meltano.yml"
        project = yaml.safe_load(path.read_text(encoding="utf-8"))
        (environment,) = [e for e in project["environments"] if e["name"] == ENVIRONMENT]
        (tap,) = [
            p for p in environment["config"]["plugins"]["extractors"] if p["name"] == "tap-audience"
        ]
        tap["config"].update(config)
        path.write_text(yaml.safe_dump(project, sort_keys=False), encoding="utf-8")

    def meltano(
        self, *args: str, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`meltano *args` in the project; a non-zero exit fails the test unless `check=False`."""
        with cache_lock():
            result = subprocess.run(
                [str(MELTANO_BIN), *args],
                cwd=self.root,
                env={**self.base_env, **(env or {})},
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT,
                check=False,  # checked below, with Meltano's log in the failure message
            )
        if result.returncode != 0 and check:
            # Meltano logs to stderr; the whole log stays in the (kept) tmp project.
            self.failures += 1
            log_file = self.root / f"failed-{self.failures}.log"
            log_file.write_text(result.stdout + result.stderr, encoding="utf-8")
            tail = "\n".join(result.stderr.splitlines()[-40:])
            pytest.fail(
                f"meltano {' '.join(args)} exited {result.returncode} (full log: {log_file}):\n"
                f"{tail}"
            )
        return result

    def link_venvs(self) -> None:
        """`.venv` and `.venv-meltano` in the copy, pointing at the real ones (see TAP_VENV)."""
        (self.root / ".venv").symlink_to(TAP_VENV, target_is_directory=True)
        (self.root / ".venv-meltano").symlink_to(MELTANO_VENV, target_is_directory=True)

    def shell(
        self, command: list[str], env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`command` (a script that calls meltano itself) in the project, which it must pass.

        It gets the same environment as `meltano()` and holds the cache lock while it runs.
        """
        with cache_lock():
            result = subprocess.run(
                command,
                cwd=self.root,
                env={**self.base_env, **(env or {})},
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT,
                check=False,
            )
        if result.returncode != 0:
            self.failures += 1
            log_file = self.root / f"failed-{self.failures}.log"
            log_file.write_text(result.stdout + result.stderr, encoding="utf-8")
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
            pytest.fail(f"{command} exited {result.returncode} (full log: {log_file}):\n{tail}")
        return result

    def state(self, state_id: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        """The Singer state Meltano stored under `state_id` (`{}` when there is none); `env`
        names another system database (MELTANO_DATABASE_URI) than the copy's own."""
        stored = json.loads(self.meltano("state", "get", state_id, env=env).stdout or "{}")
        return stored.get("singer_state", {})


@contextlib.contextmanager
def cache_lock() -> Iterator[None]:
    """One `meltano` at a time per cache, across processes.

    Besides the venvs, the cache holds each plugin's run files under fixed names
    (`run/tap-audience/tap.properties.json`, ...), which every invocation rewrites and deletes:
    two concurrent test sessions made each other's tap fail with "--catalog: No such file".
    """
    PLUGIN_CACHE.mkdir(exist_ok=True)
    with (PLUGIN_CACHE / "tests.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        fresh_tap_venv()
        yield


def fresh_tap_venv() -> None:
    """Drop the cached tap venv if pyproject.toml changed since it was built: its editable
    install would keep the old console script (`tap_audience.cli` after a move, say)."""
    stamp = PLUGIN_CACHE / "tap-pyproject.sha256"
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text(encoding="utf-8") == digest:
        return
    shutil.rmtree(PLUGIN_CACHE / "extractors" / "tap-audience", ignore_errors=True)
    stamp.write_text(digest, encoding="utf-8")


def tap_env(sandbox: Sandbox) -> dict[str, str]:
    """The sandbox as `TAP_AUDIENCE_*` variables; Meltano parses arrays from JSON text."""
    settings: dict[str, Any] = {
        **sandbox.credentials(),
        "sandbox": False,  # overrides the `sandbox` environment's `sandbox: true`
        "start_date": START.isoformat(),
        "end_date": sandbox.now.isoformat(),
    }
    return {
        f"TAP_AUDIENCE_{name.upper()}": value if isinstance(value, str) else json.dumps(value)
        for name, value in settings.items()
    }


# --- what a correct sync holds -----------------------------------------------------------------
def expected_records(sandbox: Sandbox) -> dict[str, list[dict[str, Any]]]:
    """Every stream's records for start_date → the sandbox's current data clock."""
    credentials = sandbox.credentials()
    expected: dict[str, list[dict[str, Any]]] = {
        "angus_entities": [
            record
            for camera in credentials["angus_streams"]
            for record in sandbox.expected_angus(camera["client_id"], START, sandbox.now)
        ],
        "locus_hh_segments": [
            record
            for coords in credentials["locus_coords"]
            for record in sandbox.expected_hh_segments(coords)
        ],
        "eq_campaigns": sandbox.expected_campaigns(),
    }
    for dimension in DIMENSIONS:
        expected[f"eq_{dimension}"] = expected_insights(
            sandbox, dimension, credentials["eq_campaign_ids"], START, sandbox.now
        )
    return expected


def keyed(stream: str, records: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Records by primary key; the last one wins, as in an upserting target."""
    return {tuple(r[k] for k in PRIMARY_KEYS[stream]): r for r in records}


def differences(
    stream: str, got: list[dict[str, Any]], expected: list[dict[str, Any]]
) -> list[str]:
    """What keeps `got` from being exactly `expected`: short lines, the first few only."""
    have, want = keyed(stream, got), keyed(stream, expected)
    problems = []
    if len(have) != len(got):
        problems.append(f"{stream}: {len(got) - len(have)} rows repeat a primary key")
    problems += [f"{stream}: missing {key}" for key in want.keys() - have.keys()]
    problems += [f"{stream}: unexpected {key}" for key in have.keys() - want.keys()]
    problems += [
        f"{stream}: {key} is {have[key]}, expected {want[key]}"
        for key in want.keys() & have.keys()
        if have[key] != want[key]
    ]
    return problems[:5]


# --- two runs with the clock advanced in between -----------------------------------------------
def hour_of(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def bookmarks(state: dict[str, Any], stream: str) -> set[str]:
    partitions = state["bookmarks"][stream]["partitions"]
    return {p["replication_key_value"] for p in partitions}


def assert_resumed_from(state: dict[str, Any], sandbox: Sandbox) -> None:
    """The second run read only bookmark − lookback onwards, never again from start_date."""
    requests = sandbox.requests
    angus_starts = {r.query["from_date"][0] for r in requests if r.path == ENTITIES_PATH}
    (bookmark,) = bookmarks(state, "angus_entities")
    # angus_lookback_hours defaults to 2; one window per camera, each from the same hour
    resume = dt.datetime.fromisoformat(bookmark) - dt.timedelta(hours=2)
    assert angus_starts == {resume.isoformat()}

    insights = [r for r in requests if r.path.startswith(INSIGHTS_PREFIX)]
    assert insights
    for request in insights:
        stream = "eq_" + request.path.removeprefix(INSIGHTS_PREFIX)
        campaign_id = int(request.query["c"][0])
        (bookmark,) = (
            p["replication_key_value"]
            for p in state["bookmarks"][stream]["partitions"]
            if p["context"]["campaign_id"] == campaign_id
        )
        # eq_lookback_days defaults to 3
        earliest = dt.date.fromisoformat(bookmark) - dt.timedelta(days=3)
        assert dt.date.fromisoformat(request.query["start"][0]) >= earliest, request


def revised_buckets(
    before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> set[tuple[Any, ...]]:
    """Angus keys whose record changed between two oracle snapshots (partial buckets)."""
    old, new = keyed("angus_entities", before), keyed("angus_entities", after)
    return {key for key, record in old.items() if new[key] != record}


# --- reading a DuckDB file written by target-duckdb --------------------------------------------
def read_duckdb_table(
    connection: Any, stream: str, schema: str | None = None
) -> list[dict[str, Any]]:
    """A table's rows as records shaped like the tap's (JSON decoded, timestamps in UTC), without
    the target's `_sdc_*` metadata columns (meltano.yml sets `add_metadata_columns`).

    `schema` defaults to the sandbox environment's `default_target_schema`, where target-duckdb
    puts the tables. The file must be attached as `loaded` (the tests' alias for it).
    """
    schema = schema or loader_config("target-duckdb")["default_target_schema"]
    cursor = connection.execute(f'SELECT * FROM loaded."{schema}"."{stream}"')
    columns = [(name, str(column_type)) for name, column_type, *_ in cursor.description]
    return [
        {
            name: plain(value, column_type)
            for (name, column_type), value in zip(columns, row, strict=True)
            if not name.startswith("_sdc_")
        }
        for row in cursor.fetchall()
    ]


def plain(value: Any, column_type: str) -> Any:
    if isinstance(value, dt.datetime):
        # TIMESTAMP columns hold the UTC wall time without an offset.
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.isoformat()
    if column_type == "JSON" and isinstance(value, str):
        return json.loads(value)
    return value


# --- the README's targets tables ---------------------------------------------------------------
def readme_table(header_start: str) -> list[dict[str, str]]:
    """The table of README.md's "Targets" section whose header row starts with `header_start`,
    one dict per row (cells stripped, keyed by the header's cells)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    lines = text[text.index("\n## Targets\n") :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    header = [cell.strip() for cell in lines[start].strip().strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:  # after the |---| row
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def assert_readme_types(loader: str, column_types: dict[str, dict[str, str]]) -> None:
    """The README's types table is right for `loader`: each example column of a row has, in every
    loaded table that has it, the type the row gives (the first `...` of the loader's cell).

    `column_types`: table → column → type, as the database names it (DuckDB's
    `information_schema.columns.data_type`, PostgreSQL's likewise).
    """
    actual: dict[str, set[str]] = {}
    for columns in column_types.values():
        for column, data_type in columns.items():
            actual.setdefault(column, set()).add(data_type.lower())
    checked = []
    for row in readme_table("| schema type |"):
        written = re.match(r"`([^`]+)`", row[loader])
        assert written, f"README, {loader}, {row['schema type']}: start the cell with the `type`"
        for column in re.findall(r"`([^`]+)`", row["e.g."]):
            assert actual.get(column) == {written[1].lower()}, (loader, row["schema type"], column)
            checked.append(column)
    assert len(checked) >= 10, checked
