"""One source for the version: pyproject.toml, read back from the installed metadata."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import tomllib

from tap_audience.core.clients import USER_AGENT
from tap_audience.singer.tap import TapAudience

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())


def test_the_user_agent_and_the_tap_report_the_pyproject_version():
    version = PYPROJECT["project"]["version"]
    assert metadata.version("tap-audience") == version
    assert f"tap-audience/{version}" == USER_AGENT
    assert TapAudience.plugin_version == version


def test_declared_dependencies_cover_what_the_package_imports():
    declared = " ".join(PYPROJECT["project"]["dependencies"])
    for distribution in ("singer-sdk", "requests", "python-backoff", "typing_extensions"):
        assert distribution in declared
    assert '"backoff' not in declared and " backoff" not in declared


def test_the_dockerfile_meets_airbytes_connector_image_rules():
    text = (Path(__file__).resolve().parents[1] / "Dockerfile").read_text()
    entrypoint = re.search(r'^ENV AIRBYTE_ENTRYPOINT="([^"]+)"$', text, re.MULTILINE)
    assert entrypoint and entrypoint[1].startswith("/")  # an absolute path
    assert f'ENTRYPOINT ["{entrypoint[1]}"]' in text  # the same command is the entrypoint
    assert entrypoint[1].endswith("/source-audience")  # the console script the wheel installs
    assert re.search(r"^USER airbyte$", text, re.MULTILINE)  # not root
    assert "useradd" in text and "chown -R airbyte:airbyte /airbyte" in text  # owns /airbyte
    version = re.search(r'^LABEL io.airbyte.version="([^"]+)"$', text, re.MULTILINE)
    assert version and version[1] == PYPROJECT["project"]["version"]
    assert "source-audience" in PYPROJECT["project"]["scripts"]
