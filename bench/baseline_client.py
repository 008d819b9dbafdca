"""The yardstick: a plain `requests` client doing the tap's Angus work, nothing more.

Same requests (a token per camera, page 1 of every window, then pages 2..n as soon as page 1
is in), same JSON parsing, same record fields, same RECORD lines on stdout, optionally with N
worker threads (output kept in request order; every window is queued up front, so its memory
grows with the history). No retries, no state, no validation: the floor that a tap's extra
work is measured against.

    python bench/baseline_client.py CONFIG.json [--workers N] > records.jsonl
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

UTC = dt.timezone.utc
ALL_METRICS = (
    "passing_by",
    "interested",
    "stop_time",
    "attention_time",
    "category",
    "gender",
    "satisfaction",
)


def windows(
    start: dt.datetime, end: dt.datetime, days: int
) -> list[tuple[dt.datetime, dt.datetime]]:
    result, cursor = [], start
    boundary = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while cursor < end:
        boundary += dt.timedelta(days=days)
        result.append((cursor, min(boundary, end)))
        cursor = min(boundary, end)
    return result


def record(client_id: str, key: str, metrics: dict[str, Any]) -> dict[str, Any]:
    def value(name: str) -> Any:
        metric = metrics.get(name)
        return metric.get("value") if metric else None

    gender = metrics.get("gender")
    return {
        "client_id": client_id,
        "time_bucket": "by_hour",
        "bucket_start": key,
        "passing_by": value("passing_by"),
        "interested": value("interested"),
        "stop_time": value("stop_time"),
        "attention_time": value("attention_time"),
        "satisfaction": value("satisfaction"),
        "category": metrics.get("category"),
        "gender": {"female": gender["female"], "male": gender["male"], "unknown": gender["?"]}
        if gender
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    config = json.loads(Path(args.config).read_text())
    start = dt.datetime.fromisoformat(config["start_date"]).astimezone(UTC)
    end = dt.datetime.fromisoformat(config["end_date"]).astimezone(UTC)
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=max(10, args.workers))
    session.mount("http://", adapter)
    metrics = ",".join(config.get("angus_metrics", ALL_METRICS))
    window_days = config.get("angus_window_days", 7)
    api = config["angus_api_url"] + "/api/1/entities"

    def token(camera: dict[str, str]) -> str:
        body = {"username": config["angus_username"], **camera}
        response = session.post(config["angus_auth_url"] + "/api-token-authstream/", json=body)
        return response.json()["token"]

    def page(auth: str, lower: dt.datetime, upper: dt.datetime, number: int) -> dict[str, Any]:
        params = {
            "metrics": metrics,
            "from_date": lower.isoformat(),
            "to_date": upper.isoformat(),
            "time": "by_hour",
            "page": str(number),
        }
        response = session.get(api, params=params, headers={"Authorization": f"Bearer {auth}"})
        return response.json()

    out = sys.stdout
    extracted = dt.datetime.now(UTC).isoformat()
    hour_start = start.replace(minute=0, second=0, microsecond=0)
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        tokens = list(pool.map(token, config["angus_streams"]))

        def open_window(auth: str, lower: dt.datetime, upper: dt.datetime) -> list[Any]:
            # Page 1, then pages 2..n queued at once (from the worker: no waiting there).
            first = page(auth, lower, upper, 1)
            rest = [
                pool.submit(page, auth, lower, upper, number)
                for number in range(2, first["nb_of_pages"] + 1)
            ]
            return [first, *rest]

        # Every window is queued up front; results are written in request order.
        windows_queued = [
            (camera["client_id"], pool.submit(open_window, auth, lower, upper))
            for camera, auth in zip(config["angus_streams"], tokens, strict=True)
            for lower, upper in windows(hour_start, end, window_days)
        ]
        for client_id, opened in windows_queued:
            first, *rest = opened.result()
            for body in [first, *(r.result() for r in rest)]:
                for key in sorted(body["entities"]):
                    line = {
                        "type": "RECORD",
                        "stream": "angus_entities",
                        "record": record(client_id, key, body["entities"][key]),
                        "time_extracted": extracted,
                    }
                    out.write(json.dumps(line) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
