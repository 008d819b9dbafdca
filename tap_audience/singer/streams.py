"""Every stream the tap offers, in sync order: one row per endpoint."""

from __future__ import annotations

from tap_audience.angus.entities import AngusEntities
from tap_audience.core.endpoint import Endpoint
from tap_audience.eqworks.campaigns import EqCampaigns
from tap_audience.eqworks.insights import INSIGHTS_ENDPOINTS
from tap_audience.eqworks.locus import LocusHouseholdSegments
from tap_audience.singer.stream import EndpointStream, singer_stream

ENDPOINTS: tuple[type[Endpoint], ...] = (
    AngusEntities,
    EqCampaigns,
    *INSIGHTS_ENDPOINTS,
    LocusHouseholdSegments,
)

STREAM_TYPES: tuple[type[EndpointStream], ...] = tuple(singer_stream(e) for e in ENDPOINTS)
