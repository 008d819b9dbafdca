"""Angus's wiring for one run: a client per camera stream, each with its own token.

Each camera stream (client_id) has its own JWT, so each gets its own authenticator and
client; all of them share Angus's limits. What Angus's error answers mean is in the two
tables below (the common rules, retry 429/5xx and 404/405 = URL, follow each).
"""

from __future__ import annotations

import threading

from tap_audience.angus.auth import AngusStreamAuthenticator
from tap_audience.angus.settings import AngusSettings
from tap_audience.core.clients import ClientFactory
from tap_audience.core.error_rules import Action, ErrorRules, rule
from tap_audience.core.http import VendorClient

VENDOR = "Angus"

# The Data API: `401 {"code": "expired_jwt"}` is a token that expired early (clock skew, a
# revoked token): one fresh token, one retry (docs/vendors.md A3).
DATA_API_RULES = ErrorRules(
    (rule({401}, Action.REAUTHENTICATE, message_contains=("expired_jwt",)),)
)
# The token endpoint refuses wrong credentials with 400 (DRF validation) or 401/403.
TOKEN_RULES = ErrorRules((rule({400, 401, 403}, Action.CREDENTIALS),))


class AngusConnection:
    def __init__(self, settings: AngusSettings, clients: ClientFactory) -> None:
        self.settings = settings
        self._clients = clients
        self._by_camera: dict[str, VendorClient] = {}
        self._lock = threading.Lock()

    def client(self, client_id: str) -> VendorClient:
        """The Data API client of one camera stream (created on first use)."""
        with self._lock:
            if client_id not in self._by_camera:
                camera = next(c for c in self.settings.cameras if c.client_id == client_id)
                auth = AngusStreamAuthenticator(
                    token_client=self._clients.client(
                        vendor=VENDOR,
                        base_url=self.settings.angus_auth_url,
                        base_url_setting="angus_auth_url",
                        rules=TOKEN_RULES,
                    ),
                    username=self.settings.angus_username or "",
                    client_id=camera.client_id,
                    access_token=camera.access_token,
                )
                self._by_camera[client_id] = self._clients.client(
                    vendor=VENDOR,
                    base_url=self.settings.angus_api_url,
                    base_url_setting="angus_api_url",
                    rules=DATA_API_RULES,
                    auth=auth,
                    limits_group="angus",
                )
            return self._by_camera[client_id]

    def authenticator(self, client_id: str) -> AngusStreamAuthenticator:
        auth = self.client(client_id).auth
        assert isinstance(auth, AngusStreamAuthenticator)
        return auth
