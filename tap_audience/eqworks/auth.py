"""EQ authentication: a JWT from config sent as `eq-api-jwt` (plus `eq-api-user` for ATOM).

Tokens come from keywarden's one-time-passcode login and last 90 days. The tap reads the
token's `exp` at start and refuses an expired token with instructions, instead of letting
every request fail with keywarden's 403 `Invalid JWT`.
"""

from __future__ import annotations

import requests
from singer_sdk.authenticators import APIAuthenticatorBase

from tap_audience.core.errors import CredentialsError
from tap_audience.core.jwt_claims import expires_at
from tap_audience.core.timeutil import utc_now

LOGIN_HINT = (
    "Get a new token with the EQ one-time-passcode login: GET {auth_url}/login?user=<email>"
    "&product={product}, then GET {auth_url}/verify?user=<email>&otp=<code from the email>"
    "&product={product}, and put the returned token in {setting}."
)


class EqTokenAuthenticator(APIAuthenticatorBase):
    """Static EQ headers for one product's token."""

    def __init__(
        self, *, token: str, user: str | None, product: str, setting: str, auth_url: str
    ) -> None:
        super().__init__()
        self.product = product
        self._token = token
        self._user = user
        self._setting = setting
        self._auth_url = auth_url

    def check_not_expired(self) -> None:
        expires = expires_at(self._token, what=f"{self._setting} (the EQ {self.product} token)")
        if expires is not None and expires <= utc_now():
            hint = LOGIN_HINT.format(
                auth_url=self._auth_url, product=self.product, setting=self._setting
            )
            raise CredentialsError(
                f"{self._setting} (the EQ {self.product} token) expired on "
                f"{expires.isoformat()}. {hint}"
            )

    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["eq-api-jwt"] = self._token
        if self._user:
            request.headers["eq-api-user"] = self._user
        return request
