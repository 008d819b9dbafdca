"""`python -m tap_audience` runs the tap's command line."""

from tap_audience.singer.cli import main

main()
