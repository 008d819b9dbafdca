"""Shards started together from Meltano's shared run directory: refused, not corrupted.

`meltano run` and `meltano invoke` give every run of a plugin the same run directory,
`<.meltano>/run/tap-audience/`, and write the tap's config (`tap.config.json`, which carries
`shard_index`), catalog (`tap.properties.json`) and input state (`state.json`) there under
fixed names before starting the tap. Two shards started at the same moment this way read each
other's files: another shard's state or index, or a catalog another Meltano is rewriting.
`meltano el --state-id ...` writes them into a directory of its own per run
(`run/elt/<state id>/<run id>/`): the safe way to run shards at the same time (README,
"Running at scale"; `orchestration/pipeline.py` runs it).

When a sharded tap (`shard_count` > 1) runs under Meltano (`MELTANO_PROJECT_ROOT` set) with
its `--catalog` or `--state` in such a shared directory, it takes a non-blocking lock there
for its whole run; a second shard that finds the lock held stops before reading its catalog
or state, with one line naming the safe command. It also stops when the config file is
another shard's (the index in it differs from the one this process was given by
`TAP_AUDIENCE_SHARD_INDEX`): another Meltano rewrote the file before this tap read it.

What it cannot catch, and why it is still worth having:

- Meltano reads and rewrites these files itself before any tap starts (catalog discovery,
  state): two `meltano run`s started together often fail inside Meltano first ("Invalid
  catalog", "No such file"), before this code runs. Those are Meltano's errors, also before
  any record.
- The first shard's tap may have read the state file another Meltano wrote for its own
  shard just before that shard's tap reached the lock. The second shard is stopped; the first
  runs with the other shard's bookmarks, which match none of its partitions: they are kept,
  unused, and its own partitions re-read from `start_date` or their last bookmark (upserting
  targets absorb it). Nothing is skipped, work is repeated.
- Taps that do not overlap in time (one ended before the other started) are not seen, and
  need not be: it is their files being swapped under them that does harm, which the config
  check above catches for the index.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from tap_audience.connector.sandbox_guard import (
    MELTANO_ENVIRONMENT_VARIABLE,
    MELTANO_PROJECT_VARIABLE,
)
from tap_audience.connector.settings import JOB_INDEX_VARIABLE
from tap_audience.core.errors import TapAudienceError

LOCK_NAME = "tap-audience-shard.lock"
SHARD_COUNT_VARIABLE = "TAP_AUDIENCE_SHARD_COUNT"
SHARD_INDEX_VARIABLE = "TAP_AUDIENCE_SHARD_INDEX"

# The lock lives as long as the process: the file stays open (flock locks belong to the open
# file), and the process's end, however it ends, releases it.
_held: list[IO[str]] = []


class SharedRunDirectoryError(TapAudienceError):
    """Another shard runs from the same Meltano run directory."""


def shared_run_dir(path: str | None) -> Path | None:
    """The folder of `path` if it is Meltano's run directory shared by every run of a plugin
    (`<.meltano>/run/<plugin>/`), not one of `meltano el`'s (`run/elt/<state id>/<run id>/`)."""
    if not path:
        return None
    folder = Path(path).absolute().parent
    if folder.parent.name == "run" and folder.parent.parent.name != "elt":
        return folder
    return None


def number(value: Any) -> int | None:
    """A setting's integer, from the config (an int) or the environment (text); else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def claim_run_dir(
    *,
    catalog: str | None,
    state: str | None,
    config: Mapping[str, Any],
    environ: Mapping[str, str] = os.environ,
) -> None:
    """Lock Meltano's shared run directory for this shard, or raise one readable line."""
    count = number(config.get("shard_count")) or number(environ.get(SHARD_COUNT_VARIABLE)) or 1
    if count <= 1 or MELTANO_PROJECT_VARIABLE not in environ:
        return
    folder = shared_run_dir(catalog) or shared_run_dir(state)
    if folder is None:
        return
    configured = number(config.get("shard_index"))
    given = number(environ.get(SHARD_INDEX_VARIABLE))
    index = configured or number(environ.get(JOB_INDEX_VARIABLE)) or 0
    safe = safe_command(environ, index)
    if given is not None and configured is not None and given != configured:
        raise SharedRunDirectoryError(
            f"the config file Meltano wrote in {folder} is for shard {configured}, but this "
            f"process is shard {given} ({SHARD_INDEX_VARIABLE}): another shard's Meltano "
            f"rewrote it, as it does when shards share that directory. {safe}"
        )
    handle = (folder / LOCK_NAME).open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another shard"
        handle.close()
        raise SharedRunDirectoryError(
            f"{holder} is running from the same Meltano run directory {folder}, where "
            "`meltano run` and `meltano invoke` put every run's config, catalog and state "
            f"under the same names: shards started together read each other's. {safe}"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"shard {index} of {count} (pid {os.getpid()})\n")
    handle.flush()
    _held.append(handle)


def safe_command(environ: Mapping[str, str], index: int) -> str:
    """What to run instead: the shard with a run directory of its own, same state id."""
    environment = environ.get(MELTANO_ENVIRONMENT_VARIABLE) or "<environment>"
    return (
        "Start each shard with its own run directory: `meltano el tap-audience <loader> "
        f"--state-id {environment}:tap-audience-to-<loader>:shard-{index}` (the state id "
        "`meltano run --state-id-suffix` uses; orchestration/pipeline.py runs it), or run "
        "the shards one after another"
    )
