"""The tap's bookmarks, whatever the output protocol: one entry per stream, one per partition.

A stream's entry is `{"partitions": [{"context": {...}, "replication_key": "...",
"replication_key_value": "..."}]}` (the Singer SDK's shape, which the Airbyte face keeps
inside each stream's state too). Checked before any record is written: a bookmark of the
wrong type or form stops the run with one line naming stream and partition; an entry that
matches no partition, or a stream-level bookmark where bookmarks are per partition, is kept
and named in a WARNING. Valid bookmarks are rewritten in their endpoint's canonical form,
because bookmarks are compared as text.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tap_audience.core.endpoint import Endpoint
from tap_audience.core.windows import Window

LOGGER = logging.getLogger("tap_audience.state")


def _describe(context: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in context.items())


def cover_window(entry: dict[str, Any], replication_key: str | None, window: Window) -> bool:
    """Let a partition's entry cover a finished `window`: its bookmark moves to the window's
    newest value if that is newer. True when it moved; bookmarks only ever hold values that
    were written, so they never skip data, and never move back (a lookback re-read)."""
    value = window.max_replication_value
    if not replication_key or value is None:
        return False
    current = entry.get("replication_key_value")
    if current is not None and value <= current:
        return False
    entry["replication_key"] = replication_key
    entry["replication_key_value"] = value
    return True


def check_bookmarks(state: dict[str, Any], endpoints: Mapping[str, Endpoint]) -> list[str]:
    """Problems of `state` (`{"bookmarks": {stream: entry}}`) that must stop the run, one line
    each; warnings are logged.

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
            problems += check_stream(stream, entry, endpoint)
    return problems


def check_stream(stream: str, entry: dict[str, Any], endpoint: Endpoint) -> list[str]:
    """Problems of one stream's entry, one line each; its bookmarks are normalised in place."""
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
