"""The Airbyte face: the same connector as an Airbyte source (protocol v0).

`source-audience spec | check --config F | discover --config F | read --config F --catalog F
[--state F]`: every stdout line is one JSON `AirbyteMessage`. It drives the same engine as
the Singer face (`tap_audience.connector`, `core.sync`): the same records, the same state
semantics (a STATE only after the records it covers), the same failure handling. It imports
no singer-sdk.
"""
