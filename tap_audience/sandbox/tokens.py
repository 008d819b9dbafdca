"""JWT minting and checking for both vendors (HS256 with per-seed sandbox secrets).

Expiry is checked against REAL wall-clock time (PyJWT uses ``time.time()``), never the data
clock: the tap decides when to re-authenticate by comparing ``exp`` with the real clock.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

import jwt

from .det import digest

EQ_TOKEN_TTL = 90 * 86400  # keywarden's JWT_TTL (docs/vendors.md B3)


class TokenExpired(Exception):
    """The signature is valid but ``exp`` has passed."""


class TokenInvalid(Exception):
    """Garbage, wrong signature, wrong algorithm or missing ``exp``."""


def secret_for(seed: int, vendor: str) -> str:
    # 64 hex chars: PyJWT warns about HMAC keys shorter than 32 bytes, and pytest turns
    # warnings into errors in this project.
    return digest(seed, "jwt-secret", vendor).hex()


def sign(claims: dict[str, Any], secret: str) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


@lru_cache(maxsize=4096)
def _signed_claims(token: str, secret: str) -> dict[str, Any]:
    """Signature check only. Cached: a sync reuses one token for thousands of pages, and
    PyJWT's decode is a visible share of the per-page cost in the benchmark."""
    try:
        # No iat check: keywarden's jsonwebtoken does not reject a future iat, and tokens minted
        # just after an expire_tokens fault are stamped up to 1 s ahead (see SandboxState).
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["exp"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise TokenInvalid(str(exc)) from exc
    if not isinstance(claims["exp"], int | float) or isinstance(claims["exp"], bool):
        raise TokenInvalid("exp must be a number")
    return claims


def verify(token: str, secret: str) -> dict[str, Any]:
    """Claims of a well-signed, unexpired token (expiry against real time, as PyJWT does)."""
    claims = _signed_claims(token, secret)
    if claims["exp"] <= time.time():
        raise TokenExpired("Signature has expired")
    return dict(claims)  # callers must not be able to alter the cached copy


def issued_at(token: str, secret: str, claim: str) -> int | None:
    """The issue time (``orig_iat`` for Angus, ``iat`` for EQ) of a well-signed token, else None.

    Expiry is not checked: the expire_tokens fault asks "issued before the fault?" of tokens
    whose real expiry is still the vendor handler's business.
    """
    try:
        value = _signed_claims(token, secret).get(claim)
    except TokenInvalid:
        return None
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def angus_claims(
    username: str, user_id: int, client_id: str, ttl_seconds: int, *, now: int | None = None
) -> dict[str, Any]:
    """djangorestframework-jwt payload plus ``client_id`` (docs/vendors.md A3); no ``iat``."""
    now = int(time.time()) if now is None else now
    return {
        "username": username,
        "orig_iat": now,
        "exp": now + ttl_seconds,
        "client_id": client_id,
        "user_id": user_id,
        "email": username,
    }


def eq_claims(
    email: str,
    api_access: dict[str, Any],
    jwt_uuid: str,
    prefix: str,
    product: str,
    *,
    ttl_seconds: int = EQ_TOKEN_TTL,
    now: int | None = None,
) -> dict[str, Any]:
    """keywarden ``signJWT`` payload (docs/vendors.md B3)."""
    now = int(time.time()) if now is None else now
    return {
        "email": email,
        "api_access": api_access,
        "jwt_uuid": jwt_uuid,
        "prefix": prefix,
        "product": product,
        "iat": now,
        "exp": now + ttl_seconds,
    }
