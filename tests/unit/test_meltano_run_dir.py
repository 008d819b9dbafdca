"""The guard against shards sharing Meltano's run directory (singer/meltano_run_dir.py).

Which directories count as shared, when the tap takes the lock, and the exact line a second
shard gets: from another process holding the lock, as a running shard's tap holds it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tap_audience.singer import meltano_run_dir
from tap_audience.singer.meltano_run_dir import (
    SharedRunDirectoryError,
    claim_run_dir,
    shared_run_dir,
)

MELTANO = {"MELTANO_PROJECT_ROOT": "/project", "MELTANO_ENVIRONMENT": "prod"}


@pytest.fixture(autouse=True)
def release_locks():
    yield
    while meltano_run_dir._held:
        meltano_run_dir._held.pop().close()


def shared(tmp_path: Path) -> Path:
    folder = tmp_path / ".meltano" / "run" / "tap-audience"
    folder.mkdir(parents=True)
    return folder


def test_only_the_run_directory_every_run_of_a_plugin_shares_counts(tmp_path):
    assert shared_run_dir("/p/.meltano/run/tap-audience/tap.properties.json") == Path(
        "/p/.meltano/run/tap-audience"
    )
    assert shared_run_dir("/cache/run/tap-audience--alias/state.json") is not None
    # `meltano el`: run/elt/<state id>/<run id>/, one per run (a state id named `run` too).
    assert shared_run_dir("/p/.meltano/run/elt/prod:tap-audience-to-x:shard-1/0191/s.json") is None
    assert shared_run_dir("/p/.meltano/run/elt/run/0191/state.json") is None
    assert shared_run_dir("/home/me/catalog.json") is None
    assert shared_run_dir(None) is None


def hold(folder: Path, index: int) -> subprocess.Popen[str]:
    """Another process holding the lock, as shard `index`'s tap does while it runs."""
    script = (
        "import sys\n"
        "from tap_audience.singer.meltano_run_dir import claim_run_dir\n"
        f"claim_run_dir(catalog={str(folder / 'tap.properties.json')!r}, state=None, "
        f"config={{'shard_count': 3, 'shard_index': {index}}}, "
        f"environ={MELTANO!r})\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout and holder.stdout.readline() == "held\n"
    return holder


def test_a_second_shard_in_the_shared_directory_gets_one_line_naming_the_safe_command(tmp_path):
    folder = shared(tmp_path)
    holder = hold(folder, 0)
    try:
        with pytest.raises(SharedRunDirectoryError) as refused:
            claim_run_dir(
                catalog=str(folder / "tap.properties.json"),
                state=str(folder / "state.json"),
                config={"shard_count": 3, "shard_index": 2},
                environ=MELTANO,
            )
    finally:
        holder.communicate("")
    assert str(refused.value) == (
        f"shard 0 of 3 (pid {holder.pid}) is running from the same Meltano run directory "
        f"{folder}, where `meltano run` and `meltano invoke` put every run's config, catalog "
        "and state under the same names: shards started together read each other's. Start "
        "each shard with its own run directory: `meltano el tap-audience <loader> --state-id "
        "prod:tap-audience-to-<loader>:shard-2` (the state id `meltano run --state-id-suffix` "
        "uses; orchestration/pipeline.py runs it), or run the shards one after another"
    )
    # Once the other shard ended, the directory is free again.
    claim_run_dir(
        catalog=str(folder / "tap.properties.json"),
        state=None,
        config={"shard_count": 3, "shard_index": 2},
        environ=MELTANO,
    )


def test_a_config_file_another_shard_rewrote_is_refused(tmp_path):
    folder = shared(tmp_path)
    with pytest.raises(
        SharedRunDirectoryError, match="is for shard 1, but this process is shard 0"
    ):
        claim_run_dir(
            catalog=str(folder / "tap.properties.json"),
            state=None,
            config={"shard_count": 3, "shard_index": 1},
            environ={**MELTANO, "TAP_AUDIENCE_SHARD_INDEX": "0"},
        )


@pytest.mark.parametrize(
    ("config", "environ", "where"),
    [
        ({"shard_count": 1}, MELTANO, "shared"),  # unsharded
        ({"shard_count": 3}, {}, "shared"),  # not under Meltano
        ({"shard_count": 3}, MELTANO, "elt"),  # `meltano el`'s own directory
    ],
    ids=["unsharded", "not-under-meltano", "meltano-el"],
)
def test_no_lock_where_no_shard_can_share_the_files(tmp_path, config, environ, where):
    folder = shared(tmp_path)
    own = tmp_path / ".meltano" / "run" / "elt" / "prod:tap-audience-to-x:shard-0" / "0191"
    own.mkdir(parents=True)
    holder = hold(folder, 0)
    try:
        catalog = (folder if where == "shared" else own) / "tap.properties.json"
        claim_run_dir(catalog=str(catalog), state=None, config=config, environ=environ)
    finally:
        holder.communicate("")
    assert meltano_run_dir._held == []
