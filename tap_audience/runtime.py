"""What one run of the tap shares: resolved settings, HTTP connections, maybe a sandbox."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from tap_audience.connections import Connections
from tap_audience.core.fetch import ConcurrentFetcher, Fetcher, SequentialFetcher
from tap_audience.core.redaction import REDACTOR
from tap_audience.core.report import RunReport
from tap_audience.eqworks.insights import INSIGHT_DIMENSIONS
from tap_audience.settings import Settings

LOGGER = logging.getLogger("tap_audience")

ATOM_STREAMS = {"eq_campaigns", *(f"eq_{dimension}" for dimension in INSIGHT_DIMENSIONS)}

SANDBOX_KEYS = (
    "angus_username",
    "angus_streams",
    "angus_auth_url",
    "angus_api_url",
    "eq_user",
    "eq_jwt",
    "locus_jwt",
    "eq_campaign_ids",
    "locus_coords",
    "eq_auth_url",
    "eq_api_url",
    "locus_api_url",
)


class Runtime:
    def __init__(self, config: Mapping[str, Any]) -> None:
        self.sandbox: Any = None
        effective = dict(config)
        if config.get("sandbox"):
            from tap_audience.sandbox import Sandbox

            self.sandbox = Sandbox(seed=int(config.get("sandbox_seed") or 0))
            self.sandbox.start()
            credentials = self.sandbox.credentials()
            effective.update({key: credentials[key] for key in SANDBOX_KEYS})
            LOGGER.info("sandbox: serving both vendors at %s", self.sandbox.base_url)
        self.settings = Settings.from_config(effective)
        REDACTOR.register(self.settings.secrets())
        self.report = RunReport()
        self.connections = Connections(self.settings, on_retry=self.report.count_retry)
        workers = self.settings.max_concurrency
        self.fetcher: Fetcher = ConcurrentFetcher(workers) if workers > 1 else SequentialFetcher()

    def preflight(self, streams: Iterable[str]) -> None:
        """Check (and refresh) each EQ token the selected streams need, before any data moves."""
        names = set(streams)
        if self.settings.eq_jwt and names & ATOM_STREAMS:
            self.connections.eq_token("atom")
        if self.settings.locus_jwt and self.settings.locus_coords and "locus_hh_segments" in names:
            self.connections.eq_token("locus")

    def close(self) -> None:
        self.connections.close()  # first: requests still queued give up instead of retrying
        self.fetcher.close()
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None
