"""The input state, read and checked before any record is written.

A state that cannot be trusted must stop the run, not quietly become a full re-sync (or
worse, skip data): an empty, cut-off or non-JSON file, or a bookmark of the wrong type or
form, stops the run with one line naming the file, stream and partition. What can be
understood is used and named in a WARNING: Meltano's `{"singer_state": ...}` wrapper (what
`meltano state get` prints) is unwrapped; an entry that matches no partition the tap syncs
now (a removed camera, a state from before the bucket size became part of Angus partitions)
or a stream-level bookmark where bookmarks are per partition is kept in the state, unused.
Valid bookmarks are rewritten in their endpoint's canonical form, because bookmarks are
compared as text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import IO, Any

from tap_audience.core.endpoint import Endpoint
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


def _describe(context: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in context.items())


def check_bookmarks(state: dict[str, Any], endpoints: Mapping[str, Endpoint]) -> list[str]:
    """Problems that must stop the run, one line each; warnings are logged.

    Valid bookmarks and partition contexts are normalised in place. Whether an entry matches
    a partition is checked later (`warn_unmatched`), once the vendors say which exist.
    """
    bookmarks = state.get("bookmarks")
    if not isinstance(bookmarks, dict):
        return ['the state\'s "bookmarks" must be an object with one entry per stream']
    problems = []
    for stream, entry in bookmarks.items():
        endpoint = endpoints.get(stream)
        if not isinstance(entry, dict):
            problems.append(f"{stream}: its state entry must be an object, not {entry!r}")
        elif endpoint is None:
            LOGGER.warning(
                "the state has bookmarks for %r, which is not a stream of this tap", stream
            )
        else:
            problems += _check_stream(stream, entry, endpoint)
    return problems


def _check_stream(stream: str, entry: dict[str, Any], endpoint: Endpoint) -> list[str]:
    if "replication_key_value" in entry:
        LOGGER.warning(
            "%s: the state has one bookmark for the whole stream, but this tap keeps one per "
            "%s; it is kept in the state and not used: partitions without a bookmark of their "
            "own start from start_date",
            stream,
            endpoint.partition_key,
        )
    partitions = entry.get("partitions", [])
    if not isinstance(partitions, list):
        return [f'{stream}: the state\'s "partitions" must be a list, not {partitions!r}']
    problems = []
    for number, partition in enumerate(partitions, start=1):
        context = partition.get("context") if isinstance(partition, dict) else None
        if not isinstance(context, dict):
            problems.append(f"{stream}: state partition #{number} has no context object")
            continue
        partition["context"] = endpoint.canonical_context(context)
        value = partition.get("replication_key_value")
        if value is not None and endpoint.replication_key:
            try:
                partition["replication_key_value"] = endpoint.bookmark_value(value)
            except ValueError as exc:
                problems.append(
                    f"{stream} [{_describe(context)}]: the state's bookmark {exc}; correct or "
                    "remove this entry"
                )
    return problems


def warn_unmatched(state: Mapping[str, Any], endpoints: Mapping[str, Endpoint]) -> None:
    """Name each state entry of these streams that matches no partition the vendor has: it is
    kept in the state (a later run may need it), but this run starts that data afresh."""
    bookmarks = state.get("bookmarks") or {}
    for stream, endpoint in endpoints.items():
        entry = bookmarks.get(stream)
        if not isinstance(entry, dict) or not entry.get("partitions"):
            continue
        known = endpoint.known_partitions()
        if not known:
            continue
        for partition in entry["partitions"]:
            if partition["context"] not in known:
                LOGGER.warning(
                    "%s [%s]: this state entry matches no partition the tap syncs now (they "
                    "look like [%s]); it is kept in the state and not used",
                    stream,
                    _describe(partition["context"]),
                    _describe(known[0]),
                )
