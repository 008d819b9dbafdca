"""`tap-audience --test`: one line per vendor saying whether its credentials work.

Each check uses the same clients a sync would (token requests, keywarden `/confirm`, one
small data request), so "ok" means a sync would get past authentication and entitlement.
"""

from __future__ import annotations

from dataclasses import dataclass

from tap_audience.core.errors import TapAudienceError
from tap_audience.core.http import ApiRequest
from tap_audience.core.jwt_claims import expires_at
from tap_audience.runtime import Runtime


@dataclass(frozen=True)
class VendorCheck:
    vendor: str
    ok: bool
    message: str

    def line(self) -> str:
        return f"{self.vendor}: {'ok' if self.ok else 'FAILED'}: {self.message}"


def check_angus(runtime: Runtime) -> VendorCheck:
    cameras = runtime.settings.angus_cameras
    if not cameras:
        return VendorCheck("Angus", True, "not configured (set angus_username, angus_streams)")
    problems = []
    for camera in cameras:
        auth = runtime.connections.angus(camera.client_id).auth
        try:
            auth.current_token()
        except TapAudienceError as exc:
            problems.append(str(exc))
    if problems:
        return VendorCheck("Angus", False, "; ".join(problems))
    return VendorCheck("Angus", True, f"{len(cameras)} camera stream(s) authenticated")


def _token_validity(runtime: Runtime, product: str) -> str:
    token = runtime.connections.eq_token(product)
    expires = expires_at(token.value, what=token.setting)
    return f"token valid until {expires.date().isoformat()}" if expires else "token never expires"


def check_atom(runtime: Runtime) -> VendorCheck:
    if not runtime.settings.eq_jwt:
        return VendorCheck("EQ ATOM", True, "not configured (set eq_user and eq_jwt)")
    try:
        validity = _token_validity(runtime, "atom")
        campaigns = runtime.connections.campaigns().campaigns()
    except TapAudienceError as exc:
        return VendorCheck("EQ ATOM", False, str(exc))
    return VendorCheck("EQ ATOM", True, f"{validity}; {len(campaigns)} campaign(s) visible")


def check_locus(runtime: Runtime) -> VendorCheck:
    if not runtime.settings.locus_jwt:
        return VendorCheck("EQ LOCUS", True, "not configured (set locus_jwt or eq_jwt)")
    try:
        validity = _token_validity(runtime, "locus")
        coords = runtime.settings.locus_coords
        if coords:
            runtime.connections.locus().request_json(
                ApiRequest("/prod/segment/hh-segments", [("coords[]", coords[0].text)])
            )
    except TapAudienceError as exc:
        return VendorCheck("EQ LOCUS", False, str(exc))
    probe = f"; coordinate {coords[0].text} readable" if coords else ""
    return VendorCheck("EQ LOCUS", True, validity + probe)


def check_vendors(runtime: Runtime) -> list[VendorCheck]:
    return [check(runtime) for check in (check_angus, check_atom, check_locus)]
