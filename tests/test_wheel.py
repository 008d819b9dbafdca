"""The built wheel carries the schemas: install it in a fresh virtualenv and discover, with
the Singer face and with the Airbyte face (the command the Docker image runs)."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from airbyte_protocol.models import AirbyteMessage

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_discover_from_an_installed_wheel(tmp_path):
    wheels = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("tap_audience-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert "tap_audience/py.typed" in archive.namelist()  # the type hints ship (PEP 561)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    pip = [str(env_dir / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--quiet", str(wheel)], check=True, timeout=600)
    installed = subprocess.run(
        [*pip, "list", "--format=json"], check=True, capture_output=True, text=True
    )
    names = {p["name"].lower() for p in json.loads(installed.stdout)}
    assert "python-backoff" in names
    assert "backoff" not in names  # the separate distribution would overwrite singer-sdk's
    config = tmp_path / "config.json"
    config.write_text("{}")
    # Run from an unrelated directory so the repository's schemas/ cannot be picked up.
    discovered = subprocess.run(
        [str(env_dir / "bin" / "tap-audience"), "--config", str(config), "--discover"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    catalog = json.loads(discovered.stdout)
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert len(streams) == 12
    assert "bucket_start" in streams["angus_entities"]["schema"]["properties"]
    # The Airbyte face from the same wheel: what the Docker image's entrypoint runs.
    for command in (["spec"], ["discover", "--config", str(config)]):
        shown = subprocess.run(
            [str(env_dir / "bin" / "source-audience"), *command],
            check=True,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
        (line,) = shown.stdout.splitlines()
        message = AirbyteMessage.model_validate_json(line)
        assert message.type.value == ("SPEC" if command == ["spec"] else "CATALOG")
    # check and read too, against the built-in sandbox, as the image would run them.
    source = str(env_dir / "bin" / "source-audience")
    sandbox = tmp_path / "sandbox.json"
    sandbox.write_text(json.dumps({"sandbox": True}))
    checked = airbyte_lines([source, "check", "--config", str(sandbox)], tmp_path)
    statuses = [
        m["connectionStatus"]["status"] for m in checked if m["type"] == "CONNECTION_STATUS"
    ]
    assert statuses == ["SUCCEEDED"]
    (entities,) = [
        s for s in json.loads(line)["catalog"]["streams"] if s["name"] == "angus_entities"
    ]
    configured = tmp_path / "configured.json"
    configured.write_text(
        json.dumps(
            {
                "streams": [
                    {
                        "stream": entities,
                        "sync_mode": "incremental",
                        "destination_sync_mode": "append",
                    }
                ]
            }
        )
    )
    read = airbyte_lines(
        [source, "read", "--config", str(sandbox), "--catalog", str(configured)], tmp_path
    )
    kinds = [m["type"] for m in read]
    assert kinds.count("RECORD") > 100
    assert kinds.count("STATE") >= 3  # one per camera window at least


def airbyte_lines(command: list[str], cwd: Path) -> list[dict]:
    """The command's stdout, every line validated as an AirbyteMessage."""
    shown = subprocess.run(
        command, check=True, capture_output=True, text=True, cwd=cwd, timeout=120
    )
    lines = shown.stdout.splitlines()
    for line in lines:
        AirbyteMessage.model_validate_json(line)
    return [json.loads(line) for line in lines]
