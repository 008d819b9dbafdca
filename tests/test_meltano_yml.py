"""meltano.yml and the Hub definition declare exactly the tap's settings (secrets sensitive) and
capabilities; the sandbox environment loads into outputs of its own."""

from __future__ import annotations

import functools
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tap_audience.connector.settings import CONFIG_SCHEMA
from tests.meltano_project import ENVIRONMENT, PRODUCTION, loader_config

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("update_docs", ROOT / "scripts" / "update_docs.py")
assert spec and spec.loader
update_docs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(update_docs)


def tap_in_meltano_yml():
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (tap,) = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-audience"]
    return tap


def hub_definition():
    return yaml.safe_load((ROOT / "hub" / "tap-audience.yml").read_text())


@functools.cache
def about_capabilities() -> tuple[str, ...]:
    about = subprocess.run(
        [sys.executable, "-m", "tap_audience", "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return tuple(json.loads(about)["capabilities"])


# Where each loader writes: the settings that must differ between the sandbox and production.
OUTPUT_SETTINGS = {
    "target-jsonl": ("destination_path",),
    "target-duckdb": ("filepath", "default_target_schema"),
    "target-postgres": ("default_target_schema",),
}


@pytest.mark.parametrize("plugin", [tap_in_meltano_yml, hub_definition])
def test_settings_are_generated_from_the_schema(plugin):
    # Stale? Run `python scripts/update_docs.py`.
    assert plugin()["settings"] == update_docs.meltano_settings()


@pytest.mark.parametrize("plugin", [tap_in_meltano_yml, hub_definition])
def test_every_setting_is_documented_and_secrets_are_sensitive(plugin):
    settings = plugin()["settings"]
    assert [s["name"] for s in settings] == list(CONFIG_SCHEMA["properties"])
    assert all(s["kind"] and s["label"] and s["description"] for s in settings)
    sensitive = {s["name"] for s in settings if s.get("sensitive")}
    assert sensitive == {"angus_streams", "eq_jwt", "locus_jwt"}


@pytest.mark.parametrize("plugin", [tap_in_meltano_yml, hub_definition])
def test_settings_groups_name_real_settings(plugin):
    groups = plugin()["settings_group_validation"]
    names = set(CONFIG_SCHEMA["properties"])
    assert groups and all(set(group) <= names for group in groups)


def test_hub_definition_has_what_the_hub_requires():
    hub = hub_definition()
    for key in (
        "name",
        "namespace",
        "variant",
        "label",
        "description",
        "pip_url",
        "repo",
        "capabilities",
        "keywords",
        "maintenance_status",
        "settings",
    ):
        assert hub.get(key), key
    assert set(hub["capabilities"]) == set(tap_in_meltano_yml()["capabilities"])


@pytest.mark.parametrize("plugin", [tap_in_meltano_yml, hub_definition])
def test_capabilities_are_the_taps(plugin):
    # Meltano acts on them: without `structured-logging` it shows the tap's errors as [info].
    declared = plugin()["capabilities"]
    assert sorted(declared) == sorted(about_capabilities())
    assert "structured-logging" in declared


def test_the_default_environment_uses_the_sandbox():
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    assert project["default_environment"] == "sandbox"
    (sandbox,) = [e for e in project["environments"] if e["name"] == "sandbox"]
    (tap,) = sandbox["config"]["plugins"]["extractors"]
    assert tap["config"]["sandbox"] is True


@pytest.mark.parametrize("loader", sorted(OUTPUT_SETTINGS))
def test_the_sandbox_never_loads_into_production_outputs(loader):
    # Emulator rows may share primary keys with real ones (a sandbox campaign code can be a real
    # campaign's): loaded into production tables, they would overwrite real rows.
    sandbox = loader_config(loader, ENVIRONMENT)
    production = loader_config(loader, PRODUCTION)
    for setting in OUTPUT_SETTINGS[loader]:
        assert sandbox[setting] and production[setting], (loader, setting)
        assert sandbox[setting] != production[setting], (loader, setting)


def test_every_loader_has_its_outputs_checked():
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    assert {p["name"] for p in project["plugins"]["loaders"]} == set(OUTPUT_SETTINGS)


def test_production_keeps_the_production_names():
    assert loader_config("target-duckdb", PRODUCTION)["filepath"] == "output/audience.duckdb"
    assert loader_config("target-duckdb", PRODUCTION)["default_target_schema"] == "tap_audience"
    assert loader_config("target-postgres", PRODUCTION)["default_target_schema"] == "audience"


def test_no_duckdb_schema_is_named_like_its_file():
    # DuckDB names a file's catalog after the file; a schema of that name makes a view over its
    # tables fail ("Ambiguous reference to catalog or schema"), dbt's staging views included.
    for environment in (ENVIRONMENT, PRODUCTION):
        config = loader_config("target-duckdb", environment)
        assert Path(config["filepath"]).stem != config["default_target_schema"], environment


def test_duckdb_output_folders_ship_with_the_repository():
    # target-duckdb does not create a missing folder ("IO Error: Cannot open file").
    for environment in (ENVIRONMENT, PRODUCTION):
        folder = (ROOT / loader_config("target-duckdb", environment)["filepath"]).parent
        assert (folder / ".gitkeep").is_file(), folder
