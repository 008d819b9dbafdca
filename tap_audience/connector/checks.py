"""`tap-audience --test`: one line per vendor saying whether its credentials work.

Each check uses the same clients a sync would (token requests, keywarden `/confirm`, one
small data request), so "ok" means a sync would get past authentication and entitlement.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tap_audience.angus.entities import AngusEntities
from tap_audience.connector.runtime import Runtime
from tap_audience.core.errors import TapAudienceError
from tap_audience.core.http import ApiRequest
from tap_audience.core.jwt_claims import expires_at
from tap_audience.core.timeutil import floor_hour
from tap_audience.core.windows import Window
from tap_audience.eqworks.locus import LocusHouseholdSegments


@dataclass(frozen=True)
class VendorCheck:
    vendor: str
    status: str  # ok | FAILED | skipped (not configured)
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def line(self) -> str:
        return f"{self.vendor}: {self.status}: {self.message}"


def skipped(vendor: str, message: str) -> VendorCheck:
    return VendorCheck(vendor, "skipped", f"not configured ({message})")


def check_angus(runtime: Runtime) -> VendorCheck:
    cameras = runtime.settings.angus_cameras
    if not cameras:
        return skipped("Angus", "set angus_username and angus_streams")
    problems = []
    for camera in cameras:
        auth = runtime.connections.angus(camera.client_id).auth
        try:
            auth.current_token()
        except TapAudienceError as exc:
            problems.append(str(exc))
    if problems:
        return VendorCheck("Angus", "FAILED", "; ".join(problems))
    # One small data request: a wrong angus_api_url must fail here, not in the first sync.
    endpoint = AngusEntities(runtime.settings, runtime.connections)
    partition = endpoint.all_partitions()[0]
    end = floor_hour(runtime.settings.end)
    window = Window(partition=partition, start=end - dt.timedelta(hours=1), end=end)
    try:
        endpoint.client(partition).request_json(endpoint.first_request(window))
    except TapAudienceError as exc:
        return VendorCheck("Angus", "FAILED", str(exc))
    return VendorCheck(
        "Angus", "ok", f"{len(cameras)} camera stream(s) authenticated; data API answered"
    )


def _token_validity(runtime: Runtime, product: str) -> str:
    token = runtime.connections.eq_token(product)
    expires = expires_at(token.value, what=token.setting)
    return f"token valid until {expires.date().isoformat()}" if expires else "token never expires"


def check_atom(runtime: Runtime) -> VendorCheck:
    if not runtime.settings.eq_jwt:
        return skipped("EQ ATOM", "set eq_jwt or eq_token_file")
    try:
        validity = _token_validity(runtime, "atom")
        campaigns = runtime.connections.campaigns().campaigns()
    except TapAudienceError as exc:
        return VendorCheck("EQ ATOM", "FAILED", str(exc))
    return VendorCheck("EQ ATOM", "ok", f"{validity}; {len(campaigns)} campaign(s) visible")


def check_locus(runtime: Runtime) -> VendorCheck:
    if problem := LocusHouseholdSegments(runtime.settings, runtime.connections).unusable_config():
        return VendorCheck("EQ LOCUS", "FAILED", problem)
    if not runtime.settings.locus_jwt:
        return skipped("EQ LOCUS", "set locus_jwt or locus_token_file, and locus_coords")
    try:
        validity = _token_validity(runtime, "locus")
        coords = runtime.settings.locus_coords
        if coords:
            runtime.connections.locus().request_json(
                ApiRequest("/prod/segment/hh-segments", [("coords[]", coords[0].text)])
            )
    except TapAudienceError as exc:
        return VendorCheck("EQ LOCUS", "FAILED", str(exc))
    probe = f"; coordinate {coords[0].text} readable" if coords else ""
    return VendorCheck("EQ LOCUS", "ok", validity + probe)


def check_vendors(runtime: Runtime) -> list[VendorCheck]:
    return [check(runtime) for check in (check_angus, check_atom, check_locus)]
