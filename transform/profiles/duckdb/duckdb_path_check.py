"""A dbt-duckdb plugin that checks the profile's `path` before DuckDB opens it.

DuckDB creates a missing file but not a missing folder: `duckdb.connect` then raises an
IOException that dbt-duckdb does not turn into a dbt error, and dbt prints three tracebacks.
This plugin (profiles.yml: `plugins`, loaded from `module_paths`) runs inside dbt-duckdb when
it sets up its connection, so it works wherever dbt runs (`meltano invoke dbt-duckdb:build`,
`meltano run ... dbt-duckdb:build`, dbt itself): a missing folder becomes one line naming the
path and the fix, and dbt exits non-zero.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

from dbt.adapters.duckdb.plugins import BasePlugin


class Plugin(BasePlugin):  # type: ignore[misc]
    """Refuses a DuckDB path whose folder does not exist (named by dbt-duckdb: `Plugin`)."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        path = str(self.creds.path) if self.creds is not None else ":memory:"
        if path == ":memory:" or urlparse(path).scheme not in ("", "file"):
            return  # in memory, MotherDuck (md:), a URL: no local folder to check
        folder = os.path.dirname(os.path.abspath(urlparse(path).path))
        if not os.path.isdir(folder):
            # A RuntimeError: dbt-duckdb reports it as a failed connection, message only.
            raise RuntimeError(
                f"tap_audience: the DuckDB file {path} cannot be opened: its folder {folder} "
                "does not exist. Set dbt-duckdb's path to the file target-duckdb loads "
                "(meltano config set dbt-duckdb path ...), or create the folder "
                f"(mkdir -p {folder}) and run the load first."
            )
