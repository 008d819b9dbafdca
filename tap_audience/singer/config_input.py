"""Where config comes from (files, `TAP_AUDIENCE_*` variables) and the mistakes people make there.

These are the problems of the config's *input*, not of its values (`config_checks`): a file
that is missing or not JSON, a variable in a form singer-sdk cannot read (it would stop with
a traceback, or split `43.65,-79.38` into two coordinates), a setting name that does not
exist (silently unused), a start date in the future (a run that extracts nothing).
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tap_audience.core.errors import ConfigurationError
from tap_audience.core.timeutil import parse_datetime, utc_now

LOGGER = logging.getLogger("tap_audience.config")

ENV_PREFIX = "TAP_AUDIENCE_"
EXAMPLES = {
    "angus_streams": '[{"client_id": "...", "access_token": "..."}]',
    "angus_metrics": '["passing_by", "interested"]',
    "eq_campaign_ids": "[37054, 41001]",
    "locus_coords": '["43.6532,-79.3832"]',
}


def read_config_file(path: str) -> dict[str, Any]:
    """The JSON object in the config file `path`, or one readable `ConfigurationError`."""
    file = Path(path)
    if not file.exists():
        raise ConfigurationError(
            f"config file {path} does not exist: pass the path of a JSON file (or ENV to read "
            "TAP_AUDIENCE_* variables)"
        )
    try:
        value = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = (
            f" at line {exc.lineno}, column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise ConfigurationError(
            f"config file {path} is not valid JSON{where}: fix it (settings are one JSON "
            'object, e.g. {"sandbox": true})'
        ) from None
    if not isinstance(value, dict):
        raise ConfigurationError(
            f"config file {path} holds a {type(value).__name__}: settings are one JSON object"
        )
    return value


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


def warn_about_names(config: Mapping[str, Any], schema: Mapping[str, Any]) -> None:
    """One WARNING per setting name the tap does not know, with the closest one it does."""
    known = list(schema.get("properties", {}))
    for name in config:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f": did you mean {close[0]}?" if close else " (see `tap-audience --about`)"
            LOGGER.warning("unknown setting %r is ignored%s", name, hint)


def warn_about_dates(config: Mapping[str, Any], now: dt.datetime | None = None) -> None:
    value = config.get("start_date")
    if not isinstance(value, str):
        return
    try:
        start = parse_datetime(value)
    except ValueError:
        return  # the config checks report it
    if start > (now or utc_now()):
        LOGGER.warning(
            "start_date %s is in the future: streams without a bookmark extract nothing until then",
            start.isoformat(),
        )
