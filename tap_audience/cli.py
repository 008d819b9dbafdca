"""Console entry point: the SDK's tap CLI plus `eq-login`, with readable failures.

A `TapAudienceError` already says what failed and how to fix it, so it is logged alone
(redacted, no traceback) and the process exits 1. SIGTERM/SIGINT exit with 128 + signal.
"""

from __future__ import annotations

import logging
import os
import sys

from tap_audience.core.errors import TapAudienceError
from tap_audience.core.interrupt import SyncInterrupted
from tap_audience.core.redaction import REDACTOR, install_redaction
from tap_audience.eqworks.login import eq_login
from tap_audience.tap import TapAudience


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        if args[:1] == ["eq-login"]:
            logging.basicConfig(level=logging.INFO)
            install_redaction()
            eq_login.main(args[1:], prog_name="tap-audience eq-login")
        else:
            TapAudience.cli.main(args, prog_name="tap-audience")
    except TapAudienceError as error:
        logging.getLogger("tap-audience").error("%s", REDACTOR.redact(str(error)))
        sys.exit(1)
    except SyncInterrupted as interrupted:
        # The final STATE is already written and flushed. Exit now rather than wait for
        # worker threads that may sit in a slow request until their timeout.
        logging.shutdown()
        sys.stderr.flush()
        os._exit(interrupted.exit_code)
