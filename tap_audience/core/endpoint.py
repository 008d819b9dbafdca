"""An endpoint declared as data plus three small behaviours: plan, request, parse.

This layer produces records and window bookkeeping and knows no output protocol and no
vendor: a face (the Singer stream adapter in `tap_audience.singer.stream`) supplies the
bookmark and emits what the endpoint yields. An endpoint's static facts are an
`EndpointInfo`, known before any run (discovery); the endpoint itself is built per run from
the run's settings and its vendor's settings and connection.
"""

from __future__ import annotations

import abc
import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from typing_extensions import override

from tap_audience.core.errors import MalformedResponseError
from tap_audience.core.http import ApiRequest, VendorClient, malformed
from tap_audience.core.settings import RunSettings
from tap_audience.core.shards import ShardPlan
from tap_audience.core.windows import Window

LOGGER = logging.getLogger("tap_audience.endpoint")

Record = dict[str, Any]
Partition = Mapping[str, Any]


@dataclass(frozen=True)
class EndpointInfo:
    """What a stream is, before any run: its name, keys, cursor, vendor and path."""

    name: str
    primary_keys: tuple[str, ...]
    partition_key: str
    vendor: str
    path: str
    replication_key: str | None = None


class Endpoint(abc.ABC):
    """One vendor endpoint. Subclasses implement the hooks; `info` holds the data."""

    def __init__(self, info: EndpointInfo, run: RunSettings) -> None:
        self.info = info
        self.run = run
        # The run's shard assignment, given by the runtime when the run is sharded.
        self.shard_plan: ShardPlan | None = None
        self._unknown_seen: set[str] = set()

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def primary_keys(self) -> tuple[str, ...]:
        return self.info.primary_keys

    @property
    def replication_key(self) -> str | None:
        return self.info.replication_key

    @property
    def partition_key(self) -> str:
        return self.info.partition_key

    @property
    def vendor(self) -> str:
        return self.info.vendor

    @property
    def path(self) -> str:
        """The endpoint's path, used in requests and in error messages."""
        return self.info.path

    def note_unknown_fields(self, where: str, names: Iterable[str]) -> None:
        """Log, once per stream and field, fields the vendor sent that the tap does not extract."""
        new = {f"{where}.{name}" for name in names} - self._unknown_seen
        if new:
            self._unknown_seen |= new
            LOGGER.warning(
                "%s: %s %s sent fields the tap does not extract (not in the schema): %s",
                self.name,
                self.vendor,
                self.path,
                ", ".join(sorted(new)),
            )

    @abc.abstractmethod
    def all_partitions(self) -> list[dict[str, Any]]:
        """One dict per partition, e.g. `{"client_id": ...}`; empty when not configured."""

    def partitions(self) -> list[dict[str, Any]]:
        """This process's share of the partitions: all of them unless the run is sharded.

        The run's shard plan (`core.shards`) assigns partition key values: a partition keeps
        its shard when other parts of its context (Angus's bucket size) change, and one shard
        syncs a campaign in every insights stream.
        """
        everything = self.all_partitions()
        if self.shard_plan is None:
            return everything
        key = self.partition_key
        return [p for p in everything if self.shard_plan.keeps(key, p[key])]

    def known_partitions(self) -> list[dict[str, Any]]:
        """Every partition a bookmark of this endpoint may belong to, for naming state entries
        that match none: by default the partitions it syncs."""
        return self.all_partitions()

    def canonical_context(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """A partition context read from the input state, with its values' own types (a
        state edited by hand may carry `"37054"` for `37054`, which would match nothing)."""
        return dict(context)

    def bookmark_value(self, value: Any) -> str:
        """The canonical form of a bookmark read from the input state.

        Raises ValueError naming the expected form when `value` is not a bookmark of this
        endpoint. Bookmarks are compared as text, so one form per endpoint matters.
        """
        raise ValueError(f"{self.name} keeps no bookmark")

    def unconfigured_reason(self) -> str:
        """Why `partitions()` is empty, for the one INFO line the tap logs."""
        return f"no {self.partition_key} configured"

    def unusable_config(self) -> str | None:
        """Why the config asks for this endpoint's data but can never get it, if it does: the
        stream then fails (one ERROR line, exit 1) instead of quietly syncing nothing."""
        return None

    @abc.abstractmethod
    def client(self, partition: Partition) -> VendorClient:
        """The client (base URL + authenticator) that serves this partition."""

    @abc.abstractmethod
    def plan(self, partition: Partition, bookmark: str | None) -> list[Window]:
        """The windows to fetch, oldest first, given the partition's bookmark (or None)."""

    @abc.abstractmethod
    def first_request(self, window: Window) -> ApiRequest:
        """The request that opens a window (page 1)."""

    def follow_up_requests(self, window: Window, first_payload: Any) -> list[ApiRequest]:
        """Requests the first response makes necessary (pages 2..n). None by default."""
        return []

    def parse(self, window: Window, payload: Any) -> Iterator[Record]:
        """Records of one response, in emission order, with their final types.

        The skeleton every endpoint shares: `rows` checks the payload's container and gives
        each row (noting fields the tap does not extract); `record` builds one record. A row
        that cannot be built makes the whole response malformed, naming the row.
        """
        for where, row in self.rows(window, payload):
            try:
                yield self.record(window, row)
            except KeyError as exc:
                raise self.malformed(f"{where}: no {exc}") from None
            except (TypeError, ValueError, AttributeError) as exc:
                raise self.malformed(f"{where}: {exc}") from None

    @abc.abstractmethod
    def rows(self, window: Window, payload: Any) -> Iterator[tuple[str, Any]]:
        """(what to call it in an error, row) for each row of a response, in emission order.

        Raises `self.malformed(...)` when the payload is not the documented container.
        """

    @abc.abstractmethod
    def record(self, window: Window, row: Any) -> Record:
        """The record of one row; KeyError, TypeError, ValueError mean a malformed row."""

    def malformed(self, what: str) -> MalformedResponseError:
        return malformed(what, vendor=self.vendor, path=self.path)


class FullTableEndpoint(Endpoint):
    """An endpoint read whole on every run: one window per partition, no bookmark."""

    @override
    def plan(self, partition: Partition, bookmark: str | None) -> list[Window]:
        return [Window(partition=partition, start=self.run.end, end=self.run.end)]


def resume_point(
    *, start: dt.datetime, bookmark: dt.datetime | None, lookback: dt.timedelta
) -> dt.datetime:
    """`max(start, bookmark − lookback)`: re-read the lookback, never before start."""
    if bookmark is None:
        return start
    return max(start, bookmark - lookback)
