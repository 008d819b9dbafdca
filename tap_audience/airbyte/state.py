"""The input state `read` is given, and each stream's state as the read goes on.

Airbyte (and PyAirbyte) pass back the STREAM state messages a source wrote: a JSON array,
`[]` on a first read; entries may carry extra or null keys (`global_`, `data`,
`destinationStats`). Each stream's `stream_state` holds the tap's own bookmark format
(`core.bookmarks`): one entry per partition with its `context`, its bookmark,
`synced_until` (the end of the last window finished for it) and `synced_at` (when, to the
microsecond, never the same twice: so no STATE equals the one before it, even when a
re-read of the lookback moves no bookmark). A state that cannot be trusted stops the read
with one line.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from tap_audience.core.bookmarks import cover_window
from tap_audience.core.errors import ConfigurationError
from tap_audience.core.inputs import json_kind, state_message_payload
from tap_audience.core.settings import DEFAULT_START_DAYS_AGO
from tap_audience.core.timeutil import isoformat_utc
from tap_audience.core.windows import Window


class StateError(ConfigurationError):
    """The input state cannot be used; the message names what and where."""


FIX = "pass the STATE messages this source wrote, or [] to start afresh"
KNOWN_KEYS = frozenset(("partitions",))
LOGGER = logging.getLogger("tap_audience.airbyte.state")


def stream_states(value: Any) -> dict[str, dict[str, Any]]:
    """Stream name → its `stream_state`, from the array of state messages."""
    # `[]` is what the platform and PyAirbyte pass on a first read; `{}` is the legacy
    # platform's empty state (the airbyte-cdk reads it as no state too); `null` says the same.
    if value is None or value in ([], {}):
        LOGGER.info(
            "the state is empty: a first read, every stream from start_date (default: %d days ago)",
            DEFAULT_START_DAYS_AGO,
        )
        return {}
    if not isinstance(value, list):
        singer = isinstance(value, Mapping) and (
            "bookmarks" in value or "singer_state" in value or "value" in value
        )
        hint = " (tap-audience's Singer state: source-audience reads its own)" if singer else ""
        raise StateError(
            f"the state must be a JSON array of STREAM state messages, not a JSON "
            f"{json_kind(value)}{hint}: {FIX}"
        )
    states: dict[str, dict[str, Any]] = {}
    for number, item in enumerate(value, start=1):
        # Either the AirbyteStateMessage itself or a whole AirbyteMessage wrapping it (the
        # rule the Singer face applies to a whole Singer STATE message too).
        message, _ = state_message_payload(item, "state")
        if not isinstance(message, Mapping):
            raise StateError(f"state entry #{number} is not an object: {FIX}")
        kind = message.get("type") or "STREAM"
        if kind != "STREAM":
            raise StateError(
                f"state entry #{number} is of type {kind}; this source writes per-stream "
                f"(STREAM) state only: {FIX}"
            )
        stream = message.get("stream")
        described = stream.get("stream_descriptor") if isinstance(stream, Mapping) else None
        name = described.get("name") if isinstance(described, Mapping) else None
        if not isinstance(name, str) or not isinstance(described, Mapping):
            raise StateError(f"state entry #{number} names no stream_descriptor.name: {FIX}")
        if described.get("namespace"):
            LOGGER.warning(
                "state entry #%d is for %s in namespace %r; this source has no namespaces: "
                "not used",
                number,
                name,
                described["namespace"],
            )
            continue
        state = stream.get("stream_state") if isinstance(stream, Mapping) else None
        if state is not None and not isinstance(state, Mapping):
            raise StateError(f"{name}: its stream_state must be an object: {FIX}")
        if name in states:
            raise StateError(f"the state has two entries for {name}: {FIX}")
        if unknown := sorted(set(state or {}) - KNOWN_KEYS):
            LOGGER.warning(
                "%s: the state holds %s, which this source does not write (it keeps one "
                'bookmark per partition under "partitions"): not used, partitions without '
                "a bookmark start from start_date",
                name,
                ", ".join(unknown),
            )
        states[name] = copy.deepcopy(dict(state or {}))
    return states


class StreamState:
    """One stream's state, advanced per finished window."""

    def __init__(self, entry: Mapping[str, Any] | None, replication_key: str | None) -> None:
        self.entry: dict[str, Any] = copy.deepcopy(dict(entry or {}))
        partitions = self.entry.get("partitions")
        self.entry["partitions"] = partitions if isinstance(partitions, list) else []
        self.replication_key = replication_key
        self._last_synced_at: dt.datetime | None = None

    def _partition(self, partition: Mapping[str, Any], *, create: bool) -> dict[str, Any] | None:
        for entry in self.entry["partitions"]:
            if entry.get("context") == dict(partition):
                return entry  # type: ignore[no-any-return]
        if not create:
            return None
        entry = {"context": dict(partition)}
        self.entry["partitions"].append(entry)
        return entry

    def bookmark(self, partition: Mapping[str, Any]) -> str | None:
        entry = self._partition(partition, create=False)
        value = entry.get("replication_key_value") if entry else None
        return None if value is None else str(value)

    def window_done(self, partition: Mapping[str, Any], window: Window) -> None:
        entry = self._partition(partition, create=True)
        assert entry is not None
        cover_window(entry, self.replication_key, window)
        entry["synced_until"] = isoformat_utc(window.end)
        moment = dt.datetime.now(dt.timezone.utc)
        if self._last_synced_at is not None and moment <= self._last_synced_at:
            moment = self._last_synced_at + dt.timedelta(microseconds=1)
        self._last_synced_at = moment
        entry["synced_at"] = moment.isoformat()

    def value(self) -> dict[str, Any]:
        return copy.deepcopy(self.entry)
