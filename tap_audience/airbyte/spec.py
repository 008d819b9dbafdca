"""`spec`: the connector's settings schema (the same declarations the Singer face publishes),
with every secret marked the way Airbyte hides it (`airbyte_secret`), the settings in their
declared order (`order`) and the sandbox presented as what it is on Airbyte: a demo switch.

The sandbox replaces every URL and credential with an in-process emulator's, so in Airbyte's
form it would read like one more way to connect, and a connection with it on loads made-up
rows into a real destination (Airbyte has no sandbox environment with outputs of its own, as
meltano.yml has). So it is titled "Demo mode (built-in emulator)", described as not a way to
connect, placed last, in no group, and hidden from the form (`airbyte_hidden`, which the UI
honours); it stays in the spec, so a config that sets it (PyAirbyte, the API, a config file)
is still valid. The Singer/Meltano declarations are not changed here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tap_audience.connector.settings import CONFIG_SCHEMA

DOCUMENTATION_URL = "https://github.com/tap-audience/tap-audience#running-under-airbyte"

# Airbyte-only presentation of the demo settings, laid over their declarations.
DEMO_SETTINGS: dict[str, dict[str, Any]] = {
    "sandbox": {
        "title": "Demo mode (built-in emulator)",
        "description": "For demos and tests, not a way to connect: reads made-up data from an "
        "emulator of Angus and EQ Works started inside the connector, not from your accounts. "
        "Leave it off for real data.",
        "airbyte_hidden": True,
    },
    "sandbox_seed": {
        "title": "Demo mode data seed",
        "description": "Seed of the demo mode's made-up data (the same seed, the same data).",
        "airbyte_hidden": True,
    },
}


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


def ordered(properties: Mapping[str, Any]) -> dict[str, Any]:
    """`properties` with an `order` each: the declared order, the demo settings last (the
    Airbyte UI sorts fields without one alphabetically, after those with one)."""
    names = [n for n in properties if n not in DEMO_SETTINGS]
    names += [n for n in properties if n in DEMO_SETTINGS]
    return {
        name: {**properties[name], **DEMO_SETTINGS.get(name, {}), "order": order}
        for order, name in enumerate(names)
    }


def connection_specification() -> dict[str, Any]:
    specification: dict[str, Any] = mark_secrets(CONFIG_SCHEMA)
    return {
        **specification,
        "properties": ordered(specification["properties"]),
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "tap-audience (Angus.ai and EQ Works audience analytics)",
        "required": [],
        "additionalProperties": True,
    }
