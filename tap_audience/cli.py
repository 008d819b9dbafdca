"""Console entry point: the SDK's CLI, with tap errors shown as one readable line.

The SDK logs any exception with its traceback. A `TapAudienceError` already says what failed
and how to fix it, so it is logged alone (redacted) and the process exits with status 1.
"""

from __future__ import annotations

import logging
import sys

from tap_audience.core.errors import TapAudienceError
from tap_audience.core.redaction import REDACTOR
from tap_audience.tap import TapAudience


def main() -> None:
    try:
        TapAudience.cli.main(prog_name="tap-audience")
    except TapAudienceError as error:
        logging.getLogger("tap-audience").error("%s", REDACTOR.redact(str(error)))
        sys.exit(1)
