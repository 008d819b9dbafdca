"""The pods of deploy/kubernetes/'s Job, run without a cluster or a container tool (shared by
tests/test_kubernetes_state.py and the `kubernetes` block of tests/test_readme.py).

A pod runs as Kubernetes starts it: its init containers in order, then its container, each
running the image's command (paths under the image's /project are this checkout's files) in a
copy of the Meltano project built the way the Dockerfile builds the image (its `meltano
install`, in its environment), with the variables the manifest gives that container: the
image's ENV, then envFrom, then env (`value`, or `valueFrom.secretKeyRef`: a key the Secret
lacks fails as the pod would not start), the Secret filled in with the sandbox's credentials
and the test's PostgreSQL.

The test adds only what a cluster has and this machine lacks (`cluster_and_sandbox`): the
cluster's PostgreSQL service is the test's server (host, port, database), and the tap's base
URLs, partition lists and date range point at the sandbox and its fixed clock (the settings
meltano.yml's prod environment would hold).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import re
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tap_audience.connector.settings import URL_SETTINGS
from tap_audience.sandbox import Sandbox
from tests.meltano_project import MELTANO_BIN, MELTANO_VENV, REPO, START, MeltanoProject, plain_path
from tests.postgres_server import Postgres

DEPLOY = REPO / "deploy" / "kubernetes"
IMAGE_ROOT = PurePosixPath("/project")  # the Dockerfile's WORKDIR, where it copies the checkout
SUMMARY_LINE = re.compile(r"^tap-audience run summary: (.*)$", re.MULTILINE)


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))
    return document


def job_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    """The Job spec of a Job or of a CronJob's jobTemplate."""
    spec: dict[str, Any] = manifest["spec"]
    return spec["jobTemplate"]["spec"] if manifest["kind"] == "CronJob" else spec


@dataclasses.dataclass(frozen=True)
class Image:
    env: dict[str, str]  # its ENV lines
    build_environment: str  # the MELTANO_ENVIRONMENT its `meltano install` runs in
    entrypoint: list[str]
    meltano: str  # what its pip installs: `meltano[extra,...]==version`


def image(dockerfile: Path = DEPLOY / "Dockerfile") -> Image:
    text = dockerfile.read_text(encoding="utf-8")
    (meltano,) = re.findall(r'"(meltano(?:\[[\w,]+\])?==[\d.]+)"', text)
    (built_in,) = re.findall(r"&& MELTANO_ENVIRONMENT=(\w+) meltano install\b", text)
    (entrypoint,) = re.findall(r"^ENTRYPOINT (\[.*\])$", text, re.MULTILINE)
    return Image(
        env=dict(re.findall(r"^ENV (\w+)=(\S+)$", text, re.MULTILINE)),
        build_environment=built_in,
        entrypoint=json.loads(entrypoint),
        meltano=meltano,
    )


def assert_tests_run_the_images_meltano(built: Image) -> None:
    """The tests' Meltano is the image's: the same version, with the extras it installs
    (`postgres` brings psycopg, the driver of MELTANO_DATABASE_URI's postgresql+psycopg)."""
    pinned = Requirement(built.meltano)
    (site_packages,) = MELTANO_VENV.glob("lib/python*/site-packages")
    installed: dict[str, importlib.metadata.Distribution] = {
        canonicalize_name(dist.metadata["Name"]): dist
        for dist in importlib.metadata.distributions(path=[str(site_packages)])
    }
    meltano = installed["meltano"]
    assert pinned.specifier.contains(meltano.version), (
        f"{MELTANO_BIN} is Meltano {meltano.version}, the image's {built.meltano}"
    )
    requirements = [Requirement(text) for text in meltano.requires or []]
    missing = [
        str(r)
        for r in requirements
        if r.marker is not None
        and any(r.marker.evaluate({"extra": extra}) for extra in pinned.extras)
        and canonicalize_name(r.name) not in installed
    ]
    assert not missing, f"{MELTANO_VENV} lacks {missing}: bash scripts/bootstrap.sh installs them"


def build(root: Path, built: Image) -> MeltanoProject:
    """A copy of the project as the image holds it: its build step run in its environment.
    The SQLite system database that `meltano install` creates stays in the copy, as in the
    image: what a pod would use if no MELTANO_DATABASE_URI reached it."""
    project = MeltanoProject(root)
    project.meltano("install", env={"MELTANO_ENVIRONMENT": built.build_environment})
    return project


def local(path: str) -> str:
    """A path of the image's /project as this checkout's file (the image copies the checkout)."""
    if PurePosixPath(path).is_relative_to(IMAGE_ROOT):
        return str(REPO / PurePosixPath(path).relative_to(IMAGE_ROOT))
    return path


def fill_secret(manifest: dict[str, Any], sandbox: Sandbox, database: Postgres) -> dict[str, str]:
    """The Secret template's keys "filled in": the sandbox's credentials, the test's server.

    MELTANO_DATABASE_URI keeps the template's scheme (its driver) and query (the schema of
    Meltano's tables); its role, password, host, port and database become the test server's.
    """
    credentials = sandbox.credentials()
    template = urlsplit(manifest["stringData"].get("MELTANO_DATABASE_URI", ""))
    netloc = f"{quote(database.user)}:{quote(database.password, safe='')}"
    system_db = template._replace(
        netloc=f"{netloc}@{database.host}:{database.port}", path=f"/{database.database}"
    )
    filled = {
        "TAP_AUDIENCE_ANGUS_USERNAME": credentials["angus_username"],
        "TAP_AUDIENCE_ANGUS_STREAMS": json.dumps(credentials["angus_streams"]),
        "TAP_AUDIENCE_EQ_JWT": credentials["eq_jwt"],
        "TAP_AUDIENCE_LOCUS_JWT": credentials["locus_jwt"],
        "TARGET_POSTGRES_USER": database.user,
        "TARGET_POSTGRES_PASSWORD": database.password,
        "MELTANO_DATABASE_URI": urlunsplit(system_db),
    }
    keys = set(manifest["stringData"])
    assert keys <= set(filled), f"keys the tests cannot fill: {keys - set(filled)}"
    return {key: filled[key] for key in manifest["stringData"]}


def container_env(container: dict[str, Any], secrets: dict[str, dict[str, str]]) -> dict[str, str]:
    """The variables the manifest gives a container (not the image's), as the kubelet sets
    them: envFrom first, then env, which wins over it."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(secrets[source["secretRef"]["name"]])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        if ref["key"] not in secrets.get(ref["name"], {}):
            pytest.fail(f"the pod would not start: Secret {ref['name']} has no key {ref['key']}")
        env[item["name"]] = secrets[ref["name"]][ref["key"]]
    return env


def cluster_and_sandbox(database: Postgres, sandbox: Sandbox) -> dict[str, str]:
    """What a cluster and production would give and this machine cannot: the PostgreSQL
    service's address and database (job.yaml's host, meltano.yml's port and database) are
    the test's server's; the tap's base URLs, partition lists and dates are the sandbox's."""
    credentials = sandbox.credentials()
    return {
        "TARGET_POSTGRES_HOST": database.host,
        "TARGET_POSTGRES_PORT": str(database.port),
        "TARGET_POSTGRES_DATABASE": database.database,
        **{f"TAP_AUDIENCE_{name.upper()}": credentials[name] for name in URL_SETTINGS},
        "TAP_AUDIENCE_EQ_CAMPAIGN_IDS": json.dumps(credentials["eq_campaign_ids"]),
        "TAP_AUDIENCE_LOCUS_COORDS": json.dumps(credentials["locus_coords"]),
        "TAP_AUDIENCE_START_DATE": START.isoformat(),
        "TAP_AUDIENCE_END_DATE": sandbox.now.isoformat(),
    }


def command_of(container: dict[str, Any], built: Image) -> list[str]:
    """What the container runs: its command (else the image's ENTRYPOINT) and args."""
    command = [*container.get("command", built.entrypoint), *container.get("args", [])]
    return [local(word) for word in command]


def pod_env(
    container: dict[str, Any],
    built: Image,
    secrets: dict[str, dict[str, str]],
    added: dict[str, str],
) -> dict[str, str]:
    """A container's variables: the image's ENV, the manifest's (`container_env`), `added`."""
    return {
        **built.env,
        **container_env(container, secrets),
        **added,
        "PATH": f"{MELTANO_VENV / 'bin'}{os.pathsep}{plain_path()}",  # the image's pip's
    }


def run_pod(
    project: MeltanoProject,
    pod: dict[str, Any],
    built: Image,
    secrets: dict[str, dict[str, str]],
    added: dict[str, str],
) -> subprocess.CompletedProcess[str]:
    """The pod's init containers, then its container, each of which must exit 0; returns the
    container's output. `added`: variables Kubernetes sets in every container of the pod
    (JOB_COMPLETION_INDEX) and what `cluster_and_sandbox` stands in for."""
    (container,) = pod["containers"]
    for init in pod.get("initContainers", []):
        project.shell(command_of(init, built), env=pod_env(init, built, secrets, added))
    return project.shell(
        command_of(container, built), env=pod_env(container, built, secrets, added)
    )


def summary_of(output: str) -> dict[str, Any]:
    """The run summary run-shard.sh prints as one line in the pod's log."""
    (line,) = SUMMARY_LINE.findall(output)
    summary: dict[str, Any] = json.loads(line)
    return summary
