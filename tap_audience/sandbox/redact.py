"""Masking of credentials in everything the sandbox logs or prints (not in the tap config it
prints on purpose): request log lines, fault listings and the tracebacks in ``Sandbox.errors``.

Sandbox output ends up in CI logs and bug reports; a JWT in there is a working credential for
as long as it lives (90 days for EQ), so masking is by shape (anything JWT-like, any
``token=...``-style pair, any Bearer value) and by value (the secrets the sandbox knows).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
# Base64url of '{"' is "eyJ": every JWT (and JWT fragment) starts with it.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)*")
_BEARER = re.compile(r"(?i)(\bbearer\s+)[^\s\"',;}\]]+")
_PAIR = re.compile(
    r"(?i)(\b(?:access_token|token|jwt|otp|password|secret|eq-api-jwt|x-firstorder-token)"
    r"\b[\"']?\s*[:=]\s*[\"']?)(?!\*\*\*)[^\s\"'&,;}\])]+"
)


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is masked whole.
        known = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)
        self._known = re.compile("|".join(map(re.escape, known))) if known else None

    def __call__(self, text: str) -> str:
        if self._known is not None:
            text = self._known.sub(MASK, text)
        text = _JWT.sub(MASK, text)
        text = _BEARER.sub(rf"\g<1>{MASK}", text)
        return _PAIR.sub(rf"\g<1>{MASK}", text)
