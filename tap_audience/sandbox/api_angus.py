"""Angus.ai endpoints: console token (A2) and Data API entities (A4, C1-C8; docs/vendors.md)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from . import data_angus as da
from . import tokens
from .clock import epoch_us, parse_iso_with_offset, utc_key
from .http_types import Request, Response, json_response
from .state import ANGUS_USERNAME, SandboxState

_TOKEN_FIELDS = ("username", "client_id", "access_token")
_BAD_CREDENTIALS = "Unable to log in with provided credentials."


def _not_found() -> Response:
    return json_response(404, {"detail": "Not found."})


def _method_not_allowed(method: str) -> Response:
    return json_response(405, {"detail": f'Method "{method}" not allowed.'})


def _body_fields(req: Request) -> dict[str, Any] | Response:
    """JSON (docs, SDK) or form-encoded (early dashboard) body, parsed the DRF way."""
    ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
    if ctype == "application/json":
        if not req.body.strip():
            return {}
        try:
            data = json.loads(req.body)
        except ValueError as exc:
            return json_response(400, {"detail": f"JSON parse error - {exc}"})
        if not isinstance(data, dict):
            kind = type(data).__name__
            return json_response(
                400,
                {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]},
            )
        return data
    if ctype in ("", "application/x-www-form-urlencoded"):
        form = parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in form.items()}
    return json_response(415, {"detail": f'Unsupported media type "{ctype}" in request.'})


def handle_console(state: SandboxState, req: Request, sub: str) -> Response:
    # Django's APPEND_SLASH would redirect; the emulator accepts both forms (A2).
    if sub.rstrip("/") != "/api-token-authstream":
        return _not_found()
    if req.method != "POST":
        return _method_not_allowed(req.method)
    data = _body_fields(req)
    if isinstance(data, Response):
        return data
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    for name in _TOKEN_FIELDS:
        raw = data.get(name)
        if raw is None:
            errors[name] = ["This field is required."]
        elif not str(raw).strip():
            errors[name] = ["This field may not be blank."]
        else:
            values[name] = str(raw).strip()
    if errors:
        return json_response(400, errors)
    camera = state.cameras_by_id.get(values["client_id"])
    if (
        values["username"].lower() != ANGUS_USERNAME
        or camera is None
        or camera.access_token != values["access_token"]
    ):
        return json_response(400, {"non_field_errors": [_BAD_CREDENTIALS]})
    return json_response(200, {"token": state.mint_angus_token(camera.client_id)})


def _api_error(status: int, code: str, message: str) -> Response:
    return json_response(status, {"code": code, "message": message})


def _authenticate(state: SandboxState, req: Request) -> da.Camera | Response:
    header = req.header("authorization")
    if header is None:
        return _api_error(401, "authorization_header_missing", "Authorization header is expected")
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return _api_error(401, "invalid_header", "Authorization header must be 'Bearer <token>'")
    try:
        claims = tokens.verify(parts[1], state.angus_secret)
    except tokens.TokenExpired:
        return _api_error(401, "expired_jwt", "Signature has expired")
    except tokens.TokenInvalid:
        return _api_error(401, "invalid_jwt", "Error decoding signature.")
    camera = state.cameras_by_id.get(str(claims.get("client_id")))
    if camera is None:
        return _api_error(401, "invalid_jwt", "Unknown stream in token")
    return camera


def handle_data(state: SandboxState, req: Request, sub: str) -> Response:
    if sub.rstrip("/") != "/api/1/entities":
        return _not_found()
    if req.method != "GET":
        return _method_not_allowed(req.method)
    camera = _authenticate(state, req)
    if isinstance(camera, Response):
        return camera
    return _entities(state, req, camera)


@dataclass(frozen=True)
class _Query:
    metrics: list[str]
    time_bucket: str
    from_date: datetime
    to_date: datetime
    page: int
    raw_page: str


def _parse_query(req: Request) -> _Query | Response:
    """Validate parameters in the order the A-SDK error codes suggest."""
    raw_metrics, raw_from = req.arg("metrics"), req.arg("from_date")
    if not raw_metrics or not raw_from:
        name = "metrics" if not raw_metrics else "from_date"
        return _api_error(400, "missing_mandatory_param", f"Missing mandatory param: {name}")
    metrics = raw_metrics.split(",")  # documented as "no spaces": " gender" is unknown
    unknown = [m for m in metrics if m not in da.ANGUS_METRICS]
    if unknown:
        return _api_error(400, "unexisting_metric", f"Metric '{unknown[0]}' does not exist")
    time_bucket = req.arg("time")
    time_bucket = "global" if time_bucket is None else time_bucket
    if time_bucket not in da.TIME_BUCKETS:
        return _api_error(400, "unexisting_time", f"Time '{time_bucket}' does not exist")
    raw_to = req.arg("to_date")
    try:
        from_date = parse_iso_with_offset(raw_from)
        to_date = None if raw_to is None else parse_iso_with_offset(raw_to)
    except ValueError as exc:
        return _api_error(400, "invalid_date", f"Invalid date: {exc}")
    if to_date is None:
        # Doc example: the default "now" is echoed in from_date's offset, whole seconds.
        to_date = req.now.astimezone(from_date.tzinfo).replace(microsecond=0)
    raw_page = req.arg("page") or "1"
    page = int(raw_page) if raw_page.isdigit() else 0  # 0 is never a page: page_not_existing
    return _Query(metrics, time_bucket, from_date, to_date, page, raw_page)


def _entities(state: SandboxState, req: Request, camera: da.Camera) -> Response:
    query = _parse_query(req)
    if isinstance(query, Response):
        return query
    from_us, to_us = epoch_us(query.from_date), epoch_us(query.to_date)
    now_us = epoch_us(req.now)
    page = query.page
    entities: dict[str, Any] = {}
    if query.time_bucket == "global":
        total = pages = 1
        if page == 1:
            bucket = da.global_bucket(camera, from_us, to_us, now_us)
            entities["global"] = da.api_metrics(bucket, query.metrics)
    else:
        step = da.STEP_SECONDS[query.time_bucket]
        first = da.first_bucket(from_us, step)
        total = da.bucket_count(first, to_us, now_us, step)
        size = state.angus_page_size
        pages = max(1, -(-total // size))
        if 1 <= page <= pages:
            starts = [first + i * step for i in range((page - 1) * size, min(total, page * size))]
            # The API does not promise key order (A-SDK re-sorts): shuffle deterministically
            # so a tap that relies on JSON order fails against the sandbox, reproducibly.
            random.Random(f"{state.seed}/{camera.client_id}/{first}/{page}").shuffle(starts)
            for start in starts:
                bucket = da.bucket_at(camera, query.time_bucket, start, now_us)
                entities[utc_key(start)] = da.api_metrics(bucket, query.metrics)
    if not 1 <= page <= pages:
        message = f"Page {query.raw_page} does not exist ({pages} pages)"
        return _api_error(400, "page_not_existing", message)
    next_page = ""
    if page < pages:
        args = {**req.query, "page": [str(page + 1)]}
        relative = f"{req.path}?{urlencode(args, doseq=True)}"
        next_page = relative if state.angus_next_page_relative else req.base_url + relative
    return json_response(
        200,
        {
            "entities": entities,
            "time": query.time_bucket,
            "from_date": query.from_date.isoformat(),
            "to_date": query.to_date.isoformat(),
            "total_results": total,
            "nb_of_pages": pages,
            "page": page,
            "next_page": next_page,
        },
    )
