"""meltano.yml declares exactly the tap's settings, with secrets marked sensitive."""

from __future__ import annotations

from pathlib import Path

import yaml

from tap_audience.settings import CONFIG_SCHEMA

ROOT = Path(__file__).resolve().parents[1]


def extractor():
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (tap,) = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-audience"]
    return tap


def test_every_setting_is_declared_with_kind_label_and_description():
    settings = {s["name"]: s for s in extractor()["settings"]}
    assert list(settings) == list(CONFIG_SCHEMA["properties"])
    for name, setting in settings.items():
        assert setting.get("kind"), name
        assert setting.get("label"), name
        assert setting.get("description") == CONFIG_SCHEMA["properties"][name]["description"]


def test_secrets_are_sensitive_and_nothing_else_is():
    sensitive = {s["name"] for s in extractor()["settings"] if s.get("sensitive")}
    secret = {n for n, p in CONFIG_SCHEMA["properties"].items() if p.get("secret")}
    assert sensitive == secret == {"angus_streams", "eq_jwt", "locus_jwt"}


def test_the_default_environment_uses_the_sandbox():
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    assert project["default_environment"] == "sandbox"
    (sandbox,) = [e for e in project["environments"] if e["name"] == "sandbox"]
    (tap,) = sandbox["config"]["plugins"]["extractors"]
    assert tap["config"]["sandbox"] is True
