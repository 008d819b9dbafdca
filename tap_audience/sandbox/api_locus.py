"""LOCUS ``/prod/segment/hh-segments`` behind its API Gateway authorizer.

What it emulates: docs/vendors.md B6 and C13.
"""

from __future__ import annotations

from typing import Any

from . import data_locus, tokens
from .http_types import Request, Response, json_response
from .state import SandboxState

_HH_WHITELABELS = (1202, 1367)  # hhSegmentAuth allow-list; wl -1 (internal) also passes
_DENY = "User is not authorized to access this resource with an explicit deny"


def _error(status: int, message: str) -> Response:
    return json_response(status, {"message": message})


def _entitled_wl(claims: dict[str, Any]) -> bool:
    access = claims.get("api_access")
    wl = access.get("wl") if isinstance(access, dict) else None
    return wl == -1 or (isinstance(wl, list) and any(w in _HH_WHITELABELS for w in wl))


def handle(state: SandboxState, req: Request, sub: str) -> Response:
    route = sub.rstrip("/")
    if req.method == "GET" and route == "/prod":
        return json_response(200, {"API_VER": "sandbox", "STAGE": "prod"})
    if route != "/prod/segment/hh-segments" or req.method != "GET":
        return _error(404, "Not Found")
    claims = _authorize(state, req)
    if isinstance(claims, Response):
        return claims
    points = _points(req)
    if isinstance(points, Response):
        return points
    if not _entitled_wl(claims) or not all(data_locus.entitled(*p) for p in points):
        return _error(403, "Access not allowed")
    return json_response(200, [data_locus.api_item(state.seed, lat, lon) for lat, lon in points])


def _authorize(state: SandboxState, req: Request) -> dict[str, Any] | Response:
    """API Gateway + Lambda authorizer, then the app's product check (B6)."""
    token = req.header("eq-api-jwt")
    if not token:  # the gateway rejects before the authorizer runs
        return _error(401, "Unauthorized")
    try:
        claims = tokens.verify(token, state.eq_secret)
    except (tokens.TokenExpired, tokens.TokenInvalid):
        return json_response(403, {"Message": _DENY})  # capital M: API Gateway's own body
    wanted = (req.header("x-eq-product") or "locus").strip().lower()
    if claims.get("product", "atom") != wanted:
        return _error(401, "Invalid JWT")
    return claims


def _points(req: Request) -> list[tuple[float, float]] | Response:
    # Express's qs parser yields the same array for "coords[]=" and repeated "coords=".
    raw = req.query.get("coords[]", []) + req.query.get("coords", [])
    if not raw:
        return _error(400, "Missing coords in query")
    points: list[tuple[float, float]] = []
    for text in raw:
        try:
            points.append(data_locus.parse_coords(text))
        except ValueError:
            return _error(400, f"Invalid coords: {text}")
    return points
