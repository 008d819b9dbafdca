"""EQ Works' settings: the account, its product-scoped tokens, campaigns, coordinates, URLs.

EQ tokens are scoped to one product (ATOM or LOCUS). Each may be given inline (`eq_jwt`,
`locus_jwt`) or in a file that `tap-audience eq-login --token-file` writes and the tap keeps
refreshed (`eq_token_file`, `locus_token_file`); a file wins over the inline token.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tap_audience.core.errors import ConfigurationError, TapAudienceError
from tap_audience.core.jwt_claims import unverified_claims
from tap_audience.core.settings import (
    STRING,
    SettingsPart,
    email_check,
    integer,
    optional_text,
    setting,
)

LOGGER = logging.getLogger("tap_audience.eqworks.settings")
TOKEN_FILE_SETTINGS = ("eq_token_file", "locus_token_file")


@dataclass(frozen=True)
class Coordinate:
    text: str
    lat: float
    lon: float


def parse_coordinate(text: str) -> Coordinate:
    """`"43.65,-79.38"` → Coordinate; raises ValueError with a readable reason."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 2:
        raise ValueError(f'locus_coords entry {text!r} must be "lat,lon", e.g. "43.6532,-79.3832"')
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(
            f"locus_coords entry {text!r}: latitude and longitude must be numbers"
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(
            f"locus_coords entry {text!r}: latitude must be in [-90, 90], longitude in [-180, 180]"
        )
    return Coordinate(text=f"{parts[0]},{parts[1]}", lat=lat, lon=lon)


def token_email(token: str | None) -> str | None:
    """The `email` claim of an EQ token, if it is a readable JWT that has one."""
    if not token:
        return None
    try:
        email = unverified_claims(token, what="eq_jwt").get("email")
    except TapAudienceError:
        return None
    return email if isinstance(email, str) else None


def read_token_file(setting: str, path: str | None) -> str | None:
    """The token kept in `path` (whitespace stripped); None when `path` is not set.

    The config checks (`token_file_problems`) have already refused a missing, unreadable or
    empty file, so a failure here is a file that vanished since: say which.
    """
    if not path:
        return None
    file = Path(path).expanduser()
    try:
        mode = file.stat().st_mode
        token = file.read_text().strip()
    except OSError as exc:
        raise ConfigurationError(f"{setting}: cannot read {path} ({exc.strerror})") from None
    if mode & 0o077:
        LOGGER.warning(
            "%s: %s is open to other users (mode %s): run `chmod 600 %s`",
            setting,
            path,
            oct(mode & 0o777)[2:],
            path,
        )
    if not token:
        raise ConfigurationError(f"{setting}: {path} is empty. {eq_login_hint(setting, path)}")
    return token


def eq_login_hint(setting: str, path: str) -> str:
    product = "locus" if setting.startswith("locus") else "atom"
    return (
        f"Create it with `tap-audience eq-login --user <email> --product {product} "
        f"--token-file {path}`"
    )


@dataclass(frozen=True)
class EqSettings(SettingsPart):
    eq_user: str | None = setting(
        STRING,
        title="EQ user",
        description="EQ account email (`eq-api-user`).",
        sandbox_replaces=True,
        credential=True,
        read=optional_text,
    )
    eq_jwt: str | None = setting(
        STRING,
        secret=True,
        title="EQ ATOM token",
        description="ATOM-scoped EQ JWT.",
        sandbox_replaces=True,
        credential=True,
        read=optional_text,
    )
    locus_jwt: str | None = setting(
        STRING,
        secret=True,
        title="EQ LOCUS token",
        description="LOCUS-scoped EQ JWT. EQ tokens are scoped to one product, so the ATOM "
        "token cannot stand in: without a LOCUS token, locus_hh_segments syncs nothing.",
        sandbox_replaces=True,
        credential=True,
        read=optional_text,
    )
    eq_campaign_ids: tuple[int, ...] = setting(
        {"type": "array", "items": {"type": ["integer"]}},
        default=[],
        title="ATOM campaign IDs",
        description="ATOM campaign codes; each is a partition of every insights stream.",
        sandbox_replaces=True,
        read=lambda value: tuple(int(c) for c in value),
    )
    eq_window_days: int = setting(
        integer(minimum=1),
        default=7,
        title="EQ window (days)",
        description="Days per ATOM insights request.",
        read=int,
    )
    eq_lookback_days: int = setting(
        integer(minimum=0),
        default=3,
        title="EQ lookback (days)",
        description="Re-read this many days before the bookmark (ATOM revises recent days).",
        read=int,
    )
    locus_coords: tuple[Coordinate, ...] = setting(
        {"type": "array", "items": {"type": ["string"]}},
        default=[],
        title="LOCUS coordinates",
        description='LOCUS coordinates as `"lat,lon"` strings; one partition each.',
        sandbox_replaces=True,
        read=lambda value: tuple(parse_coordinate(c) for c in value),
    )
    eq_auth_url: str = setting(
        STRING,
        default="https://auth.eqworks.io/prod",
        title="EQ auth URL",
        description="Base URL of EQ's keywarden auth service (with its stage).",
        base_url=True,
        sandbox_replaces=True,
        read=str,
    )
    eq_api_url: str = setting(
        STRING,
        default="https://api.eqworks.io",
        title="ATOM API URL",
        description="Base URL of the ATOM API (overseer).",
        base_url=True,
        sandbox_replaces=True,
        read=str,
    )
    locus_api_url: str = setting(
        STRING,
        default="https://api.locus.place",
        title="LOCUS API URL",
        description="Base URL of the LOCUS API.",
        base_url=True,
        sandbox_replaces=True,
        read=str,
    )
    eq_refresh_days: int = setting(
        integer(minimum=0),
        default=14,
        title="EQ refresh window (days)",
        description="Refresh an EQ token at start when it expires within this many days "
        "(keywarden /refresh; needs the token to be still valid).",
        read=int,
    )
    eq_token_file: str | None = setting(
        STRING,
        title="ATOM token file",
        description="File holding the ATOM token (read instead of eq_jwt; it must exist: "
        "`tap-audience eq-login --token-file` creates it); "
        "every refreshed token is written back to it atomically, mode 0600.",
        sandbox_replaces=True,
        credential=True,
        read=optional_text,
    )
    locus_token_file: str | None = setting(
        STRING,
        title="LOCUS token file",
        description="Like eq_token_file, for the LOCUS token.",
        sandbox_replaces=True,
        credential=True,
        read=optional_text,
    )
    # The tokens in use: a token file's content, else the inline token.
    atom_token: str | None = field(init=False, repr=False)
    locus_token: str | None = field(init=False, repr=False)
    # eq-api-user: the setting, else the email the ATOM token was issued to.
    user: str | None = field(init=False)

    def __post_init__(self) -> None:
        atom = read_token_file("eq_token_file", self.eq_token_file) or self.eq_jwt
        # Never eq_jwt: EQ tokens are scoped to one product, an ATOM token cannot read LOCUS.
        locus = read_token_file("locus_token_file", self.locus_token_file) or self.locus_jwt
        object.__setattr__(self, "atom_token", atom or None)
        object.__setattr__(self, "locus_token", locus or None)
        object.__setattr__(self, "user", self.eq_user or token_email(atom))

    @property
    def lookback(self) -> dt.timedelta:
        return dt.timedelta(days=self.eq_lookback_days)

    def secrets(self) -> list[str]:
        return [token for token in (self.atom_token, self.locus_token) if token]


# --- checks JSON Schema cannot express (see connector/config_checks.py) --------------------
def coordinate_problems(config: Mapping[str, Any]) -> list[str]:
    coords = config.get("locus_coords")
    problems = []
    for entry in coords if isinstance(coords, list) else []:
        try:
            parse_coordinate(entry)
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def token_file_problems(config: Mapping[str, Any]) -> list[str]:
    """A configured token file must exist and hold a token: a run without it would look green
    while extracting nothing from that product."""
    problems = []
    for name in TOKEN_FILE_SETTINGS:
        path = config.get(name)
        if not isinstance(path, str) or not path:
            continue
        file = Path(path).expanduser()
        if not file.exists():
            problems.append(f"{name}: {path} does not exist. {eq_login_hint(name, path)}")
        elif not file.is_file() or not os.access(file, os.R_OK):
            problems.append(f"{name}: {path} is not a readable file")
        elif not file.read_text(errors="replace").strip():
            problems.append(f"{name}: {path} is empty. {eq_login_hint(name, path)}")
    return problems


CONFIG_CHECKS: tuple[Callable[[Mapping[str, Any]], list[str]], ...] = (
    email_check("eq_user"),
    coordinate_problems,
    token_file_problems,
)
