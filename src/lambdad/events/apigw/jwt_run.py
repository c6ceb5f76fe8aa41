"""Checking a route's JWT before its integration runs (HTTP APIs' ``JWT`` authorizers).

``IssuerKeys`` fetches an issuer's signing keys as API Gateway does: its OpenID
discovery document ``<Issuer>/.well-known/openid-configuration``, then the key set at
its ``jwks_uri``; kept two hours ("API Gateway can cache the public key for two
hours"). A token naming a key the set lacks (a rotation) fetches the set again, at
most once a minute per issuer; concurrent requests share one fetch. Fetches run in a
thread, bounded in time and size and never redirected (``web_fetch``).

``JwtAuthorizers`` reads the token from the authorizer's identity source (none: 401
at once) and decides with ``jwt_core``: the ``Grant`` to pass on, or the answer that
ends the request.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
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
_DISCOVERY: Final = "/.well-known/openid-configuration"
Keys = Mapping[str, rsa.RSAPublicKey]


class IssuerKeys:
    def __init__(self, web: Web, clock: Clock) -> None:
        self.web = web
        self.clock = clock
        self._keys: dict[str, tuple[float, Keys]] = {}  # issuer -> (fetched at, keys)
        self._fetching: dict[str, asyncio.Future[Keys | None]] = {}

    async def keys(self, issuer: str, kid: str | None) -> Keys | None:
        """The issuer's keys (fetched again when ``kid`` is not among them and the
        last fetch is over a minute old); None when they cannot be had."""
        now = self.clock.monotonic()
        cached = self._keys.get(issuer)
        if cached is not None:
            age = now - cached[0]
            if age < KEYS_TTL and (kid in cached[1] or age < REFETCH_AFTER):
                return cached[1]
        pending = self._fetching.get(issuer)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(issuer, cached))
            self._fetching[issuer] = pending
            pending.add_done_callback(lambda _: self._fetching.pop(issuer, None))
        return await asyncio.shield(pending)

    async def _fetch(self, issuer: str, cached: tuple[float, Keys] | None) -> Keys | None:
        try:
            keys: Keys | None = await asyncio.to_thread(self._read, issuer)
        except (FetchError, ValueError, RecursionError) as error:
            log.info("JWT issuer %s: keys not fetched: %s", issuer, error)
            keys = cached[1] if cached is not None else None
        if len(self._keys) >= MAX_ISSUERS:
            self._keys.clear()
        # A failure is remembered too (as no keys), so a dead issuer is asked once a minute.
        self._keys[issuer] = (self.clock.monotonic(), keys or {})
        return keys

    def _read(self, issuer: str) -> Keys:
        discovery = json.loads(self.web.get(issuer.rstrip("/") + _DISCOVERY))
        jwks_uri = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise ValueError("the discovery document has no jwks_uri")
        return jwt_core.key_set(json.loads(self.web.get(jwks_uri)))


class JwtAuthorizers:
    def __init__(self, keys: IssuerKeys, clock: Clock) -> None:
        self.keys = keys
        self.clock = clock

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
        token = jwt_core.decode(jwt_core.token_of(values[0]))
        if isinstance(token, jwt_core.Refusal):
            return self._refused(found, token)
        keys = await self.keys.keys(config.issuer, token.kid)
        if keys is None:
            return self._refused(found, jwt_core.Refusal("unable to fetch the issuer's keys"))
        outcome = jwt_core.check(
            token, keys, config, target.authorization_scopes, self.clock.now().timestamp()
        )
        if isinstance(outcome, jwt_core.Refusal):
            return self._refused(found, outcome)
        return outcome

    def _refused(self, found: Found, refusal: jwt_core.Refusal) -> HttpResponse:
        log.info("API %s: JWT refused: %s", found.doc["ApiId"], refusal.description)
        return jwt_core.refusal_answer(refusal)
