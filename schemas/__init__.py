"""JSON Schemas, one per stream, named after the stream (installed as tap_audience.schemas)."""
