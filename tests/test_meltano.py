"""End to end through Meltano: `meltano run tap-audience target-jsonl|target-duckdb`.

How the runs are set up (temporary project copy, shared plugin cache, the sandbox handed to the
tap through `TAP_AUDIENCE_*` variables): tests/meltano_project.py. The runs happen in the
`sandbox` environment and read back where it loads (output/sandbox/, output/sandbox.duckdb);
the production outputs must stay absent.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from tap_audience.sandbox import Fault
from tests.meltano_project import (
    ENTITIES_PATH,
    ENVIRONMENT,
    MELTANO_BIN,
    MELTANO_MISSING,
    PRODUCTION,
    START,
    STREAMS,
    MeltanoProject,
    assert_resumed_from,
    bookmarks,
    differences,
    expected_records,
    hour_of,
    keyed,
    loader_config,
    read_duckdb_table,
    tap_env,
)

pytestmark = pytest.mark.slow  # Meltano, targets, databases: see pyproject markers

if not MELTANO_BIN.exists():
    pytest.skip(MELTANO_MISSING, allow_module_level=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> MeltanoProject:
    return MeltanoProject(tmp_path_factory.mktemp("meltano-project"))


# --- tests -------------------------------------------------------------------------------------
def test_meltano_hands_env_settings_to_the_tap_with_their_types(project, sandbox):
    env = tap_env(sandbox)
    printed = project.meltano(
        "--environment", ENVIRONMENT, "config", "--unsafe", "print", "tap-audience", env=env
    ).stdout
    config = json.loads(printed)
    credentials = sandbox.credentials()
    # Arrays arrive as arrays (of objects, of integers, of strings), not as JSON text.
    assert config["angus_streams"] == credentials["angus_streams"]
    assert config["eq_campaign_ids"] == credentials["eq_campaign_ids"]
    assert config["locus_coords"] == credentials["locus_coords"]
    # The variable wins over the environment's `sandbox: true`, and dates pass through as text.
    assert config["sandbox"] is False
    assert config["start_date"] == START.isoformat()
    assert config["end_date"] == sandbox.now.isoformat()


def test_the_sandbox_is_refused_in_the_production_environment(project):
    """A stray TAP_AUDIENCE_SANDBOX=true in `prod` loads nothing and stores no state there."""
    state_id = f"{PRODUCTION}:tap-audience-to-target-duckdb"
    result = project.meltano(
        "--environment",
        PRODUCTION,
        "run",
        "tap-audience",
        "target-duckdb",
        env={"TAP_AUDIENCE_SANDBOX": "true"},
        check=False,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "sandbox: true is refused in the Meltano environment 'prod'" in output
    assert "meltano --environment sandbox" in output
    assert "Traceback" not in output
    production = project.root / loader_config("target-duckdb", PRODUCTION)["filepath"]
    assert not production.exists()
    assert project.meltano(
        "--environment", PRODUCTION, "state", "get", state_id
    ).stdout.strip() in ("", "{}")


def test_jsonl_holds_every_record_of_every_stream(project, sandbox):
    project.meltano("run", "tap-audience", "target-jsonl", env=tap_env(sandbox))
    # Our sandbox served the run: the tap did not start its own (real clock, other data).
    assert any(r.path == ENTITIES_PATH for r in sandbox.requests)

    # The sandbox environment's folder holds the rows; production's holds no file.
    folder = project.root / loader_config("target-jsonl")["destination_path"]
    production = project.root / loader_config("target-jsonl", PRODUCTION)["destination_path"]
    assert folder != production
    assert not list(production.glob("*.jsonl"))
    files = {path.stem: path for path in folder.glob("*.jsonl")}
    assert set(files) == STREAMS
    expected = expected_records(sandbox)
    for stream, path in files.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        got = [json.loads(line) for line in lines]
        # Full records, every stream: values survive Meltano and the target unchanged.
        assert not differences(stream, got, expected[stream])
    assert all(expected[stream] for stream in STREAMS)  # nothing was compared vacuously


def test_duckdb_resumes_from_meltano_state_and_upserts_revisions(project, sandbox):
    duckdb = pytest.importorskip("duckdb")
    state_id = f"{ENVIRONMENT}:tap-audience-to-target-duckdb"
    # Where the sandbox environment loads, not overridden: the production file must stay absent.
    database = project.root / loader_config("target-duckdb")["filepath"]
    production = project.root / loader_config("target-duckdb", PRODUCTION)["filepath"]
    assert database != production
    assert project.state(state_id) == {}
    partial = hour_of(sandbox.now)  # the newest bucket, still filling up

    project.meltano("run", "tap-audience", "target-duckdb", env=tap_env(sandbox))
    first_state = project.state(state_id)
    assert bookmarks(first_state, "angus_entities") == {partial.isoformat()}
    first_expected = expected_records(sandbox)

    # Five hours later the partial bucket has filled up and five more buckets exist.
    sandbox.advance(dt.timedelta(hours=5))
    sandbox.clear_requests()
    project.meltano("run", "tap-audience", "target-duckdb", env=tap_env(sandbox))
    assert bookmarks(project.state(state_id), "angus_entities") == {
        hour_of(sandbox.now).isoformat()
    }
    assert_resumed_from(first_state, sandbox)

    expected = expected_records(sandbox)
    assert not production.exists()
    with duckdb.connect() as connection:  # closed again: an open handle locks the next run out
        # Attached under an alias: the file's own catalog name "sandbox" equals the schema's,
        # which makes `sandbox.<table>` ambiguous.
        connection.execute(f"ATTACH '{database}' AS loaded (READ_ONLY)")
        loaded = {stream: read_duckdb_table(connection, stream) for stream in STREAMS}

    for stream in STREAMS:
        # Every row exactly once and current: duckdb >= 1.1 under target-duckdb 0.8.0 drops the
        # first row of a batch, and a target that appended would hold the lookback rows twice.
        assert not differences(stream, loaded[stream], expected[stream])

    # The comparison above covers an update, not just inserts: the bucket that was partial in
    # the first run has other values now, and the table holds the revised ones.
    before = keyed("angus_entities", first_expected["angus_entities"])
    after = keyed("angus_entities", expected["angus_entities"])
    revised = {key[2] for key, record in before.items() if after[key] != record}
    assert revised == {partial.isoformat()}


def test_meltano_shows_the_taps_log_levels_and_no_secret(project, sandbox, tmp_path):
    """`structured-logging` in meltano.yml: Meltano renders each tap line at the tap's level.

    Without it, Meltano reads the tap's stderr as plain text and shows every line, a failed
    partition included, as `[info     ]`.
    """
    credentials = sandbox.credentials()
    secrets = [credentials["eq_jwt"], credentials["locus_jwt"]]
    secrets += [camera["access_token"] for camera in credentials["angus_streams"]]
    # One partition fails, and the vendor echoes tokens in its error body: a registered secret
    # (an Angus access token, a UUID), then a JWT (the message is cut short inside it).
    echo = f"no campaign for {secrets[2]} ({secrets[0]})"
    sandbox.inject(
        Fault.status(
            404,
            path="/eq-api/beta/insights/os",
            first=1,
            body=json.dumps({"message": echo}),
            content_type="application/json",
        )
    )
    result = project.meltano(
        "run",
        "--state-id-suffix=faults",  # a state of its own: the other tests' runs start afresh
        "tap-audience",
        "target-jsonl",
        env={**tap_env(sandbox), "TARGET_JSONL_DESTINATION_PATH": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 1  # the tap exits 1 after finishing the other partitions
    log = result.stderr
    failed = r"\[error    \] tap-audience eq_os \[campaign_id=\d+\] failed, skipping it"
    assert re.search(failed, log), log
    assert re.search(r"\[error    \] tap-audience 1 partition\(s\) failed and were skipped", log)
    assert re.search(r"\[info     \] tap-audience summary: total ", log)
    assert "no campaign for *** (***" in log  # the echo reached the log, masked

    job_logs = (project.root / "xdg-state").rglob("*.log")  # Meltano's copy of the run's log
    everything = result.stdout + log + "".join(p.read_text(encoding="utf-8") for p in job_logs)
    for secret in secrets:
        assert secret not in everything
    assert "eyJ" not in everything  # nothing even shaped like a JWT


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("EQ_AUTH_URL", "{eq_auth_url}/prod", "answered HTTP 404 for {eq_auth_url}/prod/confirm"),
        ("SHARD_INDEX", "3", "shard_index (3) must be below shard_count (1)"),
    ],
)
def test_meltano_config_test_shows_the_actual_problem(project, sandbox, setting, value, expected):
    """`meltano config test` runs a sync until the first RECORD and, when the tap fails
    before one, prints only the tap's last line: that line must say what is wrong."""
    env = {**tap_env(sandbox), f"TAP_AUDIENCE_{setting}": value.format(**vars_of(sandbox))}
    result = project.meltano(
        "--environment", ENVIRONMENT, "config", "test", "tap-audience", env=env, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    shown = output.split("Plugin configuration is invalid", 1)[1]  # what Meltano reports
    assert expected.format(**vars_of(sandbox)) in shown


def vars_of(sandbox):
    return {"eq_auth_url": sandbox.eq_auth_url}
