"""Fault injection: what goes wrong (kind), where (target) and when (trigger).

A ``Fault`` is plain data; ``fault_layer.FaultLayer`` applies it inside the single dispatch
function, so every fault works the same over HTTP and in-process. Inject with
``sandbox.inject(Fault.status(503, path="/locus", schedule=[1, 2]))``; see ``sandbox.fault_log``
for what fired and ``sandbox.clear_faults()`` to start over.

Kinds and what a client sees:

* ``status``: the given status instead of the vendor's answer, with body
  ``{"message": <reason phrase>}`` or ``body``/``content_type`` (LOCUS maintenance is
  503 text/plain "Scheduled system maintenance"); ``Retry-After`` if ``retry_after`` is set.
* ``rate_limited``: 429 ``{"message": "Too Many Requests"}``; ``retry_after`` seconds as
  ``Retry-After: 2`` or, with ``retry_after_http_date``, as an HTTP-date that far ahead.
* ``html_error_page``: an HTML page instead of JSON, status 502 by default (a proxy in front of
  a dead upstream) or e.g. 200 (a captive portal or CDN maintenance page).
* ``slow``: the normal answer after ``delay_seconds`` (to go past a client timeout).
* ``drop_connection``: status and headers with the full Content-Length, then part of the body
  (``after_bytes``, default half), then the socket closes; ``requests`` raises
  ``ChunkedEncodingError``.
* ``truncated_body``: a 2xx JSON answer cut in half, with a Content-Length matching the cut.
* ``expire_tokens``: from its firing on, ``vendor``'s tokens ("angus" or "eq") issued before
  the firing are rejected as expired: Angus 401 ``{"code": "expired_jwt", ...}``; ATOM and
  keywarden 403 ``Invalid JWT: <token>``; LOCUS 403 ``{"Message": "... explicit deny"}``.
  Tokens issued afterwards (Angus re-auth, keywarden verify or refresh, ``Sandbox.mint_*``)
  work. Default target: every path where the vendor checks tokens, keywarden included, so an
  expired EQ token cannot be refreshed (as in reality); target ``("/eq-api", "/locus")`` to
  let keywarden's ``/refresh`` accept it.
* ``deny_coordinate``: LOCUS 403 ``{"message": "Access not allowed"}`` for requests naming
  ``coordinate``, after the usual auth checks (as the real entitlement check).
* ``wrong_types``: a 2xx JSON answer whose first record gets its first numeric field replaced
  by junk ("abc" for Angus, "n/a" for EQ) and its second by the number as a string ("12").
* ``extra_fields``: a 2xx JSON answer with unexpected keys at the top level, in every record
  (Angus bucket, insights row, LOCUS item, campaign) and in every object nested in a record
  (Angus metric object, LOCUS segment).
* ``missing_metrics``: a 2xx JSON answer with the named keys removed from every record and
  every object nested in one (e.g. "satisfaction" from Angus buckets, "Imps" from insights rows).
* ``redirect``: the given 3xx (301, 302, 303, 307 or 308; default 307) with body
  ``{"message": "Moved"}`` and a ``Location`` chosen by ``to``: "decoy" (default) is the
  sandbox's decoy server on another loopback host (``sandbox.decoy``, which records every
  request it gets) plus the original path and query; "self" is the very same URL (with
  ``first=1``, a same-origin redirect the client should follow); an ``http(s)://`` URL is used
  verbatim. Replaces the vendor's answer, as ``status`` does.

Records are Angus buckets, insights rows, LOCUS items and campaigns; identity keys (``_id``,
``lat``/``lon``, ``segment_id``, ``CampCode``) are never mutated.

Target: ``path`` (one prefix or several, matched on whole segments: "/eq-auth" matches
"/eq-auth/prod/refresh"; none = every path), ``method``, ``query`` (every ``name: value`` must
be among the request's values; "coords" and "coords[]" are the same name, as in Express) and
``when`` (any predicate on the ``Request``). Trigger, counted over *matching* requests only:
``rate`` (probability, drawn from ``random.Random(seed)``, one draw per matching request, so a
seed gives the same pattern for the same request order), ``schedule`` (1-based indices),
``first`` (the first N) or ``every`` (every Nth); none of them = every matching request.
``limit`` caps how many times the fault fires. A fault that triggers on a response it cannot
change (e.g. ``wrong_types`` on an error) does not fire and does not use up its ``limit``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict, get_args
from urllib.parse import urlsplit

from .data_locus import parse_coords
from .http_types import Request

if TYPE_CHECKING:
    from typing_extensions import Unpack

FaultKind = Literal[
    "status",
    "rate_limited",
    "html_error_page",
    "slow",
    "drop_connection",
    "truncated_body",
    "expire_tokens",
    "deny_coordinate",
    "wrong_types",
    "extra_fields",
    "missing_metrics",
    "redirect",
]
KINDS: tuple[str, ...] = get_args(FaultKind)

# Where each vendor checks tokens (expire_tokens' default target). Angus's console issues them.
VENDOR_PATHS: dict[str, tuple[str, ...]] = {
    "angus": ("/angus-data",),
    "eq": ("/eq-api", "/eq-auth", "/locus"),
}

# Kind-specific spec keys (the CLI grammar's names) and the Fault field each one sets.
SPEC_FIELDS: dict[str, str] = {
    "status": "http_status",
    "body": "body",
    "content_type": "content_type",
    "retry_after": "retry_after",
    "retry_after_http_date": "retry_after_http_date",
    "delay": "delay_seconds",
    "after_bytes": "after_bytes",
    "vendor": "vendor",
    "coordinate": "coordinate",
    "metrics": "metrics",
    "to": "redirect_to",
}
_RETRY = ("retry_after", "retry_after_http_date")
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "status": ("status", "body", "content_type", *_RETRY),
    "rate_limited": ("body", "content_type", *_RETRY),
    "html_error_page": ("status", "body"),
    "slow": ("delay",),
    "drop_connection": ("after_bytes",),
    "truncated_body": (),
    "expire_tokens": ("vendor",),
    "deny_coordinate": ("coordinate",),
    "wrong_types": (),
    "extra_fields": (),
    "missing_metrics": ("metrics",),
    "redirect": ("status", "to"),
}
# ``KIND=VALUE`` in a spec sets this key, e.g. ``status=503`` or ``slow=2.5``.
MAIN_KEY: dict[str, str] = {
    "status": "status",
    "rate_limited": "retry_after",
    "html_error_page": "status",
    "slow": "delay",
    "drop_connection": "after_bytes",
    "expire_tokens": "vendor",
    "deny_coordinate": "coordinate",
    "missing_metrics": "metrics",
    "redirect": "status",
}
# The main key is required where there is no sensible default.
_REQUIRED = ("status", "expire_tokens", "deny_coordinate", "missing_metrics")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# ``to`` values other than an absolute http(s) URL.
REDIRECT_DECOY, REDIRECT_SELF = "decoy", "self"
# Defaults ``Fault.build`` fills in, so a CLI spec without them equals the constructor's fault.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "redirect": {"http_status": 307, "redirect_to": REDIRECT_DECOY},
}


class Target(TypedDict, total=False):
    """Where and when a fault applies; shared keyword arguments of every ``Fault`` constructor."""

    path: str | Sequence[str] | None
    method: str | None
    query: Mapping[str, str] | None
    when: Callable[[Request], bool] | None
    rate: float | None
    seed: int
    schedule: Sequence[int] | None
    first: int | None
    every: int | None
    limit: int | None
    name: str | None


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    # --- target
    path: tuple[str, ...] = ()
    method: str | None = None
    query: tuple[tuple[str, str], ...] = ()
    when: Callable[[Request], bool] | None = field(default=None, compare=False)
    # --- trigger
    rate: float | None = None
    seed: int = 0
    schedule: tuple[int, ...] | None = None
    first: int | None = None
    every: int | None = None
    limit: int | None = None
    name: str | None = None  # label in fault_log; defaults to the kind
    # --- kind-specific (see KIND_KEYS)
    http_status: int | None = None
    body: str | None = None
    content_type: str | None = None
    retry_after: int | None = None
    retry_after_http_date: bool = False
    delay_seconds: float = 0.0
    after_bytes: int | None = None
    vendor: str | None = None
    coordinate: str | None = None
    metrics: tuple[str, ...] = ()
    redirect_to: str | None = None

    def __post_init__(self) -> None:
        problems = list(_problems(self))
        if problems:
            raise ValueError(f"{self.kind}: " + "; ".join(problems))

    @property
    def label(self) -> str:
        return self.name or self.kind

    # --- constructors ------------------------------------------------------------------------
    @classmethod
    def status(
        cls,
        status: int,
        *,
        body: str | None = None,
        content_type: str | None = None,
        retry_after: int | None = None,
        retry_after_http_date: bool = False,
        **target: Unpack[Target],
    ) -> Fault:
        return cls.build(
            "status",
            target,
            http_status=status,
            body=body,
            content_type=content_type,
            retry_after=retry_after,
            retry_after_http_date=retry_after_http_date,
        )

    @classmethod
    def rate_limited(
        cls,
        *,
        retry_after: int | None = None,
        retry_after_http_date: bool = False,
        body: str | None = None,
        content_type: str | None = None,
        **target: Unpack[Target],
    ) -> Fault:
        return cls.build(
            "rate_limited",
            target,
            retry_after=retry_after,
            retry_after_http_date=retry_after_http_date,
            body=body,
            content_type=content_type,
        )

    @classmethod
    def html_error_page(
        cls, *, status: int = 502, body: str | None = None, **target: Unpack[Target]
    ) -> Fault:
        return cls.build("html_error_page", target, http_status=status, body=body)

    @classmethod
    def slow(cls, *, delay_seconds: float, **target: Unpack[Target]) -> Fault:
        return cls.build("slow", target, delay_seconds=delay_seconds)

    @classmethod
    def drop_connection(cls, *, after_bytes: int | None = None, **target: Unpack[Target]) -> Fault:
        return cls.build("drop_connection", target, after_bytes=after_bytes)

    @classmethod
    def truncated_body(cls, **target: Unpack[Target]) -> Fault:
        return cls.build("truncated_body", target)

    @classmethod
    def expire_tokens(cls, *, vendor: str, **target: Unpack[Target]) -> Fault:
        """Default target: every path where ``vendor`` checks tokens (``VENDOR_PATHS``)."""
        return cls.build("expire_tokens", target, vendor=vendor)

    @classmethod
    def deny_coordinate(cls, coordinate: str, **target: Unpack[Target]) -> Fault:
        """Default target: ``/locus``."""
        return cls.build("deny_coordinate", target, coordinate=coordinate)

    @classmethod
    def wrong_types(cls, **target: Unpack[Target]) -> Fault:
        return cls.build("wrong_types", target)

    @classmethod
    def extra_fields(cls, **target: Unpack[Target]) -> Fault:
        return cls.build("extra_fields", target)

    @classmethod
    def missing_metrics(cls, *, metrics: Sequence[str], **target: Unpack[Target]) -> Fault:
        return cls.build("missing_metrics", target, metrics=tuple(metrics))

    @classmethod
    def redirect(
        cls, status: int = 307, *, to: str = REDIRECT_DECOY, **target: Unpack[Target]
    ) -> Fault:
        """``to``: "decoy" (``sandbox.decoy``), "self" or an absolute http(s) URL."""
        return cls.build("redirect", target, http_status=status, redirect_to=to)

    @classmethod
    def build(cls, kind: FaultKind, target: Target, **specific: Any) -> Fault:
        """The generic constructor: ``specific`` holds Fault fields of the kind (KIND_KEYS)."""
        for key, default in _DEFAULTS.get(kind, {}).items():
            if specific.get(key) is None:
                specific[key] = default
        path = target.get("path")
        if path is None and kind == "expire_tokens":
            path = VENDOR_PATHS.get(str(specific.get("vendor")), ())
        elif path is None and kind == "deny_coordinate":
            path = "/locus"
        schedule = target.get("schedule")
        return cls(
            kind=kind,
            path=() if path is None else (path,) if isinstance(path, str) else tuple(path),
            method=target.get("method"),
            query=tuple(sorted((target.get("query") or {}).items())),
            when=target.get("when"),
            rate=target.get("rate"),
            seed=target.get("seed", 0),
            schedule=None if schedule is None else tuple(schedule),
            first=target.get("first"),
            every=target.get("every"),
            limit=target.get("limit"),
            name=target.get("name"),
            **specific,
        )

    # --- display -----------------------------------------------------------------------------
    def describe(self) -> str:
        """The fault as a CLI spec (``fault_spec.parse_fault_spec`` reads it back)."""
        specific = {key: getattr(self, SPEC_FIELDS[key]) for key in KIND_KEYS[self.kind]}
        main = MAIN_KEY.get(self.kind)
        head: str = self.kind
        if main is not None and specific[main] not in _UNSET:
            head += "=" + _spec_value(specific.pop(main))
        items = [head]
        if self.path:
            items.append("path=" + "|".join(self.path))
        if self.method:
            items.append(f"method={self.method}")
        items += [f"query.{name}={value}" for name, value in self.query]
        if self.when is not None:
            items.append("when=<python predicate>")
        for key in ("rate", "seed", "schedule", "first", "every", "limit", "name"):
            value = getattr(self, key)
            if value is not None and not (key == "seed" and self.rate is None):
                items.append(f"{key}={_spec_value(value)}")
        items += [f"{k}={_spec_value(v)}" for k, v in specific.items() if v not in _UNSET]
        return ",".join(items)


_UNSET = (None, (), False)


def _spec_value(value: object) -> str:
    if isinstance(value, tuple):
        return ";".join(str(v) for v in value)
    if value is True:
        return "true"
    return str(value)


def _problems(f: Fault) -> list[str]:  # noqa: PLR0912 - one flat list of independent checks
    """Readable reasons a fault is unusable (the CLI shows them as argparse errors)."""
    out: list[str] = []
    if f.kind not in KINDS:
        return [f"unknown kind (choose from {', '.join(KINDS)})"]
    if f.kind in _REQUIRED and getattr(f, SPEC_FIELDS[MAIN_KEY[f.kind]]) in (None, ()):
        out.append(f"{MAIN_KEY[f.kind]} is required")
    out += [f"path {p!r} must start with '/'" for p in f.path if not p.startswith("/")]
    triggers = [n for n in ("rate", "schedule", "first", "every") if getattr(f, n) is not None]
    if len(triggers) > 1:
        out.append(f"choose one trigger, not {' and '.join(triggers)}")
    if f.rate is not None and not 0.0 <= f.rate <= 1.0:
        out.append("rate must be between 0 and 1")
    if f.schedule is not None and (not f.schedule or any(i < 1 for i in f.schedule)):
        out.append("schedule needs 1-based request indices (1 = first matching request)")
    for name in ("first", "every", "limit"):
        value = getattr(f, name)
        if value is not None and value < 1:
            out.append(f"{name} must be >= 1")
    if f.http_status is not None and not 100 <= f.http_status <= 599:
        out.append("status must be an HTTP status (100-599)")
    if f.retry_after is not None and f.retry_after < 0:
        out.append("retry_after must be >= 0 seconds")
    if f.retry_after_http_date and f.retry_after is None:
        out.append("retry_after_http_date needs retry_after (seconds from now)")
    if (
        not math.isfinite(f.delay_seconds)
        or f.delay_seconds < 0
        or (f.kind == "slow" and not f.delay_seconds > 0)
    ):
        out.append("delay must be > 0 seconds")
    if f.after_bytes is not None and f.after_bytes < 0:
        out.append("after_bytes must be >= 0")
    if f.vendor is not None and f.vendor not in VENDOR_PATHS:
        out.append(f"vendor must be one of {', '.join(VENDOR_PATHS)}")
    if f.coordinate is not None:
        try:
            parse_coords(f.coordinate)
        except ValueError:
            out.append(f"coordinate {f.coordinate!r} is not 'lat,lon'")
    if f.kind == "redirect":
        out += _redirect_problems(f)
    return out


def _redirect_problems(f: Fault) -> list[str]:
    out = []
    if f.http_status not in REDIRECT_STATUSES:
        codes = ", ".join(map(str, REDIRECT_STATUSES))
        out.append(f"status must be a redirect status ({codes}), got {f.http_status}")
    to = f.redirect_to
    if to not in (REDIRECT_DECOY, REDIRECT_SELF):
        # An absolute URL only: a relative Location would stay on the sandbox, which is "self".
        parts = urlsplit(to or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            out.append(f"to must be 'decoy', 'self' or an http(s):// URL, got {to!r}")
    return out
