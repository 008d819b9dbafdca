"""BATCH settings singer-sdk would accept and then silently not honour."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any


def batch_problems(config: Mapping[str, Any]) -> list[str]:
    """BATCH settings singer-sdk would accept and then silently not honour."""
    batch = config.get("batch_config")
    if not isinstance(batch, Mapping):
        return []
    problems = []
    # singer-sdk writes batch files from the records before stream maps and flattening apply.
    if config.get("stream_maps") or config.get("flattening_enabled"):
        problems.append(
            "batch_config cannot be combined with stream_maps or flattening_enabled (batch "
            "files are written before maps apply): remove one of them"
        )
    encoding = batch.get("encoding")
    encoding = encoding if isinstance(encoding, Mapping) else {}
    if encoding.get("format") == "jsonl" and encoding.get("compression") == "none":
        problems.append(
            "batch_config.encoding.compression none is not supported: singer-sdk always "
            "gzips jsonl batch files; set it to gzip"
        )
    if encoding.get("format") == "parquet" and importlib.util.find_spec("pyarrow") is None:
        problems.append(
            "batch_config.encoding.format parquet needs pyarrow, which is not installed: "
            "install it beside the tap, or use jsonl"
        )
    return problems
