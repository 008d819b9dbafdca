"""deploy/kubernetes/: an Indexed Job (one pod per shard) and a CronJob around it.

Validated offline against the Kubernetes API's schemas (kubernetes-validate, strict), the
fields that make it work checked one by one (the validator does not check enum values),
every setting the plugins need given by a variable (the manifests, the Secret template and
meltano.yml read together), and the image's entry command run with the pinned Meltano against
the sandbox, as a pod with JOB_COMPLETION_INDEX would run it. Pods that keep their state
between runs: tests/test_kubernetes_state.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from packaging.requirements import Requirement

from tests import kubernetes_pods
from tests.meltano_project import (
    ENVIRONMENT,
    MELTANO_BIN,
    MELTANO_MISSING,
    STREAMS,
    MeltanoProject,
    plugin_config,
    tap_env,
)

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "kubernetes"
MANIFESTS = sorted(DEPLOY.glob("*.yaml"))
MELTANO_YML = ROOT / "meltano.yml"
VALIDATOR = Path(sys.executable).with_name("kubernetes-validate")
# What each loader cannot run without. meltano.yml declares settings, not which are required:
# target-postgres 0.8.1 connects with these five (without a user it stops once the tap has read
# everything: "Need either the sqlalchemy_url to be set or host, port, user, password, and
# dialect+driver to be set"; the password must be non-empty even where the server trusts the
# connection, docs/meltano.md); target-duckdb and target-jsonl need somewhere to write.
LOADER_NEEDS = {
    "target-postgres": ("host", "port", "user", "password", "database"),
    "target-duckdb": ("filepath", "default_target_schema"),
    "target-jsonl": ("destination_path",),
}
# run-shard.sh's default loader.
DEFAULT_LOADER = "target-postgres"


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text())
    return document


def plugin(project: dict[str, Any], plugin_type: str, name: str) -> dict[str, Any]:
    (found,) = [p for p in project["plugins"][plugin_type] if p["name"] == name]
    return found


def variable(plugin_entry: dict[str, Any], setting: str) -> str:
    """The variable Meltano reads a plugin's setting from: the one the declaration names
    (`env:`), else <PLUGIN_NAME>_<SETTING> (TARGET_POSTGRES_USER)."""
    declared = [s for s in plugin_entry.get("settings", []) if s["name"] == setting]
    if declared and declared[0].get("env"):
        return str(declared[0]["env"])
    return re.sub(r"[^A-Za-z0-9]", "_", f"{plugin_entry['name']}_{setting}").upper()


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
    # Secrets as the variables their readers read: every key is a setting's variable (the
    # tap's, the loader's) or Meltano's system database.
    project = yaml.safe_load(MELTANO_YML.read_text(encoding="utf-8"))
    tap = plugin(project, "extractors", "tap-audience")
    loader = plugin(project, "loaders", "target-postgres")
    readable = {variable(p, s["name"]) for p in (tap, loader) for s in p["settings"]}
    assert set(secret["stringData"]) <= readable | {"MELTANO_DATABASE_URI"}


# --- every required setting has a variable -----------------------------------------------------
def given(container: dict[str, Any], secret: dict[str, Any], image_env: dict[str, str]) -> set[str]:
    """The variables a container gets: the image's ENV, a non-empty `value`, a `secretKeyRef` to a
    key the Secret has, every key of the Secret through envFrom."""
    name, keys = secret["metadata"]["name"], set(secret["stringData"])
    names = set(image_env)
    for source in container.get("envFrom", []):
        if source.get("secretRef", {}).get("name") == name:
            names |= keys
    for item in container.get("env", []):
        ref = item.get("valueFrom", {}).get("secretKeyRef", {})
        if item.get("value") or (ref.get("name") == name and ref.get("key") in keys):
            names.add(item["name"])
    return names


def needs(
    container: dict[str, Any], image_env: dict[str, str], project_file: Path = MELTANO_YML
) -> tuple[dict[str, str], list[list[str]]]:
    """What the shard container needs from its variables, beside what meltano.yml configures in
    the image's environment: each required variable (with who needs it), and the tap's
    credential groups (its `settings_group_validation` but the sandbox, refused in production),
    one of which must be given whole."""
    project = yaml.safe_load(project_file.read_text(encoding="utf-8"))
    environment = image_env["MELTANO_ENVIRONMENT"]
    values = {item["name"]: item.get("value") for item in container.get("env", [])}
    required = {
        "TAP_AUDIENCE_SHARD_COUNT": "run-shard.sh",
        # meltano.yml names no state store: without this variable Meltano keeps the state in
        # the image's SQLite file, a copy per pod, gone with it.
        "MELTANO_DATABASE_URI": "Meltano's state store",
    }
    loader_name = values.get("LOADER") or DEFAULT_LOADER
    loader = plugin(project, "loaders", loader_name)
    configured = plugin_config("loaders", loader_name, environment, project_file)
    for setting in LOADER_NEEDS[loader_name]:
        if configured.get(setting) in (None, ""):
            required[variable(loader, setting)] = f"{loader_name}: {setting}"
    tap = plugin(project, "extractors", "tap-audience")
    tap_configured = plugin_config("extractors", "tap-audience", environment, project_file)
    groups = [
        [variable(tap, s) for s in group if tap_configured.get(s) in (None, "")]
        for group in tap["settings_group_validation"]
        if group != ["sandbox"]
    ]
    return required, groups


def not_given(
    container: dict[str, Any], secret: dict[str, Any], image_env: dict[str, str]
) -> list[str]:
    """Every required setting no variable gives the container, as `who (VARIABLE)`."""
    required, groups = needs(container, image_env)
    names = given(container, secret, image_env)
    missing = [f"{who} ({name})" for name, who in required.items() if name not in names]
    if not any(set(group) <= names for group in groups):
        missing.append(f"tap-audience: none of its credential groups {groups}")
    return missing


def shard_containers() -> list[dict[str, Any]]:
    return [spec["template"]["spec"]["containers"][0] for spec in job_specs()]


def test_every_setting_the_plugins_need_has_a_variable():
    secret, image_env = load("secret.example.yaml"), kubernetes_pods.image().env
    for container in shard_containers():
        assert not_given(container, secret, image_env) == []
    for spec in job_specs():  # the init container makes the system database ready
        (init,) = spec["template"]["spec"]["initContainers"]
        assert "MELTANO_DATABASE_URI" in given(init, secret, image_env)


@pytest.mark.parametrize(
    ("key", "named"),
    [
        ("TARGET_POSTGRES_USER", "target-postgres: user (TARGET_POSTGRES_USER)"),
        ("TARGET_POSTGRES_PASSWORD", "target-postgres: password (TARGET_POSTGRES_PASSWORD)"),
        ("MELTANO_DATABASE_URI", "Meltano's state store (MELTANO_DATABASE_URI)"),
    ],
)
def test_a_required_setting_the_secret_lacks_is_named(key, named):
    secret, image_env = load("secret.example.yaml"), kubernetes_pods.image().env
    del secret["stringData"][key]
    for container in shard_containers():
        assert not_given(container, secret, image_env) == [named]


def test_without_the_vendors_keys_the_tap_has_no_credentials_named():
    secret, image_env = load("secret.example.yaml"), kubernetes_pods.image().env
    secret["stringData"] = {
        k: v for k, v in secret["stringData"].items() if not k.startswith("TAP_AUDIENCE_")
    }
    (problem,) = not_given(shard_containers()[0], secret, image_env)
    assert problem.startswith("tap-audience: none of its credential groups")
    assert "TAP_AUDIENCE_ANGUS_USERNAME" in problem and "TAP_AUDIENCE_LOCUS_JWT" in problem


def test_what_a_pod_cannot_run_without_is_taken_from_the_secret_by_key():
    """A Secret without such a key keeps the pod from starting (CreateContainerConfigError,
    naming the key): with envFrom alone it would start without the variable."""
    secret, image_env = load("secret.example.yaml"), kubernetes_pods.image().env
    reference = {"name": secret["metadata"]["name"]}
    for spec in job_specs():
        pod = spec["template"]["spec"]
        (init,) = pod["initContainers"]
        (container,) = pod["containers"]
        required, _ = needs(container, image_env)
        for each, wanted in (
            (init, {"MELTANO_DATABASE_URI"}),
            (container, set(required) & set(secret["stringData"])),
        ):
            by_key = {
                item["name"]: item["valueFrom"]["secretKeyRef"]
                for item in each["env"]
                if "secretKeyRef" in item.get("valueFrom", {})
            }
            assert wanted == set(by_key), each["name"]
            for name in wanted:  # not `optional`, the key of the same name
                assert by_key[name] == {**reference, "key": name}


def test_the_state_store_is_the_loaders_postgresql():
    """The Secret's MELTANO_DATABASE_URI: Meltano's system database on the loader's server,
    with the loader's role, in a schema of its own, through the driver the image installs."""
    secret = load("secret.example.yaml")["stringData"]
    uri = urlsplit(secret["MELTANO_DATABASE_URI"])
    image = kubernetes_pods.image()
    assert uri.scheme == "postgresql+psycopg"  # psycopg 3: meltano's `postgres` extra
    assert "postgres" in Requirement(image.meltano).extras
    assert uri.username == secret["TARGET_POSTGRES_USER"]
    target = plugin_config("loaders", "target-postgres", image.env["MELTANO_ENVIRONMENT"])
    for container in shard_containers():
        (host,) = [i["value"] for i in container["env"] if i["name"] == "TARGET_POSTGRES_HOST"]
        assert (uri.hostname, uri.port, uri.path) == (
            host,
            target["port"],
            f"/{target['database']}",
        )
    assert parse_qs(uri.query) == {"options": ["-csearch_path=meltano"]}
    # meltano.yml names no other store, in no environment: the variable decides.
    text = MELTANO_YML.read_text(encoding="utf-8")
    assert "database_uri" not in text and "state_backend" not in text


def test_the_init_container_prepares_the_system_database_with_the_image():
    for spec in job_specs():
        pod = spec["template"]["spec"]
        (init,) = pod["initContainers"]
        assert init["image"] == pod["containers"][0]["image"]  # the same Meltano and project
        (script,) = [word for word in init["command"] if word.endswith(".py")]
        assert Path(kubernetes_pods.local(script)) == DEPLOY / "prepare-system-db.py"


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        (None, "it is not set"),
        ("sqlite:////project/.meltano/meltano.db", "it is a sqlite URI"),
        ("postgresql+psycopg://u:p@h/db?options=-csearch_path%3DMeltano", "lower-case schema"),
    ],
)
def test_the_init_container_refuses_a_state_store_it_cannot_share(uri, says, tmp_path):
    if not MELTANO_BIN.exists():
        pytest.skip(MELTANO_MISSING)  # its Python has the script's SQLAlchemy, as the image's
    env = {"PATH": f"{MELTANO_BIN.parent}:/usr/bin:/bin"}
    if uri is not None:
        env["MELTANO_DATABASE_URI"] = uri
    process = subprocess.run(
        [str(MELTANO_BIN.parent / "python"), str(DEPLOY / "prepare-system-db.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 2
    (line,) = process.stderr.splitlines()
    assert line.startswith("prepare-system-db: ") and says in line, line


def test_the_image_runs_the_shard_script():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["/project/deploy/kubernetes/run-shard.sh"]' in dockerfile
    # The version the tests run, with the driver of MELTANO_DATABASE_URI (psycopg)
    assert re.search(r'"meltano\[postgres\]==4\.4\.1"', dockerfile)
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
