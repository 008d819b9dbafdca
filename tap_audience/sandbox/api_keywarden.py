"""keywarden (EQ auth) under ``/eq-auth/prod``: login, verify, confirm, refresh (B2, B3).

Every route is a GET with query parameters; errors are ``{message, statusCode, logLevel}``, and
bad or expired tokens get 403 with the token echoed back, exactly as keywarden does.
"""

from __future__ import annotations

import time
from typing import Any

from . import tokens
from .http_types import Request, Response, json_response, text_response
from .state import EQ_PRODUCTS, SandboxState


def _error(status: int, message: str, level: str = "WARNING") -> Response:
    return json_response(status, {"message": message, "statusCode": status, "logLevel": level})


def _missing(name: str) -> Response:
    return _error(400, f"Missing '{name}' in query string parameters")


def _flag(req: Request, name: str) -> bool:
    return (req.arg(name) or "").lower() in ("1", "true")


def _access(claims_or_user_access: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {**claims_or_user_access, "prefix": prefix}


def _humanize(millis: int) -> str:
    """moment.js ``duration.humanize()`` thresholds, as keywarden's ``ttl.friendly`` uses."""
    s = millis / 1000
    if s < 45:
        return "a few seconds"
    if s < 90:
        return "a minute"
    for limit, unit, size, single in (
        (45 * 60, "minutes", 60, "a minute"),
        (22 * 3600, "hours", 3600, "an hour"),
        (26 * 86400, "days", 86400, "a day"),
        (320 * 86400, "months", 30.4 * 86400, "a month"),
    ):
        if s < limit:
            n = round(s / size)
            return single if n <= 1 else f"{n} {unit}"
    years = round(s / (365 * 86400))
    return "a year" if years <= 1 else f"{years} years"


def handle(state: SandboxState, req: Request, sub: str) -> Response:
    route = sub.rstrip("/")
    if req.method == "GET" and route == "":
        return json_response(200, {"STAGE": "prod", "KEYWARDEN_VER": "sandbox"})
    handlers = {"/login": _login, "/verify": _verify, "/confirm": _confirm, "/refresh": _refresh}
    target = handlers.get(route)
    if target is None or req.method != "GET":
        # Express's default 404 page for unknown routes/methods.
        return text_response(404, f"Cannot {req.method} /prod{sub}")
    return target(state, req)


def _product(req: Request, name: str = "product") -> str | Response:
    product = (req.arg(name) or "atom").strip().lower()
    if product not in EQ_PRODUCTS:
        return _error(400, f"Invalid product {product}")
    return product


def _login(state: SandboxState, req: Request) -> Response:
    email = (req.arg("user") or "").strip().lower()
    if not email:
        return _missing("user")
    product = _product(req)
    if isinstance(product, Response):
        return product
    if email not in state.eq_users:
        return _error(404, f"User {email} not found")
    state.issue_otp(email, product)
    return json_response(
        200, {"message": f"Login passcode sent to {email} through email", "user": email}
    )


def _verify(state: SandboxState, req: Request) -> Response:
    email = (req.arg("user") or "").strip().lower()
    otp = (req.arg("otp") or "").strip()
    if not email or not otp:
        return _missing("otp" if email else "user")
    product = _product(req)
    if isinstance(product, Response):
        return product
    user = state.eq_users.get(email)
    if user is None:
        return _error(404, f"User {email} not found")
    outcome = state.redeem_otp(email, otp)
    if outcome == "missing":
        return _error(403, f"No OTP to redeem for user {email}")
    if outcome == "invalid":
        return _error(403, f"Invalid OTP for user {email}")
    if _flag(req, "reset_uuid"):
        state.rotate_uuid(email)
    return json_response(
        200,
        {
            "message": f"User {email} verified, please store and use the token responsibly",
            "email": email,
            "user": email,
            "token": state.mint_eq_token(email, product),
            "product": product,
            "access": _access(user.api_access(), user.prefix),
        },
    )


def _checked_claims(state: SandboxState, req: Request, light: bool) -> dict[str, Any] | Response:
    """keywarden's token middleware: signature/expiry, fields, product, then (full) uuid."""
    token = req.header("eq-api-jwt")
    if not token:
        return _error(403, "Invalid JWT: undefined")
    try:
        claims = tokens.verify(token, state.eq_secret)
    except (tokens.TokenExpired, tokens.TokenInvalid):
        claims = {}
    if not claims:
        return _error(403, f"Invalid JWT: {token}")
    if not all(claims.get(k) for k in ("email", "api_access", "jwt_uuid")):
        return _error(403, "JWT missing required fields in payload")
    wanted = (req.arg("product") or "atom").strip().lower()
    if wanted != "all" and claims.get("product", "atom") != wanted:
        return _error(403, "JWT not valid for this resource")
    return claims if light else _full_check(state, claims)


def _full_check(state: SandboxState, claims: dict[str, Any]) -> dict[str, Any] | Response:
    """The database part of a non-light check: the user exists and the token is not revoked."""
    user = state.eq_users.get(str(claims["email"]))
    if user is None:
        return _error(404, f"User {claims['email']} not found")
    if user.jwt_uuid != claims["jwt_uuid"]:
        return _error(403, f"Invalid UUID for user {user.email}")
    return claims


def _confirm(state: SandboxState, req: Request) -> Response:
    light = _flag(req, "light")
    claims = _checked_claims(state, req, light)
    if isinstance(claims, Response):
        return claims
    email = str(claims["email"])
    millis = int(claims["exp"] * 1000 - time.time() * 1000)
    body: dict[str, Any] = {
        "message": f"Token confirmed for user {email}",
        "user": email,
        "light": light,
        "product": claims.get("product", "atom"),
        "ttl": {"millis": millis, "friendly": _humanize(millis)},
    }
    if not light:
        body["access_expired_at"] = None
    body["access"] = _access(claims["api_access"], str(claims.get("prefix", "")))
    return json_response(200, body)


def _refresh(state: SandboxState, req: Request) -> Response:
    claims = _checked_claims(state, req, light=False)
    if isinstance(claims, Response):
        return claims
    email = str(claims["email"])
    product = _product(req, "newProduct") if req.arg("newProduct") else claims.get("product")
    if isinstance(product, Response):
        return product
    product = str(product or "atom")
    if _flag(req, "reset_uuid"):
        state.rotate_uuid(email)
    user = state.eq_users[email]
    return json_response(
        200,
        {
            "message": f"Token refreshed for user {email}, please store and use the token "
            "responsibly",
            "token": state.mint_eq_token(email, product),
            "user": email,
            "product": product,
            "access": _access(user.api_access(), user.prefix),
        },
    )
