"""The tap's error taxonomy. Every error carries a message a person can act on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tap_audience.core.error_rules import Action, ErrorRule


class TapAudienceError(Exception):
    """Base class: `str(error)` is the one readable line shown to the user."""


class ConfigurationError(TapAudienceError):
    """The config is invalid; the message names the setting and how to fix it."""


class ConfigProblemsError(ConfigurationError):
    """Every problem of a config at once; `problems` holds one readable line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid config: " + "; ".join(problems))


class CredentialsError(TapAudienceError):
    """A vendor rejected (or we know it would reject) the configured credentials."""


class AccountCredentialsError(CredentialsError):
    """A credential every partition depends on (an EQ token) is unusable: the run stops."""


class VendorError(TapAudienceError):
    """A vendor answered with an error status that retrying will not fix."""

    def __init__(
        self,
        *,
        vendor: str,
        status: int,
        path: str,
        vendor_message: str,
        url: str | None = None,
        rule: ErrorRule | None = None,
    ) -> None:
        self.vendor = vendor
        self.status = status
        self.path = path
        self.vendor_message = vendor_message
        # The vendor's rule that says what this answer means (None: no rule matched).
        self.rule = rule
        # The whole URL (never the query), which makes a wrong or doubled base path obvious.
        super().__init__(f"{vendor} answered HTTP {status} for {url or path}: {vendor_message}")

    @property
    def action(self) -> Action | None:
        return self.rule.action if self.rule is not None else None


class NotEntitledError(TapAudienceError):
    """The account may not read this partition (e.g. LOCUS 403 "Access not allowed")."""


class MalformedResponseError(TapAudienceError):
    """A response that is not what the vendor documents (not JSON, wrong shape)."""


class RetriesExhaustedError(TapAudienceError):
    """A request kept failing with retryable errors until the retry budget ran out."""


class RunStoppingError(TapAudienceError):
    """A request not sent because the run is shutting down (look-ahead left behind)."""


class RequestFailedError(TapAudienceError):
    """A request that could not be made at all (invalid URL, redirect loop), not retried."""


class RedirectRefusedError(RequestFailedError):
    """A vendor redirected a request to another origin; it was not followed (nor retried)."""


class HostUnreachableError(RequestFailedError):
    """No connection to a vendor's host (see `core.reachability`): the request, and every
    later request of the run to that vendor's host, fails with this one line.

    `permanent`: retrying could not have helped (an unknown host, an untrusted certificate),
    so the fix is the setting; otherwise the host may come back (refused, no answer)."""

    def __init__(self, line: str, *, permanent: bool) -> None:
        super().__init__(line)
        self.permanent = permanent


def failure_of(error: TapAudienceError, partition: Mapping[str, Any]) -> TapAudienceError:
    """The error a failed partition reports: its rule's explanation, typed by its action.

    `explain` may name `{error}` and the partition's fields (`{campaign_id}`, `{coords}`).
    """
    if not isinstance(error, VendorError) or error.rule is None or not error.rule.explain:
        return error
    line = error.rule.explain.format(error=error, **partition)
    if error.rule.action is Action.NOT_ENTITLED:
        return NotEntitledError(line)
    if error.rule.action is Action.STOP_RUN:
        return AccountCredentialsError(line)
    return TapAudienceError(line)
