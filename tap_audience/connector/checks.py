"""`tap-audience --test`: one line per vendor saying whether its credentials work.

Each check uses the same clients a sync would (token requests, keywarden `/confirm`, one
small data request), so "ok" means a sync would get past authentication and entitlement.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tap_audience.connector.runtime import Runtime
from tap_audience.core.errors import TapAudienceError
from tap_audience.core.http import ApiRequest
from tap_audience.core.jwt_claims import expires_at
from tap_audience.core.timeutil import floor_hour
from tap_audience.core.windows import Window
from tap_audience.eqworks.locus import HH_SEGMENTS_PATH


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
    cameras = runtime.settings.angus.cameras
    if not cameras:
        return skipped("Angus", "set angus_username and angus_streams")
    problems = []
    for camera in cameras:
        auth = runtime.angus.authenticator(camera.client_id)
        try:
            auth.current_token()
        except TapAudienceError as exc:
            problems.append(str(exc))
    if problems:
        # One line per problem: an unreachable token host fails every camera the same way.
        return VendorCheck("Angus", "FAILED", "; ".join(dict.fromkeys(problems)))
    # One small data request: a wrong angus_api_url must fail here, not in the first sync.
    endpoint = runtime.endpoints["angus_entities"]
    partition = endpoint.all_partitions()[0]
    end = floor_hour(runtime.settings.run.end)
    window = Window(partition=partition, start=end - dt.timedelta(hours=1), end=end)
    try:
        endpoint.client(partition).request_json(endpoint.first_request(window))
    except TapAudienceError as exc:
        return VendorCheck("Angus", "FAILED", str(exc))
    return VendorCheck(
        "Angus", "ok", f"{len(cameras)} camera stream(s) authenticated; data API answered"
    )


def _token_validity(runtime: Runtime, product: str) -> str:
    token = runtime.eq.eq_token(product)
    expires = expires_at(token.value, what=token.setting)
    return f"token valid until {expires.date().isoformat()}" if expires else "token never expires"


def check_atom(runtime: Runtime) -> VendorCheck:
    if not runtime.settings.eq.atom_token:
        return skipped("EQ ATOM", "set eq_jwt or eq_token_file")
    try:
        validity = _token_validity(runtime, "atom")
        campaigns = runtime.eq.campaigns().campaigns()
    except TapAudienceError as exc:
        return VendorCheck("EQ ATOM", "FAILED", str(exc))
    return VendorCheck("EQ ATOM", "ok", f"{validity}; {len(campaigns)} campaign(s) visible")


def check_locus(runtime: Runtime) -> VendorCheck:
    if problem := runtime.endpoints["locus_hh_segments"].unusable_config():
        return VendorCheck("EQ LOCUS", "FAILED", problem)
    if not runtime.settings.eq.locus_token:
        return skipped("EQ LOCUS", "set locus_jwt or locus_token_file, and locus_coords")
    try:
        validity = _token_validity(runtime, "locus")
        coords = runtime.settings.eq.locus_coords
        if coords:
            runtime.eq.locus().request_json(
                ApiRequest(HH_SEGMENTS_PATH, [("coords[]", coords[0].text)])
            )
    except TapAudienceError as exc:
        return VendorCheck("EQ LOCUS", "FAILED", str(exc))
    probe = f"; coordinate {coords[0].text} readable" if coords else ""
    return VendorCheck("EQ LOCUS", "ok", validity + probe)


def check_vendors(runtime: Runtime) -> list[VendorCheck]:
    return [check(runtime) for check in (check_angus, check_atom, check_locus)]
