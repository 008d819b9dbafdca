"""Keep secrets out of every log line and error message.

Two rules: every configured secret value is replaced, and anything shaped like a JWT
(`eyJ...`) is replaced even if nobody registered it — vendors echo tokens back in error
bodies (keywarden's `Invalid JWT: <token>`), and a refreshed token is not in the config.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

from typing_extensions import override

JWT_PATTERN = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.?[A-Za-z0-9_-]*")
MASK = "***"


class Redactor:
    """Replaces registered secrets and JWT-looking strings with `***`."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def register(self, values: Iterable[str | None]) -> None:
        with self._lock:
            # Very short values would mask ordinary words; real secrets are long.
            self._secrets.update(v for v in values if v and len(v) >= 6)
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def redact(self, text: str) -> str:
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        return JWT_PATTERN.sub(MASK, text)


REDACTOR = Redactor()


LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")


def one_line(text: str) -> str:
    """`text` as one printable line: line breaks become spaces, other control characters `?`.

    Log shippers split records on line breaks; a vendor's CRLF error page must not turn one
    record into several (or forge a line that looks like another record).
    """
    if text.isprintable():
        return text
    text = LINE_BREAKS.sub(" ", text).replace("\t", " ")
    return "".join(c if c.isprintable() else "?" for c in text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's final message through the redactor, as one printable line."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self._redactor = redactor

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = one_line(self._redactor.redact(message))
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks render the exception text; redact it by formatting here.
            record.exc_text = self._redactor.redact(
                logging.Formatter().formatException(record.exc_info)
            )
            record.exc_info = None
        return True


def install_redaction(redactor: Redactor = REDACTOR) -> None:
    """Attach the filter to every handler of the root logger (and future records via it)."""
    root = logging.getLogger()
    log_filter = RedactingFilter(redactor)
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(log_filter)
