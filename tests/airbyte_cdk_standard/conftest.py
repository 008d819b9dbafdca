"""The CDK's image tests need a Docker daemon: without one they are skipped, saying so.

The CDK skips them itself only when there is no `docker` command at all; with the command but
no daemon (as on this project's machines and CI) they would fail building the image. Every one
of them builds or runs the connector's image (the spec backward-compatibility test compares the
image's spec with the published one), so none can run without a daemon.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest


def docker_daemon_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        answer = subprocess.run([docker, "info"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return answer.returncode == 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    image_tests = [item for item in items if item.get_closest_marker("image_tests")]
    if image_tests and not docker_daemon_answers():
        skip = pytest.mark.skip(
            reason="needs a Docker daemon and none answers here (`docker info` fails): "
            "the image tests build the connector's image and run it"
        )
        for item in image_tests:
            item.add_marker(skip)
