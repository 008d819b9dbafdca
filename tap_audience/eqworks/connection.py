"""EQ Works' wiring for one run: one token per product, its clients, the campaign directory.

EQ tokens are scoped to one product: ATOM (overseer: campaigns and insights) and LOCUS each
have their own token, checked (and refreshed if it expires soon) on first use and shared by
every stream and worker that reads that product. Both products share EQ's limits. What EQ's
error answers mean is in the tables below (the common rules, retry 429/5xx and 404/405 =
URL, follow each).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from tap_audience.core.clients import ClientFactory
from tap_audience.core.error_rules import Action, ErrorRules, rule
from tap_audience.core.errors import ConfigurationError, TapAudienceError
from tap_audience.core.http import VendorClient
from tap_audience.eqworks.auth import EqToken, EqTokenAuthenticator
from tap_audience.eqworks.campaign_list import Campaign, CampaignDirectory
from tap_audience.eqworks.settings import EqSettings

LOGGER = logging.getLogger("tap_audience.eqworks.connection")

ATOM_VENDOR = "EQ ATOM"
LOCUS_VENDOR = "EQ LOCUS"
KEYWARDEN_VENDOR = "EQ keywarden"

# keywarden and overseer answer a bad or expired token `Invalid JWT...`, LOCUS's API Gateway
# authorizer an explicit deny (or a bare "Unauthorized"): one refresh, one retry
# (docs/vendors.md B2.6, B6).
TOKEN_REJECTED = rule(
    {401, 403},
    Action.REAUTHENTICATE,
    message_contains=("invalid jwt", "explicit deny"),
    message_is=("unauthorized",),
)
# A campaign the account cannot read: a config mistake the user should see, not a skip
# (docs/vendors.md C12).
UNREADABLE_CAMPAIGN = rule(
    {403, 404},
    Action.FAIL_PARTITION,
    path_prefix="/beta/insights/",
    explain="{error}. Check that ATOM campaign {campaign_id} exists and this account may "
    "read it, or remove it from eq_campaign_ids",
)
# Entitlement is per territory: a coordinate outside it costs only itself (docs/vendors.md C13).
COORDINATE_NOT_ENTITLED = rule(
    {403},
    Action.NOT_ENTITLED,
    message_contains=("access not allowed",),
    explain="LOCUS refused coordinate {coords} (Access not allowed): this account is not "
    "entitled to household segments there",
)
ATOM_RULES = ErrorRules((TOKEN_REJECTED, UNREADABLE_CAMPAIGN))
LOCUS_RULES = ErrorRules((TOKEN_REJECTED, COORDINATE_NOT_ENTITLED))
# keywarden's own answers about a token are read by `EqToken` (refused: the run stops).
KEYWARDEN_RULES = ErrorRules(())


@dataclass(frozen=True)
class EqProduct:
    """What differs between the two EQ products: which settings and which API."""

    product: str  # as keywarden names it
    setting: str  # the inline token's setting
    token_file_setting: str
    url_setting: str
    vendor: str
    rules: ErrorRules


ATOM = EqProduct("atom", "eq_jwt", "eq_token_file", "eq_api_url", ATOM_VENDOR, ATOM_RULES)
LOCUS = EqProduct(
    "locus", "locus_jwt", "locus_token_file", "locus_api_url", LOCUS_VENDOR, LOCUS_RULES
)
PRODUCTS = {product.product: product for product in (ATOM, LOCUS)}


class EqConnection:
    def __init__(
        self,
        settings: EqSettings,
        clients: ClientFactory,
        *,
        on_token_refreshed: Callable[[str, str], None] | None = None,
    ) -> None:
        """`on_token_refreshed(setting, token)`: told of every token refreshed in this run."""
        self.settings = settings
        self._on_token_refreshed = on_token_refreshed
        self._clients = clients
        self._tokens: dict[str, EqToken] = {}
        self._product_clients: dict[str, VendorClient] = {}
        self._campaigns: CampaignDirectory | None = None
        self._zone_warning_logged = False
        self._lock = threading.Lock()

    def _token_value(self, product: EqProduct) -> str | None:
        return self.settings.atom_token if product is ATOM else self.settings.locus_token

    def _token_file(self, product: EqProduct) -> str | None:
        return self.settings.eq_token_file if product is ATOM else self.settings.locus_token_file

    def _user(self, product: EqProduct) -> str | None:
        # eq-api-user goes to ATOM only: LOCUS identifies the user from the token alone.
        return self.settings.user if product is ATOM else None

    def _base_url(self, product: EqProduct) -> str:
        return self.settings.eq_api_url if product is ATOM else self.settings.locus_api_url

    def eq_token(self, product_name: str) -> EqToken:
        """The product's token, checked (and refreshed if it expires soon) on first use."""
        product = PRODUCTS[product_name]
        with self._lock:
            if product_name not in self._tokens:
                value = self._token_value(product)
                if not value:
                    raise ConfigurationError(f"{product.setting} is not set")
                token = EqToken(
                    product=product.product,
                    token=value,
                    setting=product.setting,
                    keywarden=self._clients.client(
                        vendor=KEYWARDEN_VENDOR,
                        base_url=self.settings.eq_auth_url,
                        base_url_setting="eq_auth_url",
                        rules=KEYWARDEN_RULES,
                    ),
                    token_file=self._token_file(product),
                    refresh_within=dt.timedelta(days=self.settings.eq_refresh_days),
                    on_refreshed=self._on_token_refreshed,
                )
                token.prepare(self._user(product))
                self._tokens[product_name] = token
            return self._tokens[product_name]

    def _client(self, product: EqProduct) -> VendorClient:
        token = self.eq_token(product.product)  # outside the lock: it takes the lock itself
        with self._lock:
            if product.product not in self._product_clients:
                self._product_clients[product.product] = self._clients.client(
                    vendor=product.vendor,
                    base_url=self._base_url(product),
                    base_url_setting=product.url_setting,
                    rules=product.rules,
                    auth=EqTokenAuthenticator(token=token, user=self._user(product)),
                    limits_group="eq",
                )
            return self._product_clients[product.product]

    def atom(self) -> VendorClient:
        return self._client(ATOM)

    def locus(self) -> VendorClient:
        return self._client(LOCUS)

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
