"""Console entry point: the SDK's tap CLI plus `eq-login`, with readable failures.

A `TapAudienceError` already says what failed and how to fix it, so it is logged alone
(redacted, no traceback) and the process exits 1. SIGTERM/SIGINT exit with 128 + signal.
Any other exception keeps its traceback: that is a bug, and the traceback is the report.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

from tap_audience.core.errors import ConfigProblemsError, TapAudienceError
from tap_audience.core.interrupt import SyncInterrupted
from tap_audience.core.redaction import REDACTOR, install_redaction
from tap_audience.eqworks.login import eq_login
from tap_audience.singer.tap import TapAudience


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    code = 0
    try:
        if args[:1] == ["eq-login"]:
            logging.basicConfig(level=logging.INFO)
            install_redaction()
            eq_login.main(args[1:], prog_name="tap-audience eq-login")
        else:
            TapAudience.cli.main(args, prog_name="tap-audience")
    except SystemExit as exit_:
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except ConfigProblemsError as error:
        logger = logging.getLogger("tap-audience")
        for problem in error.problems if len(error.problems) > 1 else []:
            logger.error("config: %s", REDACTOR.redact(problem))
        # Last, all in one line: Meltano (`meltano config test`) shows only the last line.
        logger.error("%s", REDACTOR.redact(str(error)))
        code = 1
    except TapAudienceError as error:
        logging.getLogger("tap-audience").error("%s", REDACTOR.redact(str(error)))
        code = 1
    except SyncInterrupted as interrupted:
        code = interrupted.exit_code

    # Everything is written and flushed by now. Exit without waiting for worker threads
    # that may still sit in a request to a slow vendor until their timeout.
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # a reader that went away cannot be flushed to
            stream.flush()
    os._exit(code)
