"""The input state, read and checked before any record is written.

A state that cannot be trusted must stop the run, not quietly become a full re-sync (or
worse, skip data). The shapes this tap reads are:

- `{}` (a first run) and `{"bookmarks": {...}}`, what singer-sdk writes (it writes nothing
  beside "bookmarks"), with the siblings taps built on singer-python write
  (`currently_syncing`), which carry nothing this tap uses;
- Meltano's `{"singer_state": {...}}` wrapper (what `meltano state get` prints);
- a whole STATE message, `{"type": "STATE", "value": {...}}`: a line copied from the tap's
  own output, which is what the error hints below tell people to restore.

The two wrappers are unwrapped and named in a WARNING. Anything else (an empty, cut-off or
non-JSON file, a state of another shape, the Airbyte face's state) stops the run with one
line naming the file and what it holds. Bookmarks of the wrong type or form stop it too,
naming stream and partition; an entry that matches no partition the tap syncs now (a removed
camera, a state from before the bucket size became part of Angus partitions) or a
stream-level bookmark where bookmarks are per partition is kept in the state, unused, with a
WARNING. Valid bookmarks are rewritten in their endpoint's canonical form, because bookmarks
are compared as text (`core.bookmarks`, shared with the other faces).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tap_audience.core.errors import TapAudienceError
from tap_audience.core.inputs import json_kind, read_json, read_json_object, state_message_payload

LOGGER = logging.getLogger("tap_audience.state")

MELTANO_WRAPPER = "singer_state"
# What a Singer state may hold beside "bookmarks": singer-sdk writes only "bookmarks", taps
# built on singer-python also write `currently_syncing` (the stream being synced).
SIBLINGS = frozenset(("currently_syncing",))
# Airbyte state messages (`source-audience`'s state) say what they hold in "type".
AIRBYTE_TYPES = frozenset(("STREAM", "GLOBAL", "LEGACY"))
READABLE = (
    'it reads {"bookmarks": {...}} (what the tap writes), Meltano\'s {"singer_state": {...}} '
    'and a whole STATE message {"type": "STATE", "value": {...}}'
)
FIX = "restore it from the last STATE message, or pass a file holding {} to start afresh"


class StateError(TapAudienceError):
    """The input state cannot be used; the message names what and where."""


def read_state_file(path: str) -> dict[str, Any]:
    """The state in `path` (the CLI's `--state`), unwrapped: the Singer state inside."""
    value = read_json(path, "state file", FIX)
    if isinstance(value, list):
        airbyte = any(
            isinstance(item, Mapping) and item.get("type") in AIRBYTE_TYPES | {"STATE"}
            for item in value
        )
        hint = " (source-audience's Airbyte state: tap-audience reads a Singer state)"
        raise StateError(
            f"state file {path} holds a list, not an object{hint if airbyte else ''}: {FIX}"
        )
    if not isinstance(value, dict):
        raise StateError(f"state file {path} holds a {json_kind(value)}, not an object: {FIX}")
    return unwrap(value, f"state file {path}")


def read_catalog_file(path: str) -> dict[str, Any]:
    """The catalog in `path` (the CLI's `--catalog`)."""
    return read_json_object(path, "catalog file", "write it again with `tap-audience --discover`")


def unwrap(state: Mapping[str, Any], source: str = "the state") -> dict[str, Any]:
    """The Singer state `state` holds (see the module's docstring), or a `StateError` naming
    `source` and the shape it found. A state already unwrapped comes back as it is."""
    current = state
    for _ in range(3):  # at most a STATE message and Meltano's wrapper, in either order
        keys = set(current)
        if "bookmarks" in keys or keys <= SIBLINGS:
            if unused := sorted(keys - {"bookmarks"} - SIBLINGS):
                LOGGER.warning(
                    '%s holds %s beside "bookmarks", which this tap does not use: left out of '
                    "its state",
                    source,
                    ", ".join(repr(key) for key in unused),
                )
            return dict(current)
        if current.get("type") in AIRBYTE_TYPES or (
            current.get("type") == "STATE" and "state" in keys and "value" not in keys
        ):
            raise StateError(
                f"{source} holds a state message of source-audience (the Airbyte face), not a "
                f"Singer state: pass the value of tap-audience's last STATE message, or {{}} to "
                "start afresh"
            )
        payload, is_message = state_message_payload(current, "value")
        if is_message:
            if not isinstance(payload, dict):
                raise StateError(
                    f"{source} is a STATE message whose value is a {json_kind(payload)}, not "
                    f"an object: {FIX}"
                )
            LOGGER.warning(
                "%s holds a whole STATE message (a line of the tap's output): using the state "
                "in its value",
                source,
            )
            current = payload
            continue
        if MELTANO_WRAPPER in keys:
            inner = current[MELTANO_WRAPPER]
            if not isinstance(inner, dict):
                raise StateError(
                    f'{source} holds Meltano\'s {{"{MELTANO_WRAPPER}": ...}} wrapper around a '
                    f"{json_kind(inner)}, not a state object: {FIX}"
                )
            LOGGER.warning(
                'the state is wrapped in Meltano\'s {"%s": ...} (as `meltano state get` prints '
                "it): using the state inside it",
                MELTANO_WRAPPER,
            )
            current = inner
            continue
        raise StateError(
            f'{source} holds no "bookmarks" and is no state this tap reads (its top-level '
            f"keys: {describe_keys(keys)}); {READABLE}: {FIX}"
        )
    raise StateError(f"{source} is a state wrapped more than twice: {FIX}")


def describe_keys(keys: set[str]) -> str:
    """The keys, quoted and few: a state of the wrong shape may have thousands."""
    shown = [repr(key) if len(key) <= 40 else repr(key[:40]) + "..." for key in sorted(keys)]
    return ", ".join(shown[:8]) + (f" and {len(shown) - 8} more" if len(shown) > 8 else "")
