"""singer-sdk's standard tap and stream tests, for every stream, against the sandbox."""

from __future__ import annotations

import datetime as dt

from singer_sdk.testing import get_tap_test_class

from tap_audience.singer.tap import TapAudience

# `sandbox: true` starts the built-in sandbox in-process on the real clock, exactly as a user's
# demo does; three days keep the suite quick.
SAMPLE_CONFIG = {
    "sandbox": True,
    "start_date": (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3)).isoformat(),
}

TestTapAudience = get_tap_test_class(tap_class=TapAudience, config=SAMPLE_CONFIG)
