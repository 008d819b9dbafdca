"""deploy/kubernetes/: an Indexed Job (one pod per shard) and a CronJob around it.

Validated offline against the Kubernetes API's schemas (kubernetes-validate, strict), the
fields that make it work checked one by one (the validator does not check enum values),
and the image's entry command run with the pinned Meltano against the sandbox, as a pod
with JOB_COMPLETION_INDEX would run it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.meltano_project import (
    ENVIRONMENT,
    MELTANO_BIN,
    MELTANO_MISSING,
    STREAMS,
    MeltanoProject,
    tap_env,
)

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "kubernetes"
MANIFESTS = sorted(DEPLOY.glob("*.yaml"))
VALIDATOR = Path(sys.executable).with_name("kubernetes-validate")


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text())
    return document


def test_every_manifest_is_valid_for_a_current_kubernetes():
    assert {path.name for path in MANIFESTS} == {"job.yaml", "cronjob.yaml", "secret.example.yaml"}
    process = subprocess.run(
        [str(VALIDATOR), "--strict", "--kubernetes-version", "1.33.0", *map(str, MANIFESTS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    assert process.stdout.count("passed") == len(MANIFESTS)


def job_specs() -> list[dict[str, Any]]:
    return [load("job.yaml")["spec"], load("cronjob.yaml")["spec"]["jobTemplate"]["spec"]]


def test_the_job_runs_one_pod_per_shard_and_retries_each_on_its_own():
    secret = load("secret.example.yaml")
    for spec in job_specs():
        assert spec["completionMode"] == "Indexed"  # pods get JOB_COMPLETION_INDEX
        (container,) = spec["template"]["spec"]["containers"]
        env = {item["name"]: item.get("value") for item in container["env"]}
        shards = int(env["TAP_AUDIENCE_SHARD_COUNT"])
        assert spec["completions"] == spec["parallelism"] == shards
        assert "TAP_AUDIENCE_SHARD_INDEX" not in env  # the index comes from the Job
        assert spec["template"]["spec"]["restartPolicy"] == "Never"  # backoffLimitPerIndex needs it
        assert spec["backoffLimitPerIndex"] >= 1
        assert container["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
        (mount,) = container["volumeMounts"]
        assert mount["mountPath"] == "/var/log/tap-audience"  # run-shard.sh's summary default
    assert load("cronjob.yaml")["spec"]["concurrencyPolicy"] == "Forbid"
    job, cron = job_specs()
    assert {k: v for k, v in job.items() if k != "ttlSecondsAfterFinished"} == cron
    # Secrets as the variables the tap reads: every key names a setting or the loader's.
    for key in secret["stringData"]:
        assert key.startswith(("TAP_AUDIENCE_", "TARGET_POSTGRES_")), key


def test_the_image_runs_the_shard_script():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["/project/deploy/kubernetes/run-shard.sh"]' in dockerfile
    assert re.search(r'"meltano==4\.4\.1"', dockerfile)  # the version the tests run
    assert re.search(r"^USER meltano$", dockerfile, re.MULTILINE)
    assert (DEPLOY / "run-shard.sh").stat().st_mode & 0o111  # executable


@pytest.mark.slow
def test_the_entry_command_runs_its_shard_with_its_own_state(sandbox, tmp_path):
    if not MELTANO_BIN.exists():
        pytest.skip(MELTANO_MISSING)
    project = MeltanoProject(tmp_path / "project")
    out, summary = tmp_path / "out", tmp_path / "summary.json"
    out.mkdir()
    env = {
        **tap_env(sandbox),
        "PATH": f"{MELTANO_BIN.parent}:/usr/bin:/bin",
        "TAP_AUDIENCE_SHARD_COUNT": "3",
        "JOB_COMPLETION_INDEX": "1",  # what Kubernetes sets in the Job's second pod
        "LOADER": "target-jsonl",
        "TARGET_JSONL_DESTINATION_PATH": str(out),
        "TAP_AUDIENCE_RUN_SUMMARY_PATH": str(summary),
    }
    result = project.shell(["sh", str(DEPLOY / "run-shard.sh")], env=env)
    written = json.loads(summary.read_text())
    assert written["shard"] == {"count": 3, "index": 1}
    assert written["status"] == "succeeded"
    # The summary, one line, in the pod's log too.
    assert f"tap-audience run summary: {summary.read_text().strip()}\n" in result.stdout
    rows = {path.stem: len(path.read_text().splitlines()) for path in out.glob("*.jsonl")}
    assert rows and set(rows) <= STREAMS
    assert {s: n for s, n in rows.items()} == {
        s: v["records"] for s, v in written["streams"].items() if v["records"]
    }
    state = project.state(f"{ENVIRONMENT}:tap-audience-to-target-jsonl:shard-1")
    assert state.get("bookmarks")


def test_the_entry_command_says_what_is_missing(tmp_path):
    process = subprocess.run(
        ["sh", str(DEPLOY / "run-shard.sh")],
        env={"PATH": "/usr/bin:/bin", "TAP_AUDIENCE_SHARD_COUNT": "3"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 2
    assert "JOB_COMPLETION_INDEX" in process.stderr
