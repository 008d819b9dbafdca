"""Regenerate what is derived from the tap's settings schema, so it can never go stale:

- the README's settings table, from `tap-audience --about --format=markdown`
  (between `<!-- settings:start -->` and `<!-- settings:end -->`);
- the `settings:` of the tap in `meltano.yml` and in the Meltano Hub definition
  `hub/tap-audience.yml` (kind, label, description, sensitive).

Tests fail when any of them differs from what this script would write.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tap_audience.connector.settings import CONFIG_SCHEMA  # noqa: E402

README = ROOT / "README.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"
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


def main() -> None:
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{settings_table()}\n{END}{tail}")
    replace_block(ROOT / "meltano.yml", indent=8)
    replace_block(ROOT / "hub" / "tap-audience.yml", indent=2)


if __name__ == "__main__":
    main()
