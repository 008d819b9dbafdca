"""What one run of the connector shares: settings, clients, vendor connections, endpoints,
the fetcher, the run report, maybe a sandbox. Protocol-neutral: a face (Singer) drives it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tap_audience.angus.connection import AngusConnection
from tap_audience.connector import endpoints
from tap_audience.connector.sandbox_guard import given, no_environment_hint
from tap_audience.connector.settings import (
    JOB_INDEX_VARIABLE,
    SANDBOX_REPLACES,
    Settings,
    with_job_index,
)
from tap_audience.core.clients import ClientFactory
from tap_audience.core.endpoint import Endpoint
from tap_audience.core.errors import ConfigurationError
from tap_audience.core.fetch import ConcurrentFetcher, Fetcher, SequentialFetcher
from tap_audience.core.redaction import REDACTOR
from tap_audience.core.report import RunReport
from tap_audience.core.shards import ShardPlan
from tap_audience.eqworks.connection import ATOM_VENDOR, LOCUS_VENDOR, EqConnection

LOGGER = logging.getLogger("tap_audience")


class Runtime:
    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        probing: bool = False,
        on_token_refreshed: Callable[[str, str], None] | None = None,
    ) -> None:
        """`probing`: a connection test, where an unreachable host is reported at once.
        `on_token_refreshed(setting, token)`: told of every EQ token refreshed in this run."""
        self.sandbox: Any = None
        effective = with_job_index(config)
        if effective.get("shard_index") != config.get("shard_index"):
            LOGGER.info(
                "shard_index %s from %s (a Kubernetes Indexed Job)",
                effective["shard_index"],
                JOB_INDEX_VARIABLE,
            )
        if config.get("sandbox"):
            from tap_audience.sandbox import Sandbox

            self.sandbox = Sandbox(seed=int(config.get("sandbox_seed") or 0))
            self.sandbox.start()
            credentials = self.sandbox.credentials()
            # Credentials and URLs never get here (`sandbox_guard`): what is left chooses
            # partitions, which the emulator's own replace.
            if replaced := [key for key in SANDBOX_REPLACES if given(config, key)]:
                LOGGER.warning(
                    "sandbox: true replaces settings you gave with the emulator's: %s",
                    ", ".join(replaced),
                )
            effective.update({key: credentials.get(key) for key in SANDBOX_REPLACES})
            LOGGER.info("sandbox: serving both vendors at %s", self.sandbox.base_url)
        self.settings = Settings.from_config(effective)
        REDACTOR.register(self.settings.secrets())
        self.report = RunReport()
        self.clients = ClientFactory(
            self.settings.run, on_retry=self.report.count_retry, retry_unreachable=not probing
        )
        self.angus = AngusConnection(self.settings.angus, self.clients)
        self.eq = EqConnection(
            self.settings.eq, self.clients, on_token_refreshed=on_token_refreshed
        )
        self.endpoints: dict[str, Endpoint] = endpoints.build(self.settings, self.angus, self.eq)
        run = self.settings.run
        self.shard_plan: ShardPlan | None = None
        if run.shard_count > 1:
            self.shard_plan = ShardPlan(
                run.shard_count, run.shard_index, self.endpoints, self.report
            )
            for endpoint in self.endpoints.values():
                endpoint.shard_plan = self.shard_plan
        workers = self.settings.run.max_concurrency
        self.fetcher: Fetcher = ConcurrentFetcher(workers) if workers > 1 else SequentialFetcher()

    def configured_vendors(self) -> set[str]:
        """The vendors whose credentials (and partitions, for LOCUS) are set."""
        angus, eq, vendors = self.settings.angus, self.settings.eq, set()
        if angus.cameras:
            vendors.add("Angus")
        if eq.atom_token:
            vendors.add(ATOM_VENDOR)
        if eq.locus_token and eq.locus_coords:
            vendors.add(LOCUS_VENDOR)
        return vendors

    def require_a_vendor(self, selected_vendors: set[str]) -> None:
        """Refuse a sync that could only extract nothing (it would look green and store a state)."""
        if not self.configured_vendors() & selected_vendors:
            raise ConfigurationError(
                "nothing to extract: no vendor of the selected streams is configured. Set "
                "angus_username and angus_streams (Angus), eq_jwt or eq_token_file (EQ ATOM), "
                "locus_jwt or locus_token_file and locus_coords (EQ LOCUS), or sandbox: true to "
                "try the built-in emulator" + no_environment_hint()
            )

    def preflight(self, streams: Iterable[str]) -> None:
        """Before any data moves: check (and refresh) each EQ token the selected streams need,
        then, in a sharded run, assign their partitions to the shards (`core.shards`)."""
        names = list(streams)
        vendors = {self.endpoints[name].vendor for name in names}
        eq = self.settings.eq
        if eq.atom_token and ATOM_VENDOR in vendors:
            self.eq.eq_token("atom")
        if eq.locus_token and eq.locus_coords and LOCUS_VENDOR in vendors:
            self.eq.eq_token("locus")
        if self.shard_plan is not None:
            # Over the selected streams only: a group's weight is what this run syncs of it.
            self.shard_plan.decide(names)

    def close(self) -> None:
        self.clients.close()  # first: requests still queued give up instead of retrying
        self.fetcher.close()
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None
