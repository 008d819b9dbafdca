"""Everything the vendor handlers share: seed-derived fixtures, secrets, clock and OTP store."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from . import tokens
from .clock import DataClock
from .data_angus import Camera, make_cameras
from .data_eq import Campaign, EqUser, make_campaigns, make_users
from .det import rng, uuid4_from

ANGUS_USERNAME = "demo@angus.example"
ANGUS_USER_ID = 826  # the user_id of the documented sample token (A3)
EQ_PRODUCTS = ("atom", "locus")
# keywarden: an OTP key lives 2 x OTP_TTL; /login re-sends the same OTP while more than OTP_TTL
# remains (docs/vendors.md B2.1). Real time, like every other expiry.
OTP_TTL = 300.0


class _Otp(NamedTuple):
    code: str
    product: str
    issued: float  # time.time()


class SandboxState:
    def __init__(
        self,
        seed: int,
        now: datetime | None,
        angus_page_size: int,
        angus_token_ttl: int,
        n_cameras: int,
    ) -> None:
        if angus_page_size < 1:
            raise ValueError("angus_page_size must be >= 1")
        self.seed = seed
        self.clock = DataClock(now)
        self.angus_secret = tokens.secret_for(seed, "angus")
        self.eq_secret = tokens.secret_for(seed, "eq")
        self.angus_page_size = angus_page_size
        self.angus_token_ttl = angus_token_ttl
        # docs/vendors.md C3: absolute next_page is the documented contract; the switch mimics the
        # relative path Angus's own dashboard assumed.
        self.angus_next_page_relative = False
        self.cameras: list[Camera] = make_cameras(seed, n_cameras)
        self.cameras_by_id = {c.client_id: c for c in self.cameras}
        self.campaigns: list[Campaign] = make_campaigns(self.clock.now())
        self.campaigns_by_code = {c.code: c for c in self.campaigns}
        self.eq_users: dict[str, EqUser] = make_users(seed)
        self._lock = threading.Lock()
        self._otps: dict[str, _Otp] = {}
        # Called as (email, product, passcode) each time /login "mails" a passcode (re-sends
        # too). None by default: in-process (`sandbox: true`) stdout carries Singer messages.
        self.otp_listener: Callable[[str, str, str], None] | None = None
        self._otp_rng = rng(seed, "otp")
        self._uuid_rng = rng(seed, "jwt-uuid")
        # Per vendor, the earliest issue time (epoch s) of a new token. An expire_tokens fault
        # rejects tokens issued before a whole-second cutoff and raises this floor to it, so a
        # token minted in that same second is still told apart from the expired ones (claims
        # have 1 s resolution: an identical re-issue would be an identical string).
        self.token_floor: dict[str, int] = {"angus": 0, "eq": 0}

    def _issue_time(self, vendor: str) -> int:
        return max(int(time.time()), self.token_floor[vendor])

    def raise_token_floor(self, vendor: str, cutoff: int) -> None:
        with self._lock:
            self.token_floor[vendor] = max(self.token_floor[vendor], cutoff)

    # --- Angus -------------------------------------------------------------------------------
    def mint_angus_token(self, client_id: str, ttl_seconds: int | None = None) -> str:
        ttl = self.angus_token_ttl if ttl_seconds is None else ttl_seconds
        claims = tokens.angus_claims(
            ANGUS_USERNAME, ANGUS_USER_ID, client_id, ttl, now=self._issue_time("angus")
        )
        return tokens.sign(claims, self.angus_secret)

    # --- keywarden ---------------------------------------------------------------------------
    def mint_eq_token(
        self, email: str, product: str, ttl_seconds: int = tokens.EQ_TOKEN_TTL
    ) -> str:
        email = email.strip().lower()
        user = self.eq_users.get(email)
        if user is None:  # tokens for strangers carry no access at all
            user = EqUser(email, [], [], "customers", uuid4_from(rng(self.seed, "uuid", email)))
        claims = tokens.eq_claims(
            email,
            user.api_access(),
            user.jwt_uuid,
            user.prefix,
            product,
            ttl_seconds=ttl_seconds,
            now=self._issue_time("eq"),
        )
        return tokens.sign(claims, self.eq_secret)

    def rotate_uuid(self, email: str) -> None:
        with self._lock:
            self.eq_users[email].jwt_uuid = uuid4_from(self._uuid_rng)

    def issue_otp(self, email: str, product: str) -> str:
        """The passcode /login mails (the same one again while it is fresh); tells the listener."""
        now = time.time()
        with self._lock:
            current = self._otps.get(email)
            if current is not None and now - current.issued < OTP_TTL:
                self._otps[email] = current._replace(product=product)
                code = current.code
            else:
                code = f"{self._otp_rng.getrandbits(24):06X}"
                self._otps[email] = _Otp(code, product, now)
        listener = self.otp_listener
        if listener is not None:  # outside the lock: a slow listener must not block logins
            listener(email, product, code)
        return code

    def redeem_otp(self, email: str, otp: str) -> str:
        """'ok' (and burn it), 'missing' (none or expired) or 'invalid' (wrong; not burnt)."""
        with self._lock:
            current = self._otps.get(email)
            if current is None or time.time() - current.issued >= 2 * OTP_TTL:
                self._otps.pop(email, None)
                return "missing"
            if otp.strip().upper() != current.code:
                return "invalid"
            del self._otps[email]
            return "ok"

    def last_otp(self, email: str) -> str | None:
        with self._lock:
            current = self._otps.get(email.strip().lower())
            return None if current is None else current.code
