"""What the body faults do to a decoded JSON answer, and the canned bodies of replacing faults.

Mutations edit the JSON the real handler produced, in place, so everything they do not touch
still agrees with the oracle. Each returns whether it changed anything: a fault that changes
nothing has not fired.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from .http_types import JSON_HEADERS, Response, text_response

# Unexpected keys added by ``extra_fields``: the names say where they came from.
EXTRA_TOP = ("sandbox_extra_top", "added by the extra_fields fault")
EXTRA_RECORD = "sandbox_extra_field"
EXTRA_NESTED = ("sandbox_extra_nested", 0.5)
# Keys that identify a record rather than measure it: a type fault there would be a different
# test (a broken key), so wrong_types and _nested leave them alone.
_IDENTITY = frozenset(("_id", "lat", "lon", "segment_id", "CampCode"))


def _is_angus(payload: Any) -> bool:
    return isinstance(payload, dict) and isinstance(payload.get("entities"), dict)


def records(payload: Any) -> list[dict[str, Any]]:
    """The record-level objects of a vendor answer, in a stable order.

    Angus buckets (sorted by key: the handler shuffles them), insights rows and LOCUS items
    (array order), campaigns (sorted by code) or a single campaign's metadata.
    """
    if _is_angus(payload):
        entities = payload["entities"]
        return [entities[k] for k in sorted(entities) if isinstance(entities[k], dict)]
    if isinstance(payload, list):
        return [item for item in payload if isinstance(item, dict)]
    if isinstance(payload, dict):
        if isinstance(payload.get("campaigns"), dict):
            found = payload["campaigns"]
            return [found[k] for k in sorted(found) if isinstance(found[k], dict)]
        if isinstance(payload.get("metadata"), dict):
            return [payload["metadata"]]
        return [payload]
    return []


def _nested(record: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Objects one level inside a record: Angus metric objects, LOCUS segments.

    ``_id`` is left alone: it is the insights row's identity, not data a tap may lose.
    """
    for key, value in record.items():
        if key in _IDENTITY:
            continue
        if isinstance(value, dict):
            yield value
        elif isinstance(value, list):
            yield from (item for item in value if isinstance(item, dict))


def _numeric_slots(record: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    for key, value in record.items():
        if key in _IDENTITY:
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            yield record, key
        elif isinstance(value, dict | list):
            for inner in [value] if isinstance(value, dict) else value:
                if isinstance(inner, dict):
                    yield from _numeric_slots(inner)


def wrong_types(payload: Any) -> bool:
    """First numeric field of the first record -> junk; the second -> its number as a string.

    One record, so a tap that skips bad records loses one and keeps the rest.
    """
    found = records(payload)
    if not found:
        return False
    slots = list(_numeric_slots(found[0]))[:2]
    junk = "abc" if _is_angus(payload) else "n/a"
    for i, (container, key) in enumerate(slots):
        container[key] = junk if i == 0 else str(container[key])
    return bool(slots)


def extra_fields(payload: Any) -> bool:
    changed = False
    if isinstance(payload, dict):
        payload[EXTRA_TOP[0]] = EXTRA_TOP[1]
        changed = True
    # An Angus bucket maps metric names to objects, so its extra "metric" is an object too.
    record_value: Any = {"value": 1} if _is_angus(payload) else 1
    for record in records(payload):
        if record is payload:
            continue  # a lone object already got the top-level key
        nested = list(_nested(record))
        record[EXTRA_RECORD] = record_value
        for inner in nested:
            inner[EXTRA_NESTED[0]] = EXTRA_NESTED[1]
        changed = True
    return changed


def missing_metrics(payload: Any, names: tuple[str, ...]) -> bool:
    changed = False
    for record in records(payload):
        for target in [record, *_nested(record)]:
            for name in names:
                if target.pop(name, _ABSENT) is not _ABSENT:
                    changed = True
    return changed


_ABSENT = object()


def encode(payload: Any, template: Response) -> Response:
    """Re-serialise like ``json_response`` (compact) keeping the handler's status and headers."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return template._replace(body=body)


def is_json_success(response: Response) -> bool:
    ctype = response.headers.get("Content-Type", "")
    return 200 <= response.status < 300 and ctype.startswith("application/json")


# --- canned responses ------------------------------------------------------------------------
def retry_after_value(seconds: int, http_date: bool) -> str:
    if not http_date:
        return str(seconds)
    # Rounded up: a client that honours the date must not come back before ``seconds``.
    return email.utils.formatdate(math.ceil(time.time() + seconds), usegmt=True)


def status_response(
    status: int,
    body: str | None,
    content_type: str | None,
    *,
    retry_after: int | None,
    http_date: bool,
    default_message: str | None = None,
) -> Response:
    if body is None:
        message = default_message or HTTPStatus(status).phrase
        response = Response(status, dict(JSON_HEADERS), json.dumps({"message": message}).encode())
    else:
        response = text_response(status, body, content_type or "text/plain")
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after_value(retry_after, http_date)
    return response


def html_page(status: int, body: str | None) -> Response:
    if body is None:
        if status >= 400:  # what nginx or a load balancer puts in front of a dead upstream
            title = f"{status} {HTTPStatus(status).phrase}"
            text = f"<h1>{title}</h1><p>The server encountered a temporary error.</p>"
        else:  # a captive portal or CDN maintenance page answering "200 OK"
            title = "Service temporarily unavailable"
            text = f"<h1>{title}</h1><p>We'll be back shortly.</p>"
        body = (
            f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n"
            f"<body><center>{text}</center><hr><center>nginx</center></body></html>\n"
        )
    return text_response(status, body, "text/html")


def redirect_response(status: int, location: str) -> Response:
    """A 3xx as a gateway or a moved API would send it: a short JSON note and ``Location``."""
    headers = {**JSON_HEADERS, "Location": location}
    return Response(status, headers, json.dumps({"message": "Moved"}).encode())
