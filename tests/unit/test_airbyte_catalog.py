"""The Airbyte face opens its stream schemas; the Singer face keeps them strict.

Airbyte requires `additionalProperties` true or absent in a discovered stream schema (its
standard tests reject `false`, tests/airbyte_cdk_standard/), so `discover` strips every
`additionalProperties: false` and changes nothing else.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tap_audience.airbyte.catalog import discovered, open_schema
from tap_audience.connector.endpoints import INFOS
from tap_audience.singer.tap import TapAudience

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def closed_places(node: Any, path: str = "#") -> Iterator[str]:
    """Every place of a JSON document where `additionalProperties` is false."""
    if isinstance(node, dict):
        if node.get("additionalProperties") is False:
            yield path
        for key, value in node.items():
            yield from closed_places(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from closed_places(item, f"{path}/{index}")


def without_closed(node: Any) -> Any:
    """What opening a schema may change, and nothing else: its `additionalProperties: false`."""
    if isinstance(node, dict):
        return {
            key: without_closed(value)
            for key, value in node.items()
            if not (key == "additionalProperties" and value is False)
        }
    if isinstance(node, list):
        return [without_closed(item) for item in node]
    return node


def test_discover_opens_every_schema_and_changes_nothing_else():
    streams = {stream["name"]: stream["json_schema"] for stream in discovered()}
    assert list(streams) == [info.name for info in INFOS]
    for name, schema in streams.items():
        strict = json.loads((SCHEMA_DIR / f"{name}.json").read_text())
        assert list(closed_places(strict)), name  # the files are strict: there was work to do
        assert not list(closed_places(schema)), name
        assert schema == without_closed(strict), name


def test_the_singer_face_keeps_its_strict_schemas():
    catalog = TapAudience(config={}, validate_config=False, setup_mapper=False).catalog_dict
    for entry in catalog["streams"]:
        strict = json.loads((SCHEMA_DIR / f"{entry['tap_stream_id']}.json").read_text())
        assert list(closed_places(entry["schema"])) == list(closed_places(strict))
        assert entry["schema"]["additionalProperties"] is False


def test_open_schema_follows_every_subschema_and_leaves_names_and_data_alone():
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            # A property may be named like a keyword: a name is never stripped.
            "additionalProperties": False,
            "nested": {"type": "object", "additionalProperties": False, "properties": {}},
            "open": {"type": "object", "additionalProperties": True},
            "typed_map": {"type": "object", "additionalProperties": {"type": "integer"}},
            "list": {"type": "array", "items": {"type": "object", "additionalProperties": False}},
            "tuple": {"type": "array", "items": [{"additionalProperties": False}]},
            "either": {"anyOf": [{"type": "null"}, {"additionalProperties": False}]},
            # Data, not schemas: left as they are.
            "with_default": {"type": "object", "default": {"additionalProperties": False}},
            "with_enum": {"enum": [{"additionalProperties": False}]},
        },
        "definitions": {"thing": {"type": "object", "additionalProperties": False}},
        "patternProperties": {"^x_": {"additionalProperties": False}},
    }
    before = copy.deepcopy(schema)
    opened = open_schema(schema)
    assert schema == before  # the input is not changed
    assert "additionalProperties" not in opened
    properties = opened["properties"]
    assert properties["additionalProperties"] is False
    assert properties["nested"] == {"type": "object", "properties": {}}
    assert properties["open"]["additionalProperties"] is True
    assert properties["typed_map"]["additionalProperties"] == {"type": "integer"}
    assert properties["list"]["items"] == {"type": "object"}
    assert properties["tuple"]["items"] == [{}]
    assert properties["either"]["anyOf"] == [{"type": "null"}, {}]
    assert properties["with_default"]["default"] == {"additionalProperties": False}
    assert properties["with_enum"]["enum"] == [{"additionalProperties": False}]
    assert opened["definitions"]["thing"] == {"type": "object"}
    assert opened["patternProperties"]["^x_"] == {}
