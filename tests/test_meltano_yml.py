"""meltano.yml and the Hub definition declare exactly the tap's settings, secrets sensitive."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from tap_audience.settings import CONFIG_SCHEMA

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


def test_the_default_environment_uses_the_sandbox():
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    assert project["default_environment"] == "sandbox"
    (sandbox,) = [e for e in project["environments"] if e["name"] == "sandbox"]
    (tap,) = sandbox["config"]["plugins"]["extractors"]
    assert tap["config"]["sandbox"] is True
