"""Which shard syncs which partitions: balanced by work, stable, the same in every process.

What is assigned is a partition *group*: one partition key value with every partition of the
selected streams that has it (one ATOM campaign is a partition of each selected insights
stream, one Angus camera of angus_entities whatever its bucket size, one LOCUS coordinate of
locus_hh_segments, one campaign-list state of eq_campaigns). A group's *weight* is its number
of stream partitions, what costs requests; a shard's *load* is the weight of its groups.

`assign` is rendezvous (highest-random-weight) hashing with bounded loads:

- each group ranks the shards by a hash of (shard, group): its own order of preference;
- groups are placed heaviest first (equal weights in the order of their own hash), each on
  the first shard of its ranking whose load stays within the cap, else on the least loaded;
- the cap of a group of weight w is max(1.25 × W_w / shard_count, w), where W_w is the weight
  of every group at least as heavy: the heavy groups are spread among themselves, lighter ones
  fill around them up to 1.25 × the mean load.

Why this and not the alternatives (measured on the 300 random sets of 8 to 207 groups, 2 to
16 shards, of tests/unit/test_shards.py, and on the sandbox):

- A hash modulo the shard count (the rule before) or plain rendezvous hashing place each group
  by its own hash alone: adding a group moves no other, but the balance is that of random
  throws (rendezvous: up to 3.3 × the mean load, 1.47 × at the median; the modulo rule put 32
  of the sandbox's 37 stream partitions on one of three shards). The modulo rule also moved
  n/(n+1) of the groups from n to n+1 shards.
- Each group on the least loaded shard, heaviest first, balances best (1.02 × the mean at the
  median), but a group's shard then depends on every group before it: adding one camera
  moved a quarter of the groups on average.
- Bounded loads keep most groups on their first choice, so a group's shard depends mostly on
  itself; only groups that overflow a full shard depend on the others. The cap per weight
  keeps lighter groups from moving heavier ones: a camera added never moves a campaign.

Balance: a shard exceeds max(1.25 × mean load, heaviest group) only with a group that fits
under no shard's cap, placed on the least loaded shard. With groups of equal weight, at least
four per shard, none ever does: no shard holds more than 1.25 × the mean. On the random sets
(equal weights, the tap's mix of nine-stream campaigns among one-stream groups, weights 1 to
9) the worst shard held 1.32 × the mean (1.19 × at the median), never more than 1.5 × unless
one group alone weighs more (it cannot be split). The tests' sandbox (seed 7) on three
shards: 14, 13 and 10 of its 37 stream partitions.

Movement: adding a one-stream group moved 0.26 others on average (none in 81% of the sets, at
most 6, with 16 shards); a nine-stream campaign 1.9 times its weight of others; removing a
group 1.1; from n to n+1 shards 1.6/(n+1) of the groups (rendezvous alone: 1/(n+1)). A moved
partition is safe: it finds no bookmark in its new shard's state, or an older one, so it
re-reads from there, never skipping.

Deterministic: the hashes are BLAKE2b of canonical text, never `hash()` (salted per
process), and the arithmetic is exact, so every shard process given the same config and
catalog (and, without `eq_campaign_ids`, the same campaign list) computes the same
assignment. A process that cannot list a stream's partitions (the campaign list unavailable)
assigns without them: that stream fails in it anyway, and the others may be split
differently from the other processes for that one run (a partition read twice or next run).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol

from tap_audience.core.errors import TapAudienceError
from tap_audience.core.report import ShardWork

if TYPE_CHECKING:
    from tap_audience.core.report import RunReport


class PartitionSource(Protocol):
    """What a plan needs of an endpoint (`core.endpoint.Endpoint` is one; a protocol, so
    the endpoint, which holds its plan, and this module do not import each other)."""

    @property
    def partition_key(self) -> str: ...

    def all_partitions(self) -> list[dict[str, Any]]: ...


LOGGER = logging.getLogger("tap_audience.shards")

# How far above the mean load a shard fills before a group goes to its next choice: lower
# balances better and moves more groups when one is added (measured in tests/unit/test_shards.py).
LOAD_FACTOR = Fraction(5, 4)


def group_of(partition_key: str, value: Any) -> str:
    """The group of a partition: its partition key and value as canonical text, the same in
    every stream that has it and in every process."""
    return json.dumps({partition_key: value}, sort_keys=True, default=str)


def stable_hash(text: str) -> int:
    """A 64-bit hash that is the same in every process (`hash()` of a str is salted)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def ranking(group: str, shard_count: int) -> list[int]:
    """The shards in the group's order of preference: rendezvous hashing, highest first."""
    return sorted(range(shard_count), key=lambda shard: (-stable_hash(f"{shard}:{group}"), shard))


def assign(weights: Mapping[str, int], shard_count: int) -> dict[str, int]:
    """Each group's shard, from the groups' weights (see the module's docstring)."""
    if shard_count < 1:
        raise ValueError(f"shard_count is {shard_count}, expected 1 or more")
    if weightless := [group for group, weight in weights.items() if weight < 1]:
        raise ValueError(f"weights below 1: {', '.join(sorted(weightless))}")
    # Per weight, the total weight of the groups at least that heavy: the groups of that
    # weight are capped at 1.25 × its share per shard, so lighter groups never move them.
    at_least: dict[int, int] = {}
    running = 0
    for weight, total in sorted(Counter(weights.values()).items(), reverse=True):
        running += weight * total
        at_least[weight] = running
    loads = [0] * shard_count
    assignment: dict[str, int] = {}
    for group in sorted(weights, key=lambda g: (-weights[g], stable_hash(g), g)):
        weight = weights[group]
        cap = max(LOAD_FACTOR * at_least[weight] / shard_count, Fraction(weight))
        preference = ranking(group, shard_count)
        shard = next((s for s in preference if loads[s] + weight <= cap), None)
        if shard is None:  # full everywhere: the least loaded, first in preference on a tie
            shard = min(preference, key=loads.__getitem__)
        loads[shard] += weight
        assignment[group] = shard
    return assignment


def loads_of(
    assignment: Mapping[str, int], weights: Mapping[str, int], shard_count: int
) -> list[int]:
    """Each shard's load: the weight of its groups."""
    loads = [0] * shard_count
    for group, shard in assignment.items():
        loads[shard] += weights[group]
    return loads


class ShardPlan:
    """A sharded run's assignment over its selected streams' partitions, decided once.

    The runtime makes one per sharded run and gives it to every endpoint, whose
    `partitions()` keeps the partitions it `keeps`. The faces decide it (`Runtime.preflight`)
    with the streams they sync, before any data moves; a run that never says (a connection
    test) decides it over every stream on first use.
    """

    def __init__(
        self,
        shard_count: int,
        shard_index: int,
        endpoints: Mapping[str, PartitionSource],
        report: RunReport,
    ) -> None:
        self.shard_count = shard_count
        self.shard_index = shard_index
        self._endpoints = endpoints
        self._report = report
        self._assignment: dict[str, int] | None = None

    def decide(self, streams: Iterable[str]) -> dict[str, int]:
        """Assign the groups of these streams' partitions; record this shard's work."""
        weights: Counter[str] = Counter()
        for name in streams:
            endpoint = self._endpoints[name]
            try:
                partitions = endpoint.all_partitions()
            except TapAudienceError as exc:
                # The stream fails on its own when it asks again (a failure is kept, not
                # retried); the other streams still split, without its groups.
                LOGGER.warning(
                    "%s: its partitions cannot be listed (%s); shards are assigned without "
                    "them, so this run may split the other streams differently from shards "
                    "that could list them",
                    name,
                    exc,
                )
                continue
            key = endpoint.partition_key
            weights.update(group_of(key, partition[key]) for partition in partitions)
        assignment = self._assignment = assign(weights, self.shard_count)
        mine = [g for g, shard in assignment.items() if shard == self.shard_index]
        work = ShardWork(
            groups=len(mine),
            partitions=sum(weights[g] for g in mine),
            all_groups=len(weights),
            all_partitions=sum(weights.values()),
        )
        self._report.shard_work = work
        LOGGER.info(
            "shard %d of %d: %d of %d partition groups, %d of %d stream partitions",
            self.shard_index,
            self.shard_count,
            work.groups,
            work.all_groups,
            work.partitions,
            work.all_partitions,
        )
        return assignment

    def keeps(self, partition_key: str, value: Any) -> bool:
        """Whether this shard syncs the partitions whose `partition_key` is `value`."""
        assignment = self._assignment
        if assignment is None:
            assignment = self.decide(self._endpoints)
        group = group_of(partition_key, value)
        shard = assignment.get(group)
        if shard is None:  # not listed when the plan was decided: its first choice
            shard = ranking(group, self.shard_count)[0]
        return shard == self.shard_index
