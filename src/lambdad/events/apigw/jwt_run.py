"""Checking a route's JWT before its integration runs (HTTP APIs' ``JWT`` authorizers).

``IssuerKeys`` fetches an issuer's signing keys as API Gateway does: its OpenID
discovery document ``<Issuer>/.well-known/openid-configuration``, then the key set at
its ``jwks_uri``; kept two hours ("API Gateway can cache the public key for two
hours"). A token naming a key the set lacks (a rotation) fetches the set again, at
most once a minute per issuer; concurrent requests share one fetch. Fetches run in a
thread, bounded in time and size and never redirected (``web_fetch``). The issuer is a
URL the API's owner chose: for an account the operator does not trust with the
server's own position, it is fetched through ``public`` (``public_web.PublicWeb``:
global addresses only, never the host or its private networks), and kept apart from
what trusted accounts fetched.

``JwtAuthorizers`` reads the token from the authorizer's identity source (none: 401
at once) and decides with ``jwt_core``: the ``Grant`` to pass on, or the answer that
ends the request. A token whose signature verified is remembered with the key set
that verified it (a fresh key set verifies it again); its claims and the route's
scopes are checked on every request, at that request's time.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Final

from cryptography.hazmat.primitives.asymmetric import rsa

from lambdad.clock import Clock
from lambdad.events.apigw import answers, authorizer_core, jwt_core
from lambdad.events.apigw.api_store import Found
from lambdad.events.apigw.dispatch import Target
from lambdad.events.http.request import HttpRequest
from lambdad.events.http.response import HttpResponse
from lambdad.events.web_fetch import FetchError, Web

log = logging.getLogger(__name__)

KEYS_TTL: Final = 2 * 3600.0
REFETCH_AFTER: Final = 60.0
MAX_ISSUERS: Final = 1_000
# Verified tokens remembered (a signature check costs about 0.1 ms), and the longest.
MAX_REMEMBERED: Final = 4_096
MAX_REMEMBERED_CHARS: Final = 4_096
_DISCOVERY: Final = "/.well-known/openid-configuration"
Keys = Mapping[str, rsa.RSAPublicKey]
# A token whose signature verified, and the key set that verified it.
Verified = tuple[Keys, jwt_core.Token]


# An issuer as fetched: its URL, and whether through the trusted web.
Source = tuple[str, bool]


def _everyone(account: str) -> bool:
    return True


class IssuerKeys:
    def __init__(
        self,
        web: Web,
        clock: Clock,
        *,
        public: Web | None = None,
        trusted: Callable[[str], bool] = _everyone,
    ) -> None:
        self.web = web
        self.public = public if public is not None else web
        self.trusted = trusted
        self.clock = clock
        self._keys: dict[Source, tuple[float, Keys]] = {}  # -> (fetched at, keys)
        self._fetching: dict[Source, asyncio.Future[Keys | None]] = {}

    def source(self, issuer: str, account: str) -> Source:
        return issuer, self.trusted(account)

    async def keys(self, source: Source, kid: str | None) -> Keys | None:
        """The issuer's keys (fetched again when ``kid`` is not among them and the
        last fetch is over a minute old); None when they cannot be had."""
        now = self.clock.monotonic()
        cached = self._keys.get(source)
        if cached is not None:
            age = now - cached[0]
            if age < KEYS_TTL and (kid in cached[1] or age < REFETCH_AFTER):
                return cached[1]
        pending = self._fetching.get(source)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(source, cached))
            self._fetching[source] = pending
            pending.add_done_callback(lambda _: self._fetching.pop(source, None))
        return await asyncio.shield(pending)

    def peek(self, source: Source) -> Keys | None:
        """The issuer's keys as held now, if they are still fresh (no fetch)."""
        cached = self._keys.get(source)
        if cached is None or self.clock.monotonic() - cached[0] >= KEYS_TTL:
            return None
        return cached[1]

    async def _fetch(self, source: Source, cached: tuple[float, Keys] | None) -> Keys | None:
        web = self.web if source[1] else self.public
        try:
            keys: Keys | None = await asyncio.to_thread(self._read, web, source[0])
        except (FetchError, ValueError, RecursionError) as error:
            log.info("JWT issuer %s: keys not fetched: %s", source[0], error)
            keys = cached[1] if cached is not None else None
        if len(self._keys) >= MAX_ISSUERS:
            self._keys.clear()
        # A failure is remembered too (as no keys), so a dead issuer is asked once a minute.
        self._keys[source] = (self.clock.monotonic(), keys or {})
        return keys

    @staticmethod
    def _read(web: Web, issuer: str) -> Keys:
        discovery = json.loads(web.get(issuer.rstrip("/") + _DISCOVERY))
        jwks_uri = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise ValueError("the discovery document has no jwks_uri")
        return jwt_core.key_set(json.loads(web.get(jwks_uri)))


class JwtAuthorizers:
    def __init__(self, keys: IssuerKeys, clock: Clock) -> None:
        self.keys = keys
        self.clock = clock
        # token -> (the key set that verified its signature, the token decoded)
        self._verified: dict[str, Verified] = {}

    async def authorize(
        self, found: Found, request: HttpRequest, target: Target
    ) -> jwt_core.Grant | HttpResponse:
        stored = (found.doc.get("Authorizers") or {}).get(target.authorizer_id)
        if stored is None or stored.get("AuthorizerType") != "JWT":
            return answers.HTTP_SERVER_ERROR
        settings = stored.get("JwtConfiguration") or {}
        config = jwt_core.JwtConfig(str(settings.get("Issuer", "")),
                                    tuple(settings.get("Audience") or ()))  # fmt: skip
        values = authorizer_core.identity(
            request, tuple(stored.get("IdentitySource") or ()), target.stage_variables
        )
        if not values:
            return answers.HTTP_UNAUTHORIZED
        raw = jwt_core.token_of(values[0])
        source = self.keys.source(config.issuer, found.scope.account)
        token = self._verified.get(raw)
        if token is None or token[0] is not self.keys.peek(source):
            checked = await self._verify(source, raw)
            if isinstance(checked, jwt_core.Refusal):
                return self._refused(found, checked)
            token = checked
        outcome = jwt_core.claims(
            token[1], config, target.authorization_scopes, self.clock.now().timestamp()
        )
        if isinstance(outcome, jwt_core.Refusal):
            return self._refused(found, outcome)
        return outcome

    async def _verify(self, source: Source, raw: str) -> Verified | jwt_core.Refusal:
        """The token decoded and its signature verified with the issuer's keys; a
        verified token is remembered with the key set that verified it."""
        token = jwt_core.decode(raw)
        if isinstance(token, jwt_core.Refusal):
            return token
        keys = await self.keys.keys(source, token.kid)
        if keys is None:
            return jwt_core.Refusal("unable to fetch the issuer's keys")
        refusal = jwt_core.signature(token, keys)
        if refusal is not None:
            return refusal
        if len(raw) <= MAX_REMEMBERED_CHARS:
            if len(self._verified) >= MAX_REMEMBERED:
                self._verified.clear()
            self._verified[raw] = (keys, token)
        return keys, token

    def _refused(self, found: Found, refusal: jwt_core.Refusal) -> HttpResponse:
        log.info("API %s: JWT refused: %s", found.doc["ApiId"], refusal.description)
        return jwt_core.refusal_answer(refusal)
