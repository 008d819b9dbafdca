"""Sharding through Meltano: one plugin, the shard chosen at run time, each with its own state.

`TAP_AUDIENCE_SHARD_COUNT` / `TAP_AUDIENCE_SHARD_INDEX` (or Kubernetes' JOB_COMPLETION_INDEX)
pick the shard and `meltano run --state-id-suffix shard-N` gives it its own state id; run one
after another into target-jsonl, the shards write every record exactly once between them.
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

SHARDS = 3


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> MeltanoProject:
    return MeltanoProject(tmp_path_factory.mktemp("meltano-shards"))


def test_one_plugin_runs_every_shard_with_its_own_state(project, sandbox, tmp_path):
    written: dict[str, list[dict]] = {stream: [] for stream in STREAMS}
    for index in range(SHARDS):
        out = tmp_path / f"shard-{index}"
        out.mkdir()
        env = {
            **tap_env(sandbox),
            "TAP_AUDIENCE_SHARD_COUNT": str(SHARDS),
            "TARGET_JSONL_DESTINATION_PATH": str(out),
        }
        # The last shard as a Kubernetes Indexed Job's pod would run it: the index from
        # JOB_COMPLETION_INDEX, the suffix from the same index.
        if index == SHARDS - 1:
            env["JOB_COMPLETION_INDEX"] = str(index)
        else:
            env["TAP_AUDIENCE_SHARD_INDEX"] = str(index)
        suffix = f"shard-{index}"
        project.meltano("run", "--state-id-suffix", suffix, "tap-audience", "target-jsonl", env=env)
        for path in out.glob("*.jsonl"):
            written[path.stem] += [json.loads(line) for line in path.read_text().splitlines()]
    expected = expected_records(sandbox)
    for stream in STREAMS:
        rows = written[stream]
        assert len(keyed(stream, rows)) == len(rows), f"{stream}: a record written twice"
        assert not differences(stream, rows, expected[stream]), stream
    # Each shard kept its own state, under the state id the suffix gives it.
    for index in range(SHARDS):
        state = project.state(f"{ENVIRONMENT}:tap-audience-to-target-jsonl:shard-{index}")
        assert state.get("bookmarks"), index
