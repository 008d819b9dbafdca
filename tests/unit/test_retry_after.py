"""Retry-After, retry waits and the vendor's error text: the pure parts of the HTTP client."""

from __future__ import annotations

import email.utils
import random
import time

import pytest
import requests

from tap_audience.core.http import (
    EXCERPT_CHARS,
    RetryableError,
    RetryPolicy,
    body_excerpt,
    parse_retry_after,
    retry_wait,
    vendor_message,
)


# --- parse_retry_after ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("120", 120.0, id="delta-seconds"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param("007", 7.0, id="leading-zeros"),
        pytest.param(" 7 ", 7.0, id="surrounding-spaces"),
        pytest.param("\t30\r\n", 30.0, id="tab-and-crlf"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, id="http-date-in-past"),
        pytest.param("Sunday, 06-Nov-94 08:49:37 GMT", 0.0, id="rfc850-date-in-past"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 +0000", 0.0, id="numeric-zone-in-past"),
        pytest.param(None, None, id="none"),
        pytest.param("", None, id="empty"),
        pytest.param("   ", None, id="only-spaces"),
        pytest.param("soon", None, id="word"),
        pytest.param("5 s", None, id="seconds-with-unit"),
        pytest.param("-5", None, id="negative"),
        pytest.param("+5", None, id="plus-sign"),
        pytest.param("1.5", None, id="decimal"),
        pytest.param("1e3", None, id="exponent"),
        pytest.param("Wed, 32 Oct 2015 07:28:00 GMT", None, id="impossible-date"),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


@pytest.mark.parametrize("ahead", [5, 90, 3600], ids=["5s", "90s", "1h"])
def test_parse_retry_after_future_date(ahead: int) -> None:
    header = email.utils.formatdate(time.time() + ahead, usegmt=True)
    waited = parse_retry_after(header)
    assert waited is not None
    # An HTTP-date has whole seconds: up to 1 s lost to truncation, plus slack for slow runs.
    assert ahead - 3 <= waited <= ahead


def test_parse_retry_after_superscript_digit_is_junk() -> None:
    assert parse_retry_after("²") is None


# --- retry_wait -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("retry_after", "max_wait", "expected"),
    [
        pytest.param(12.0, 300.0, 12.0, id="retry-after-wins"),
        pytest.param(0.0, 300.0, 0.0, id="retry-after-zero"),
        pytest.param(900.0, 300.0, 300.0, id="capped-by-max-wait"),
        pytest.param(300.0, 300.0, 300.0, id="equal-to-max-wait"),
        pytest.param(5.0, 0.0, 0.0, id="max-wait-zero"),
    ],
)
def test_retry_wait_honours_retry_after(
    retry_after: float, max_wait: float, expected: float
) -> None:
    policy = RetryPolicy(base_wait_seconds=1.0, max_wait_seconds=max_wait)
    failure = RetryableError("HTTP 429", retry_after)
    # The hint wins whatever the attempt: no jitter, no exponential growth.
    assert {retry_wait(policy, failure, attempt) for attempt in (0, 3, 10)} == {expected}


@pytest.mark.parametrize(
    ("base", "max_wait", "attempt", "ceiling"),
    [
        pytest.param(1.0, 300.0, 0, 1.0, id="first-retry"),
        pytest.param(1.0, 300.0, 3, 8.0, id="fourth-retry"),
        pytest.param(0.5, 300.0, 4, 8.0, id="half-second-base"),
        pytest.param(1.0, 300.0, 8, 256.0, id="just-below-cap"),
        pytest.param(1.0, 300.0, 9, 300.0, id="capped"),
        pytest.param(2.0, 10.0, 20, 10.0, id="far-past-cap"),
    ],
)
def test_retry_wait_full_jitter(base: float, max_wait: float, attempt: int, ceiling: float) -> None:
    policy = RetryPolicy(base_wait_seconds=base, max_wait_seconds=max_wait)
    failure = RetryableError("timed out")  # no Retry-After
    random.seed(1234)
    draws = [retry_wait(policy, failure, attempt) for _ in range(2000)]
    assert all(0.0 <= w <= ceiling for w in draws)
    # Full jitter: the draws spread over the whole interval, not just near its top.
    assert min(draws) < ceiling * 0.05
    assert max(draws) > ceiling * 0.95


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(RuntimeError("no hint"), id="plain-exception"),
        pytest.param(RetryableError("no hint", None), id="retryable-without-hint"),
    ],
)
def test_retry_wait_without_hint_is_jitter(failure: BaseException) -> None:
    policy = RetryPolicy(base_wait_seconds=4.0, max_wait_seconds=300.0)
    random.seed(7)
    first = [retry_wait(policy, failure, 2) for _ in range(5)]
    random.seed(7)
    assert [retry_wait(policy, failure, 2) for _ in range(5)] == first  # drawn from `random`
    assert len(set(first)) == 5
    assert all(0.0 <= w <= 16.0 for w in first)


def test_retry_wait_zero_base_never_waits() -> None:
    policy = RetryPolicy(base_wait_seconds=0.0, max_wait_seconds=300.0)
    assert retry_wait(policy, RuntimeError(), 5) == 0.0


def test_retry_wait_huge_attempt_stays_capped() -> None:
    policy = RetryPolicy(base_wait_seconds=1.0, max_wait_seconds=300.0)
    assert 0.0 <= retry_wait(policy, RuntimeError(), 1100) <= 300.0


# --- body_excerpt ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Service Unavailable", "Service Unavailable", id="plain"),
        pytest.param("  Bad   gateway\n\n  try\tlater  ", "Bad gateway try later", id="collapse"),
        pytest.param("line one\r\nline two", "line one line two", id="crlf"),
        pytest.param("", "", id="empty"),
        pytest.param(" \n\t ", "", id="only-whitespace"),
        pytest.param(
            "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            "an HTML page titled '502 Bad Gateway'",
            id="html-title",
        ),
        pytest.param(
            "<!DOCTYPE html>\n<html><head><TITLE lang='en'>Maintenance</TITLE></head></html>",
            "an HTML page titled 'Maintenance'",
            id="doctype-upper-title-with-attribute",
        ),
        pytest.param(
            "\n   <HTML><title>Oops</title>", "an HTML page titled 'Oops'", id="leading-space"
        ),
        pytest.param("<head><title>x</title></head>", "an HTML page titled 'x'", id="head-first"),
        pytest.param("<body><h1>Down</h1></body>", "an HTML page", id="body-no-title"),
        pytest.param("<html><body>no title</body></html>", "an HTML page", id="html-no-title"),
        pytest.param("<p>not a page</p>", "<p>not a page</p>", id="fragment-is-text"),
        pytest.param("a\x00b", "a?b", id="control-character"),
    ],
)
def test_body_excerpt(text: str, expected: str) -> None:
    assert body_excerpt(text) == expected


def test_body_excerpt_multiline_title_is_collapsed() -> None:
    page = "<html><head><title>\n    502 Bad Gateway\n</title></head></html>"
    assert body_excerpt(page) == "an HTML page titled '502 Bad Gateway'"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        pytest.param("x" * 10, 10, "x" * 10, id="at-limit-kept"),
        pytest.param("x" * 11, 10, "x" * 9 + "…", id="one-over-cut"),
        pytest.param("abcdef", 4, "abc…", id="short-limit"),
        pytest.param("a  b  c  d  e", 9, "a b c d e", id="collapsed-before-measuring"),
        pytest.param("y" * 500, EXCERPT_CHARS, "y" * (EXCERPT_CHARS - 1) + "…", id="default"),
    ],
)
def test_body_excerpt_length(text: str, limit: int, expected: str) -> None:
    excerpt = body_excerpt(text, limit=limit)
    assert excerpt == expected
    assert len(excerpt) <= limit


def test_body_excerpt_default_limit() -> None:
    assert EXCERPT_CHARS == 200
    assert body_excerpt("z" * 201) == "z" * 199 + "…"
    assert body_excerpt("z" * 200) == "z" * 200


# --- vendor_message -------------------------------------------------------------------------
def response(
    body: bytes,
    *,
    status: int = 400,
    content_type: str | None = "application/json",
    reason: str | None = "Bad Request",
) -> requests.Response:
    built = requests.Response()
    built._content = body
    built.status_code = status
    built.reason = reason  # type: ignore[assignment]
    built.encoding = "utf-8"
    if content_type is not None:
        built.headers["Content-Type"] = content_type
    return built


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(b'{"message": "Invalid JWT"}', "Invalid JWT", id="message"),
        pytest.param(
            b'{"Message": "User is not authorized to access this resource with an explicit deny"}',
            "User is not authorized to access this resource with an explicit deny",
            id="capital-Message",
        ),
        pytest.param(
            b'{"non_field_errors": ["Unable to log in with provided credentials."]}',
            "Unable to log in with provided credentials.",
            id="non-field-errors-one",
        ),
        pytest.param(
            b'{"non_field_errors": ["First.", "Second."]}',
            "First. Second.",
            id="non-field-errors-joined",
        ),
        pytest.param(b'{"detail": "Not found."}', "Not found.", id="detail"),
        pytest.param(b'{"error": "invalid_grant"}', "invalid_grant", id="error"),
        pytest.param(
            b'{"code": "expired_jwt", "message": "Signature has expired"}',
            "expired_jwt: Signature has expired",
            id="code-and-message",
        ),
        pytest.param(
            b'{"code": "page_not_existing", "detail": "page 9"}',
            "page_not_existing: page 9",
            id="code-and-detail",
        ),
        pytest.param(b'{"code": 42, "message": "m"}', "m", id="numeric-code-ignored"),
        pytest.param(
            b'{"message": "first", "error": "second"}', "first", id="message-before-error"
        ),
        pytest.param(
            b'{"detail": "d", "non_field_errors": ["n"]}', "n", id="non-field-before-detail"
        ),
        pytest.param(
            b'{"status": "fail", "reason": "quota", "n": 3}',
            "status: fail; reason: quota; n: 3",
            id="other-dict",
        ),
        pytest.param(
            b'{"email": ["This field is required."]}',
            "email: ['This field is required.']",
            id="other-dict-with-list",
        ),
        pytest.param(b'{"message": "two\\nlines"}', "two lines", id="message-one-line"),
        pytest.param(b'{"message": "' + b"m" * 300 + b'"}', "m" * 199 + "…", id="message-cut"),
        pytest.param(b'"plain json string"', "plain json string", id="json-string"),
    ],
)
def test_vendor_message_json(body: bytes, expected: str) -> None:
    assert vendor_message(response(body)) == expected


def test_vendor_message_code_only() -> None:
    assert vendor_message(response(b'{"code": "expired_jwt"}', status=401)) == "code: expired_jwt"


@pytest.mark.parametrize(
    ("body", "content_type", "reason", "expected"),
    [
        pytest.param(
            b"Service Unavailable: maintenance until 10:00\n",
            "text/plain",
            "Service Unavailable",
            "Service Unavailable: maintenance until 10:00",
            id="plain-text",
        ),
        pytest.param(
            b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>nginx</body></html>",
            "text/html",
            "Bad Gateway",
            "an HTML page titled '502 Bad Gateway'",
            id="html-page",
        ),
        pytest.param(
            b"<!DOCTYPE html><html><body>down</body></html>",
            "text/html",
            "Bad Gateway",
            "an HTML page",
            id="html-without-title",
        ),
        pytest.param(b"", None, "Service Unavailable", "Service Unavailable", id="empty-reason"),
        pytest.param(b"", None, None, "empty body", id="empty-no-reason"),
        pytest.param(b"   \n", "text/plain", "Gateway Timeout", "Gateway Timeout", id="blank"),
        pytest.param(
            b'{"message": ',
            "application/json",
            "Bad Request",
            '{"message":',
            id="truncated-json-is-text",
        ),
    ],
)
def test_vendor_message_not_json(
    body: bytes, content_type: str | None, reason: str | None, expected: str
) -> None:
    built = response(body, status=503, content_type=content_type, reason=reason)
    assert vendor_message(built) == expected


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            b'{"message": "Invalid JWT: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"}',
            id="json",
        ),
        pytest.param(b"Invalid JWT: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", id="text"),
    ],
)
def test_vendor_message_masks_echoed_tokens(body: bytes) -> None:
    assert vendor_message(response(body, status=403)) == "Invalid JWT: ***"
