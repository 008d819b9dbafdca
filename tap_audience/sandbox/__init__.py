"""Local emulator of the Angus.ai and EQ Works APIs, plus an oracle of correct tap output.

Independent of the tap's own modules on purpose: it is the reference the tap is checked against.

    with Sandbox(seed=0, now=datetime(2024, 3, 10, 14, 30, tzinfo=timezone.utc)) as sb:
        config = sb.credentials()          # a ready tap config pointing at sb.base_url
        ...run the tap...
        sb.expected_angus(client_id, start, end)   # what it must have emitted
        sb.advance(timedelta(hours=1))     # move the data clock; tokens still use real time
        sb.announce_passcodes_to(print)    # "keywarden: mailed passcode 1A2B3C to ..." per
                                           # /login (off by default: nothing is ever printed)

Fault injection (kinds, targets and triggers are documented in ``faults``; the CLI grammar in
``fault_spec``)::

    sb.inject(Fault.status(503, path="/locus", schedule=[1, 2],
                           body="Scheduled system maintenance", content_type="text/plain"))
    sb.inject(Fault.rate_limited(path="/angus-data", rate=0.2, seed=1, retry_after=2))
    sb.inject(Fault.expire_tokens(vendor="angus", schedule=[3]))
    sb.inject(Fault.redirect(308, path="/eq-api"))   # Location: the decoy, another host
    sb.decoy.requests                      # [DecoyRequest(method, path, headers, body), ...]
    sb.fault_log                           # [FiredFault(name, method, path), ...]
    sb.clear_faults()

    python -m tap_audience.sandbox --fault "drop_connection,path=/eq-api,schedule=1;4"

Nothing the sandbox logs or prints carries a credential (JWT-like strings, token values and the
sandbox's own secrets are masked as ``***``), except the tap config it prints on purpose.
"""

from .data_angus import ANGUS_METRICS
from .data_eq import DIMENSIONS
from .decoy import DecoyRequest, DecoyServer
from .fault_layer import FiredFault
from .fault_spec import parse_fault_spec
from .faults import Fault
from .http_types import FaultHook, LoggedRequest, Request, Response
from .server import Sandbox

__all__ = [
    "ANGUS_METRICS",
    "DIMENSIONS",
    "DecoyRequest",
    "DecoyServer",
    "Fault",
    "FaultHook",
    "FiredFault",
    "LoggedRequest",
    "Request",
    "Response",
    "Sandbox",
    "parse_fault_spec",
]
