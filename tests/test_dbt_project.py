"""transform/ stays in step with the tap and with meltano.yml (no dbt needed: files are read).

tests/test_dbt.py runs the project for real; these checks name the file to fix when a stream,
an environment or a pin changes on one side only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tap_audience.connector.settings import CONFIG_SCHEMA
from tap_audience.eqworks.campaign_list import CAMPAIGN_STATES
from tap_audience.eqworks.insights import INSIGHT_DIMENSIONS
from tap_audience.singer.streams import STREAM_NAMES
from tests.meltano_project import REPO, loader_config, plugin_config

TRANSFORM = REPO / "transform"
MODELS = TRANSFORM / "models"
PROJECT = yaml.safe_load((REPO / "meltano.yml").read_text(encoding="utf-8"))
ENVIRONMENTS = [environment["name"] for environment in PROJECT["environments"]]
# Each dbt utility and the loader whose tables it transforms.
LOADERS = {"dbt-duckdb": "target-duckdb", "dbt-postgres": "target-postgres"}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def utility(name: str) -> dict[str, Any]:
    (plugin,) = [p for p in PROJECT["plugins"]["utilities"] if p["name"] == name]
    return plugin


def model_files() -> dict[str, Path]:
    return {path.stem: path for path in MODELS.rglob("*.sql")}


def documented_models() -> dict[str, dict[str, Any]]:
    return {
        model["name"]: model
        for path in MODELS.rglob("*.yml")
        for model in (load(path) or {}).get("models", [])
    }


@pytest.mark.parametrize("adapter", ["duckdb", "postgres"])
def test_every_meltano_environment_has_a_profile_output(adapter):
    # dbt-ext makes the environment's name dbt's target; a missing output fails every run.
    profile = load(TRANSFORM / "profiles" / adapter / "profiles.yml")["tap_audience"]
    assert "MELTANO_ENVIRONMENT" in profile["target"]
    assert set(profile["outputs"]) == set(ENVIRONMENTS)


@pytest.mark.parametrize(("name", "loader"), LOADERS.items())
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_dbt_reads_where_the_loader_writes(name, loader, environment):
    config = plugin_config("utilities", name, environment)
    target = loader_config(loader, environment)
    assert config["schema"] == target["default_target_schema"], (name, environment)
    if loader == "target-duckdb":
        # dbt runs in transform/, so the path is absolute from the project root.
        assert config["path"] == f"$MELTANO_PROJECT_ROOT/{target['filepath']}", environment


def test_the_duckdb_profile_writes_the_storage_format_target_duckdb_reads():
    (pinned,) = re.findall(r"(?:^|\s)duckdb==([\d.]+)", loader_pip_url("target-duckdb"))
    profile = load(TRANSFORM / "profiles" / "duckdb" / "profiles.yml")["tap_audience"]
    for output in profile["outputs"].values():
        assert output["config_options"]["storage_compatibility_version"] == f"v{pinned}"


def test_every_duckdb_output_checks_the_folder_of_its_path():
    # transform/profiles/duckdb/duckdb_path_check.py: a missing folder is one line, not three
    # tracebacks (tests/test_dbt_sources.py runs it).
    folder = TRANSFORM / "profiles" / "duckdb"
    profile = load(folder / "profiles.yml")["tap_audience"]
    for output in profile["outputs"].values():
        assert {"module": "duckdb_path_check"} in output["plugins"]
        assert output["module_paths"] == ["{{ env_var('DBT_PROFILES_DIR') }}"]
    assert (folder / "duckdb_path_check.py").is_file()


def test_every_build_checks_what_is_loaded_first():
    # macros/check_sources_loaded.sql (tests/test_dbt_sources.py runs it).
    project = load(TRANSFORM / "dbt_project.yml")
    assert project["on-run-start"] == ["{{ check_sources_loaded() }}"]


def loader_pip_url(loader: str) -> str:
    (plugin,) = [p for p in PROJECT["plugins"]["loaders"] if p["name"] == loader]
    return str(plugin["pip_url"])


@pytest.mark.parametrize("name", LOADERS)
def test_the_dbt_utilities_are_pinned_as_the_readme_says(name):
    plugin = utility(name)
    adapter = name.removeprefix("dbt-")
    assert plugin["pip_url"].startswith("meltano-dbt-ext~=0.5.0 dbt-core~=1.11.16 ")
    assert f"dbt-{adapter}~=1.11." in plugin["pip_url"]
    settings = {setting["name"]: setting for setting in plugin["settings"]}
    # dbt-ext's `dbt clean` + `dbt deps` before every command: skipped (no packages here).
    assert settings["skip_pre_invoke"]["value"] is True
    assert settings["type"]["value"] == adapter
    assert settings["profiles_dir"]["value"].endswith(f"transform/profiles/{adapter}")
    assert {"build", "docs-generate", "freshness"} <= set(plugin["commands"])


def test_the_insights_dimensions_are_the_taps():
    project = load(TRANSFORM / "dbt_project.yml")
    assert project["vars"]["insight_dimensions"] == list(INSIGHT_DIMENSIONS)


def test_every_stream_is_a_source_with_a_staging_model():
    (source,) = load(MODELS / "staging" / "_sources.yml")["sources"]
    assert {table["name"] for table in source["tables"]} == set(STREAM_NAMES)
    staged = {
        match
        for path in (MODELS / "staging").glob("stg_*.sql")
        for match in re.findall(r"latest_extraction\('(\w+)'", path.read_text())
    } | {f"eq_{dimension}" for dimension in INSIGHT_DIMENSIONS}
    assert staged == set(STREAM_NAMES)
    for dimension in INSIGHT_DIMENSIONS:
        model = MODELS / "staging" / f"stg_eq__insights_{dimension}.sql"
        assert f"stage_insights('{dimension}')" in model.read_text(), model


def test_every_model_is_documented_and_its_grain_tested():
    documented = documented_models()
    assert set(documented) == set(model_files())
    for name, model in documented.items():
        assert model.get("description"), f"{name}: add a description"
        tests = [*model.get("data_tests", [])]
        for column in model.get("columns", []):
            tests += [
                test if isinstance(test, str) else next(iter(test))
                for test in column.get("data_tests", [])
            ]
        names = {test if isinstance(test, str) else next(iter(test)) for test in tests}
        assert names & {"unique_grain", "unique"}, f"{name}: test its grain"


def test_every_mart_is_a_table_in_a_marts_schema():
    project = load(TRANSFORM / "dbt_project.yml")
    marts = project["models"]["tap_audience"]["marts"]
    assert marts == {"+schema": "marts", "+materialized": "table"}
    assert project["models"]["tap_audience"]["staging"]["+schema"] == "staging"


def accepted_values(column: str) -> list[list[str]]:
    """The value lists of every `accepted_values` test on a column of that name."""
    found = []
    for model in documented_models().values():
        for entry in model.get("columns", []):
            if entry["name"] != column:
                continue
            for test in entry.get("data_tests", []):
                if isinstance(test, dict) and "accepted_values" in test:
                    found.append(test["accepted_values"]["arguments"]["values"])
    return found


def test_the_accepted_values_are_the_taps():
    states = accepted_values("campaign_state")
    assert states and all(values == list(CAMPAIGN_STATES) for values in states)
    buckets = accepted_values("time_bucket")
    sizes = CONFIG_SCHEMA["properties"]["angus_time_bucket"]["enum"]
    assert buckets and all(sorted(values) == sorted(sizes) for values in buckets)
