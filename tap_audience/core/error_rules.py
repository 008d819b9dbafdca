"""What an error answer from a vendor means, as one ordered table per vendor.

A rule matches a status (and, optionally, the vendor's message and the request's path) and
names an action. The HTTP client reads the table for what it can act on itself (retry;
re-authenticate once, then send again); every other action travels with the `VendorError`
to whoever handles the failure (`core.errors.failure_of`: the partition fails, is not
entitled, or the run stops; an auth flow: the credential or the URL is wrong). The first
matching rule wins; no match means the partition fails with the vendor's own message.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Action(enum.Enum):
    RETRY = "retry"  # wait (Retry-After, else backoff) and send again
    REAUTHENTICATE = "reauthenticate"  # one fresh credential, sent once more
    URL_PROBLEM = "url problem"  # the base URL is probably wrong (a doubled path): say so
    CREDENTIALS = "credentials"  # the credential was refused (an auth flow says which)
    NOT_ENTITLED = "not entitled"  # the account may not read this partition
    FAIL_PARTITION = "fail partition"  # this partition fails, the others go on
    STOP_RUN = "stop run"  # every partition depends on what failed: stop


@dataclass(frozen=True)
class ErrorRule:
    statuses: frozenset[int]
    action: Action
    # Any of these (case-insensitive) in the vendor's message, or the whole message equal to
    # one of `message_is`; both empty: any message.
    message_contains: tuple[str, ...] = ()
    message_is: tuple[str, ...] = ()
    path_prefix: str = ""  # only requests whose path starts with this
    # The readable line for a partition failure: `{error}` and the partition's fields.
    explain: str = ""

    @property
    def reads_message(self) -> bool:
        return bool(self.message_contains or self.message_is)

    def matches(self, status: int, path: str, message: str) -> bool:
        if status not in self.statuses or not path.startswith(self.path_prefix):
            return False
        if not self.reads_message:
            return True
        text = message.lower()
        return any(m in text for m in self.message_contains) or text in self.message_is


def rule(
    statuses: set[int] | frozenset[int],
    action: Action,
    *,
    message_contains: tuple[str, ...] = (),
    message_is: tuple[str, ...] = (),
    path_prefix: str = "",
    explain: str = "",
) -> ErrorRule:
    return ErrorRule(
        frozenset(statuses), action, message_contains, message_is, path_prefix, explain
    )


# What every vendor shares, after its own rules.
TRANSIENT = rule({429, 500, 502, 503, 504}, Action.RETRY)
WRONG_URL = rule({404, 405}, Action.URL_PROBLEM)
COMMON_RULES: tuple[ErrorRule, ...] = (TRANSIENT, WRONG_URL)


@dataclass(frozen=True)
class ErrorRules:
    """A vendor's rules, in order; the common ones (retry 429/5xx, 404/405 = URL) last."""

    rules: tuple[ErrorRule, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", (*self.rules, *COMMON_RULES))

    def match(
        self, status: int, path: str, message: str, *, skip: frozenset[Action] = frozenset()
    ) -> ErrorRule | None:
        for candidate in self.rules:
            if candidate.action not in skip and candidate.matches(status, path, message):
                return candidate
        return None

    @staticmethod
    def suggests_wrong_url(status: int) -> bool:
        """Whether an answer names the base URL setting, whatever else it means: a 404/405
        from a vendor API usually comes from a doubled or missing path part."""
        return status in WRONG_URL.statuses
