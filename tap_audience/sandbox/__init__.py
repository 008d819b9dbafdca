"""Local emulator of the Angus.ai and EQ Works APIs, plus an oracle of correct tap output.

Independent of the tap's own modules on purpose: it is the reference the tap is checked against.

    with Sandbox(seed=0, now=datetime(2024, 3, 10, 14, 30, tzinfo=timezone.utc)) as sb:
        config = sb.credentials()          # a ready tap config pointing at sb.base_url
        ...run the tap...
        sb.expected_angus(client_id, start, end)   # what it must have emitted
        sb.advance(timedelta(hours=1))     # move the data clock; tokens still use real time
"""

from .data_angus import ANGUS_METRICS
from .data_eq import DIMENSIONS
from .http_types import FaultHook, LoggedRequest, Request, Response
from .server import Sandbox

__all__ = [
    "ANGUS_METRICS",
    "DIMENSIONS",
    "FaultHook",
    "LoggedRequest",
    "Request",
    "Response",
    "Sandbox",
]
