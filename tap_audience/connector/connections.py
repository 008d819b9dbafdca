"""Shared HTTP plumbing for one run: a session per vendor, one authenticator per credential.

Every stream that reads the same credential shares its client, so the nine insights streams
use one EQ token and each Angus camera gets exactly one token request, however many workers
ask for it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from requests.adapters import HTTPAdapter

from tap_audience.angus.auth import AngusStreamAuthenticator
from tap_audience.connector.settings import Settings
from tap_audience.core.errors import ConfigurationError, TapAudienceError
from tap_audience.core.http import RetryPolicy, VendorClient
from tap_audience.core.limits import VendorLimits
from tap_audience.core.origins import SameOriginSession
from tap_audience.eqworks.auth import EqToken, EqTokenAuthenticator
from tap_audience.eqworks.campaigns import Campaign, CampaignDirectory

USER_AGENT = "tap-audience/0.1"


@dataclass(frozen=True)
class EqProduct:
    """What differs between the two EQ products: which settings and which API."""

    product: str
    setting: str
    token: str | None = field(repr=False)
    token_file: str | None
    user: str | None  # sent as eq-api-user (ATOM only)
    url_setting: str
    vendor: str


LOGGER = logging.getLogger("tap_audience.connector.connections")


class Connections:
    def __init__(
        self,
        settings: Settings,
        *,
        pool_size: int = 64,
        on_retry: Callable[[str], None] | None = None,
        retry_unreachable: bool = True,
    ) -> None:
        self.settings = settings
        self._retry_unreachable = retry_unreachable
        self._on_retry = on_retry
        self._pool_size = pool_size
        self._sessions: dict[str, requests.Session] = {}
        self._clients: dict[tuple[str, str], VendorClient] = {}
        self._eq_tokens: dict[str, EqToken] = {}
        self._vendor_limits: dict[str, VendorLimits] = {}
        self.stopping = threading.Event()
        self._campaigns: CampaignDirectory | None = None
        self._zone_warning_logged = False
        self._lock = threading.Lock()

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.settings.max_retries,
            max_wait_seconds=self.settings.max_retry_wait_seconds,
            retry_unreachable=self._retry_unreachable,
        )

    def _session(self, vendor: str) -> requests.Session:
        if vendor not in self._sessions:
            session = SameOriginSession()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self._pool_size)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = USER_AGENT
            self._sessions[vendor] = session
        return self._sessions[vendor]

    def _limits(self, family: str) -> VendorLimits:
        if family not in self._vendor_limits:
            self._vendor_limits[family] = VendorLimits(
                self.settings.max_concurrency, self.settings.max_requests_per_second
            )
        return self._vendor_limits[family]

    def _client(
        self, vendor: str, url_setting: str, auth: object = None, family: str | None = None
    ) -> VendorClient:
        """A client of the base URL in setting `url_setting`. `family` groups the clients that
        share one vendor's limits. Token endpoints have none: a worker holding a data slot may
        need a token, and must not wait for a slot."""
        return VendorClient(
            vendor=vendor,
            base_url=getattr(self.settings, url_setting),
            base_url_setting=url_setting,
            session=self._session(vendor),
            auth=auth,
            timeout_seconds=self.settings.request_timeout_seconds,
            retry=self.retry_policy,
            on_retry=self._on_retry,
            limits=self._limits(family) if family else None,
            stopping=self.stopping,
        )

    def angus(self, client_id: str) -> VendorClient:
        with self._lock:
            key = ("angus", client_id)
            if key not in self._clients:
                camera = next(c for c in self.settings.angus_cameras if c.client_id == client_id)
                auth = AngusStreamAuthenticator(
                    token_client=self._client("Angus", "angus_auth_url"),
                    username=self.settings.angus_username or "",
                    client_id=camera.client_id,
                    access_token=camera.access_token,
                )
                self._clients[key] = self._client("Angus", "angus_api_url", auth, family="angus")
            return self._clients[key]

    def atom(self) -> VendorClient:
        return self._eq_client("atom")

    def locus(self) -> VendorClient:
        return self._eq_client("locus")

    def _eq_product(self, product: str) -> EqProduct:
        settings = self.settings
        if product == "atom":
            return EqProduct(
                product="atom",
                setting="eq_jwt",
                token=settings.eq_jwt,
                token_file=settings.eq_token_file,
                user=settings.eq_user,
                url_setting="eq_api_url",
                vendor="EQ ATOM",
            )
        return EqProduct(
            product="locus",
            setting="locus_jwt",
            token=settings.locus_jwt,
            token_file=settings.locus_token_file,
            user=None,  # LOCUS identifies the user from the token alone
            url_setting="locus_api_url",
            vendor="EQ LOCUS",
        )

    def eq_token(self, product: str) -> EqToken:
        """The product's token, checked (and refreshed if it expires soon) on first use."""
        spec = self._eq_product(product)
        with self._lock:
            if product not in self._eq_tokens:
                if not spec.token:
                    raise ConfigurationError(f"{spec.setting} is not set")
                eq_token = EqToken(
                    product=product,
                    token=spec.token,
                    setting=spec.setting,
                    keywarden=self._client("EQ keywarden", "eq_auth_url"),
                    token_file=spec.token_file,
                    refresh_within=dt.timedelta(days=self.settings.eq_refresh_days),
                )
                eq_token.prepare(spec.user)
                self._eq_tokens[product] = eq_token
            return self._eq_tokens[product]

    def _eq_client(self, product: str) -> VendorClient:
        token = self.eq_token(product)
        spec = self._eq_product(product)
        with self._lock:
            key = ("eq", product)
            if key not in self._clients:
                auth = EqTokenAuthenticator(token=token, user=spec.user)
                self._clients[key] = self._client(spec.vendor, spec.url_setting, auth, family="eq")
            return self._clients[key]

    def campaigns(self) -> CampaignDirectory:
        client = self.atom()  # outside the lock: it takes the lock itself
        with self._lock:
            if self._campaigns is None:
                self._campaigns = CampaignDirectory(client)
            return self._campaigns

    def campaign(self, campaign_id: int) -> Campaign | None:
        """The campaign's dates and time zone from the campaign list, if it can say."""
        try:
            return self.campaigns().campaigns().get(campaign_id)
        except TapAudienceError as exc:
            if not self._zone_warning_logged:
                self._zone_warning_logged = True
                LOGGER.warning("campaign list unavailable (%s): using UTC dates", exc)
            return None

    def close(self) -> None:
        self.stopping.set()
        for session in self._sessions.values():
            session.close()
