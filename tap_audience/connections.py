"""Shared HTTP plumbing for one run: a session per vendor, one authenticator per credential.

Every stream that reads the same credential shares its client, so the nine insights streams
use one EQ token and each Angus camera gets exactly one token request, however many workers
ask for it.
"""

from __future__ import annotations

import threading

import requests
from requests.adapters import HTTPAdapter

from tap_audience.angus.auth import AngusStreamAuthenticator
from tap_audience.core.errors import ConfigurationError
from tap_audience.core.http import RetryPolicy, VendorClient
from tap_audience.eqworks.auth import EqTokenAuthenticator
from tap_audience.settings import Settings

USER_AGENT = "tap-audience/0.1"


class Connections:
    def __init__(self, settings: Settings, *, pool_size: int = 16) -> None:
        self.settings = settings
        self._pool_size = pool_size
        self._sessions: dict[str, requests.Session] = {}
        self._clients: dict[tuple[str, str], VendorClient] = {}
        self._lock = threading.Lock()

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.settings.max_retries,
            max_wait_seconds=self.settings.max_retry_wait_seconds,
        )

    def _session(self, vendor: str) -> requests.Session:
        if vendor not in self._sessions:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self._pool_size)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = USER_AGENT
            self._sessions[vendor] = session
        return self._sessions[vendor]

    def _client(self, vendor: str, base_url: str, auth: object = None) -> VendorClient:
        return VendorClient(
            vendor=vendor,
            base_url=base_url,
            session=self._session(vendor),
            auth=auth,
            timeout_seconds=self.settings.request_timeout_seconds,
            retry=self.retry_policy,
        )

    def angus(self, client_id: str) -> VendorClient:
        with self._lock:
            key = ("angus", client_id)
            if key not in self._clients:
                camera = next(c for c in self.settings.angus_cameras if c.client_id == client_id)
                auth = AngusStreamAuthenticator(
                    token_client=self._client("Angus", self.settings.angus_auth_url),
                    username=self.settings.angus_username or "",
                    client_id=camera.client_id,
                    access_token=camera.access_token,
                )
                self._clients[key] = self._client("Angus", self.settings.angus_api_url, auth)
            return self._clients[key]

    def atom(self) -> VendorClient:
        return self._eq_client(
            "atom", self.settings.eq_jwt, "eq_jwt", self.settings.eq_api_url, "EQ ATOM"
        )

    def locus(self) -> VendorClient:
        return self._eq_client(
            "locus", self.settings.locus_jwt, "locus_jwt", self.settings.locus_api_url, "EQ LOCUS"
        )

    def _eq_client(
        self, product: str, token: str | None, setting: str, base_url: str, vendor: str
    ) -> VendorClient:
        with self._lock:
            key = ("eq", product)
            if key not in self._clients:
                if not token:
                    raise ConfigurationError(f"{setting} is not set")
                auth = EqTokenAuthenticator(
                    token=token,
                    # LOCUS identifies the user from the token alone.
                    user=self.settings.eq_user if product == "atom" else None,
                    product=product,
                    setting=setting,
                    auth_url=self.settings.eq_auth_url,
                )
                auth.check_not_expired()
                self._clients[key] = self._client(vendor, base_url, auth)
            return self._clients[key]

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
