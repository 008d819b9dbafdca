"""Every record of every stream validates against its JSON Schema, formats included."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

from tap_audience.singer.streams import STREAM_NAMES
from tests.helpers import run_tap, sandbox_config

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"


def load_schema(name: str) -> dict:
    return json.loads((SCHEMA_DIR / f"{name}.json").read_text())


def test_there_is_one_schema_file_per_stream():
    files = {p.stem for p in SCHEMA_DIR.glob("*.json")}
    assert files == set(STREAM_NAMES)


@pytest.mark.parametrize("time_bucket", ["by_hour", "by_day"])
def test_records_validate_against_their_schema(sandbox, time_bucket):
    result = run_tap(sandbox_config(sandbox, angus_time_bucket=time_bucket))
    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    for name in STREAM_NAMES:
        validator = jsonschema.Draft7Validator(load_schema(name), format_checker=checker)
        records = result.records[name]
        assert records, name
        for record in records:
            errors = [e.message for e in validator.iter_errors(record)]
            assert not errors, (name, record, errors)
        if name == "angus_entities":  # jsonschema skips date-time without extra packages
            assert all(
                dt.datetime.fromisoformat(r["bucket_start"]).utcoffset() == dt.timedelta(0)
                for r in records
            )
        # Every property the schema declares is present in every record (null when unknown).
        assert all(set(r) == set(load_schema(name)["properties"]) for r in records), name


def test_schema_messages_carry_keys_and_bookmarks(sandbox):
    result = run_tap(sandbox_config(sandbox), streams=["angus_entities", "locus_hh_segments"])
    schemas = {m["stream"]: m for m in result.messages if m["type"] == "SCHEMA"}
    assert schemas["angus_entities"]["key_properties"] == [
        "client_id",
        "time_bucket",
        "bucket_start",
    ]
    assert schemas["angus_entities"]["bookmark_properties"] == ["bucket_start"]
    assert schemas["locus_hh_segments"]["key_properties"] == ["coords", "segment_id"]
