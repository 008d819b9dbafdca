"""LOCUS household segments: `GET /prod/segment/hh-segments?coords[]=lat,lon`, full table.

One request per configured coordinate (so one refused coordinate costs only itself). The
account's entitlement is per territory: a 403 `Access not allowed` (the rule is in
`eqworks.connection`) marks that coordinate "not entitled" in one ERROR line and the other
coordinates go on; like any failed partition, it makes the run exit 1 at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from typing_extensions import override

from tap_audience.core.convert import as_float, as_int, as_str
from tap_audience.core.endpoint import Endpoint, EndpointInfo, FullTableEndpoint, Partition, Record
from tap_audience.core.http import ApiRequest, VendorClient
from tap_audience.core.settings import RunSettings
from tap_audience.core.windows import Window
from tap_audience.eqworks.connection import LOCUS_VENDOR, EqConnection
from tap_audience.eqworks.settings import Coordinate, EqSettings, parse_coordinate

HH_SEGMENTS_PATH = "/prod/segment/hh-segments"
INFO = EndpointInfo(
    name="locus_hh_segments",
    primary_keys=("coords", "segment_id"),
    partition_key="coords",
    vendor=LOCUS_VENDOR,
    path=HH_SEGMENTS_PATH,
)


KNOWN_SEGMENT_FIELDS = frozenset(("segment_id", "segment_name", "households", "percent"))
KNOWN_PLACE_FIELDS = frozenset(("lat", "lon", "segments"))


def segment_record(
    coordinate: Coordinate, place: dict[str, Any], segment: dict[str, Any]
) -> Record:
    segment_id = as_int(segment["segment_id"], "segment_id")
    if segment_id is None:
        raise ValueError("segment_id is null")
    return {
        "coords": coordinate.text,
        "lat": as_float(place.get("lat", coordinate.lat), "lat"),
        "lon": as_float(place.get("lon", coordinate.lon), "lon"),
        "segment_id": segment_id,
        "segment_name": as_str(segment.get("segment_name"), "segment_name"),
        "households": as_int(segment.get("households"), "households"),
        "percent": as_float(segment.get("percent"), "percent"),
    }


class LocusHouseholdSegments(FullTableEndpoint):
    def __init__(self, run: RunSettings, settings: EqSettings, connection: EqConnection) -> None:
        super().__init__(INFO, run)
        self.settings = settings
        self.connection = connection

    @override
    def all_partitions(self) -> list[dict[str, Any]]:
        if not self.settings.locus_token:
            return []
        return [{"coords": c.text} for c in self.settings.locus_coords]

    @override
    def unconfigured_reason(self) -> str:
        if not self.settings.locus_token:
            return "no LOCUS token configured (set locus_jwt or locus_token_file)"
        return "no coordinates configured (set locus_coords)"

    @override
    def unusable_config(self) -> str | None:
        if self.settings.locus_coords and not self.settings.locus_token:
            return (
                "locus_coords is set but no LOCUS token is: set locus_jwt or locus_token_file "
                "(`tap-audience eq-login --product locus` gets one). EQ tokens are scoped to "
                "one product, so eq_jwt cannot read LOCUS"
            )
        return None

    @override
    def client(self, partition: Partition) -> VendorClient:
        return self.connection.locus()

    @override
    def first_request(self, window: Window) -> ApiRequest:
        return ApiRequest(self.path, [("coords[]", window.partition["coords"])])

    @override
    def rows(self, window: Window, payload: Any) -> Iterator[tuple[str, Any]]:
        if not isinstance(payload, list):
            raise self.malformed(f"expected a JSON array, got {type(payload).__name__}")
        coordinate = parse_coordinate(window.partition["coords"])  # once per answer
        for place in payload:
            segments = place.get("segments") if isinstance(place, dict) else None
            if not isinstance(segments, list):
                raise self.malformed("an entry has no 'segments' array")
            if extra := place.keys() - KNOWN_PLACE_FIELDS:
                self.note_unknown_fields("place", extra)
            for segment in segments:
                if isinstance(segment, dict) and (extra := segment.keys() - KNOWN_SEGMENT_FIELDS):
                    self.note_unknown_fields("segment", extra)
                yield f"segment {segment!r}", (coordinate, place, segment)

    @override
    def record(self, window: Window, row: Any) -> Record:
        return segment_record(*row)


def endpoints(run: RunSettings, settings: EqSettings, connection: EqConnection) -> list[Endpoint]:
    return [LocusHouseholdSegments(run, settings, connection)]
