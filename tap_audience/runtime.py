"""What one run of the tap shares: resolved settings, HTTP connections, maybe a sandbox."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tap_audience.connections import Connections
from tap_audience.core.redaction import REDACTOR
from tap_audience.settings import Settings

LOGGER = logging.getLogger("tap_audience")

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
        self.connections = Connections(self.settings)

    def close(self) -> None:
        self.connections.close()
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None
