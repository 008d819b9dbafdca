"""Config checks JSON Schema cannot express: one readable line per problem, no secret values.

Values of the wrong type are left to the schema validator, which reports them; each check
here looks only at values of the right type. Each part declares its own checks beside its
settings (`core.settings.RUN_CHECKS`, `angus.settings`, `eqworks.settings`); a face adds its
own (the Singer face: BATCH settings). Settings that `sandbox: true` replaces with the
emulator's own are not checked when the sandbox is on: they are not used, and where the
sandbox may run at all is `connector.sandbox_guard`'s rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tap_audience.angus import settings as angus
from tap_audience.connector.sandbox_guard import sandbox_problems
from tap_audience.connector.settings import SANDBOX_REPLACES, URL_SETTINGS, with_job_index
from tap_audience.core.settings import RUN_CHECKS, url_problems
from tap_audience.eqworks import settings as eq

Config = Mapping[str, Any]
Check = Callable[[Config], list[str]]


def base_url_problems(config: Config) -> list[str]:
    return url_problems(config, list(URL_SETTINGS))


CHECKS: tuple[Check, ...] = (
    *RUN_CHECKS,
    base_url_problems,
    *angus.CONFIG_CHECKS,
    *eq.CONFIG_CHECKS,
)


def config_problems(config: Config, face_checks: tuple[Check, ...] = ()) -> list[str]:
    """Every problem of `config`, one line each, in a stable order."""
    config = with_job_index(config)
    problems = sandbox_problems(config)
    if config.get("sandbox"):
        config = {k: v for k, v in config.items() if k not in SANDBOX_REPLACES}
    return problems + [problem for check in (*CHECKS, *face_checks) for problem in check(config)]
