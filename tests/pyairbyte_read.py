"""Run by PyAirbyte's own interpreter (.venv-pyairbyte), never imported by the test suite.

    .venv-pyairbyte/bin/python tests/pyairbyte_read.py CONFIG EXECUTABLE CACHE OUT [--check]

PyAirbyte runs the connector as a local executable, reads every stream into its DuckDB
cache (`CACHE`; a second call reads again from the state PyAirbyte stored there), and
writes to `OUT` what the cache holds, per stream, plus the state messages PyAirbyte keeps.
`--check` runs PyAirbyte's connection check first (it raises if the check fails).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import sys

# Before `import airbyte`: otherwise PyAirbyte looks the connector up in its online registry.
os.environ["AIRBYTE_OFFLINE_MODE"] = "1"
os.environ.setdefault("DO_NOT_TRACK", "1")

import airbyte as ab
from airbyte.caches import DuckDBCache


def plain(value):
    """A cache value as the connector's record has it (date-times as aware UTC text)."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def main() -> None:
    config_path, executable, cache_path, out_path = sys.argv[1:5]
    with open(config_path) as handle:
        config = json.load(handle)
    source = ab.get_source("source-audience", config=config, local_executable=executable)
    if "--check" in sys.argv[5:]:
        source.check()
    source.select_all_streams()
    cache = DuckDBCache(db_path=cache_path, schema_name="main")
    source.read(cache=cache)
    records = {
        stream: [
            {
                key: plain(value)
                for key, value in dict(row).items()
                if not key.startswith("_airbyte")
            }
            for row in cache[stream]
        ]
        for stream in source.get_selected_streams()
    }
    provider = cache.get_state_provider(source_name="source-audience")
    states = [state.model_dump(mode="json") for state in provider.state_message_artifacts]
    with open(out_path, "w") as handle:
        json.dump({"records": records, "states": states}, handle)


if __name__ == "__main__":
    main()
