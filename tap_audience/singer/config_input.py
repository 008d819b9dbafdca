"""Where config comes from (files, `TAP_AUDIENCE_*` variables) and the mistakes people make there.

These are the problems of the config's *input*, not of its values (`config_checks`): a file
that is missing, a folder, not UTF-8 or not JSON (read by `core.inputs`, as the Airbyte face
reads it), a variable in a form singer-sdk cannot read (it would stop with a traceback, or
split `43.65,-79.38` into two coordinates). Settings that are readable but
likely mistaken (a misspelled name, a start date in the future) are warned about by
`connector.config_warnings`, for both faces.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from tap_audience.core.inputs import read_json_object

ENV_PREFIX = "TAP_AUDIENCE_"
EXAMPLES = {
    "angus_streams": '[{"client_id": "...", "access_token": "..."}]',
    "angus_metrics": '["passing_by", "interested"]',
    "eq_campaign_ids": "[37054, 41001]",
    "locus_coords": '["43.6532,-79.3832"]',
}

CONFIG_FIX = (
    'write the settings as one JSON object, e.g. {"sandbox": true} (or pass --config ENV to '
    "read TAP_AUDIENCE_* variables)"
)


def read_config_file(path: str) -> dict[str, Any]:
    """The JSON object in the config file `path`, or one readable `ConfigurationError`: read
    as the Airbyte face reads its config (`core.inputs`), not by singer-sdk, whose reader
    stops with a traceback on a folder, a UTF-16 file or YAML."""
    return read_json_object(path, "config file", CONFIG_FIX)


def _kind(schema: Mapping[str, Any]) -> str:
    types = schema.get("type", "string")
    types = [types] if isinstance(types, str) else list(types)
    return next((t for t in types if t != "null"), "string")


def env_problems(schema: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> list[str]:
    """`TAP_AUDIENCE_*` variables whose value is not in the form their setting needs."""
    problems = []
    for name, spec in schema.get("properties", {}).items():
        variable = ENV_PREFIX + name.upper()
        if variable not in environ:
            continue
        value, kind = environ[variable], _kind(spec)
        if kind in ("array", "object"):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                parsed = None
            if not isinstance(parsed, list if kind == "array" else dict):
                example = EXAMPLES.get(name, "[...]" if kind == "array" else "{...}")
                problems.append(
                    f"{variable} must be a JSON {kind}, e.g. {variable}='{example}' "
                    f"(got {value[:40]!r}{'...' if len(value) > 40 else ''})"
                )
        elif kind in ("integer", "number"):
            try:
                int(value) if kind == "integer" else float(value)
            except ValueError:
                what = "a whole number, e.g. 8" if kind == "integer" else "a number, e.g. 2.5"
                problems.append(f"{variable} must be {what} (got {value!r})")
    return problems
