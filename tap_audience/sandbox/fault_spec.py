"""The ``--fault SPEC`` grammar of ``python -m tap_audience.sandbox``.

::

    SPEC  := HEAD ("," ITEM)*
    HEAD  := KIND | KIND "=" VALUE      KIND=VALUE sets the kind's main key (below)
    ITEM  := KEY "=" VALUE | retry_after_http_date

    --fault "status=503,path=/locus,rate=0.3,seed=2"
    --fault "rate_limited=1,path=/angus-data,rate=0.1"          (Retry-After: 1)
    --fault "drop_connection,path=/eq-api,schedule=1;4"
    --fault "deny_coordinate=45.5019,-73.5674"
    --fault "expire_tokens=eq,path=/eq-api|/locus,schedule=3"
    --fault "missing_metrics=satisfaction;stop_time,path=/angus-data,every=2,limit=5"
    --fault "redirect=308,to=decoy,path=/eq-api"                (to the decoy host)

Kinds and main keys: status=CODE, rate_limited=RETRY_AFTER, html_error_page=CODE, slow=SECONDS,
drop_connection=AFTER_BYTES, expire_tokens=VENDOR, deny_coordinate=LAT,LON,
missing_metrics=NAMES, redirect=CODE (default 307); truncated_body, wrong_types and
extra_fields take none.

Keys for every kind: ``path`` (prefixes separated by ``|``), ``method``, ``query.NAME`` (the
request must carry NAME=VALUE), one trigger of ``rate`` (0-1, with ``seed``), ``schedule``
(1-based indices separated by ``;``), ``first`` or ``every``, then ``limit`` and ``name``.
Kind-specific keys: ``status``, ``body``, ``content_type``, ``retry_after`` (seconds),
``retry_after_http_date`` (flag), ``delay`` (seconds), ``after_bytes``, ``vendor``,
``coordinate``, ``metrics`` (separated by ``;``), ``to`` (redirect target: ``decoy``, ``self``
or an http(s):// URL).

A comma separates items only when ``KEY=`` (or the flag) follows it, so values such as
coordinates or message text may contain commas.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast

from .faults import KIND_KEYS, KINDS, MAIN_KEY, SPEC_FIELDS, Fault, FaultKind, Target

_SPLIT = re.compile(r",(?=\s*(?:[A-Za-z_][\w.\[\]-]*\s*=|retry_after_http_date\s*(?:,|$)))")
_FLAGS = frozenset(("retry_after_http_date",))
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _int(text: str) -> int:
    return int(text)


def _float(text: str) -> float:
    return float(text)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(";") if part.strip())


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(";") if part.strip())


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(text)


def _text(text: str) -> str:
    return text


_COMMON: dict[str, Callable[[str], Any]] = {
    "method": _text,
    "rate": _float,
    "seed": _int,
    "schedule": _ints,
    "first": _int,
    "every": _int,
    "limit": _int,
    "name": _text,
}
_SPECIFIC: dict[str, Callable[[str], Any]] = {
    "status": _int,
    "body": _text,
    "content_type": _text,
    "retry_after": _int,
    "retry_after_http_date": _bool,
    "delay": _float,
    "after_bytes": _int,
    "vendor": _text,
    "coordinate": _text,
    "metrics": _names,
    "to": _text,
}
_ALIASES = {"delay_seconds": "delay", "coords": "coordinate", "code": "status"}
_EXPECTED: dict[Callable[[str], Any], str] = {
    _int: "an integer",
    _float: "a number",
    _ints: "integers separated by ';'",
}


def parse_fault_spec(spec: str) -> Fault:
    """A ``Fault`` from one ``--fault`` value; ValueError with a readable reason otherwise."""
    items = [item.strip() for item in _SPLIT.split(spec.strip())]
    if not items or not items[0]:
        raise ValueError("empty fault spec")
    kind, _, main = items[0].partition("=")
    kind = kind.strip()
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r} (choose from {', '.join(KINDS)})")
    pairs: list[tuple[str, str]] = []
    if main:
        if kind not in MAIN_KEY:
            raise ValueError(f"{kind} takes no value ({kind}=...)")
        pairs.append((MAIN_KEY[kind], main))
    for item in items[1:]:
        key, eq, value = item.partition("=")
        key = _ALIASES.get(key.strip(), key.strip())
        if not eq and key in _FLAGS:
            value = "true"
        elif not eq:
            raise ValueError(f"{item!r} is not KEY=VALUE")
        pairs.append((key, value.strip()))
    return _build(cast(FaultKind, kind), pairs)


def _build(kind: FaultKind, pairs: list[tuple[str, str]]) -> Fault:
    target: dict[str, Any] = {}
    query: dict[str, str] = {}
    specific: dict[str, Any] = {}
    for key, value in pairs:
        if key == "path":
            target["path"] = tuple(p.strip() for p in value.split("|") if p.strip())
        elif key.startswith("query.") and len(key) > len("query."):
            query[key[len("query.") :]] = value
        elif key in _COMMON:
            target[key] = _convert(key, value, _COMMON[key])
        elif key in _SPECIFIC and key in KIND_KEYS[kind]:
            specific[SPEC_FIELDS[key]] = _convert(key, value, _SPECIFIC[key])
        elif key in _SPECIFIC:
            allowed = ", ".join(KIND_KEYS[kind]) or "none"
            raise ValueError(f"{key!r} does not apply to {kind} (its own keys: {allowed})")
        else:
            raise ValueError(f"unknown key {key!r}")
    if query:
        target["query"] = query
    return Fault.build(kind, cast(Target, target), **specific)


def _convert(key: str, value: str, parse: Callable[[str], Any]) -> Any:
    try:
        return parse(value)
    except ValueError:
        expected = _EXPECTED.get(parse, "true or false" if parse is _bool else "a value")
        raise ValueError(f"{key} must be {expected}, got {value!r}") from None
