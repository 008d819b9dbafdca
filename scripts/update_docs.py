"""Regenerate what is derived from the tap's settings schema, so it can never go stale:

- the README's settings table, from `tap-audience --about --format=markdown`
  (between `<!-- settings:start -->` and `<!-- settings:end -->`);
- the `settings:` of the tap in `meltano.yml` and in the Meltano Hub definition
  `hub/tap-audience.yml` (kind, label, description, sensitive);
- the nine ATOM insights schemas `schemas/eq_<dimension>.json` (`eq_user_segment`,
  `eq_session`, `eq_banner`, `eq_browser`, `eq_banner_pos`, `eq_iab`, `eq_lang`,
  `eq_network`, `eq_os`), one template (`insights_schema`) filled in from
  `INSIGHT_DIMENSIONS` (dimension → key of its value inside `_id`). Edit the template, not
  the files.

Tests fail when any of them differs from what this script would write.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tap_audience.connector.settings import CONFIG_SCHEMA  # noqa: E402
from tap_audience.eqworks.insights import INSIGHT_DIMENSIONS  # noqa: E402

README = ROOT / "README.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"
SCHEMAS = ROOT / "schemas"
KINDS = {"string": "string", "integer": "integer", "number": "decimal", "boolean": "boolean"}


def settings_table() -> str:
    about = subprocess.run(
        [sys.executable, "-m", "tap_audience", "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    lines = about.splitlines()
    start = lines.index("| Setting | Required | Default | Description |")
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return "\n".join(table)


def meltano_settings() -> list[dict[str, Any]]:
    settings = []
    for name, spec in CONFIG_SCHEMA["properties"].items():
        types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        json_type = next(t for t in types if t != "null")
        kind = KINDS.get(json_type, json_type)
        if spec.get("format") == "date-time":
            kind = "date_iso8601"
        setting: dict[str, Any] = {"name": name, "kind": kind, "label": spec["title"]}
        setting["description"] = spec["description"]
        if "enum" in spec:
            setting["kind"] = "options"
            setting["options"] = [{"label": value, "value": value} for value in spec["enum"]]
        if spec.get("secret"):
            setting["sensitive"] = True
        settings.append(setting)
    return settings


def render_settings(indent: int) -> str:
    text = yaml.safe_dump(meltano_settings(), sort_keys=False, width=1000, allow_unicode=True)
    pad = " " * indent
    return "".join(pad + line + "\n" for line in text.splitlines())


def replace_block(path: Path, indent: int) -> None:
    """Swap the `settings:` list of the tap-audience plugin, leaving the rest of the file."""
    lines = path.read_text().splitlines(keepends=True)
    key = " " * (indent - 2) + "settings:\n"
    start = (
        lines.index(key, next(i for i, line in enumerate(lines) if "name: tap-audience" in line))
        + 1
    )
    end = start
    while end < len(lines) and (lines[end].startswith(" " * indent) or not lines[end].strip()):
        end += 1
    path.write_text("".join(lines[:start]) + render_settings(indent) + "".join(lines[end:]))


def _nullable(json_type: str) -> dict[str, Any]:
    return {"type": [json_type, "null"]}


def insights_schema(dimension: str, id_key: str) -> dict[str, Any]:
    """The schema of stream `eq_<dimension>`; `id_key` names the dimension's value in `_id`.

    The metric columns are those of `INT_METRICS`/`FLOAT_METRICS` (tests/test_schemas.py
    checks every record has exactly these properties), in the files' historical order.
    """
    counts = ("imps", "clicks", "actions", "bids")
    money = ("bid_amount", "imp_cost", "revenue")
    vast = ("vast_view", *(f"vast_completion_{p}" for p in (0, 25, 50, 75, 100)))
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"eq_{dimension}",
        "description": (
            f"ATOM campaign insights by {dimension} per campaign-local day "
            f"(GET /beta/insights/{dimension})."
        ),
        "type": "object",
        "properties": {
            "campaign_id": {"type": "integer", "description": "ATOM campaign code (c)."},
            "date": {"type": "string", "format": "date", "description": "Campaign-local day."},
            "dimension_value": {
                "type": "string",
                "description": f"The {id_key} value of _id, as text.",
            },
            "_id": {
                **_nullable("object"),
                "description": "The row's raw _id object.",
                "additionalProperties": True,
            },
            **{name: _nullable("integer") for name in counts},
            **{name: _nullable("number") for name in money},
            **{name: _nullable("integer") for name in vast},
        },
        "required": ["campaign_id", "date", "dimension_value"],
        "additionalProperties": False,
    }


def insights_schema_files() -> dict[Path, str]:
    """Path → exact text of each generated insights schema (2-space JSON, final newline)."""
    return {
        SCHEMAS / f"eq_{dimension}.json": json.dumps(insights_schema(dimension, id_key), indent=2)
        + "\n"
        for dimension, id_key in INSIGHT_DIMENSIONS.items()
    }


def main() -> None:
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{settings_table()}\n{END}{tail}")
    replace_block(ROOT / "meltano.yml", indent=8)
    replace_block(ROOT / "hub" / "tap-audience.yml", indent=2)
    SCHEMAS.mkdir(exist_ok=True)
    for path, text in insights_schema_files().items():
        path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
