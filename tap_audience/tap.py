"""tap-audience: the Singer tap (settings, streams, run lifecycle)."""

from __future__ import annotations

import weakref
from functools import cached_property
from typing import Any

from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError

from tap_audience.core.redaction import REDACTOR, install_redaction
from tap_audience.runtime import Runtime
from tap_audience.settings import CONFIG_SCHEMA, semantic_errors
from tap_audience.stream import EndpointStream
from tap_audience.streams import STREAM_TYPES


class TapAudience(Tap):
    """Audience analytics from Angus.ai and EQ Works (ATOM insights, LOCUS segments)."""

    name = "tap-audience"
    config_jsonschema = CONFIG_SCHEMA

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        install_redaction()
        super().__init__(*args, **kwargs)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # Register secrets first: schema errors may quote the offending value.
        REDACTOR.register(_secret_values(self._config))
        try:
            errors = super()._validate_config(raise_errors=False)
        except ConfigValidationError as exc:  # pragma: no cover - raise_errors=False
            errors = list(exc.errors)
        errors = [REDACTOR.redact(e) for e in [*errors, *semantic_errors(self._config)]]
        if errors and raise_errors:
            raise ConfigValidationError(
                "Config validation failed", errors=errors, schema=self.config_jsonschema
            )
        return errors

    @cached_property
    def runtime(self) -> Runtime:
        runtime = Runtime(self.config)
        # Tap.sync_all is final, so the sandbox and sessions close when the tap goes away.
        weakref.finalize(self, runtime.close)
        return runtime

    def discover_streams(self) -> list[EndpointStream]:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]


def _secret_values(config: dict[str, Any]) -> list[str]:
    values = [str(config.get(k) or "") for k in ("eq_jwt", "locus_jwt")]
    for camera in config.get("angus_streams") or []:
        if isinstance(camera, dict):
            values.append(str(camera.get("access_token") or ""))
    return values


if __name__ == "__main__":
    TapAudience.cli()
