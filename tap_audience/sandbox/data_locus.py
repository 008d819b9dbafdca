"""LOCUS household segments: a fixed catalogue sampled deterministically per coordinate."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .det import rng

SEGMENTS = (
    (101, "Urban Young Professionals"),
    (102, "Suburban Families"),
    (103, "Empty Nesters"),
    (104, "Rural Homeowners"),
    (105, "Students and Young Renters"),
    (106, "Affluent Established"),
    (107, "New Canadians"),
    (108, "Retired Downsizers"),
    (109, "Francophone Families"),
    (110, "Condo Dwellers"),
    (111, "Single Parents"),
    (112, "Multi-generational Households"),
    (113, "Outdoor Enthusiasts"),
    (114, "Tech Early Adopters"),
    (115, "Budget-conscious Shoppers"),
    (116, "Luxury Seekers"),
    (117, "Long-distance Commuters"),
    (118, "Pet Owners"),
    (119, "Health and Wellness"),
    (120, "Small Business Owners"),
)
# Canada's bounding box: the sandbox's stand-in for a data-licence territory (docs/vendors.md C13).
_LAT = (41.6, 83.2)
_LON = (-141.1, -52.6)
# Three entitled sample points: Toronto, Montreal, Vancouver.
# Plain decimals only: float() alone would also take "nan", "inf" or "4_3".
_COORDS = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*,\s*([-+]?\d+(?:\.\d+)?)\s*$")
SAMPLE_COORDS = ("43.6532,-79.3832", "45.5019,-73.5674", "49.2827,-123.1207")


@dataclass(frozen=True)
class Segment:
    segment_id: int
    segment_name: str
    households: int
    percent: float


def parse_coords(text: str) -> tuple[float, float]:
    """``"lat,lon"`` -> floats; ValueError for anything else (incl. nan/inf, out of range)."""
    match = _COORDS.match(text)
    if match is None:
        raise ValueError(text)
    lat, lon = float(match.group(1)), float(match.group(2))
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError(text)
    return lat, lon


def entitled(lat: float, lon: float) -> bool:
    return _LAT[0] <= lat <= _LAT[1] and _LON[0] <= lon <= _LON[1]


def segments(seed: int, lat: float, lon: float) -> list[Segment]:
    """5-12 catalogue segments keyed by the coordinate rounded to ~11 m, sorted by id."""
    g = rng(seed, "locus", round(lat, 4), round(lon, 4))
    chosen = sorted(g.sample(SEGMENTS, g.randint(5, 12)))
    households = [g.randint(40, 4000) for _ in chosen]
    total = sum(households)
    return [
        Segment(seg_id, name, count, round(100.0 * count / total, 2))
        for (seg_id, name), count in zip(chosen, households, strict=True)
    ]


def api_item(seed: int, lat: float, lon: float) -> dict[str, Any]:
    return {
        "lat": lat,
        "lon": lon,
        "segments": [
            {
                "segment_id": s.segment_id,
                "segment_name": s.segment_name,
                "households": s.households,
                "percent": s.percent,
            }
            for s in segments(seed, lat, lon)
        ],
    }


def records(seed: int, coords: str) -> list[dict[str, Any]]:
    lat, lon = parse_coords(coords)
    if not entitled(lat, lon):
        return []
    return [
        {
            "coords": coords,
            "lat": lat,
            "lon": lon,
            "segment_id": s.segment_id,
            "segment_name": s.segment_name,
            "households": s.households,
            "percent": s.percent,
        }
        for s in segments(seed, lat, lon)
    ]
