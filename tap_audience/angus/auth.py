"""One JWT per Angus camera stream, from `POST /api-token-authstream/`.

The token is reused until shortly before its `exp` claim (read without verifying: the tap
cannot verify it and only needs the time). A 401 `expired_jwt` (clock skew, a revoked
token) triggers one re-authentication and one retry, as Angus's own dashboard does (the
rule is in `angus.connection`); the lock makes concurrent workers share a single token
request.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

import requests
from requests.auth import AuthBase
from typing_extensions import override

from tap_audience.core.error_rules import Action
from tap_audience.core.errors import CredentialsError, VendorError
from tap_audience.core.http import ApiRequest, VendorClient
from tap_audience.core.jwt_claims import expires_at
from tap_audience.core.timeutil import utc_now

LOGGER = logging.getLogger("tap_audience.angus.auth")

TOKEN_PATH = "/api-token-authstream/"  # noqa: S105 - a path, not a password
REFRESH_MARGIN = dt.timedelta(minutes=5)


class AngusStreamAuthenticator(AuthBase):
    """Bearer auth for one camera stream (client_id), re-authenticating before expiry."""

    def __init__(
        self, *, token_client: VendorClient, username: str, client_id: str, access_token: str
    ) -> None:
        self._token_client = token_client
        self._username = username
        self.client_id = client_id
        self._access_token = access_token
        self._token: str | None = None
        self._expires: dt.datetime | None = None
        self._lock = threading.Lock()

    def current_token(self) -> str:
        with self._lock:
            if self._token is None or (
                self._expires is not None and utc_now() >= self._expires - REFRESH_MARGIN
            ):
                self._token = self._fetch_token()
                self._expires = expires_at(
                    self._token, what=f"the Angus token for camera stream {self.client_id}"
                )
            return self._token

    @override
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.current_token()}"
        return request

    def reauthenticate(self, response: requests.Response) -> None:
        sent = (response.request.headers.get("Authorization") or "").removeprefix("Bearer ")
        with self._lock:
            # Another worker may already have replaced the token that failed: log it once.
            if self._token == sent:
                self._token = None
                LOGGER.info(
                    "Angus token for camera stream %s expired; re-authenticating", self.client_id
                )

    def _fetch_token(self) -> str:
        request = ApiRequest(
            path=TOKEN_PATH,
            method="POST",
            json_body={
                "username": self._username,
                "client_id": self.client_id,
                "access_token": self._access_token,
            },
        )
        try:
            body = self._token_client.request_json(request)
        except VendorError as exc:
            if exc.action is Action.CREDENTIALS:
                raise CredentialsError(
                    f"Angus rejected the credentials of camera stream {self.client_id} "
                    f"({exc.vendor_message}). Check angus_username and this stream's "
                    "client_id/access_token in the Angus console (Streams page)."
                ) from None
            raise
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise CredentialsError(
                f"Angus {TOKEN_PATH} answered without a token for camera stream {self.client_id}"
            )
        return token
