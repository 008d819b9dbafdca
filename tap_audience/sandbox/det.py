"""Deterministic pseudo-randomness keyed by the sandbox seed.

Every generated value is a pure function of ``(seed, identifying parts)`` and never of call order
or of the data clock, so the HTTP handlers and the oracle always agree, and a bucket fetched twice
(or by two threads) is identical.
"""

from __future__ import annotations

import hashlib
import random
import uuid


def digest(seed: int, *parts: object, size: int = 32) -> bytes:
    """Hash ``(seed, *parts)``; ``repr`` of ints/strings/dates is stable across runs."""
    return hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=size).digest()


def units(raw: bytes) -> list[float]:
    """Split a digest into floats in [0, 1), 16 bits each (plenty for plausible fake data)."""
    return [((raw[i] << 8) | raw[i + 1]) / 65536.0 for i in range(0, len(raw) - 1, 2)]


def rng(seed: int, *parts: object) -> random.Random:
    """A private ``Random`` for one entity, so choices do not depend on generation order."""
    return random.Random(int.from_bytes(digest(seed, *parts), "big"))


def uuid4_from(generator: random.Random) -> str:
    """A version-4-shaped UUID drawn from ``generator`` (deterministic, unlike ``uuid.uuid4``)."""
    return str(uuid.UUID(int=generator.getrandbits(128), version=4))
