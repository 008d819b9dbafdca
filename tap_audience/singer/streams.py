"""Every stream the tap offers, in sync order: one `EndpointStream` per endpoint."""

from __future__ import annotations

from collections.abc import Callable

from singer_sdk import Tap

from tap_audience.connector.endpoints import INFOS
from tap_audience.connector.runtime import Runtime
from tap_audience.singer.stream import EndpointStream

STREAM_NAMES: tuple[str, ...] = tuple(info.name for info in INFOS)


def endpoint_streams(tap: Tap, runtime: Callable[[], Runtime]) -> list[EndpointStream]:
    return [EndpointStream(tap, info, runtime) for info in INFOS]
