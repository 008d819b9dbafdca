"""The protocol-neutral engine: it plans, fetches and parses; it writes no output protocol.

- what to fetch: `endpoint` (an endpoint declared as `EndpointInfo` plus plan, request and
  parse hooks), `windows`, `settings` (the run's settings and how any part declares its own);
- how: `http` (one client, retries, readable errors), `error_rules` (what a vendor's error
  answer means), `clients` (a factory of vendor clients), `limits`, `origins` (credentials
  stay with their origin), `fetch` and `pipeline` (concurrent, ordered fetching);
- around it: `errors`, `convert`, `timeutil`, `jwt_claims`, `redaction`, `progress`,
  `report`, `interrupt` (signals that never cut an output line in half).

It imports neither singer-sdk nor a vendor package (tests/test_layers.py checks): the vendor
packages build on it, and an output face (`tap_audience.singer`) sits on top.
"""
