"""The Singer face: the tap, its stream adapter, the message writer, state and catalog input.

It turns the engine's records and window bookkeeping (`tap_audience.core`, driven through
`tap_audience.connector`) into Singer messages using singer-sdk. Nothing below it imports it.
"""
