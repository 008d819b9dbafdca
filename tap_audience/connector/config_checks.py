"""Config checks JSON Schema cannot express: one readable line per problem, no secret values.

Values of the wrong type are left to the schema validator, which reports them; each check
here looks only at values of the right type. Settings that `sandbox: true` replaces with the
emulator's own are not checked when the sandbox is on: they are not used.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tap_audience.connector.settings import (
    SANDBOX_REPLACES,
    URL_SETTINGS,
    eq_login_hint,
    parse_coordinate,
)
from tap_audience.core.origins import insecure_url_problem
from tap_audience.core.timeutil import parse_datetime

Config = Mapping[str, Any]

TOKEN_FILE_SETTINGS = ("eq_token_file", "locus_token_file")


def email_problems(config: Config) -> list[str]:
    return [
        f"{name} must be an email address (got {value!r})"
        for name in ("angus_username", "eq_user")
        if isinstance(value := config.get(name), str) and value and "@" not in value
    ]


def coordinate_problems(config: Config) -> list[str]:
    coords = config.get("locus_coords")
    problems = []
    for entry in coords if isinstance(coords, list) else []:
        try:
            parse_coordinate(entry)
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def date_range_problems(config: Config) -> list[str]:
    try:
        start = parse_datetime(config["start_date"]) if config.get("start_date") else None
        end = parse_datetime(config["end_date"]) if config.get("end_date") else None
    except (TypeError, ValueError, AttributeError):
        return ["start_date and end_date must be ISO 8601 date-times, e.g. 2026-01-31T00:00:00Z"]
    if start and end and end <= start:
        return [f"end_date ({end.isoformat()}) must be after start_date ({start.isoformat()})"]
    return []


def _cameras(config: Config) -> list[Mapping[str, Any]]:
    cameras = config.get("angus_streams")
    return [c for c in cameras if isinstance(c, Mapping)] if isinstance(cameras, list) else []


def camera_problems(config: Config) -> list[str]:
    cameras = _cameras(config)
    problems = []
    if cameras and not config.get("angus_username"):
        problems.append(
            "angus_streams is set but angus_username is not: set the Angus console login email"
        )
    ids = [c.get("client_id") for c in cameras]
    if len(ids) != len(set(ids)):
        problems.append(
            "angus_streams lists the same client_id twice; list each camera stream once"
        )
    return problems


def url_problems(config: Config) -> list[str]:
    problems = []
    for name in URL_SETTINGS:
        url = config.get(name)
        if not isinstance(url, str):
            continue
        if not url.lower().startswith(("http://", "https://")):
            problems.append(
                f"{name} must be an http(s) URL, e.g. https://data.angus.ai (got {url!r})"
            )
        elif not config.get("allow_insecure_http") and (problem := insecure_url_problem(name, url)):
            problems.append(problem)
    return problems


def shard_problems(config: Config) -> list[str]:
    count, index = config.get("shard_count") or 1, config.get("shard_index") or 0
    if isinstance(count, int) and isinstance(index, int) and index >= count:
        return [
            f"shard_index ({index}) must be below shard_count ({count}): shards are numbered from 0"
        ]
    return []


def token_file_problems(config: Config) -> list[str]:
    """A configured token file must exist and hold a token: a run without it would look green
    while extracting nothing from that product."""
    problems = []
    for setting in TOKEN_FILE_SETTINGS:
        path = config.get(setting)
        if not isinstance(path, str) or not path:
            continue
        file = Path(path).expanduser()
        if not file.exists():
            problems.append(f"{setting}: {path} does not exist. {eq_login_hint(setting, path)}")
        elif not file.is_file() or not os.access(file, os.R_OK):
            problems.append(f"{setting}: {path} is not a readable file")
        elif not file.read_text(errors="replace").strip():
            problems.append(f"{setting}: {path} is empty. {eq_login_hint(setting, path)}")
    return problems


def batch_problems(config: Config) -> list[str]:
    """BATCH settings singer-sdk would accept and then silently not honour."""
    batch = config.get("batch_config")
    if not isinstance(batch, Mapping):
        return []
    problems = []
    # singer-sdk writes batch files from the records before stream maps and flattening apply.
    if config.get("stream_maps") or config.get("flattening_enabled"):
        problems.append(
            "batch_config cannot be combined with stream_maps or flattening_enabled (batch "
            "files are written before maps apply): remove one of them"
        )
    encoding = batch.get("encoding")
    encoding = encoding if isinstance(encoding, Mapping) else {}
    if encoding.get("format") == "jsonl" and encoding.get("compression") == "none":
        problems.append(
            "batch_config.encoding.compression none is not supported: singer-sdk always "
            "gzips jsonl batch files; set it to gzip"
        )
    if encoding.get("format") == "parquet" and importlib.util.find_spec("pyarrow") is None:
        problems.append(
            "batch_config.encoding.format parquet needs pyarrow, which is not installed: "
            "install it beside the tap, or use jsonl"
        )
    return problems


CHECKS: tuple[Callable[[Config], list[str]], ...] = (
    email_problems,
    coordinate_problems,
    date_range_problems,
    camera_problems,
    url_problems,
    shard_problems,
    token_file_problems,
    batch_problems,
)


def config_problems(config: Config) -> list[str]:
    """Every problem of `config`, one line each, in a stable order."""
    if config.get("sandbox"):
        config = {k: v for k, v in config.items() if k not in SANDBOX_REPLACES}
    return [problem for check in CHECKS for problem in check(config)]
