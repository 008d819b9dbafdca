"""`spec`: the connector's settings schema (the same declarations the Singer face publishes),
with every secret marked the way Airbyte hides it (`airbyte_secret`)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tap_audience.connector.settings import CONFIG_SCHEMA

DOCUMENTATION_URL = "https://github.com/tap-audience/tap-audience#running-under-airbyte"


def mark_secrets(schema: Any) -> Any:
    """A copy of `schema` in which every `secret` text property also says `airbyte_secret`
    (Airbyte hides strings; the array of camera streams is secret through its tokens)."""
    if isinstance(schema, Mapping):
        marked = {key: mark_secrets(value) for key, value in schema.items()}
        kind = schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if schema.get("secret") and "string" in kinds:
            marked["airbyte_secret"] = True
        return marked
    if isinstance(schema, list):
        return [mark_secrets(item) for item in schema]
    return copy.deepcopy(schema)


def connection_specification() -> dict[str, Any]:
    specification: dict[str, Any] = mark_secrets(CONFIG_SCHEMA)
    return {
        **specification,
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "tap-audience (Angus.ai and EQ Works audience analytics)",
        "required": [],
        "additionalProperties": True,
    }
