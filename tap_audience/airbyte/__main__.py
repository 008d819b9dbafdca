"""`python -m tap_audience.airbyte`: the same as the `source-audience` console script."""

from tap_audience.airbyte.cli import main

main()
