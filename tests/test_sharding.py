"""shard_count / shard_index: N processes cover every partition exactly once."""

from __future__ import annotations

import json
import zlib

from tap_audience.connector.endpoints import INFOS
from tap_audience.connector.runtime import Runtime
from tests.helpers import run_tap, sandbox_config

KEYS = {
    "angus_entities": ("client_id", "time_bucket", "bucket_start"),
    "eq_os": ("campaign_id", "date", "dimension_value"),
    "locus_hh_segments": ("coords", "segment_id"),
    "eq_campaigns": ("campaign_id",),
}


def keyed(result):
    return {
        stream: {tuple(r[k] for k in keys): r for r in result.records[stream]}
        for stream, keys in KEYS.items()
    }


def record_keys(records):
    """Each stream's record keys, from `{stream: [record, ...]}` (either face's records)."""
    return {
        stream: {tuple(r[k] for k in keys) for r in records.get(stream, [])}
        for stream, keys in KEYS.items()
    }


def partitions(result):
    return {
        (stream, tuple(sorted(p["context"].items())))
        for stream, bookmarks in result.final_state.get("bookmarks", {}).items()
        for p in bookmarks.get("partitions", [])
    }


def test_three_shards_equal_one_unsharded_run_and_are_disjoint(sandbox):
    config = sandbox_config(sandbox)
    # More partitions than shards, so every shard gets some.
    config["locus_coords"] += ["51.0447,-114.0719", "53.5461,-113.4938", "46.8139,-71.2080"]
    streams = list(KEYS)
    whole = run_tap(config, streams=streams)
    shards = [
        run_tap({**config, "shard_count": 3, "shard_index": i}, streams=streams) for i in range(3)
    ]
    union: dict[str, dict] = {stream: {} for stream in KEYS}
    for shard in shards:
        for stream, rows in keyed(shard).items():
            assert not union[stream].keys() & rows.keys(), f"{stream}: shards overlap"
            union[stream].update(rows)
    assert union == keyed(whole)
    seen = [partitions(shard) for shard in shards]
    assert set().union(*seen) == partitions(whole)
    assert sum(len(s) for s in seen) == len(partitions(whole))
    assert all(seen), "a shard got no partition at all"


def test_a_partition_always_lands_on_the_same_shard(sandbox):
    config = {**sandbox_config(sandbox), "shard_count": 3, "shard_index": 1}
    first = run_tap(config, streams=["angus_entities"])
    second = run_tap(config, streams=["angus_entities"])
    assert {r["client_id"] for r in first.records["angus_entities"]} == {
        r["client_id"] for r in second.records["angus_entities"]
    }


def test_a_kubernetes_job_index_picks_the_shard_when_the_config_does_not(sandbox, monkeypatch):
    config = {**sandbox_config(sandbox), "shard_count": 3}
    explicit = run_tap({**config, "shard_index": 2}, streams=list(KEYS))
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "2")  # what each pod of an Indexed Job gets
    from_the_job = run_tap(config, streams=list(KEYS))
    assert keyed(from_the_job) == keyed(explicit)
    assert partitions(from_the_job) == partitions(explicit)
    # An explicit shard_index wins over the job's index.
    assert keyed(run_tap({**config, "shard_index": 1}, streams=list(KEYS))) != keyed(explicit)


def test_a_job_index_beyond_the_shard_count_is_a_config_problem(monkeypatch):
    from tap_audience.connector.config_checks import config_problems

    monkeypatch.setenv("JOB_COMPLETION_INDEX", "4")
    assert config_problems({"shard_count": 3}) == [
        "shard_index (4) must be below shard_count (3): shards are numbered from 0"
    ]


def test_resharding_skips_nothing_moved_partitions_re_read(sandbox):
    """2 shards, then 3: a partition that moves finds no bookmark (or an older one) in its new
    shard's state, so it re-reads from there; an upserting target ends up exact."""
    import datetime as dt

    from tests.meltano_project import differences, expected_records

    config = sandbox_config(sandbox)
    states: dict[str, dict] = {}  # state id suffix -> state, as Meltano keeps them
    loaded: dict[str, dict] = {stream: {} for stream in KEYS}

    def run_shards(count: int) -> None:
        for index in range(count):
            suffix = f"shard-{index}"  # by index alone: shard-1 of 3 reuses shard-1 of 2's
            result = run_tap(
                {**config, "shard_count": count, "shard_index": index},
                state=states.get(suffix),
                streams=list(KEYS),
            )
            states[suffix] = result.final_state
            for stream, rows in keyed(result).items():
                loaded[stream].update(rows)  # upsert: the newest row per key wins

    run_shards(2)
    sandbox.advance(dt.timedelta(hours=5))  # new buckets, and the partial hour fills up
    config["end_date"] = sandbox.now.isoformat()
    run_shards(3)
    expected = expected_records(sandbox)
    for stream in KEYS:
        assert not differences(stream, list(loaded[stream].values()), expected[stream]), stream


def test_three_shards_balance_the_sandbox_work(sandbox):
    """Every stream over three shards: the sandbox's 3 cameras, 3 campaigns (each a partition
    of the nine insights streams), 3 coordinates and 4 campaign states are 13 groups and 37
    stream partitions. crc32 of the key modulo 3 put 32 of them on one shard."""
    names = [info.name for info in INFOS]
    works, shares = [], {name: [] for name in names}
    for index in range(3):
        runtime = Runtime({**sandbox_config(sandbox), "shard_count": 3, "shard_index": index})
        try:
            runtime.preflight(names)
            works.append(runtime.report.shard_work)
            for name in names:
                shares[name].append(runtime.endpoints[name].partitions())
            everything = {name: runtime.endpoints[name].all_partitions() for name in names}
        finally:
            runtime.close()
    assert {(work.all_groups, work.all_partitions) for work in works} == {(13, 37)}
    assert sum(work.partitions for work in works) == 37
    assert max(work.partitions for work in works) <= 1.5 * 37 / 3
    assert [work.partitions for work in works] == [14, 13, 10]  # core/shards.py quotes it
    for name, per_shard in shares.items():
        union = [json.dumps(p, sort_keys=True) for share in per_shard for p in share]
        assert sorted(union) == sorted(json.dumps(p, sort_keys=True) for p in everything[name])
    by_crc = [0, 0, 0]  # the rule before: crc32 of the key modulo the shard count
    keys = {info.name: info.partition_key for info in INFOS}
    for name, partitions in everything.items():
        key = keys[name]
        for p in partitions:
            by_crc[zlib.crc32(json.dumps({key: p[key]}).encode()) % 3] += 1
    assert max(by_crc) == 32


def test_the_airbyte_face_gives_each_shard_what_the_singer_face_does(sandbox, tmp_path):
    """The same config and catalog make the same assignment in either face's processes."""
    from tests.test_airbyte import configure, source

    config = sandbox_config(sandbox)
    (found,) = source(tmp_path, "discover", config=config).of("CATALOG")
    catalog = configure([s for s in found["catalog"]["streams"] if s["name"] in KEYS])
    seen = []
    for index in range(3):
        sharded = {**config, "shard_count": 3, "shard_index": index}
        airbyte = source(tmp_path, "read", config=sharded, catalog=catalog)
        assert airbyte.code == 0, airbyte.stderr
        seen.append(record_keys(airbyte.records()))
        assert seen[-1] == record_keys(run_tap(sharded, streams=list(KEYS)).records)
    whole = record_keys(run_tap(config, streams=list(KEYS)).records)
    for stream in KEYS:
        assert sum(len(keys[stream]) for keys in seen) == len(whole[stream]), stream
        assert set().union(*(keys[stream] for keys in seen)) == whole[stream], stream
