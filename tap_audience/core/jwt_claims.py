"""Read a JWT's claims without verifying it: the tap only needs `exp` to plan re-auth."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jwt

from tap_audience.core.errors import CredentialsError
from tap_audience.core.timeutil import UTC


def unverified_claims(token: str, *, what: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
    except jwt.PyJWTError:
        raise CredentialsError(
            f"{what} is not a valid JWT (it should look like three base64 parts joined by dots)"
        ) from None
    return dict(claims)


def claims_expiry(claims: dict[str, Any]) -> dt.datetime | None:
    exp = claims.get("exp")
    if not isinstance(exp, int | float):
        return None
    return dt.datetime.fromtimestamp(exp, UTC)


def expires_at(token: str, *, what: str) -> dt.datetime | None:
    return claims_expiry(unverified_claims(token, what=what))
