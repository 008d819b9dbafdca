# tap-audience as an Airbyte source image (custom connector), built from the repository root:
#
#   docker build -t tap-audience/source-audience:0.1.0 .
#
# Airbyte's rules for a connector image: the command in AIRBYTE_ENTRYPOINT (an absolute
# path) is the image's entrypoint; it runs as a non-root `airbyte` user that owns a writable
# /airbyte (where the platform mounts config, catalog and state). tests/test_wheel.py checks
# these rules and runs the same entrypoint from a virtualenv built from the wheel.
FROM python:3.11-slim

WORKDIR /airbyte/integration_code
COPY pyproject.toml README.md LICENSE ./
COPY tap_audience ./tap_audience
COPY schemas ./schemas
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 1000 airbyte \
    && chown -R airbyte:airbyte /airbyte

ENV AIRBYTE_ENTRYPOINT="/usr/local/bin/source-audience"
ENTRYPOINT ["/usr/local/bin/source-audience"]
USER airbyte

LABEL io.airbyte.name="tap-audience/source-audience"
LABEL io.airbyte.version="0.1.0"
