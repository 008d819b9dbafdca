"""The input catalog: read as the user (or Meltano) meant it, refused where it cannot be honoured.

singer-sdk prefers the entry's `replication_method` and `replication_key` (the discovered
defaults) to the `replication-method` and `replication-key` metadata that Meltano writes from
`metadata:` in meltano.yml (the user's choice, in the Singer spec's terms): without
`prepare`, a catalog's FULL_TABLE would be silently ignored. A catalog may also name a
replication key or method this tap cannot keep bookmarks by; rather than accept it and write
a bookmark the next run cannot use (or ignore it), `problems` names it and the run stops.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, Protocol

from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE, REPLICATION_INCREMENTAL

from tap_audience.core.endpoint import Endpoint
from tap_audience.core.errors import TapAudienceError

METHODS = (REPLICATION_FULL_TABLE, REPLICATION_INCREMENTAL)
# Stream metadata (the user's choice) → the entry field singer-sdk reads (the discovered default).
USER_CHOICES = {"replication-method": "replication_method", "replication-key": "replication_key"}


class CatalogError(TapAudienceError):
    """The input catalog cannot be used; the message names the stream and the fix."""


class CatalogStream(Protocol):
    """What the checks read of a stream with the catalog applied."""

    name: str
    replication_key: str | None

    @property
    def selected(self) -> bool: ...

    @property
    def replication_method(self) -> str: ...

    @property
    def endpoint(self) -> Endpoint: ...


def prepare(catalog: dict[str, Any]) -> dict[str, Any]:
    """A copy with each stream's `replication-method` metadata as its `replication_method`
    (upper-cased, as singer-sdk compares it); `CatalogError` for a catalog of the wrong shape."""
    catalog = copy.deepcopy(catalog)
    streams = catalog.get("streams")
    if not isinstance(streams, list) or not all(
        isinstance(entry, dict) and isinstance(entry.get("tap_stream_id"), str) for entry in streams
    ):
        raise CatalogError(
            'the catalog must hold "streams": a list of objects with a "tap_stream_id"; '
            "write it again with `tap-audience --discover`"
        )
    for entry in streams:
        for metadata in entry.get("metadata") or []:
            if isinstance(metadata, dict) and metadata.get("breadcrumb") == []:
                chosen = metadata.get("metadata") or {}
                for key, field in USER_CHOICES.items():
                    if isinstance(chosen.get(key), str) and chosen[key]:
                        entry[field] = chosen[key]
        if isinstance(entry.get("replication_method"), str):
            entry["replication_method"] = entry["replication_method"].upper()
    return catalog


def problems(streams: Iterable[CatalogStream]) -> list[str]:
    """Catalog choices on selected streams that this tap cannot honour, one line each."""
    found = []
    for stream in streams:
        if not stream.selected:
            continue
        own_key = stream.endpoint.replication_key
        method = stream.replication_method
        if stream.replication_key != own_key:
            found.append(
                f"{stream.name}: the catalog sets replication key {stream.replication_key!r}, "
                f"but this stream keeps bookmarks by {own_key!r} only: remove it from the "
                "catalog (in Meltano, the replication-key metadata)"
            )
        elif method not in METHODS or (method == REPLICATION_INCREMENTAL and not own_key):
            supported = " or ".join(METHODS) if own_key else REPLICATION_FULL_TABLE
            found.append(
                f"{stream.name}: the catalog asks for replication method {method!r}; this "
                f"stream supports {supported}"
            )
    return found
