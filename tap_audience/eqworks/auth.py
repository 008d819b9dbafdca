"""EQ tokens: checked at start, refreshed before they expire, persisted when refreshed.

Tokens come from keywarden's one-time-passcode login (`tap-audience eq-login`) and last 90
days; keywarden's `/refresh` extends a token that is still valid without a passcode. At the
start of a run each configured token is decoded (`exp`), checked with a light `/confirm` and,
when it expires within `eq_refresh_days`, refreshed; a refreshed token is written back to
its token file (temp file + rename, mode 0600) so unattended runs keep working.

Mid-run, a 401/403 `Invalid JWT` (the rule is in `eqworks.connection`) gets one refresh
attempt and one retry; when keywarden refuses the refresh too, the run stops with
instructions instead of looping.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import requests
from requests.auth import AuthBase
from typing_extensions import override

from tap_audience.core.error_rules import Action
from tap_audience.core.errors import AccountCredentialsError, ConfigurationError, VendorError
from tap_audience.core.files import replace_file
from tap_audience.core.http import ApiRequest, VendorClient
from tap_audience.core.jwt_claims import claims_expiry, expires_at, unverified_claims
from tap_audience.core.redaction import REDACTOR
from tap_audience.core.timeutil import utc_now

LOGGER = logging.getLogger("tap_audience.eqworks.auth")


def write_token_file(path: str | Path, token: str) -> None:
    """Replace the file's content atomically: readers see the old or the new token, never half."""
    replace_file(path, token + "\n", mode=0o600)


class EqToken:
    """The current token of one product, shared by every stream and worker that uses it."""

    def __init__(
        self,
        *,
        product: str,
        token: str,
        setting: str,
        keywarden: VendorClient,
        token_file: str | None,
        refresh_within: dt.timedelta,
        on_refreshed: Callable[[str, str], None] | None = None,
    ) -> None:
        """`on_refreshed(setting, token)`: told of every refreshed token (a face that can hand
        the new config back to its platform, like Airbyte's CONTROL message, listens)."""
        self.product = product
        self._on_refreshed = on_refreshed
        self.setting = setting
        self._token = token
        self._keywarden = keywarden
        self._token_file = token_file
        self._refresh_within = refresh_within
        self._lock = threading.Lock()

    @property
    def value(self) -> str:
        return self._token

    def hint(self) -> str:
        if self._token_file:
            command, then = f" --token-file {self._token_file}", "which writes it to that file"
        else:
            command, then = "", f"then put it in {self.setting}"
        return (
            f"Get a new token with `tap-audience eq-login --user <email> --product "
            f"{self.product}{command}` (it mails a one-time passcode), {then}."
        )

    def _what(self) -> str:
        return f"{self.setting} (the EQ {self.product} token)"

    def prepare(self, user: str | None = None) -> None:
        """At start: refuse an expired, rejected or someone else's token; refresh one that
        expires soon."""
        claims = unverified_claims(self._token, what=self._what())
        email = claims.get("email")
        if user and isinstance(email, str) and email.lower() != user.strip().lower():
            raise AccountCredentialsError(
                f"eq_user ({user}) is not the user {self._what()} was issued to ({email}): "
                "set eq_user to that email (or leave it empty to use the token's), or use a "
                "token issued to eq_user"
            )
        expires = claims_expiry(claims)
        if expires is not None and expires <= utc_now():
            raise AccountCredentialsError(
                f"{self._what()} expired on {expires.isoformat()}. {self.hint()}"
            )
        try:
            self._keywarden.request_json(
                ApiRequest(
                    "/confirm",
                    [("light", "1"), ("product", self.product)],
                    headers={"eq-api-jwt": self._token},
                )
            )
        except VendorError as exc:
            if exc.action is Action.URL_PROBLEM:  # not keywarden's answer about the token
                raise ConfigurationError(str(exc)) from None
            raise AccountCredentialsError(
                f"EQ keywarden rejected {self._what()}: {exc.vendor_message}. {self.hint()}"
            ) from None
        if expires is not None and expires - utc_now() <= self._refresh_within:
            LOGGER.info(
                "%s expires on %s (within %s days): refreshing it",
                self._what(),
                expires.date().isoformat(),
                self._refresh_within.days,
            )
            self.refresh(self._token)

    def refresh(self, rejected: str, *, rejected_mid_run: bool = False) -> None:
        """Replace `rejected` with a refreshed token (once, however many workers ask)."""
        with self._lock:
            if self._token != rejected:
                return  # another worker already refreshed it
            if rejected_mid_run:
                LOGGER.warning("EQ rejected the %s token mid-run; refreshing it once", self.product)
            try:
                body = self._keywarden.request_json(
                    ApiRequest(
                        "/refresh",
                        [("product", self.product)],
                        headers={"eq-api-jwt": self._token},
                    )
                )
            except VendorError as exc:
                if exc.action is Action.URL_PROBLEM:
                    raise ConfigurationError(str(exc)) from None
                raise AccountCredentialsError(
                    f"EQ keywarden would not refresh {self._what()} ({exc.vendor_message}): it "
                    f"has expired or been revoked. {self.hint()}"
                ) from None
            token = body.get("token") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                raise AccountCredentialsError(
                    f"EQ keywarden /refresh returned no token. {self.hint()}"
                )
            REDACTOR.register([token])
            self._token = token
            expires = expires_at(token, what=self._what())
            LOGGER.info(
                "refreshed %s; it now expires on %s",
                self._what(),
                expires.date().isoformat() if expires else "never",
            )
            if self._token_file:
                write_token_file(self._token_file, token)
                LOGGER.info("wrote the refreshed token to %s", self._token_file)
            if self._on_refreshed is not None:
                self._on_refreshed(self.setting, token)


class EqTokenAuthenticator(AuthBase):
    """`eq-api-jwt` (and `eq-api-user` for ATOM) from the shared token."""

    def __init__(self, *, token: EqToken, user: str | None) -> None:
        self.token = token
        self._user = user

    @override
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["eq-api-jwt"] = self.token.value
        if self._user:
            request.headers["eq-api-user"] = self._user
        return request

    def reauthenticate(self, response: requests.Response) -> None:
        sent = response.request.headers.get("eq-api-jwt") or ""
        self.token.refresh(str(sent), rejected_mid_run=True)
