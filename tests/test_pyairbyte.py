"""PyAirbyte runs the connector: every stream from the sandbox into its DuckDB cache, twice.

PyAirbyte (`airbyte==0.71.3`) lives in its own virtualenv, `.venv-pyairbyte` (it pins its own
duckdb), installed by scripts/bootstrap.sh. It runs `source-audience` as a local executable
(tests/pyairbyte_read.py drives it); the second read starts from the state PyAirbyte stored
in its cache, after the sandbox's clock moved on and revised its recent data.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import sandbox_config
from tests.meltano_project import START, assert_resumed_from, differences, expected_records

pytestmark = pytest.mark.slow  # PyAirbyte's import alone takes seconds

ROOT = Path(__file__).resolve().parents[1]
PYAIRBYTE = ROOT / ".venv-pyairbyte" / "bin" / "python"
SOURCE = Path(sys.executable).with_name("source-audience")

if not PYAIRBYTE.exists() and not os.environ.get("CI"):  # in CI, a missing install fails
    pytest.skip(
        "PyAirbyte is not installed: `bash scripts/bootstrap.sh --test-tools` installs it",
        allow_module_level=True,
    )


def read_with_pyairbyte(
    config: dict[str, Any], tmp_path: Path, *, check: bool = False
) -> dict[str, Any]:
    config_file, out = tmp_path / "config.json", tmp_path / "out.json"
    config_file.write_text(json.dumps(config))
    process = subprocess.run(
        [
            str(PYAIRBYTE),
            str(ROOT / "tests" / "pyairbyte_read.py"),
            str(config_file),
            str(SOURCE),
            str(tmp_path / "cache.duckdb"),
            str(out),
            *(["--check"] if check else []),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def stored_state(result: dict[str, Any]) -> dict[str, Any]:
    """PyAirbyte's stored stream states, in the Singer-shaped form the helpers read."""
    return {
        "bookmarks": {
            state["stream"]["stream_descriptor"]["name"]: state["stream"]["stream_state"]
            for state in result["states"]
        }
    }


def assert_cache_holds_the_truth(result: dict[str, Any], sandbox: Any) -> None:
    expected = expected_records(sandbox)
    assert set(result["records"]) == set(expected)
    for stream, rows in result["records"].items():
        assert not differences(stream, rows, expected[stream]), stream
    assert all(expected[stream] for stream in expected)


def test_pyairbyte_reads_every_stream_and_resumes_from_its_own_state(sandbox, tmp_path):
    config = {**sandbox_config(sandbox), "start_date": START.isoformat()}
    first = read_with_pyairbyte(config, tmp_path, check=True)
    assert_cache_holds_the_truth(first, sandbox)
    state = stored_state(first)
    assert set(state["bookmarks"]) == set(first["records"])

    # Five hours later: new buckets, and the partial hour of the first read has filled up.
    sandbox.advance(dt.timedelta(hours=5))
    sandbox.clear_requests()
    second = read_with_pyairbyte({**config, "end_date": sandbox.now.isoformat()}, tmp_path)
    assert_resumed_from(state, sandbox)  # from PyAirbyte's stored state, not start_date
    assert_cache_holds_the_truth(second, sandbox)
