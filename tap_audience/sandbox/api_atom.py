"""ATOM "overseer" under ``/eq-api``: insights (B4), campaigns (B5); errors ``{message}``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from . import data_eq, tokens
from .http_types import Request, Response, json_response
from .state import SandboxState


def _error(status: int, message: str) -> Response:
    return json_response(status, {"message": message})


def _authenticate(state: SandboxState, req: Request) -> dict[str, Any] | Response:
    user, token = req.header("eq-api-user"), req.header("eq-api-jwt")
    if not user or not token:
        return _error(401, "Invalid JWT")
    try:
        claims = tokens.verify(token, state.eq_secret)
    except (tokens.TokenExpired, tokens.TokenInvalid):
        return _error(403, f"Invalid JWT: {token}")
    if claims.get("product", "atom") != "atom":
        return _error(403, "JWT not valid for this resource")
    if str(claims.get("email", "")).lower() != user.strip().lower():
        return _error(403, f"JWT not valid for user {user}")
    return claims


def _visible(claims: dict[str, Any], campaign: data_eq.Campaign) -> bool:
    access = claims.get("api_access")
    customers = access.get("customers") if isinstance(access, dict) else None
    return customers == -1 or (isinstance(customers, list) and campaign.customer in customers)


def handle(state: SandboxState, req: Request, sub: str) -> Response:
    parts = [p for p in sub.split("/") if p]
    known = (
        req.method == "GET"
        and len(parts) in (2, 3)
        and parts[0] == "beta"
        and parts[1] in ("insights", "campaigns")
        and not (parts[1] == "insights" and len(parts) == 2)
    )
    if not known:
        return _error(404, f"Cannot {req.method} {sub}")
    claims = _authenticate(state, req)
    if isinstance(claims, Response):
        return claims
    if parts[1] == "insights":
        return _insights(state, req, claims, parts[2])
    if len(parts) == 2:
        return _campaign_list(state, req, claims)
    return _campaign_one(state, req, claims, parts[2])


def _campaign(state: SandboxState, claims: dict[str, Any], raw: str) -> data_eq.Campaign | Response:
    campaign = state.campaigns_by_code.get(int(raw)) if raw.isdigit() else None
    if campaign is None:
        return _error(404, f"Campaign {raw} not found")
    if not _visible(claims, campaign):
        return _error(403, f"Access not allowed to campaign {raw}")
    return campaign


def _day(raw: str, zone: str) -> date:
    """``YYYY-MM-DD`` or Unix seconds (the 2016 ATOM API's format), as a campaign-local date."""
    text = raw.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), ZoneInfo(zone)).date()
    if len(text) != 10:  # fromisoformat would also take "20240101" and friends
        raise ValueError(text)
    return date.fromisoformat(text)


def _insights(
    state: SandboxState, req: Request, claims: dict[str, Any], dimension: str
) -> Response:
    if dimension not in data_eq.DIMENSIONS:
        return _error(404, f"Unknown insight dimension '{dimension}'")
    args: dict[str, str] = {}
    for name in ("c", "start", "end"):
        value = req.arg(name)
        if not value:
            return _error(400, f"Missing '{name}' in query string parameters")
        args[name] = value
    campaign = _campaign(state, claims, args["c"].strip())
    if isinstance(campaign, Response):
        return campaign
    days: dict[str, date] = {}
    for name in ("start", "end"):
        try:
            days[name] = _day(args[name], campaign.time_zone)
        except (ValueError, OverflowError, OSError):
            return _error(400, f"Invalid '{name}' in query string parameters")
    rows = data_eq.insight_rows(
        state.seed, campaign, dimension, days["start"], days["end"], now=req.now
    )
    return json_response(200, [data_eq.api_row(dimension, row) for row in rows])


def _campaign_list(state: SandboxState, req: Request, claims: dict[str, Any]) -> Response:
    wanted = req.arg("state")
    campaigns = {
        str(c.code): c.to_api(req.now)
        for c in state.campaigns
        if _visible(claims, c) and (not wanted or c.state(req.now) == wanted)
    }
    return json_response(200, {"ancestors": [], "campaigns": campaigns})


def _campaign_one(state: SandboxState, req: Request, claims: dict[str, Any], raw: str) -> Response:
    campaign = _campaign(state, claims, raw)
    if isinstance(campaign, Response):
        return campaign
    return json_response(200, {"ancestors": [], "metadata": campaign.to_api(req.now)})
