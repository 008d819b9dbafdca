"""Files given on the command line (config, catalog, state), read alike by both faces.

What people hand a connector is not always a JSON file: a folder, a file a Windows editor
saved as UTF-16, a YAML config written for another tool, a file cut off by a full disk.
Each is one `InputFileError` naming the file, what is wrong and the fix (exit 1), never
singer-sdk's or json's traceback. A UTF-8 byte order mark (Notepad's "UTF-8 with BOM") is
read past: it carries no meaning, and refusing it would only send people hunting for an
invisible character.

Also here: the one rule both faces apply to a state, that a whole STATE message (a line
copied from the connector's own stdout) stands for the state it carries.
"""

from __future__ import annotations

import codecs
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tap_audience.core.errors import ConfigurationError

STDIN = "-"

# Longest first: UTF-32 LE's mark begins with UTF-16 LE's.
FOREIGN_MARKS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)

# The first meaningful line of a YAML mapping, list or document: what a config written for
# Meltano's `meltano.yml` or a Kubernetes manifest starts with. JSON never starts like this.
YAML_START = re.compile(r"^(?:(?P<key>[A-Za-z_][\w.-]*)\s*:(?:\s|$)|(?P<mark>---|-\s))")


class InputFileError(ConfigurationError):
    """A file given on the command line cannot be read as what it should hold."""


def read_text(path: str, what: str, fix: str) -> str:
    """The text of `path` (`-`: stdin), decoded as UTF-8, or one readable `InputFileError`.

    `what` names the file's role ("config file"), `fix` says what to do about it."""
    if path == STDIN:
        raw = sys.stdin.buffer.read()
    else:
        file = Path(path)
        try:
            raw = file.read_bytes()
        except IsADirectoryError:
            raise InputFileError(
                f"{what} {path} is a directory: pass the path of the JSON file in it"
            ) from None
        except FileNotFoundError:
            broken = " (a symlink to nothing)" if file.is_symlink() else ""
            raise InputFileError(f"{what} {path} does not exist{broken}: {fix}") from None
        except OSError as exc:
            raise InputFileError(
                f"{what} {path} cannot be read ({exc.strerror or exc}): {fix}"
            ) from None
    for mark, encoding in FOREIGN_MARKS:
        if raw.startswith(mark):
            raise InputFileError(f"{what} {path} is {encoding} encoded: save it as UTF-8")
    if b"\x00" in raw:
        # UTF-16 without a byte order mark: every other byte of ASCII text is a NUL.
        raise InputFileError(
            f"{what} {path} holds NUL bytes (UTF-16 without a byte order mark?): save it as UTF-8"
        )
    try:
        text = raw.decode("utf-8-sig")  # a UTF-8 byte order mark is read past
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        raise InputFileError(
            f"{what} {path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at line {line}, "
            f"column {column}; another encoding, such as Latin-1 or Windows-1252?): save it "
            "as UTF-8"
        ) from None
    if not text.strip():
        raise InputFileError(f"{what} {path} is empty: {fix}")
    return text


def read_json(path: str, what: str, fix: str) -> Any:
    """The JSON value in `path`, or one readable `InputFileError`."""
    text = read_text(path, what, fix)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if looks := yaml_hint(text):
            raise InputFileError(
                f"{what} {path} is not JSON (it looks like YAML: {looks}): {fix}"
            ) from None
        ending = " (the file ends there: was it cut off?)" if not text[exc.pos :].strip() else ""
        raise InputFileError(
            f"{what} {path} is not valid JSON at line {exc.lineno}, column {exc.colno} "
            f"({exc.msg}){ending}: {fix}"
        ) from None


def read_json_object(path: str, what: str, fix: str) -> dict[str, Any]:
    """The JSON object in `path`, or one readable `InputFileError`."""
    value = read_json(path, what, fix)
    if not isinstance(value, dict):
        raise InputFileError(f"{what} {path} holds a {json_kind(value)}, not an object: {fix}")
    return value


def json_kind(value: Any) -> str:
    """What a JSON value is, in JSON's words."""
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else type(value).__name__


def yaml_hint(text: str) -> str | None:
    """Where `text` (which is not JSON) looks like YAML, without quoting a value: a config's
    values may be secrets."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue  # YAML files often begin with comments; JSON has none
        match = YAML_START.match(line.strip())
        if match is None:
            return None
        if match["key"]:
            return f"line {number} starts with `{match['key']}:`"
        mark = match["mark"].strip()
        return f"line {number} starts with `{mark}`"
    return None


def state_message_payload(value: Any, payload: str) -> tuple[Any, bool]:
    """What a whole STATE message carries (its `payload` key: Singer's `value`, Airbyte's
    `state`; None if it has none), and True; or `value` itself and False when it is not such
    a message."""
    if isinstance(value, Mapping) and value.get("type") == "STATE":
        return value.get(payload), True
    return value, False
