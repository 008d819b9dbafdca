"""`discover`'s catalog and the configured catalog `read` is given.

Every stream is discovered (as in the Singer face, discovery needs no vendor call): its JSON
schema (opened: Airbyte wants `additionalProperties` true or absent), `full_refresh` and,
where the stream has a replication key, `incremental` with that key as the source-defined
cursor, and its primary key. A configured catalog selects streams and their sync mode;
`incremental` for a stream without a cursor reads it whole (and says so); a choice the
connector cannot honour (another cursor, an unknown stream or mode) stops the read with one
line.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tap_audience.connector.endpoints import INFOS
from tap_audience.core.endpoint import EndpointInfo
from tap_audience.core.errors import ConfigurationError

LOGGER = logging.getLogger("tap_audience.airbyte")
FULL_REFRESH, INCREMENTAL = "full_refresh", "incremental"
BY_NAME = {info.name: info for info in INFOS}


class CatalogError(ConfigurationError):
    """The configured catalog cannot be used; the message names the stream and the fix."""


# Keywords whose value maps names (of properties, definitions) to subschemas: a name is
# never a keyword. And keywords whose value is data, not a schema: left as it is.
NAME_MAPS = frozenset(
    {"properties", "patternProperties", "definitions", "$defs", "dependentSchemas"}
)
DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})


def open_schema(schema: Any) -> Any:
    """`schema` without `additionalProperties: false`, at any depth.

    Airbyte requires it true or absent (a closed schema makes removing a property a breaking
    change, and its standard tests reject it). The Singer face keeps its schemas strict; the
    records are the same, so opening the schema loses nothing Airbyte uses.
    """
    if isinstance(schema, list):
        return [open_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    opened: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "additionalProperties" and value is False:
            continue
        if key in NAME_MAPS and isinstance(value, dict):
            opened[key] = {name: open_schema(sub) for name, sub in value.items()}
        else:
            opened[key] = value if key in DATA_KEYWORDS else open_schema(value)
    return opened


def json_schema(stream: str) -> dict[str, Any]:
    """The stream's schema as `discover` gives it to Airbyte (see `open_schema`)."""
    text = importlib.resources.files("tap_audience.schemas").joinpath(f"{stream}.json").read_text()
    schema: dict[str, Any] = open_schema(json.loads(text))
    return schema


def airbyte_stream(info: EndpointInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": info.name,
        "json_schema": json_schema(info.name),
        "supported_sync_modes": [FULL_REFRESH, INCREMENTAL]
        if info.replication_key
        else [FULL_REFRESH],
        "source_defined_primary_key": [[key] for key in info.primary_keys],
    }
    entry["source_defined_cursor"] = bool(info.replication_key)
    if info.replication_key:
        entry["default_cursor_field"] = [info.replication_key]
    return entry


def discovered() -> list[dict[str, Any]]:
    return [airbyte_stream(info) for info in INFOS]


@dataclass(frozen=True)
class SelectedStream:
    info: EndpointInfo
    sync_mode: str

    @property
    def incremental(self) -> bool:
        return self.sync_mode == INCREMENTAL


def selected_streams(configured: Any) -> list[SelectedStream]:
    """The streams a configured catalog selects, in the connector's order."""
    fix = "write it from `source-audience discover` output"
    entries = configured.get("streams") if isinstance(configured, Mapping) else None
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f'the configured catalog must hold a non-empty "streams" list: {fix}')
    chosen: dict[str, SelectedStream] = {}
    for entry in entries:
        stream = entry.get("stream") if isinstance(entry, Mapping) else None
        name = stream.get("name") if isinstance(stream, Mapping) else None
        if not isinstance(name, str):
            raise CatalogError(f'each configured stream needs "stream": {{"name": ...}}: {fix}')
        info = BY_NAME.get(name)
        if info is None:
            raise CatalogError(f"{name}: not a stream of this connector ({', '.join(BY_NAME)})")
        mode = entry.get("sync_mode", FULL_REFRESH)
        if mode not in (FULL_REFRESH, INCREMENTAL):
            raise CatalogError(f"{name}: sync_mode {mode!r} is not full_refresh or incremental")
        if mode == INCREMENTAL and not info.replication_key:
            # PyAirbyte asks every stream for incremental; a stream without a cursor is read
            # whole each time, which is what incremental means for it (as the Airbyte CDK does).
            LOGGER.info("%s has no cursor: read in full (incremental = full_refresh for it)", name)
            mode = FULL_REFRESH
        cursor = entry.get("cursor_field")
        cursor = [cursor] if isinstance(cursor, str) else cursor
        if cursor is not None and not isinstance(cursor, list):
            raise CatalogError(f"{name}: cursor_field must be a list of field names: {fix}")
        if mode == INCREMENTAL and cursor and cursor != [info.replication_key]:
            raise CatalogError(
                f"{name}: the cursor is source-defined ({info.replication_key}), not {cursor!r}"
            )
        if name in chosen:
            raise CatalogError(f"{name}: configured twice; list each stream once")
        chosen[name] = SelectedStream(info, mode)
    return [chosen[info.name] for info in INFOS if info.name in chosen]
