"""Strict value conversion for parsers: a wrong type is an error, never a silent guess.

`"12"` for a count is refused rather than coerced: a vendor that changes a type has changed
its contract, and the user should hear about it with the field's name.
"""

from __future__ import annotations

from typing import Any


def as_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"{name} is {value!r} ({type(value).__name__}), expected an integer")


def as_float(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"{name} is {value!r} ({type(value).__name__}), expected a number")


def as_str(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{name} is {value!r} ({type(value).__name__}), expected text")
