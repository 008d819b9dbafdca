"""Airbyte's standard connector tests, run against the real `source-audience` executable.

The suite is airbyte-cdk's `SourceTestSuiteBase` (the successor of Airbyte's Connector
Acceptance Tests), run by .venv-airbyte-cdk's pytest in this folder (pytest.ini); its
scenarios are the configs of acceptance-test-config.yml. tests/test_airbyte_cdk_standard.py
runs it from the main suite; by hand:

    cd tests/airbyte_cdk_standard && ../../.venv-airbyte-cdk/bin/python -m pytest

The CDK runs a Python connector in-process, through its own `AirbyteEntrypoint` and a CDK
`Source` class, and any other connector as a Docker image. `source-audience` is neither a CDK
source nor, here, an image (no Docker daemon), so the suite's one seam for running a command,
`entrypoint_wrapper._run_command`, is pointed at the executable: each `spec`, `check`,
`discover` and `read` the suite asks for is a `source-audience` process, and its output is
read as the CDK reads an image's (`run_docker_airbyte_command` minus `docker run`): stdout
lines as messages, a non-zero exit as an error. Everything the suite asserts is the CDK's.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.test import entrypoint_wrapper
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput
from airbyte_cdk.test.models import ConnectorTestScenario
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

ROOT = Path(__file__).resolve().parents[2]
EXECUTABLE = Path(os.environ.get("SOURCE_AUDIENCE", ROOT / ".venv" / "bin" / "source-audience"))
VERBS = ("spec", "check", "discover", "read")


class SourceAudience:
    """The connector under test: the `source-audience` executable, one process per command."""

    def __init__(self, executable: Path) -> None:
        if not executable.is_file():
            raise FileNotFoundError(
                f"{executable} is missing: `bash scripts/bootstrap.sh` installs it in .venv, "
                "or set SOURCE_AUDIENCE to the executable to test"
            )
        self.executable = executable

    def spec(self, logger: Any) -> Any:
        """Makes this an `IConnector` for the CDK's job runner; never called in-process."""
        raise NotImplementedError("source-audience runs as a process (SourceAudience.run)")

    def run(self, args: list[str]) -> EntrypointOutput:
        verb = args[0]
        assert verb in VERBS, args
        if verb != "spec" and "--config" not in args:
            # airbyte-cdk 7.39.1 bug: `run_test_job` passes `--config` only `if config_dict`,
            # so an empty `{}` config (invalid_empty.json) is dropped and the connector would
            # be run without `--config`, which no platform does (the CLI then stops on the
            # missing argument and never reads the config). Pass the `{}` the scenario holds.
            empty = Path(tempfile.gettempdir()) / f"empty-config-{uuid.uuid4().hex}.json"
            empty.write_text("{}")
            args = [*args, "--config", str(empty)]
        command = [str(self.executable), *args]
        process = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        return EntrypointOutput(
            command=command,
            messages=process.stdout.splitlines(),
            stderr=process.stderr,
            uncaught_exception=subprocess.CalledProcessError(
                process.returncode, command, process.stdout, process.stderr
            )
            if process.returncode != 0
            else None,
        )


@pytest.fixture(autouse=True)
def commands_run_the_executable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command the suite runs (through `run_test_job`) is a `source-audience` process."""

    def run_command(source: Any, args: list[str], *_: Any, **__: Any) -> EntrypointOutput:
        assert isinstance(source, SourceAudience), source
        return source.run(args)

    monkeypatch.setattr(entrypoint_wrapper, "_run_command", run_command)


class TestSourceAudience(SourceTestSuiteBase):
    """Every standard test of a source, for each scenario of acceptance-test-config.yml."""

    connector_name = "source-audience"  # the folder's name otherwise

    @classmethod
    def create_connector(cls, scenario: ConnectorTestScenario | None) -> Any:
        return SourceAudience(EXECUTABLE)
