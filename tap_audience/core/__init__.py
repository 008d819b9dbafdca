"""Vendor-neutral machinery: time windows, HTTP, fetching, errors, redaction.

Nothing in here knows about Singer: streams (and, later, other output protocols) sit on top.
"""
