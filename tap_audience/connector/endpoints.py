"""Every endpoint the connector offers, in sync order: what discovery shows, what a run builds.

`INFOS` is known without a config (discovery, the catalog); `build` makes the run's
endpoints from its settings and the vendors' connections.
"""

from __future__ import annotations

from tap_audience.angus import entities
from tap_audience.angus.connection import AngusConnection
from tap_audience.connector.settings import Settings
from tap_audience.core.endpoint import Endpoint, EndpointInfo
from tap_audience.eqworks import campaigns, insights, locus
from tap_audience.eqworks.connection import EqConnection

INFOS: tuple[EndpointInfo, ...] = (entities.INFO, campaigns.INFO, *insights.INFOS, locus.INFO)


def build(settings: Settings, angus: AngusConnection, eq: EqConnection) -> dict[str, Endpoint]:
    """The run's endpoints by name, in `INFOS` order."""
    built = [
        *entities.endpoints(settings.run, settings.angus, angus),
        campaigns.EqCampaigns(settings.run, settings.eq, eq),
        *insights.endpoints(settings.run, settings.eq, eq),
        *locus.endpoints(settings.run, settings.eq, eq),
    ]
    by_name = {endpoint.name: endpoint for endpoint in built}
    assert list(by_name) == [info.name for info in INFOS]
    return by_name
