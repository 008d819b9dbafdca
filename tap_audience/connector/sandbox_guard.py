"""Where `sandbox: true` may run: never beside a real account or production outputs.

The sandbox replaces every URL and credential with the emulator's, so a stray
`TAP_AUDIENCE_SANDBOX=true` in production would load emulator rows into production tables and
store emulator bookmarks in production's state (real history is then skipped). Two signs say a
run is production, and either refuses the sandbox with one line:

- a vendor credential or base URL is set (`SANDBOX_REFUSES`): a real account is meant;
- the tap runs under Meltano (which sets `MELTANO_PROJECT_ROOT` for every plugin it runs) in an
  environment other than `sandbox` (Meltano's `MELTANO_ENVIRONMENT`; empty with no environment,
  when the loaders use their base config: the production outputs). Only meltano.yml's
  `sandbox` environment points the loaders, dbt and the state at outputs of their own.

Settings the sandbox replaces that only choose partitions (`eq_campaign_ids`, `locus_coords`)
are harmless: the runtime names them in a WARNING.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tap_audience.connector.settings import CONFIG_SCHEMA, SANDBOX_REFUSES

SANDBOX_ENVIRONMENT = "sandbox"  # meltano.yml's environment with outputs of its own
MELTANO_PROJECT_VARIABLE = "MELTANO_PROJECT_ROOT"
MELTANO_ENVIRONMENT_VARIABLE = "MELTANO_ENVIRONMENT"


def given(config: Mapping[str, Any], key: str) -> bool:
    """Whether the user set `key` (the SDK fills in schema defaults, which do not count)."""
    value = config.get(key)
    return value not in (None, [], CONFIG_SCHEMA["properties"][key].get("default"))


def sandbox_problems(
    config: Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> list[str]:
    """Why `sandbox: true` may not run with this config in this environment (none: it may)."""
    if not config.get("sandbox"):
        return []
    problems = []
    if account := [key for key in SANDBOX_REFUSES if given(config, key)]:
        problems.append(
            "sandbox: true cannot be combined with a real account's settings "
            f"({', '.join(account)}): the emulator's rows and bookmarks would go where that "
            "account's data goes. Unset sandbox (TAP_AUDIENCE_SANDBOX) to sync the account, "
            "or unset those settings to try the emulator"
        )
    if MELTANO_PROJECT_VARIABLE in environ:
        environment = environ.get(MELTANO_ENVIRONMENT_VARIABLE) or ""
        if environment != SANDBOX_ENVIRONMENT:
            where = (
                f"the Meltano environment {environment!r}"
                if environment
                else "a Meltano run without an environment (the loaders' production outputs)"
            )
            problems.append(
                f"sandbox: true is refused in {where}: emulator rows would load into its "
                f"outputs and state. Run the sandbox with `meltano --environment "
                f"{SANDBOX_ENVIRONMENT} ...`, or unset sandbox (TAP_AUDIENCE_SANDBOX) here"
            )
    return problems


def no_environment_hint(environ: Mapping[str, str] = os.environ) -> str:
    """For a run with nothing configured: Meltano ran the tap without an environment, so
    with the production base config. `meltano config ...` does that even in a project with a
    `default_environment` (it ignores it), so right after the demo `meltano config test
    tap-audience` checks production's empty config, not the sandbox's."""
    if MELTANO_PROJECT_VARIABLE in environ and not environ.get(MELTANO_ENVIRONMENT_VARIABLE):
        return (
            ". Meltano ran the tap without an environment (`meltano config` ignores "
            "default_environment): `meltano --environment "
            f"{SANDBOX_ENVIRONMENT} config test tap-audience` checks the sandbox's config"
        )
    return ""
