"""Warnings about a config that is valid but likely not what its author meant, for both faces.

A misspelled setting name is silently unused (`strat_date` reads from the default start),
and a start date in the future makes a run that extracts nothing: neither is an error (an
orchestrator may carry extra keys; a start date may be set ahead on purpose), so each is one
WARNING, in the same words on the Singer and the Airbyte face. An end before the start is a
config error instead (`core.settings.date_range_problems`, run by `config_checks`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from tap_audience.core.timeutil import parse_datetime, utc_now

LOGGER = logging.getLogger("tap_audience.config")


def unknown_name_warnings(
    config: Mapping[str, Any], known_names: Iterable[str], listed_by: str
) -> list[str]:
    """One line per setting name not in `known_names`, with the closest one that is;
    `listed_by` is the command that lists every setting (for names close to none)."""
    known = list(known_names)
    lines = []
    for name in config:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f": did you mean {close[0]}?" if close else f" (see {listed_by})"
            lines.append(f"unknown setting {name!r} is ignored{hint}")
    return lines


def date_warnings(config: Mapping[str, Any], now: dt.datetime | None = None) -> list[str]:
    value = config.get("start_date")
    if not isinstance(value, str):
        return []
    try:
        start = parse_datetime(value)
    except ValueError:
        return []  # the config checks report it
    if start > (now or utc_now()):
        return [
            f"start_date {start.isoformat()} is in the future: streams without a bookmark "
            "extract nothing until then"
        ]
    return []


def config_warnings(
    config: Mapping[str, Any],
    known_names: Iterable[str],
    listed_by: str,
    now: dt.datetime | None = None,
) -> list[str]:
    """Every warning about `config`, one line each (no value is quoted: no secret can leak)."""
    return [*unknown_name_warnings(config, known_names, listed_by), *date_warnings(config, now)]


def warn_about_config(
    config: Mapping[str, Any], known_names: Iterable[str], listed_by: str
) -> None:
    """Log `config_warnings` at WARNING: what each face calls when it checks a config."""
    for line in config_warnings(config, known_names, listed_by):
        LOGGER.warning("%s", line)
