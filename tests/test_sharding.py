"""shard_count / shard_index: N processes cover every partition exactly once."""

from __future__ import annotations

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
