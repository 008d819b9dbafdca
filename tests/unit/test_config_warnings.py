"""`connector.config_warnings`: the warnings both faces log about a valid but likely mistaken
config."""

from __future__ import annotations

import datetime as dt

from tap_audience.connector.config_warnings import config_warnings
from tap_audience.connector.settings import CONFIG_SCHEMA

NOW = dt.datetime(2026, 11, 20, 10, 30, tzinfo=dt.timezone.utc)
KNOWN = CONFIG_SCHEMA["properties"]


def warnings(config: dict[str, object]) -> list[str]:
    return config_warnings(config, KNOWN, "`source-audience spec`", now=NOW)


def test_a_misspelled_name_gets_the_closest_setting_and_a_far_one_the_listing_command():
    assert warnings({"eq_jwtt": "eyJsecret.x.y", "zzz": 1}) == [
        "unknown setting 'eq_jwtt' is ignored: did you mean eq_jwt?",
        "unknown setting 'zzz' is ignored (see `source-audience spec`)",
    ]


def test_a_start_date_in_the_future_is_named_and_one_in_the_past_is_not():
    assert warnings({"start_date": "2026-11-21T00:00:00Z"}) == [
        "start_date 2026-11-21T00:00:00+00:00 is in the future: streams without a bookmark "
        "extract nothing until then"
    ]
    assert warnings({"start_date": "2026-11-19T00:00:00Z"}) == []


def test_values_the_config_checks_report_are_left_to_them():
    # Not a date, or not a string: the schema and `date_range_problems` report those.
    assert warnings({"start_date": "soon"}) == []
    assert warnings({"start_date": 20261121}) == []
    # An end before the start is an error there, not a warning here.
    assert (
        warnings({"start_date": "2026-11-10T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"}) == []
    )
