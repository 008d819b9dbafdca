"""Sharding through Meltano: the three shard plugins of meltano.yml, each with its own state.

`tap-audience--shard-N` inherit from `tap-audience` and differ only in `shard_index`; run one
after another into target-jsonl, they write every record exactly once between them.
"""

from __future__ import annotations

import json

import pytest

from tests.meltano_project import (
    ENVIRONMENT,
    MELTANO_BIN,
    MELTANO_MISSING,
    STREAMS,
    MeltanoProject,
    differences,
    expected_records,
    keyed,
    tap_env,
)

pytestmark = pytest.mark.slow  # Meltano, targets, databases: see pyproject markers

if not MELTANO_BIN.exists():
    pytest.skip(MELTANO_MISSING, allow_module_level=True)

SHARDS = [f"tap-audience--shard-{index}" for index in range(3)]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> MeltanoProject:
    return MeltanoProject(tmp_path_factory.mktemp("meltano-shards"))


def test_three_shard_plugins_write_every_record_once(project, sandbox, tmp_path):
    written: dict[str, list[dict]] = {stream: [] for stream in STREAMS}
    for shard in SHARDS:
        out = tmp_path / shard
        out.mkdir()
        project.meltano(
            "run",
            shard,
            "target-jsonl",
            env={**tap_env(sandbox), "TARGET_JSONL_DESTINATION_PATH": str(out)},
        )
        for path in out.glob("*.jsonl"):
            written[path.stem] += [json.loads(line) for line in path.read_text().splitlines()]
    expected = expected_records(sandbox)
    for stream in STREAMS:
        rows = written[stream]
        assert len(keyed(stream, rows)) == len(rows), f"{stream}: a record written twice"
        assert not differences(stream, rows, expected[stream]), stream
    # Each shard kept its own state.
    for shard in SHARDS:
        state = project.state(f"{ENVIRONMENT}:{shard}-to-target-jsonl")
        assert state.get("bookmarks"), shard


def test_jobs_run_each_shard_into_postgres(project):
    listed = project.meltano("job", "list", "--format=json").stdout
    jobs = {job["job_name"]: job["tasks"] for job in json.loads(listed)["jobs"]}
    assert jobs == {
        f"audience-shard-{index}": [f"tap-audience--shard-{index} target-postgres"]
        for index in range(3)
    }
