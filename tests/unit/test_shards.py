"""Shard assignment (core/shards.py): balanced by work, stable as groups come and go, the same
in every process."""

from __future__ import annotations

import json
import logging
import os
import random
import statistics
import subprocess
import sys
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from tap_audience.core.errors import TapAudienceError
from tap_audience.core.report import RunReport
from tap_audience.core.shards import (
    ShardPlan,
    ShardWork,
    assign,
    group_of,
    loads_of,
    ranking,
)

ROOT = Path(__file__).resolve().parents[2]
STATES = ("running", "pending", "paused", "completed")
INSIGHTS = 9  # a campaign is a partition of each of the nine insights streams


def groups(key: str, values: Iterable[Any], weight: int = 1) -> dict[str, int]:
    return {group_of(key, value): weight for value in values}


def tap_groups(
    cameras: int, campaigns: int, coords: int, insights: int = INSIGHTS
) -> dict[str, int]:
    """A whole config's groups: cameras, campaigns (a partition of each of `insights`
    streams), coordinates and the campaign list's states (one stream partition each)."""
    return {
        **groups("client_id", (f"cam-{i}" for i in range(cameras))),
        **groups("campaign_id", range(30000, 30000 + campaigns), insights),
        **groups("coords", (f"4{i}.5,-7{i}.5" for i in range(coords))),
        **groups("state", STATES),
    }


def max_over_mean(weights: dict[str, int], shard_count: int) -> float:
    loads = loads_of(assign(weights, shard_count), weights, shard_count)
    return max(loads) / (sum(loads) / shard_count)


# --- balance on given sets -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("weights", "shard_count", "bound"),
    [
        # Equal weights, at least four per shard: at most 1.25 × the mean.
        *(
            pytest.param(groups("client_id", range(4 * n)), n, 1.25, id=f"4-per-shard-{n}")
            for n in (2, 3, 5, 8, 16)
        ),
        pytest.param(groups("client_id", range(101)), 7, 1.25, id="101-cameras-7-shards"),
        pytest.param(groups("coords", range(1000)), 16, 1.25, id="1000-coords-16-shards"),
        # Whole configs, campaigns nine times heavier than the rest.
        pytest.param(tap_groups(3, 3, 3), 3, 1.5, id="sandbox-sized-3-shards"),
        pytest.param(tap_groups(3, 3, 6), 3, 1.5, id="test-sharding-sized-3-shards"),
        pytest.param(tap_groups(12, 6, 3), 4, 1.5, id="12-cameras-6-campaigns-4-shards"),
        pytest.param(tap_groups(40, 20, 10), 8, 1.5, id="40-cameras-20-campaigns-8-shards"),
        pytest.param(tap_groups(200, 60, 20), 16, 1.5, id="200-cameras-60-campaigns-16-shards"),
        pytest.param(tap_groups(0, 40, 0), 8, 1.5, id="campaigns-only-8-shards"),
        pytest.param(tap_groups(30, 10, 5, insights=2), 5, 1.5, id="two-insights-selected"),
    ],
)
def test_no_shard_holds_more_than_the_bound(
    weights: dict[str, int], shard_count: int, bound: float
) -> None:
    assert max_over_mean(weights, shard_count) <= bound


def test_the_hash_rule_it_replaces_put_most_of_the_work_on_one_shard() -> None:
    """The measurement behind the change: crc32 of the key modulo the shard count put the
    sandbox's three campaigns, nine streams each, on one of three shards (with the sandbox's
    camera ids, 32 of its 37 stream partitions: tests/test_sharding.py)."""
    weights = {
        **groups("client_id", ("cam-1", "cam-2", "cam-3")),
        **groups("campaign_id", (37054, 41001, 52210), INSIGHTS),
        **groups("coords", ("43.6532,-79.3832", "45.5019,-73.5674", "49.2827,-123.1207")),
        **groups("state", STATES),
    }
    by_crc = [0, 0, 0]
    for group, weight in weights.items():
        by_crc[zlib.crc32(group.encode()) % 3] += weight
    assert max(by_crc) >= 3 * INSIGHTS
    loads = loads_of(assign(weights, 3), weights, 3)
    assert sum(loads) == 37 and max(loads) <= 1.5 * 37 / 3


def test_a_group_heavier_than_the_bound_holds_its_shard_alone() -> None:
    # One campaign (nine streams) among 19 one-stream groups (15 cameras, 4 states) on five
    # shards: the mean is 5.6, and the campaign alone weighs more than 1.5 × that. Nothing
    # joins it.
    weights = tap_groups(15, 1, 0)
    assignment = assign(weights, 5)
    campaign = group_of("campaign_id", 30000)
    loads = loads_of(assignment, weights, 5)
    assert loads[assignment[campaign]] == INSIGHTS == max(loads)


@pytest.mark.parametrize("shard_count", [2, 5, 16])
def test_fewer_groups_than_shards_get_one_shard_each(shard_count: int) -> None:
    weights = groups("coords", range(shard_count - 1))
    loads = loads_of(assign(weights, shard_count), weights, shard_count)
    assert sorted(loads) == [0] + [1] * (shard_count - 1)


def test_edge_cases() -> None:
    assert assign({}, 3) == {}
    assert set(assign(tap_groups(5, 5, 5), 1).values()) == {0}
    with pytest.raises(ValueError, match="shard_count is 0"):
        assign({"a": 1}, 0)
    with pytest.raises(ValueError, match="weights below 1: b"):
        assign({"a": 1, "b": 0}, 2)


# --- the same everywhere ---------------------------------------------------------------------
# Literal values: a change here moves partitions between the shards of a running setup, so it
# has to be deliberate (and the README's re-sharding paragraph applies).
@pytest.mark.parametrize(
    ("group", "first_choice"),
    [
        pytest.param(group_of("client_id", "cam-1"), {2: 0, 3: 0, 4: 0, 7: 0, 10: 0}, id="camera"),
        pytest.param(
            group_of("campaign_id", 37054), {2: 1, 3: 1, 4: 1, 7: 1, 10: 1}, id="campaign"
        ),
        pytest.param(
            group_of("coords", "43.6532,-79.3832"), {2: 0, 3: 0, 4: 3, 7: 3, 10: 7}, id="coords"
        ),
        pytest.param(group_of("state", "running"), {2: 0, 3: 0, 4: 0, 7: 0, 10: 0}, id="state"),
    ],
)
def test_known_rankings(group: str, first_choice: dict[int, int]) -> None:
    for count, expected in first_choice.items():
        order = ranking(group, count)
        assert sorted(order) == list(range(count))
        assert order[0] == expected
        # Rendezvous: a shard added comes into the ranking without reordering the others.
        assert [s for s in ranking(group, count + 1) if s < count] == order


def test_known_assignment() -> None:
    weights = {
        **groups("client_id", (f"cam-{i}" for i in range(1, 7))),
        **groups("campaign_id", (37054, 41001, 52210), INSIGHTS),
        **groups("state", STATES),
        **groups("coords", ("43.6532,-79.3832", "45.5019,-73.5674", "49.2827,-123.1207")),
    }
    assignment = assign(weights, 3)
    by_shard = [sorted(g for g, s in assignment.items() if s == shard) for shard in range(3)]
    assert by_shard == [
        [
            '{"campaign_id": 52210}',
            '{"client_id": "cam-1"}',
            '{"client_id": "cam-2"}',
            '{"client_id": "cam-3"}',
            '{"client_id": "cam-4"}',
            '{"coords": "43.6532,-79.3832"}',
            '{"coords": "49.2827,-123.1207"}',
            '{"state": "running"}',
        ],
        [
            '{"campaign_id": 37054}',
            '{"client_id": "cam-5"}',
            '{"coords": "45.5019,-73.5674"}',
            '{"state": "paused"}',
            '{"state": "pending"}',
        ],
        ['{"campaign_id": 41001}', '{"client_id": "cam-6"}', '{"state": "completed"}'],
    ]
    assert loads_of(assignment, weights, 3) == [16, 13, 11]


def test_the_order_of_the_mapping_does_not_matter() -> None:
    weights = tap_groups(20, 10, 5)
    items = list(weights.items())
    random.Random(3).shuffle(items)
    assert assign(dict(items), 4) == assign(weights, 4)


def test_another_process_with_another_hash_seed_assigns_alike() -> None:
    """No `hash()`: str hashes are salted per process, the shards' processes must agree."""
    weights = tap_groups(30, 12, 6)
    code = (
        "import json, sys\n"
        "from tap_audience.core.shards import assign\n"
        "print(json.dumps(assign(json.loads(sys.stdin.read()), 5), sort_keys=True))\n"
    )
    for seed in ("1", "2"):
        process = subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps(weights),
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert json.loads(process.stdout) == assign(weights, 5)


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        pytest.param(("campaign_id", 37054), ("campaign_id", 37054), True, id="same"),
        pytest.param(("campaign_id", 37054), ("campaign_id", "37054"), False, id="int-vs-text"),
        pytest.param(("client_id", "a"), ("coords", "a"), False, id="other-key"),
    ],
)
def test_group_of(first: tuple[str, Any], second: tuple[str, Any], same: bool) -> None:
    assert (group_of(*first) == group_of(*second)) is same


# --- many random sets: balance and movement ---------------------------------------------------
KINDS = ("equal", "tap", "mixed")
SHARD_COUNTS = (2, 3, 4, 5, 8, 16)


def random_groups(rng: random.Random, shard_count: int, kind: str) -> dict[str, int]:
    """4 to 12 groups per shard: equal weights, the tap's mix (a campaign as heavy as nine
    streams among single-stream groups), or weights 1 to 9."""
    count = rng.randint(4, 12) * shard_count + rng.randrange(shard_count)

    def weight() -> int:
        if kind == "equal":
            return 1
        if kind == "tap":
            return rng.choice((1, 1, 1, INSIGHTS))
        return rng.randint(1, 9)

    return {f'{{"id": {rng.getrandbits(48)}}}': weight() for _ in range(count)}


def random_sets(count: int) -> list[tuple[str, int, dict[str, int]]]:
    rng = random.Random(2026)
    sets = []
    for i in range(count):
        kind, shard_count = KINDS[i % len(KINDS)], rng.choice(SHARD_COUNTS)
        sets.append((kind, shard_count, random_groups(rng, shard_count, kind)))
    return sets


SETS = random_sets(300)


def moved(before: dict[str, int], after: dict[str, int]) -> list[str]:
    return [group for group, shard in before.items() if after[group] != shard]


def test_balance_on_random_sets() -> None:
    for kind, shard_count, weights in SETS:
        loads = loads_of(assign(weights, shard_count), weights, shard_count)
        mean = sum(loads) / shard_count
        if kind == "equal":
            assert max(loads) <= 1.25 * mean, (shard_count, loads)
        # Above 1.5 × the mean only when one group alone is (it cannot be split).
        assert max(loads) <= max(1.5 * mean, *weights.values()), (kind, shard_count, loads)


def test_adding_a_group_moves_few_others() -> None:
    light_moves, heavy_moved_weight = [], []
    for _, shard_count, weights in SETS:
        before = assign(weights, shard_count)
        for added in (1, INSIGHTS):
            after = assign({**weights, '{"id": "added"}': added}, shard_count)
            others = moved(before, after)
            # A lighter group never moves a heavier one: a camera added leaves the campaigns.
            assert all(weights[group] <= added for group in others)
            if added == 1:
                assert len(others) <= shard_count
                light_moves.append(len(others))
            else:
                heavy_moved_weight.append(sum(weights[g] for g in others) / added)
    # Measured: 0.26 groups on average, none in 81% of the sets, at most 6 (16 shards); a
    # nine-stream campaign moves 1.9 times its own weight of other groups on average.
    assert statistics.mean(light_moves) < 0.5
    assert statistics.mean(heavy_moved_weight) < 2.5


def test_removing_a_group_moves_few_others() -> None:
    moves = []
    for _, shard_count, weights in SETS:
        before = assign(weights, shard_count)
        gone = min(weights)
        rest = {group: weight for group, weight in weights.items() if group != gone}
        moves.append(len(moved({g: before[g] for g in rest}, assign(rest, shard_count))))
    assert statistics.mean(moves) < 1.5  # measured: 1.09


def test_resharding_moves_about_one_group_in_n_plus_one() -> None:
    """From n to n+1 shards rendezvous hashing moves 1/(n+1) of the groups; the cap adds a
    little. A hash modulo n moved n/(n+1) of them."""
    ours, modulo = [], []
    for _, shard_count, weights in SETS:
        before, after = assign(weights, shard_count), assign(weights, shard_count + 1)
        ours.append(len(moved(before, after)) / len(weights) * (shard_count + 1))
        crc = {group: zlib.crc32(group.encode()) for group in weights}
        modulo.append(sum(c % shard_count != c % (shard_count + 1) for c in crc.values()))
        modulo[-1] /= len(weights)
    assert statistics.mean(ours) < 2  # measured: 1.59 / (n+1)
    assert statistics.mean(modulo) > 0.75  # measured: 0.81


# --- ShardPlan: one run's plan over its endpoints ---------------------------------------------
class FakeEndpoint:
    """What a plan reads of an endpoint: its partition key and partitions."""

    def __init__(self, key: str, partitions: list[dict[str, Any]] | Exception) -> None:
        self.partition_key = key
        self._partitions = partitions

    def all_partitions(self) -> list[dict[str, Any]]:
        if isinstance(self._partitions, Exception):
            raise self._partitions
        return self._partitions


CAMPAIGNS = [{"campaign_id": c} for c in range(100, 112)]
ENDPOINTS = {
    "angus_entities": FakeEndpoint(
        "client_id", [{"client_id": f"cam-{i}", "time_bucket": "by_hour"} for i in range(9)]
    ),
    "eq_os": FakeEndpoint("campaign_id", CAMPAIGNS),
    "eq_lang": FakeEndpoint("campaign_id", CAMPAIGNS),
    "eq_iab": FakeEndpoint("campaign_id", CAMPAIGNS),
    "locus_hh_segments": FakeEndpoint("coords", [{"coords": f"4{i}.0,-7{i}.0"} for i in range(4)]),
}


def plans(shard_count: int, endpoints: dict[str, Any] = ENDPOINTS) -> list[ShardPlan]:
    return [ShardPlan(shard_count, i, endpoints, RunReport()) for i in range(shard_count)]


def text(partition: dict[str, Any]) -> str:
    return json.dumps(partition, sort_keys=True)


def share(plan: ShardPlan, endpoint: FakeEndpoint) -> list[dict[str, Any]]:
    key = endpoint.partition_key
    return [p for p in endpoint.all_partitions() if plan.keeps(key, p[key])]


def test_every_partition_is_in_one_shard_and_a_campaign_in_one_for_every_stream() -> None:
    shards = plans(3)
    for plan in shards:
        plan.decide(ENDPOINTS)
    for name, endpoint in ENDPOINTS.items():
        shares = [share(plan, endpoint) for plan in shards]
        union = [text(p) for s in shares for p in s]
        assert sorted(union) == sorted(map(text, endpoint.all_partitions())), name
        assert sum(len(s) for s in shares) == len(endpoint.all_partitions()), name
    for campaign in CAMPAIGNS:
        holders = {
            i
            for i, plan in enumerate(shards)
            for name in ("eq_os", "eq_lang", "eq_iab")
            if campaign in share(plan, ENDPOINTS[name])
        }
        assert len(holders) == 1, campaign


def test_the_work_of_each_shard_is_reported_and_weighs_the_selected_streams() -> None:
    works = []
    for index in range(3):
        report = RunReport()
        ShardPlan(3, index, ENDPOINTS, report).decide(["angus_entities", "eq_os", "eq_lang"])
        assert isinstance(report.shard_work, ShardWork)
        works.append(report.shard_work)
    # eq_iab is not selected: a campaign weighs two stream partitions, not three.
    assert {(w.all_groups, w.all_partitions) for w in works} == {(21, 9 + 2 * 12)}
    assert sum(w.groups for w in works) == 21 and sum(w.partitions for w in works) == 33
    assert max(w.partitions for w in works) <= 1.5 * 33 / 3


def test_a_stream_whose_partitions_cannot_be_listed_leaves_the_others_assigned(caplog) -> None:
    broken = {
        **ENDPOINTS,
        "eq_os": FakeEndpoint("campaign_id", TapAudienceError("campaign list unavailable")),
    }
    with caplog.at_level(logging.WARNING, logger="tap_audience.shards"):
        shards = plans(2, broken)
        for plan in shards:
            plan.decide(broken)
    assert "eq_os: its partitions cannot be listed (campaign list unavailable)" in caplog.text
    # The others still split exactly once; a campaign's group was assigned from eq_lang's.
    for name in ("angus_entities", "eq_lang", "locus_hh_segments"):
        endpoint = broken[name]
        assert sum(len(share(plan, endpoint)) for plan in shards) == len(endpoint.all_partitions())


def test_a_partition_unknown_to_the_plan_goes_to_its_first_choice() -> None:
    plan = plans(4)[2]
    plan.decide(["angus_entities"])
    group = group_of("client_id", "a-camera-added-since")
    assert plan.keeps("client_id", "a-camera-added-since") is (ranking(group, 4)[0] == 2)


def test_a_plan_not_decided_decides_over_every_stream_when_first_asked() -> None:
    lazy_report, told_report = RunReport(), RunReport()
    lazy = ShardPlan(3, 1, ENDPOINTS, lazy_report)
    told = ShardPlan(3, 1, ENDPOINTS, told_report)
    told.decide(ENDPOINTS)
    for endpoint in ENDPOINTS.values():
        assert share(lazy, endpoint) == share(told, endpoint)
    assert lazy_report.shard_work == told_report.shard_work
