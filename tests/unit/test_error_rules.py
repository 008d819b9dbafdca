"""What vendor error answers mean: the rule machinery and each vendor's table."""

from __future__ import annotations

from typing import Any

import pytest

from tap_audience.angus.connection import DATA_API_RULES, TOKEN_RULES
from tap_audience.core.error_rules import (
    COMMON_RULES,
    TRANSIENT,
    WRONG_URL,
    Action,
    ErrorRule,
    ErrorRules,
    rule,
)
from tap_audience.core.errors import (
    AccountCredentialsError,
    MalformedResponseError,
    NotEntitledError,
    TapAudienceError,
    VendorError,
    failure_of,
)
from tap_audience.eqworks.connection import (
    ATOM_RULES,
    COORDINATE_NOT_ENTITLED,
    KEYWARDEN_RULES,
    LOCUS_RULES,
    TOKEN_REJECTED,
    UNREADABLE_CAMPAIGN,
)


# --- rule / ErrorRule -----------------------------------------------------------------------
def test_rule_builds_frozen_rule() -> None:
    built = rule(
        {401, 403},
        Action.CREDENTIALS,
        message_contains=("bad",),
        message_is=("no",),
        path_prefix="/v1/",
        explain="{error}",
    )
    assert built == ErrorRule(
        frozenset({401, 403}), Action.CREDENTIALS, ("bad",), ("no",), "/v1/", "{error}"
    )
    assert isinstance(built.statuses, frozenset)
    assert built.reads_message


@pytest.mark.parametrize(
    ("kwargs", "reads"),
    [
        pytest.param({}, False, id="status-only"),
        pytest.param({"path_prefix": "/x"}, False, id="path-only"),
        pytest.param({"message_contains": ("a",)}, True, id="contains"),
        pytest.param({"message_is": ("a",)}, True, id="is"),
    ],
)
def test_rule_reads_message(kwargs: dict[str, Any], reads: bool) -> None:
    assert rule({400}, Action.FAIL_PARTITION, **kwargs).reads_message is reads


SAMPLE = rule(
    {401, 403},
    Action.REAUTHENTICATE,
    message_contains=("invalid jwt", "explicit deny"),
    message_is=("unauthorized",),
    path_prefix="/api/",
)


@pytest.mark.parametrize(
    ("status", "path", "message", "matches"),
    [
        pytest.param(401, "/api/x", "Invalid JWT: abc", True, id="contains-case-insensitive"),
        pytest.param(403, "/api/x", "... with an EXPLICIT DENY", True, id="second-needle"),
        pytest.param(401, "/api/x", "Unauthorized", True, id="is-case-insensitive"),
        pytest.param(401, "/api/x", "Unauthorized.", False, id="is-needs-whole-message"),
        pytest.param(401, "/api/x", "Not Unauthorized", False, id="is-not-contains"),
        pytest.param(401, "/api/x", "", False, id="empty-message"),
        pytest.param(400, "/api/x", "Invalid JWT", False, id="other-status"),
        pytest.param(401, "/other/x", "Invalid JWT", False, id="other-path"),
        pytest.param(401, "/api", "Invalid JWT", False, id="prefix-longer-than-path"),
        pytest.param(401, "/api/", "Invalid JWT", True, id="path-equals-prefix"),
    ],
)
def test_error_rule_matches(status: int, path: str, message: str, matches: bool) -> None:
    assert SAMPLE.matches(status, path, message) is matches


@pytest.mark.parametrize(
    ("status", "message", "matches"),
    [
        pytest.param(500, "", True, id="any-message-empty"),
        pytest.param(500, "whatever", True, id="any-message"),
        pytest.param(501, "whatever", False, id="not-listed"),
    ],
)
def test_error_rule_without_message_condition(status: int, message: str, matches: bool) -> None:
    assert rule({500}, Action.RETRY).matches(status, "/any", message) is matches


# --- ErrorRules -----------------------------------------------------------------------------
def test_common_rules_appended_last() -> None:
    own = rule({400}, Action.FAIL_PARTITION)
    rules = ErrorRules((own,))
    assert rules.rules == (own, TRANSIENT, WRONG_URL)
    assert COMMON_RULES == (TRANSIENT, WRONG_URL)
    assert ErrorRules(()).rules == COMMON_RULES


FIRST = rule({403}, Action.NOT_ENTITLED, message_contains=("denied",))
SECOND = rule({403}, Action.FAIL_PARTITION)
THIRD = rule({403, 404}, Action.STOP_RUN, path_prefix="/x/")
ORDERED = ErrorRules((FIRST, SECOND, THIRD))


@pytest.mark.parametrize(
    ("status", "path", "message", "skip", "expected"),
    [
        pytest.param(403, "/x/1", "access denied", frozenset(), FIRST, id="first-wins"),
        pytest.param(403, "/x/1", "nope", frozenset(), SECOND, id="falls-to-second"),
        pytest.param(404, "/x/1", "nope", frozenset(), THIRD, id="own-rule-before-common-404"),
        pytest.param(404, "/y/1", "nope", frozenset(), WRONG_URL, id="common-404"),
        pytest.param(503, "/x/1", "nope", frozenset(), TRANSIENT, id="common-503"),
        pytest.param(
            403, "/x/1", "denied", frozenset({Action.NOT_ENTITLED}), SECOND, id="skip-first"
        ),
        pytest.param(
            403,
            "/x/1",
            "denied",
            frozenset({Action.NOT_ENTITLED, Action.FAIL_PARTITION}),
            THIRD,
            id="skip-two",
        ),
        pytest.param(
            403,
            "/y/1",
            "denied",
            frozenset({Action.NOT_ENTITLED, Action.FAIL_PARTITION}),
            None,
            id="skip-all-that-match",
        ),
        pytest.param(429, "/x", "", frozenset({Action.RETRY}), None, id="skip-common"),
        pytest.param(418, "/x/1", "teapot", frozenset(), None, id="no-match"),
    ],
)
def test_error_rules_match(
    status: int, path: str, message: str, skip: frozenset[Action], expected: ErrorRule | None
) -> None:
    assert ORDERED.match(status, path, message, skip=skip) is expected


@pytest.mark.parametrize(
    ("status", "suggests"),
    [(404, True), (405, True), (400, False), (403, False), (410, False), (500, False)],
    ids=str,
)
def test_suggests_wrong_url(status: int, suggests: bool) -> None:
    assert ErrorRules.suggests_wrong_url(status) is suggests
    assert ATOM_RULES.suggests_wrong_url(status) is suggests


# --- the vendors' tables --------------------------------------------------------------------
INSIGHTS = "/beta/insights/os"
CAMPAIGNS = "/beta/campaigns/"
LOCUS = "/hh-segments"
ANGUS = "/api/1.0/entities"
TOKEN = "/api-token-authstream/"
DENY = "User is not authorized to access this resource with an explicit deny"

VENDOR_CASES = [
    # Angus Data API
    ("angus", DATA_API_RULES, 401, ANGUS, "expired_jwt: Signature has expired", "REAUTHENTICATE"),
    ("angus", DATA_API_RULES, 401, ANGUS, "EXPIRED_JWT: x", "REAUTHENTICATE"),
    ("angus", DATA_API_RULES, 401, ANGUS, "authorization_header_missing: no header", None),
    ("angus", DATA_API_RULES, 401, ANGUS, "invalid_jwt: Error decoding signature.", None),
    ("angus", DATA_API_RULES, 403, ANGUS, "expired_jwt: Signature has expired", None),
    ("angus", DATA_API_RULES, 400, ANGUS, "unexisting_metric: foo", None),
    ("angus", DATA_API_RULES, 404, ANGUS, "Not found.", "URL_PROBLEM"),
    ("angus", DATA_API_RULES, 405, ANGUS, "Method not allowed", "URL_PROBLEM"),
    ("angus", DATA_API_RULES, 429, ANGUS, "slow down", "RETRY"),
    ("angus", DATA_API_RULES, 503, ANGUS, "", "RETRY"),
    # Angus token endpoint
    ("angus-token", TOKEN_RULES, 400, TOKEN, "Unable to log in", "CREDENTIALS"),
    ("angus-token", TOKEN_RULES, 401, TOKEN, "anything", "CREDENTIALS"),
    ("angus-token", TOKEN_RULES, 403, TOKEN, "anything", "CREDENTIALS"),
    ("angus-token", TOKEN_RULES, 404, TOKEN, "Not found.", "URL_PROBLEM"),
    ("angus-token", TOKEN_RULES, 502, TOKEN, "an HTML page", "RETRY"),
    ("angus-token", TOKEN_RULES, 409, TOKEN, "conflict", None),
    # EQ ATOM
    ("atom", ATOM_RULES, 403, CAMPAIGNS, "Invalid JWT: abc", "REAUTHENTICATE"),
    ("atom", ATOM_RULES, 403, INSIGHTS, "Invalid JWT: abc", "REAUTHENTICATE"),
    ("atom", ATOM_RULES, 401, CAMPAIGNS, "Invalid JWT", "REAUTHENTICATE"),
    ("atom", ATOM_RULES, 401, CAMPAIGNS, "Unauthorized", "REAUTHENTICATE"),
    ("atom", ATOM_RULES, 403, CAMPAIGNS, DENY, "REAUTHENTICATE"),
    ("atom", ATOM_RULES, 403, INSIGHTS, "Forbidden", "FAIL_PARTITION"),
    ("atom", ATOM_RULES, 404, INSIGHTS, "Campaign not found", "FAIL_PARTITION"),
    ("atom", ATOM_RULES, 404, "/beta/insights/vwi", "", "FAIL_PARTITION"),
    ("atom", ATOM_RULES, 404, CAMPAIGNS, "Not Found", "URL_PROBLEM"),
    ("atom", ATOM_RULES, 405, INSIGHTS, "Method not allowed", "URL_PROBLEM"),
    ("atom", ATOM_RULES, 403, CAMPAIGNS, "Forbidden", None),
    ("atom", ATOM_RULES, 401, INSIGHTS, "Missing token", None),
    ("atom", ATOM_RULES, 400, INSIGHTS, "Missing start in query", None),
    ("atom", ATOM_RULES, 503, INSIGHTS, "Service Unavailable", "RETRY"),
    ("atom", ATOM_RULES, 504, CAMPAIGNS, "Endpoint request timed out", "RETRY"),
    # EQ LOCUS
    ("locus", LOCUS_RULES, 403, LOCUS, "Access not allowed", "NOT_ENTITLED"),
    ("locus", LOCUS_RULES, 403, LOCUS, "access NOT allowed here", "NOT_ENTITLED"),
    ("locus", LOCUS_RULES, 401, LOCUS, "Access not allowed", None),
    ("locus", LOCUS_RULES, 403, LOCUS, "Invalid JWT", "REAUTHENTICATE"),
    ("locus", LOCUS_RULES, 401, LOCUS, "Unauthorized", "REAUTHENTICATE"),
    ("locus", LOCUS_RULES, 403, LOCUS, DENY, "REAUTHENTICATE"),
    ("locus", LOCUS_RULES, 403, LOCUS, "Forbidden", None),
    ("locus", LOCUS_RULES, 404, LOCUS, "Not Found", "URL_PROBLEM"),
    ("locus", LOCUS_RULES, 404, "/beta/insights/os", "Not Found", "URL_PROBLEM"),
    ("locus", LOCUS_RULES, 503, LOCUS, "maintenance", "RETRY"),
    ("locus", LOCUS_RULES, 500, LOCUS, "", "RETRY"),
    # EQ keywarden: only the common rules (EqToken reads the rest)
    ("keywarden", KEYWARDEN_RULES, 401, "/refresh", "Invalid JWT", None),
    ("keywarden", KEYWARDEN_RULES, 403, "/confirm", "Unauthorized", None),
    ("keywarden", KEYWARDEN_RULES, 404, "/login", "Not Found", "URL_PROBLEM"),
    ("keywarden", KEYWARDEN_RULES, 503, "/refresh", "", "RETRY"),
    ("keywarden", KEYWARDEN_RULES, 429, "/login", "", "RETRY"),
]


@pytest.mark.parametrize(
    ("rules", "status", "path", "message", "expected"),
    [
        pytest.param(rules, status, path, message, expected, id=f"{name}-{status}-{message[:28]}")
        for name, rules, status, path, message, expected in VENDOR_CASES
    ],
)
def test_vendor_tables(
    rules: ErrorRules, status: int, path: str, message: str, expected: str | None
) -> None:
    matched = rules.match(status, path, message)
    assert (matched.action.name if matched else None) == expected


@pytest.mark.parametrize(
    "rules",
    [DATA_API_RULES, TOKEN_RULES, ATOM_RULES, LOCUS_RULES, KEYWARDEN_RULES],
    ids=["angus", "angus-token", "atom", "locus", "keywarden"],
)
@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_answers_are_retried_everywhere(rules: ErrorRules, status: int) -> None:
    assert rules.match(status, "/any/path", "Invalid JWT") is TRANSIENT
    assert rules.rules[-2:] == COMMON_RULES


@pytest.mark.parametrize(
    ("rules", "status", "path", "message", "expected"),
    [
        # Refused again after a fresh token: the answer means what the rest of the table says.
        pytest.param(
            ATOM_RULES, 403, INSIGHTS, "Invalid JWT", "FAIL_PARTITION", id="atom-insights"
        ),
        pytest.param(ATOM_RULES, 403, CAMPAIGNS, "Invalid JWT", None, id="atom-campaigns"),
        pytest.param(ATOM_RULES, 404, CAMPAIGNS, "Invalid JWT", "URL_PROBLEM", id="atom-404"),
        pytest.param(LOCUS_RULES, 403, LOCUS, "Invalid JWT", None, id="locus"),
        pytest.param(
            DATA_API_RULES, 401, ANGUS, "expired_jwt: Signature has expired", None, id="angus"
        ),
    ],
)
def test_skip_reauthenticate(
    rules: ErrorRules, status: int, path: str, message: str, expected: str | None
) -> None:
    if status != 404:
        first = rules.match(status, path, message)
        assert first is not None and first.action is Action.REAUTHENTICATE
    again = rules.match(status, path, message, skip=frozenset({Action.REAUTHENTICATE}))
    assert (again.action.name if again else None) == expected


def test_token_rejected_is_first_eq_rule() -> None:
    assert ATOM_RULES.rules[0] is TOKEN_REJECTED
    assert LOCUS_RULES.rules[0] is TOKEN_REJECTED
    assert ATOM_RULES.rules[1] is UNREADABLE_CAMPAIGN
    assert LOCUS_RULES.rules[1] is COORDINATE_NOT_ENTITLED


# --- failure_of -----------------------------------------------------------------------------
def vendor_error(
    rule_: ErrorRule | None, *, status: int = 404, path: str = INSIGHTS
) -> VendorError:
    return VendorError(
        vendor="EQ ATOM",
        status=status,
        path=path,
        url="https://api.eqworks.io" + path,
        vendor_message="Not Found",
        rule=rule_,
    )


def test_vendor_error_text_and_action() -> None:
    error = vendor_error(UNREADABLE_CAMPAIGN)
    assert (
        str(error)
        == "EQ ATOM answered HTTP 404 for https://api.eqworks.io/beta/insights/os: Not Found"
    )
    assert error.action is Action.FAIL_PARTITION
    assert vendor_error(None).action is None


STOP = rule({401}, Action.STOP_RUN, explain="the ATOM token was refused ({error.status})")
RETRY_EXPLAINED = rule({503}, Action.RETRY, explain="gave up on {campaign_id}: {error}")

ERROR_TEXT = "EQ ATOM answered HTTP 404 for https://api.eqworks.io/beta/insights/os: Not Found"


@pytest.mark.parametrize(
    ("rule_", "partition", "kind", "line"),
    [
        pytest.param(
            UNREADABLE_CAMPAIGN,
            {"campaign_id": 37054},
            TapAudienceError,
            f"{ERROR_TEXT}. Check that ATOM campaign 37054 exists and this account may read it, "
            "or remove it from eq_campaign_ids",
            id="fail-partition",
        ),
        pytest.param(
            COORDINATE_NOT_ENTITLED,
            {"coords": "43.6532,-79.3832"},
            NotEntitledError,
            "LOCUS refused coordinate 43.6532,-79.3832 (Access not allowed): this account is "
            "not entitled to household segments there",
            id="not-entitled",
        ),
        pytest.param(
            STOP,
            {},
            AccountCredentialsError,
            "the ATOM token was refused (404)",
            id="stop-run",
        ),
        pytest.param(
            RETRY_EXPLAINED,
            {"campaign_id": 7, "dimension": "os"},
            TapAudienceError,
            f"gave up on 7: {ERROR_TEXT}",
            id="other-action-extra-fields",
        ),
    ],
)
def test_failure_of_explains(
    rule_: ErrorRule, partition: dict[str, Any], kind: type[TapAudienceError], line: str
) -> None:
    failure = failure_of(vendor_error(rule_), partition)
    assert type(failure) is kind
    assert str(failure) == line


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(vendor_error(None), id="no-rule"),
        pytest.param(vendor_error(WRONG_URL), id="rule-without-explain"),
        pytest.param(vendor_error(TOKEN_REJECTED, status=403), id="reauth-without-explain"),
        pytest.param(MalformedResponseError("EQ ATOM /x: unexpected response"), id="not-vendor"),
        pytest.param(TapAudienceError("plain"), id="base-error"),
    ],
)
def test_failure_of_passes_through(error: TapAudienceError) -> None:
    assert failure_of(error, {"campaign_id": 1}) is error
