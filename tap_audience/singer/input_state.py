"""The input state, read and checked before any record is written.

A state that cannot be trusted must stop the run, not quietly become a full re-sync (or
worse, skip data): an empty, cut-off or non-JSON file, or a bookmark of the wrong type or
form, stops the run with one line naming the file, stream and partition. What can be
understood is used and named in a WARNING: Meltano's `{"singer_state": ...}` wrapper (what
`meltano state get` prints) is unwrapped; an entry that matches no partition the tap syncs
now (a removed camera, a state from before the bucket size became part of Angus partitions)
or a stream-level bookmark where bookmarks are per partition is kept in the state, unused.
Valid bookmarks are rewritten in their endpoint's canonical form, because bookmarks are
compared as text (`core.bookmarks`, shared with the other faces).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import IO, Any

from tap_audience.core.errors import TapAudienceError

LOGGER = logging.getLogger("tap_audience.state")

MELTANO_WRAPPER = "singer_state"


class StateError(TapAudienceError):
    """The input state cannot be used; the message names what and where."""


def read_json_object(file: IO[str], what: str, fix: str) -> dict[str, Any]:
    """The JSON object in `file` (a CLI input), or a `StateError` saying what is wrong."""
    name = getattr(file, "name", what)
    text = file.read()
    if not text.strip():
        raise StateError(f"{what} {name} is empty: {fix}")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(
            f"{what} {name} is not valid JSON ({exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}; a cut-off file ends like this): {fix}"
        ) from None
    if not isinstance(value, dict):
        raise StateError(f"{what} {name} holds a {type(value).__name__}, not an object: {fix}")
    return value


def read_state_file(file: IO[str]) -> dict[str, Any]:
    """The state in `file` (the CLI's `--state`)."""
    fix = "restore it from the last STATE message, or pass a file holding {} to start afresh"
    return read_json_object(file, "state file", fix)


def read_catalog_file(file: IO[str]) -> dict[str, Any]:
    """The catalog in `file` (the CLI's `--catalog`)."""
    return read_json_object(file, "catalog file", "write it again with `tap-audience --discover`")


def unwrap(state: Mapping[str, Any]) -> dict[str, Any]:
    """The Singer state inside Meltano's `{"singer_state": ...}` wrapper, or `state` itself."""
    inner = state.get(MELTANO_WRAPPER)
    if "bookmarks" in state or not isinstance(inner, dict):
        return dict(state)
    LOGGER.warning(
        'the state is wrapped in Meltano\'s {"%s": ...} (as `meltano state get` prints it): '
        "using the state inside it",
        MELTANO_WRAPPER,
    )
    return inner
