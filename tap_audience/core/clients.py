"""Where every vendor client of one run comes from: one session per vendor, shared limits.

The factory knows no vendor: a vendor's connection (`angus.connection`,
`eqworks.connection`) asks it for a client of one base URL, naming the vendor (for messages
and the session) and the limits group its clients share (one concurrency limit and request
budget per vendor, however many credentials or products it has).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import metadata

import requests
from requests.adapters import HTTPAdapter

from tap_audience.core.error_rules import ErrorRules
from tap_audience.core.http import Authenticator, RetryPolicy, VendorClient
from tap_audience.core.limits import VendorLimits
from tap_audience.core.origins import SameOriginSession
from tap_audience.core.reachability import UnreachableHosts
from tap_audience.core.settings import RunSettings


def user_agent() -> str:
    """`tap-audience/<version>`, the version from the installed package's metadata."""
    try:
        version = metadata.version("tap-audience")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        version = "0+unknown"
    return f"tap-audience/{version}"


USER_AGENT = user_agent()


class ClientFactory:
    def __init__(
        self,
        run: RunSettings,
        *,
        pool_size: int = 64,
        on_retry: Callable[[str], None] | None = None,
        retry_unreachable: bool = True,
    ) -> None:
        self.run = run
        self._pool_size = pool_size
        self._on_retry = on_retry
        self._retry_unreachable = retry_unreachable
        self._sessions: dict[str, requests.Session] = {}
        self._limits: dict[str, VendorLimits] = {}
        # Set when the run closes: requests still queued or waiting to retry give up.
        self.stopping = threading.Event()
        # A host one request found unreachable fails every later request to it at once.
        self.unreachable_hosts = UnreachableHosts()

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.run.max_retries,
            max_wait_seconds=self.run.max_retry_wait_seconds,
            retry_unreachable=self._retry_unreachable,
        )

    def _session(self, vendor: str) -> requests.Session:
        if vendor not in self._sessions:
            session = SameOriginSession()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self._pool_size)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = USER_AGENT
            self._sessions[vendor] = session
        return self._sessions[vendor]

    def _group_limits(self, group: str) -> VendorLimits:
        if group not in self._limits:
            self._limits[group] = VendorLimits(
                self.run.max_concurrency, self.run.max_requests_per_second
            )
        return self._limits[group]

    def client(
        self,
        *,
        vendor: str,
        base_url: str,
        base_url_setting: str,
        rules: ErrorRules,
        auth: Authenticator | None = None,
        limits_group: str | None = None,
    ) -> VendorClient:
        """A client of `base_url` (from setting `base_url_setting`). Clients of one
        `limits_group` share its limits; token endpoints have none: a worker holding a data
        slot may need a token, and must not wait for a slot."""
        return VendorClient(
            vendor=vendor,
            base_url=base_url,
            base_url_setting=base_url_setting,
            session=self._session(vendor),
            rules=rules,
            auth=auth,
            timeout_seconds=self.run.request_timeout_seconds,
            retry=self.retry_policy,
            on_retry=self._on_retry,
            limits=self._group_limits(limits_group) if limits_group else None,
            stopping=self.stopping,
            unreachable_hosts=self.unreachable_hosts,
        )

    def close(self) -> None:
        self.stopping.set()
        for session in self._sessions.values():
            session.close()
