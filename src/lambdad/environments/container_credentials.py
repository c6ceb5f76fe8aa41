"""The container credentials endpoint of a SnapStart environment.

AWS gives SnapStart functions their role's credentials through
``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and ``AWS_CONTAINER_AUTHORIZATION_TOKEN``
instead of key variables, so that a client made during init (before the snapshot)
asks again in each restored environment instead of keeping keys that would expire in
the snapshot. lambdad answers it on the environment's own Runtime API
(``runtime_api.CREDENTIALS_PATH``): the role's session, a new one once the last has
less than half an hour left (the SDKs refresh ahead of expiry), to the request that
carries the version's token; anything else is refused.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import timedelta

from lambdad.clock import Clock
from lambdad.model.session import Session

RENEW_BEFORE = timedelta(minutes=30)
Answer = tuple[int, dict[str, str]]


class ContainerCredentials:
    def __init__(self, token: str | None, mint: Callable[[], Session] | None, clock: Clock) -> None:
        self.token = token
        self.mint = mint
        self.clock = clock
        self._session: Session | None = None

    def answer(self, authorization: str | None) -> Answer:
        if self.mint is None or self.token is None:
            return 404, {"errorType": "NotFound", "errorMessage": "no container credentials"}
        if not hmac.compare_digest((authorization or "").encode(), self.token.encode()):
            return 403, {"errorType": "AccessDenied", "errorMessage": "invalid token"}
        session = self._session
        if session is None or session.expires - self.clock.now() < RENEW_BEFORE:
            session = self._session = self.mint()
        return 200, {
            "AccessKeyId": session.access_key_id,
            "SecretAccessKey": session.secret_access_key,
            "Token": session.token,
            "Expiration": session.expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
