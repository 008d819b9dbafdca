"""`GET /api/1/entities`: one record per camera stream and time bucket.

Windows are whole UTC days (`angus_window_days` per window), except the first, which starts
at the resume point floored to the bucket size. Each window is paged with `page=2..n` once
page 1 has told us `nb_of_pages` (robust to `next_page` being absolute or relative). Bucket
keys are UTC and come in no guaranteed order, so each page is sorted before it is emitted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from typing_extensions import override

from tap_audience.angus.connection import VENDOR, AngusConnection
from tap_audience.angus.settings import AngusSettings
from tap_audience.core.convert import as_float, as_int
from tap_audience.core.endpoint import Endpoint, EndpointInfo, Partition, Record, resume_point
from tap_audience.core.http import ApiRequest, VendorClient
from tap_audience.core.settings import RunSettings
from tap_audience.core.timeutil import floor_day, floor_hour, isoformat_utc, parse_datetime
from tap_audience.core.windows import Window, day_aligned_windows

ENTITIES_PATH = "/api/1/entities"
INFO = EndpointInfo(
    name="angus_entities",
    primary_keys=("client_id", "time_bucket", "bucket_start"),
    replication_key="bucket_start",
    partition_key="client_id",
    vendor=VENDOR,
    path=ENTITIES_PATH,
)
COUNT_METRICS = ("passing_by", "interested")
AVERAGE_METRICS = ("stop_time", "attention_time", "satisfaction")
CATEGORY_KEYS = {k: k for k in ("senior_female", "senior_male", "young_female", "young_male")}
# The API reports unknown gender as "?"; a column needs a name.
GENDER_KEYS = {"female": "female", "male": "male", "?": "unknown"}


KNOWN_METRICS = frozenset((*COUNT_METRICS, *AVERAGE_METRICS, "category", "gender"))
KNOWN_TOP_LEVEL = frozenset(
    (
        "entities",
        "time",
        "from_date",
        "to_date",
        "total_results",
        "nb_of_pages",
        "page",
        "next_page",
    )
)


def _value(metrics: dict[str, Any], name: str) -> Any:
    metric = metrics.get(name)
    if metric is None:
        return None
    if not isinstance(metric, dict):
        raise ValueError(f'{name} is {metric!r}, expected an object like {{"value": ...}}')
    return metric.get("value")


def _counts(metrics: dict[str, Any], name: str, keys: dict[str, str]) -> dict[str, Any] | None:
    metric = metrics.get(name)
    if metric is None:
        return None
    if not isinstance(metric, dict):
        raise ValueError(f"{name} is {metric!r}, expected an object of counts")
    return {column: as_int(metric.get(key), f"{name}.{key}") for key, column in keys.items()}


def bucket_record(
    client_id: str, time_bucket: str, bucket_start: dt.datetime, metrics: dict[str, Any]
) -> Record:
    """Flatten one bucket; a metric missing from the bucket (or not requested) is null."""
    record: Record = {
        "client_id": client_id,
        "time_bucket": time_bucket,
        "bucket_start": isoformat_utc(bucket_start),
    }
    for name in COUNT_METRICS:
        record[name] = as_int(_value(metrics, name), name)
    for name in AVERAGE_METRICS:
        record[name] = as_float(_value(metrics, name), name)
    record["category"] = _counts(metrics, "category", CATEGORY_KEYS)
    record["gender"] = _counts(metrics, "gender", GENDER_KEYS)
    return record


class AngusEntities(Endpoint):
    def __init__(
        self, run: RunSettings, settings: AngusSettings, connection: AngusConnection
    ) -> None:
        super().__init__(INFO, run)
        self.settings = settings
        self.connection = connection

    @override
    def all_partitions(self) -> list[dict[str, Any]]:
        # The bucket size is part of the partition: hourly and daily buckets are different
        # rows, so each size keeps its own bookmark and switching sizes never skips history.
        bucket = self.settings.angus_time_bucket
        return [
            {"client_id": camera.client_id, "time_bucket": bucket}
            for camera in self.settings.cameras
        ]

    @override
    def bookmark_value(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a date-time text like 2026-11-20T10:00:00+00:00")
        try:
            return isoformat_utc(parse_datetime(value))
        except ValueError:
            raise ValueError(
                f"{value!r} is not a date-time like 2026-11-20T10:00:00+00:00"
            ) from None

    @override
    def unconfigured_reason(self) -> str:
        return "no Angus camera streams configured (set angus_username and angus_streams)"

    @override
    def client(self, partition: Partition) -> VendorClient:
        return self.connection.client(partition["client_id"])

    def _floor(self, moment: dt.datetime) -> dt.datetime:
        return (
            floor_hour(moment)
            if self.settings.angus_time_bucket == "by_hour"
            else floor_day(moment)
        )

    @override
    def plan(self, partition: Partition, bookmark: str | None) -> list[Window]:
        start = resume_point(
            start=self.run.start,
            bookmark=parse_datetime(bookmark) if bookmark else None,
            lookback=self.settings.lookback,
        )
        return [
            Window(partition=partition, start=lower, end=upper)
            for lower, upper in day_aligned_windows(
                self._floor(start), self.run.end, self.settings.angus_window_days
            )
        ]

    def _params(self, window: Window, page: int) -> list[tuple[str, str]]:
        params = [
            ("metrics", ",".join(self.settings.angus_metrics)),
            ("from_date", isoformat_utc(window.start)),
            ("to_date", isoformat_utc(window.end)),
            ("time", self.settings.angus_time_bucket),
        ]
        if page > 1:
            params.append(("page", str(page)))
        return params

    @override
    def first_request(self, window: Window) -> ApiRequest:
        return ApiRequest(self.path, self._params(window, 1))

    @override
    def follow_up_requests(self, window: Window, first_payload: Any) -> list[ApiRequest]:
        pages = first_payload.get("nb_of_pages") if isinstance(first_payload, dict) else None
        if not isinstance(pages, int) or pages < 0:
            raise self.malformed(f"nb_of_pages is {pages!r}, expected a whole number")
        return [ApiRequest(self.path, self._params(window, p)) for p in range(2, pages + 1)]

    @override
    def rows(self, window: Window, payload: Any) -> Iterator[tuple[str, Any]]:
        entities = payload.get("entities") if isinstance(payload, dict) else None
        if not isinstance(entities, dict):
            raise self.malformed("the body has no 'entities' object")
        if extra := payload.keys() - KNOWN_TOP_LEVEL:
            self.note_unknown_fields("body", extra)
        lower, upper = self._floor(window.start), window.end
        buckets = []
        for key, metrics in entities.items():
            try:
                bucket_start = parse_datetime(key)
            except (TypeError, ValueError):
                raise self.malformed(f"bucket key {key!r} is not a date-time") from None
            if not isinstance(metrics, dict):
                raise self.malformed(f"bucket {key!r} is not an object")
            if extra := metrics.keys() - KNOWN_METRICS:
                self.note_unknown_fields("bucket", extra)
            # A bucket outside the window belongs to a neighbour and is emitted there.
            if lower <= bucket_start < upper:
                buckets.append((bucket_start, metrics))
        buckets.sort(key=lambda item: item[0])
        for bucket_start, metrics in buckets:
            yield f"bucket {isoformat_utc(bucket_start)}", (bucket_start, metrics)

    @override
    def record(self, window: Window, row: Any) -> Record:
        bucket_start, metrics = row
        return bucket_record(
            window.partition["client_id"], self.settings.angus_time_bucket, bucket_start, metrics
        )


def endpoints(
    run: RunSettings, settings: AngusSettings, connection: AngusConnection
) -> list[Endpoint]:
    """Angus's endpoints for one run."""
    return [AngusEntities(run, settings, connection)]
