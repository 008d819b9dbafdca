"""Where credentials may go: the origin (scheme, host, port) a base URL was configured for.

Two rules keep every token with its vendor:

- **Redirects stay inside the origin.** `requests` strips only `Authorization` when a redirect
  leaves the host; custom headers such as `eq-api-jwt` and JSON bodies carrying access tokens
  would follow. `SameOriginSession` therefore follows a redirect only when the next hop has the
  same scheme, host and port as the request that got it (which also rules out https → http),
  at most `MAX_REDIRECTS` hops, and refuses any other before anything is sent there.
- **No clear text off the machine.** An `http://` base URL puts tokens on the wire unencrypted:
  it is refused unless its host is loopback (the sandbox, tests) or the user opts in with
  `allow_insecure_http`.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import requests
from typing_extensions import override

# A vendor that moves an endpoint within its host needs one hop, a trailing-slash fix one more.
MAX_REDIRECTS = 3
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int]:
    """`(scheme, host, port)` with the scheme's default port filled in; host lower-cased."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme, 0)


def describe_origin(url: str) -> str:
    """`https://api.example.com:8443` — never the path or query, which may carry identifiers."""
    scheme, host, port = origin(url)
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + ("" if DEFAULT_PORTS.get(scheme) == port else f":{port}")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def insecure_url_problem(setting: str, url: str) -> str | None:
    """Why `url` may not be used for `setting` without `allow_insecure_http`, if it may not."""
    scheme, host, _ = origin(url)
    if scheme != "http" or is_loopback(host):
        return None
    return (
        f"{setting} is {describe_origin(url)}: plain http sends the vendor's tokens in clear text; "
        "use https:// (or set allow_insecure_http: true if the network in between is trusted)"
    )


class CrossOriginRedirectError(requests.exceptions.RequestException):
    """A redirect the session refused to follow; nothing was sent to its target."""

    def __init__(self, *, status: int, source: str, target: str) -> None:
        self.status = status
        self.source = describe_origin(source)
        self.target = describe_origin(target)
        super().__init__(
            f"refused to follow an HTTP {status} redirect from {self.source} to "
            f"{self.target}: credentials are only sent to the configured {self.source}"
        )


class SameOriginSession(requests.Session):
    """A session whose redirects never carry a request (and its credentials) to another origin."""

    def __init__(self) -> None:
        super().__init__()
        self.max_redirects = MAX_REDIRECTS

    @override
    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        # requests calls this for every hop before sending it: the one place to stop a hop.
        source, target = str(response.request.url), str(prepared_request.url)
        if origin(source) != origin(target):
            raise CrossOriginRedirectError(
                status=response.status_code, source=source, target=target
            )
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]
