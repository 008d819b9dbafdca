"""The connector put together: every vendor's settings and endpoints, one run's runtime.

Protocol-neutral like `core`, but unlike `core` it knows the vendors: it is where the parts
meet. Each output face (`tap_audience.singer`, later `airbyte`) drives the connector.
"""
