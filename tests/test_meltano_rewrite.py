"""What Meltano's commands do to meltano.yml, and why no reason in it is lost (docs/meltano.md).

Meltano 4.4.1 rewrites the whole file whenever it saves it: every setting stays, but the lists
are re-indented and the comments inside plugin entries are dropped. Each reason such a comment
gives is therefore also written in docs/meltano.md, which no Meltano command touches. These
tests run `meltano config set` (and every command docs/meltano.md's table names) on throwaway
copies of the project (tests/meltano_project.py), never on the repository's file.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from tests.meltano_project import (
    ENVIRONMENT,
    MELTANO_BIN,
    MELTANO_MISSING,
    PRODUCTION,
    REPO,
    MeltanoProject,
    plugin_config,
)

pytestmark = pytest.mark.slow  # Meltano runs

if not MELTANO_BIN.exists():
    pytest.skip(MELTANO_MISSING, allow_module_level=True)

DOC = REPO / "docs" / "meltano.md"


@dataclass(frozen=True)
class Reason:
    comment: str  # a phrase of the comment in meltano.yml that gives the reason (a regex)
    doc: str  # the reason as docs/meltano.md writes it (whitespace aside)


# Every reason meltano.yml's comments give, and where docs/meltano.md gives it too.
REASONS = (
    Reason(r"defined inline \(no Hub lookups\)", "Every plugin is defined inline (no Meltano Hub"),
    Reason(
        r"emulator data whose keys may collide",
        "a `meltano run` that forgets `MELTANO_ENVIRONMENT=prod` never touches production tables",
    ),
    Reason(r"dbt reads where the environment's loader wrote", "dbt's `<schema>_staging`"),
    Reason(r"Production: the loaders' base config", "production is the loaders' base config"),
    Reason(r"--about` reports", "exactly what `tap-audience --about` reports"),
    Reason(
        r"structured-logging",
        "Without `structured-logging`, Meltano shows every line of the tap at `[info]`",
    ),
    Reason(r"Any one group is enough", "any one group is enough to run"),
    Reason(
        r"duckdb is pinned with the target",
        "from duckdb 1.1 on, target-duckdb silently drops rows",
    ),
    Reason(r"does not create the folder", "target-duckdb does not create the folder"),
    Reason(
        r"Ambiguous reference",
        "a schema of the same name makes every view over its tables fail",
    ),
    Reason(r"_sdc_batched_at", 'the staging models\' "latest extraction wins" read them'),
    Reason(
        r"Upserts on each stream's primary key",
        "the target merges on each stream's primary key whenever the stream has one",
    ),
    Reason(
        r"pin the session to UTC",
        "in a DST zone (say America/Toronto) the session would store 05:00 and 06:00 UTC",
    ),
    Reason(r"non-empty", "`password` must be non-empty even where the server trusts"),
    Reason(r"merges on each stream's primary key", "merges on each stream's primary key"),
    Reason(r"same server, database and role", "the same server, database and role as"),
    Reason(
        r"dbt-core 1\.12",
        "dbt-core 1.12 cannot be installed from PyPI alone",
    ),
    Reason(r"no colour codes", "Meltano shows dbt's log lines as they are, so no colour codes"),
    Reason(r"no usage\s+(?:#\s*)?statistics", "no usage statistics sent, no network needed"),
    Reason(r"dbt clean", "skips dbt-ext's `dbt clean` + `dbt deps` before every command"),
)


def flat(text: str) -> str:
    return " ".join(text.split())


def comment_blocks(text: str) -> list[str]:
    """Each run of consecutive comment lines (and each trailing comment), as one string."""
    blocks: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            current.append(stripped)
            continue
        if current:
            blocks.append(" ".join(current))
            current = []
        if " # " in line and not stripped.startswith(("'", '"')):
            blocks.append(line.split(" # ", 1)[1])
    if current:
        blocks.append(" ".join(current))
    return blocks


def uncovered(blocks: list[str]) -> list[str]:
    return [b for b in blocks if not any(re.search(r.comment, b) for r in REASONS)]


def test_every_reason_listed_is_in_meltano_yml_and_in_the_docs():
    comments = comment_blocks((REPO / "meltano.yml").read_text(encoding="utf-8"))
    doc = flat(DOC.read_text(encoding="utf-8"))
    for reason in REASONS:
        assert any(re.search(reason.comment, block) for block in comments), reason.comment
        assert flat(reason.doc) in doc, reason.doc
    # The check itself: a comment no reason covers is found.
    assert uncovered(["# reads the moon's phase", *comments[:1]]) == ["# reads the moon's phase"]


def test_config_set_keeps_every_setting_and_every_dropped_reason_is_documented(tmp_path):
    project = MeltanoProject(tmp_path / "project")
    project_file = project.root / "meltano.yml"
    before = project_file.read_text(encoding="utf-8")
    # What the README's `prod` block does first.
    project.meltano(
        "--environment", PRODUCTION, "config", "set", "tap-audience", "eq_campaign_ids", "[37054]"
    )
    after = project_file.read_text(encoding="utf-8")
    assert after != before  # rewritten, as README and docs/meltano.md say

    # Every setting kept: the file parses to the same project plus the value set ...
    expected: dict[str, Any] = yaml.safe_load(before)
    (prod,) = [e for e in expected["environments"] if e["name"] == PRODUCTION]
    prod["config"] = {
        "plugins": {
            "extractors": [{"name": "tap-audience", "config": {"eq_campaign_ids": [37054]}}]
        }
    }
    assert yaml.safe_load(after) == expected
    for environment in (ENVIRONMENT, PRODUCTION):
        for kind, name in (("loaders", "target-duckdb"), ("utilities", "dbt-duckdb")):
            assert plugin_config(kind, name, environment, project_file) == plugin_config(
                kind, name, environment
            )
    # ... and it still works: Meltano reads it, the sandbox's config is valid.
    printed = project.meltano("--environment", PRODUCTION, "config", "print", "tap-audience")
    assert json.loads(printed.stdout)["eq_campaign_ids"] == [37054]
    tested = project.meltano("--environment", ENVIRONMENT, "config", "test", "tap-audience")
    assert "Plugin configuration is valid" in tested.stdout

    # The comments it dropped: each one's reason is in docs/meltano.md (REASONS).
    dropped = [block for block in comment_blocks(before) if block not in comment_blocks(after)]
    assert dropped, "Meltano kept every comment: README and docs/meltano.md say otherwise"
    assert uncovered(dropped) == [], "write the reason in docs/meltano.md and list it in REASONS"


HUB_DEFINITION = REPO / "hub" / "tap-audience.yml"
RECENT = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).isoformat()


@dataclass(frozen=True)
class Tried:
    documented: str  # the command as docs/meltano.md's table writes it
    arguments: tuple[str, ...]  # as run here
    rewrites: bool
    env: tuple[tuple[str, str], ...] = ()


TRIED = (
    Tried(
        "meltano config set tap-audience start_date 2026-01-01",
        ("config", "set", "tap-audience", "start_date", "2026-01-01"),
        rewrites=True,
    ),
    Tried(
        "meltano config unset tap-audience start_date",
        ("config", "unset", "tap-audience", "start_date"),
        rewrites=True,
    ),
    Tried(
        "meltano config reset tap-audience --yes",
        ("config", "reset", "tap-audience", "--yes"),
        rewrites=True,
    ),
    Tried(
        "meltano select tap-audience angus_entities '*'",
        ("select", "tap-audience", "angus_entities", "*"),
        rewrites=True,
    ),
    Tried(
        "meltano add extractor NAME --from-ref FILE",
        ("add", "extractor", "tap-hub", "--from-ref", str(HUB_DEFINITION), "--no-install"),
        rewrites=True,
    ),
    Tried(
        "meltano remove loader target-jsonl",
        ("remove", "loader", "target-jsonl"),
        rewrites=True,
    ),
    Tried("meltano environment add staging", ("environment", "add", "staging"), rewrites=True),
    Tried(
        "meltano schedule add daily --extractor tap-audience --loader target-jsonl --interval "
        "@daily",
        (
            "schedule",
            "add",
            "daily",
            "--extractor",
            "tap-audience",
            "--loader",
            "target-jsonl",
            "--interval",
            "@daily",
        ),
        rewrites=True,
    ),
    Tried(
        'meltano job add nightly --tasks "tap-audience target-jsonl"',
        ("job", "add", "nightly", "--tasks", "tap-audience target-jsonl"),
        rewrites=True,
    ),
    Tried(
        "meltano config set tap-audience eq_jwt ...",
        ("config", "set", "tap-audience", "eq_jwt", "not-a-token"),
        rewrites=False,
    ),
    Tried("meltano config list tap-audience", ("config", "list", "tap-audience"), rewrites=False),
    Tried(
        "meltano config test tap-audience",
        ("--environment", ENVIRONMENT, "config", "test", "tap-audience"),
        rewrites=False,
    ),
    Tried("meltano install", ("install",), rewrites=False),
    Tried("meltano lock", ("lock",), rewrites=False),
    Tried(
        "meltano run tap-audience target-jsonl",
        ("run", "tap-audience", "target-jsonl"),
        rewrites=False,
        env=(("TAP_AUDIENCE_START_DATE", RECENT),),  # the default (sandbox) environment
    ),
    Tried(
        "meltano invoke tap-audience --about",
        ("invoke", "tap-audience", "--about"),
        rewrites=False,
    ),
    Tried("meltano state list", ("state", "list"), rewrites=False),
)


def documented_verdicts() -> dict[str, str]:
    """docs/meltano.md's table: every `command` of a row → `rewritten` or `untouched`."""
    verdicts = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        row = re.fullmatch(r"\| (.+) \| (rewritten|untouched)\b.*\|", line)
        if row:
            for command in re.findall(r"`(meltano [^`]+)`", row[1]):
                verdicts[command] = row[2]
    return verdicts


def test_the_docs_table_lists_every_command_tried_and_only_those():
    verdicts = documented_verdicts()
    assert set(verdicts) == {tried.documented for tried in TRIED}
    for tried in TRIED:
        assert verdicts[tried.documented] == ("rewritten" if tried.rewrites else "untouched")


@pytest.mark.parametrize("tried", TRIED, ids=[tried.documented for tried in TRIED])
def test_what_each_command_does_to_meltano_yml(tried, tmp_path):
    project = MeltanoProject(tmp_path / "project")
    project_file = project.root / "meltano.yml"
    before = project_file.read_text(encoding="utf-8")
    # Its own plugin folder (`remove` deletes the plugin's venv), inside the project: Meltano
    # 4.4.1's `remove` fails on one outside it ("... is not in the subpath of ...").
    env = {"MELTANO_SYS_DIR_ROOT": str(project.root / ".meltano"), **dict(tried.env)}
    if tried.arguments[0] in ("install", "run", "invoke"):
        env = dict(tried.env)  # the shared plugin cache: installed once
    project.meltano(*tried.arguments, env=env)
    after = project_file.read_text(encoding="utf-8")
    assert (after != before) == tried.rewrites
    if tried.rewrites:
        assert yaml.safe_load(after)  # still a project file
    # The secret went where the docs say instead.
    assert (project.root / ".env").exists() == tried.documented.endswith("eq_jwt ...")
