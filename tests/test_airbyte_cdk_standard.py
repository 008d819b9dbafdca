"""Airbyte's own standard connector tests pass against the real `source-audience` executable.

The suite (airbyte-cdk's `SourceTestSuiteBase`, `airbyte-cdk==7.39.1`) lives in its own
virtualenv, `.venv-airbyte-cdk`, installed by `scripts/bootstrap.sh --test-tools`; its test
module and scenarios are in tests/airbyte_cdk_standard/ (a pytest project of its own, kept out
of this run by tests/conftest.py). This test runs it there with that virtualenv's pytest and
checks what passed and what was skipped, and why; on a failure it shows the inner output.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a pytest run in another virtualenv, ~40 connector processes

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "tests" / "airbyte_cdk_standard"
CDK_PYTHON = ROOT / ".venv-airbyte-cdk" / "bin" / "python"
SOURCE = Path(sys.executable).with_name("source-audience")

if not CDK_PYTHON.exists() and not os.environ.get("CI"):  # in CI, a missing install fails
    pytest.skip(
        "the Airbyte CDK is not installed: `bash scripts/bootstrap.sh --test-tools` installs it",
        allow_module_level=True,
    )

SCENARIOS = ["sandbox", "invalid_wrong_type", "invalid_unknown_enum", "invalid_empty"]
# What runs: `check` for every config (the invalid ones must answer FAILED), and for the
# sandbox config everything else (spec match, discover, a full read of every stream).
PASSED = {f"test_check['{scenario}' Test Scenario]" for scenario in SCENARIOS} | {
    "test_spec",
    "test_config_matches_spec['sandbox' Test Scenario]",
    "test_discover['sandbox' Test Scenario]",
    "test_basic_read['sandbox' Test Scenario]",
    "test_fail_read_with_bad_catalog['sandbox' Test Scenario]",
}
NOT_LISTED = "does not run for scenario"  # the CDK's: a command the config's sections skip
NO_DOCKER = "needs a Docker daemon and none answers here"  # tests/airbyte_cdk_standard/conftest.py
# The CDK's image tests: spec and spec backward compatibility, and check, config-matches-spec,
# discover and read for each config.
IMAGE_TESTS = 2 + 4 * len(SCENARIOS)


def run_suite(tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """The inner run and each test's outcome: `passed`, `failed` or `skipped: <reason>`."""
    report = tmp_path / "report.xml"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["SOURCE_AUDIENCE"] = str(SOURCE)
    env["TMPDIR"] = str(tmp_path)  # the CDK leaves its config and catalog files there
    process = subprocess.run(
        [str(CDK_PYTHON), "-m", "pytest", f"--junitxml={report}"],
        cwd=SUITE,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    outcomes: dict[str, str] = {}
    if report.exists():
        for case in ET.parse(report).iter("testcase"):
            skipped = case.find("skipped")
            failed = case.find("failure") is not None or case.find("error") is not None
            outcomes[case.get("name", "")] = (
                "failed"
                if failed
                else f"skipped: {skipped.get('message', '')}"
                if skipped is not None
                else "passed"
            )
    return process, outcomes


def test_the_airbyte_cdk_standard_tests_pass_against_the_executable(tmp_path):
    assert SOURCE.exists(), SOURCE
    process, outcomes = run_suite(tmp_path)
    shown = f"inner pytest exit {process.returncode}:\n{process.stdout[-20000:]}{process.stderr}"
    assert process.returncode == 0, shown
    passed = {name for name, outcome in outcomes.items() if outcome == "passed"}
    assert passed == PASSED, shown
    skipped = {name: outcome for name, outcome in outcomes.items() if name not in passed}
    image_tests = [name for name in skipped if name.startswith("test_docker_image")]
    assert len(image_tests) == IMAGE_TESTS, shown
    assert all(NO_DOCKER in skipped[name] for name in image_tests), shown
    others = [name for name in skipped if name not in image_tests]
    assert len(others) == 12, shown  # 4 commands x the 3 configs listed only under `connection`
    assert all(NOT_LISTED in skipped[name] for name in others), shown
    assert len(outcomes) == 39, shown
    assert "9 passed, 30 skipped" in process.stdout, shown
