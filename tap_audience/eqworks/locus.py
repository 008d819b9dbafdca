"""LOCUS household segments: `GET /prod/segment/hh-segments?coords[]=lat,lon`, full table.

One request per configured coordinate (so one refused coordinate costs only itself). The
account's entitlement is per white-label: a 403 `Access not allowed` skips that coordinate
with a warning rather than failing the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tap_audience.connector.settings import Coordinate, parse_coordinate
from tap_audience.core.convert import as_float, as_int, as_str
from tap_audience.core.endpoint import FullTableEndpoint, Partition, Record
from tap_audience.core.errors import NotEntitledError, VendorError
from tap_audience.core.http import ApiRequest, VendorClient
from tap_audience.core.windows import Window

HH_SEGMENTS_PATH = "/prod/segment/hh-segments"


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
    name = "locus_hh_segments"
    primary_keys = ("coords", "segment_id")
    partition_key = "coords"
    vendor = "EQ LOCUS"
    path = HH_SEGMENTS_PATH

    def all_partitions(self) -> list[dict[str, Any]]:
        if not self.settings.locus_jwt:
            return []
        return [{"coords": c.text} for c in self.settings.locus_coords]

    def unconfigured_reason(self) -> str:
        if not self.settings.locus_jwt:
            return "no LOCUS token configured (set locus_jwt or locus_token_file)"
        return "no coordinates configured (set locus_coords)"

    def unusable_config(self) -> str | None:
        if self.settings.locus_coords and not self.settings.locus_jwt:
            return (
                "locus_coords is set but no LOCUS token is: set locus_jwt or locus_token_file "
                "(`tap-audience eq-login --product locus` gets one). EQ tokens are scoped to "
                "one product, so eq_jwt cannot read LOCUS"
            )
        return None

    def client(self, partition: Partition) -> VendorClient:
        return self.connections.locus()

    def first_request(self, window: Window) -> ApiRequest:
        return ApiRequest(self.path, [("coords[]", window.partition["coords"])])

    def parse(self, window: Window, payload: Any) -> Iterator[Record]:
        if not isinstance(payload, list):
            raise self.malformed(f"expected a JSON array, got {type(payload).__name__}")
        coordinate = parse_coordinate(window.partition["coords"])
        for place in payload:
            segments = place.get("segments") if isinstance(place, dict) else None
            if not isinstance(segments, list):
                raise self.malformed("an entry has no 'segments' array")
            if extra := place.keys() - KNOWN_PLACE_FIELDS:
                self.note_unknown_fields("place", extra)
            for segment in segments:
                if isinstance(segment, dict) and (extra := segment.keys() - KNOWN_SEGMENT_FIELDS):
                    self.note_unknown_fields("segment", extra)
                try:
                    yield segment_record(coordinate, place, segment)
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    raise self.malformed(f"segment {segment!r}: {exc}") from None

    def check_access(self, error: Exception, partition: Partition) -> Exception:
        if (
            isinstance(error, VendorError)
            and error.status == 403
            and "access not allowed" in error.vendor_message.lower()
        ):
            return NotEntitledError(
                f"LOCUS refused coordinate {partition['coords']} (Access not allowed): this "
                "account is not entitled to household segments there"
            )
        return error
