"""`tap-audience eq-login`: the interactive first login that yields an EQ token.

keywarden mails a one-time passcode (`/login`), the user types it here, `/verify` returns a
token scoped to one product. With `--token-file` the token is written there (atomically,
mode 0600) for `eq_token_file`/`locus_token_file`; otherwise it is printed on stdout, which
carries nothing else.

A passcode is single-use and mailed, so a token must never be lost to a bad path: a
`--token-file` that cannot be written (a folder, a read-only file or folder, a folder that
cannot be created) is refused before the passcode is requested, and if the write still fails
after `/verify` (the folder changed meanwhile), the token is printed on stdout (the user's own
terminal) with the reason on stderr, and the command exits 1.

`--auth-url` defaults to `TAP_AUDIENCE_EQ_AUTH_URL`, the variable that sets the tap's
`eq_auth_url`: one export points both the tap and the login at the same keywarden (another
stage, the sandbox).
"""

from __future__ import annotations

from pathlib import Path

import click

from tap_audience.core.errors import (
    ConfigurationError,
    CredentialsError,
    TapAudienceError,
    VendorError,
)
from tap_audience.core.files import replace_problem
from tap_audience.core.http import ApiRequest, RetryPolicy, VendorClient
from tap_audience.core.jwt_claims import expires_at
from tap_audience.core.origins import SameOriginSession, insecure_url_problem
from tap_audience.eqworks.auth import write_token_file
from tap_audience.eqworks.connection import KEYWARDEN_RULES, KEYWARDEN_VENDOR, PRODUCTS

DEFAULT_AUTH_URL = "https://auth.eqworks.io/prod"
# The tap's `eq_auth_url` as an environment variable (`--config=ENV`, Meltano).
AUTH_URL_ENV = "TAP_AUDIENCE_EQ_AUTH_URL"


@click.command(name="eq-login")
@click.option("--user", required=True, help="EQ account email.")
@click.option("--product", type=click.Choice(["atom", "locus"]), required=True, help="Token scope.")
# click.Path(dir_okay=False) would refuse a folder with a usage error (exit 2, four lines);
# `token_file_problem` says it in one line, with the other paths that cannot be written.
@click.option("--token-file", type=click.Path(), help="Write the token here (mode 0600).")
@click.option(
    "--auth-url",
    default=DEFAULT_AUTH_URL,
    envvar=AUTH_URL_ENV,
    show_default=True,
    show_envvar=True,
    help="keywarden URL (with its stage), as the tap's eq_auth_url.",
)
@click.option(
    "--allow-insecure-http",
    is_flag=True,
    help="Accept an http:// --auth-url on a host other than loopback (clear-text token).",
)
def eq_login(
    user: str, product: str, token_file: str | None, auth_url: str, allow_insecure_http: bool
) -> None:
    """Log in to EQ with a one-time passcode and store or print the token."""
    if not allow_insecure_http and (problem := insecure_url_problem(_auth_url_source(), auth_url)):
        raise ConfigurationError(
            problem.replace("allow_insecure_http: true", "--allow-insecure-http")
        )
    if token_file and (problem := token_file_problem(token_file, product)):
        raise ConfigurationError(problem)  # before a passcode is mailed, not after
    keywarden = VendorClient(
        vendor=KEYWARDEN_VENDOR,
        base_url=auth_url,
        base_url_setting=_auth_url_source(),
        session=SameOriginSession(),
        rules=KEYWARDEN_RULES,
        retry=RetryPolicy(max_retries=2),
    )
    try:
        keywarden.request_json(
            ApiRequest("/login", [("user", user), ("product", product), ("nolink", "1")])
        )
        click.echo(f"A one-time passcode was sent to {user}.", err=True)
        otp = click.prompt("Passcode", err=True).strip()
        body = keywarden.request_json(
            ApiRequest("/verify", [("user", user), ("otp", otp), ("product", product)])
        )
    except VendorError as exc:
        raise CredentialsError(f"EQ login failed: {exc.vendor_message}") from None
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise CredentialsError("EQ /verify answered without a token")
    expires = expires_at(token, what="the new EQ token")
    until = expires.date().isoformat() if expires else "no expiry"
    if token_file:
        try:
            write_token_file(token_file, token)
        except OSError as exc:
            # The passcode is spent: the token is shown rather than lost.
            click.echo(token)
            # What is in the way now says more than the errno ("File exists" for a folder
            # that became a file).
            why = replace_problem(token_file) or f"{exc.strerror or exc} writing {token_file}"
            settings = PRODUCTS[product]
            raise TokenNotSavedError(
                f"EQ login worked, but the {product} token was not saved ({why}): it is "
                f"printed on stdout instead (valid until {until}); save it in a file for "
                f"{settings.token_file_setting}, or paste it into {settings.setting}"
            ) from None
        click.echo(f"Saved the {product} token to {token_file} (valid until {until}).", err=True)
    else:
        click.echo(f"The {product} token (valid until {until}) follows on stdout.", err=True)
        click.echo(token)


class TokenNotSavedError(TapAudienceError):
    """The login worked but the token file could not be written; the token went to stdout."""


def token_file_problem(token_file: str, product: str) -> str | None:
    """Why the token could not be written to `token_file`, found before the login starts."""
    path = Path(token_file).expanduser()
    try:
        folder = path.is_dir()
    except OSError:  # a folder on the way this user may not look into: said just below
        folder = False
    if folder:  # before the general check, to suggest a file name fit for a token
        return (
            f"--token-file {token_file} is a folder: give a file in it, e.g. "
            f"{path / f'{product}.token'}"
        )
    problem = replace_problem(path)
    return f"--token-file: {problem}" if problem else None


def _auth_url_source() -> str:
    """How the user gave the URL, for error messages: the option or the environment variable."""
    source = click.get_current_context().get_parameter_source("auth_url")
    if source is click.core.ParameterSource.ENVIRONMENT:
        return f"--auth-url (from {AUTH_URL_ENV})"
    return "--auth-url"
