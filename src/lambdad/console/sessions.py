"""The console's sign-in sessions: who is signed in, until when, and their CSRF token.

A session lives on the server; the browser holds only its token, a random 256-bit
value sent back in an HttpOnly, SameSite=Strict cookie. The book keeps the token's
SHA-256, never the token, so a look at memory cannot sign anyone in. A session ends at
sign-out, after ``lifetime`` seconds, after ``idle`` seconds without a request, or when
the credential it was opened with is gone or has a new secret (``still_valid``).

Every state-changing request carries the session's CSRF token (a form field or the
``X-CSRF-Token`` header) and comes from the console's own origin (``same_origin``).
Pure: time comes from the clock given.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from lambdad.model.credential import Credential

LIFETIME = 8 * 3600.0
IDLE = 3600.0
# More open sessions than this and the oldest-used ones are dropped first.
MAX_SESSIONS = 4096


@dataclass(frozen=True, slots=True)
class Session:
    access_key_id: str
    account: str
    region: str
    csrf: str
    expires_at: float
    last_seen: float
    # The secret it was opened with, digested: a rotated secret ends the session.
    secret_digest: str


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class SessionBook:
    def __init__(
        self,
        clock: Callable[[], float],
        *,
        lifetime: float = LIFETIME,
        idle: float = IDLE,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.idle = idle
        self.max_sessions = max_sessions
        self._sessions: dict[str, Session] = {}

    def open(self, credential: Credential, region: str) -> tuple[str, Session]:
        """A new session for ``credential``: (the token for the cookie, the session)."""
        now = self.clock()
        token = secrets.token_urlsafe(32)
        session = Session(
            access_key_id=credential.access_key_id,
            account=credential.account_id,
            region=region,
            csrf=secrets.token_urlsafe(32),
            expires_at=now + self.lifetime,
            last_seen=now,
            secret_digest=_digest(credential.secret_access_key),
        )
        if len(self._sessions) >= self.max_sessions:
            self._evict(now)
        self._sessions[_digest(token)] = session
        return token, session

    def find(self, token: str) -> Session | None:
        """The live session of ``token`` (its idle time restarts), or None."""
        if not token:
            return None
        key = _digest(token)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self.clock()
        if now >= session.expires_at or now - session.last_seen >= self.idle:
            del self._sessions[key]
            return None
        session = replace(session, last_seen=now)
        self._sessions[key] = session
        return session

    def peek(self, token: str) -> Session | None:
        """Like ``find`` without touching the session (the body-size gate's look)."""
        session = self._sessions.get(_digest(token)) if token else None
        if session is None:
            return None
        now = self.clock()
        if now >= session.expires_at or now - session.last_seen >= self.idle:
            return None
        return session

    def set_region(self, token: str, region: str) -> None:
        key = _digest(token)
        session = self._sessions.get(key)
        if session is not None:
            self._sessions[key] = replace(session, region=region)

    def close(self, token: str) -> None:
        self._sessions.pop(_digest(token), None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _evict(self, now: float) -> None:
        live = {
            k: s
            for k, s in self._sessions.items()
            if now < s.expires_at and now - s.last_seen < self.idle
        }
        if len(live) >= self.max_sessions:
            oldest = sorted(live, key=lambda k: live[k].last_seen)
            for k in oldest[: len(live) - self.max_sessions + 1]:
                del live[k]
        self._sessions = live


def still_valid(session: Session, credential: Credential | None) -> bool:
    """Whether the credential the session was opened with still signs in as it did."""
    return (
        credential is not None
        and credential.account_id == session.account
        and hmac.compare_digest(_digest(credential.secret_access_key), session.secret_digest)
    )


def check_secret(credential: Credential | None, secret: str) -> bool:
    """Whether ``secret`` is the credential's secret (in constant time)."""
    if credential is None:
        # Compare anyway, so that an unknown key id takes as long as a wrong secret.
        hmac.compare_digest(secret.encode(), b"x" * 40)
        return False
    return hmac.compare_digest(secret.encode(), credential.secret_access_key.encode())


def csrf_ok(session: Session, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(
        (presented or "").encode(), session.csrf.encode()
    )


def same_origin(headers: Mapping[str, str]) -> bool:
    """Whether a state-changing request comes from a page of this origin: its
    ``Origin`` (or, where a browser sends none, its ``Referer``) names the ``Host``
    it was sent to. A request naming neither is refused."""
    host = headers.get("host", "")
    if not host:
        return False
    mine = (f"http://{host}", f"https://{host}")
    origin = headers.get("origin")
    if origin is not None:
        return origin in mine
    referer = headers.get("referer", "")
    return any(referer == m or referer.startswith(m + "/") for m in mine)
