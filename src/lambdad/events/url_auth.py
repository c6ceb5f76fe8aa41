"""Who may call a function URL, decided as AWS decides it.

- ``AuthType NONE``: anyone, but only when the resource policy of the URL's function
  (or alias) allows principal ``*`` both actions AWS requires of new URLs since October
  2025: ``lambda:InvokeFunctionUrl`` (under the condition ``lambda:FunctionUrlAuthType``
  = ``NONE``, what ``AddPermission`` with ``FunctionUrlAuthType=NONE`` writes) and
  ``lambda:InvokeFunction``, evaluated with ``lambda:InvokedViaFunctionUrl`` = ``true``
  in the request's context (what ``--invoked-via-function-url`` writes; a statement
  without that condition counts too, as in IAM).
- ``AWS_IAM``: a request signed with SigV4 for service ``lambda`` in the URL's region,
  by a credential of the function's own account (identity policies are not modelled:
  the account's keys may do anything in it), or of another account that the resource
  policy allows both actions, with ``FunctionUrlAuthType`` = ``AWS_IAM``.

Anything else is ``UrlForbidden``, answered 403 ``{"Message":"Forbidden"}``. What the
policy decides for a (URL, calling account) is remembered in a ``UrlCache``; the
signature of an ``AWS_IAM`` request is checked on every request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from lambdad.errors import ResourceNotFoundException
from lambdad.events.http.request import IamCaller
from lambdad.events.url_cache import UrlCache
from lambdad.model import function_url as furl
from lambdad.model import policy
from lambdad.model.arn import function_arn
from lambdad.model.scope import Scope

log = logging.getLogger(__name__)

# (method, raw path, raw query, headers, body, region) -> the signer, or None when the
# request is not validly signed for service lambda in that region.
Verifier = Callable[[str, str, str, Sequence[tuple[str, str]], bytes, str], "IamCaller | None"]


class UrlForbidden(Exception):
    """The caller may not invoke this URL."""


class PolicyReader(Protocol):
    def get_policy(
        self, scope: Scope, function_name: str, qualifier: str | None
    ) -> dict[str, Any]: ...


class UrlAuthorizer:
    def __init__(self, policies: PolicyReader, verify: Verifier, cache: UrlCache) -> None:
        self.policies = policies
        self.verify = verify
        self.cache = cache

    def authorize(
        self,
        config: furl.UrlConfig,
        method: str,
        path: str,
        query: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
    ) -> IamCaller | None:
        """The signer for ``AWS_IAM`` URLs (None for ``NONE``); ``UrlForbidden`` if refused."""
        if config.auth_type == furl.AUTH_NONE:
            if not self._allowed(config, "anonymous", furl.AUTH_NONE):
                log.info("URL %s refused: no policy allows public access", config.url_id)
                raise UrlForbidden
            return None
        caller = self.verify(method, path, query, headers, body, config.region)
        if caller is None:
            raise UrlForbidden
        if caller.account_id != config.account and not self._allowed(
            config, caller.account_id, furl.AUTH_IAM
        ):
            log.info("URL %s refused to account %s", config.url_id, caller.account_id)
            raise UrlForbidden
        return caller

    def _allowed(self, config: furl.UrlConfig, account: str, auth_type: str) -> bool:
        return self.cache.get(
            ("allowed", config.url_id, account, auth_type),
            lambda: self._policy_allows(config, account, auth_type),
        )

    def _policy_allows(self, config: furl.UrlConfig, account: str, auth_type: str) -> bool:
        owner = Scope(config.account, config.region)
        try:
            found = self.policies.get_policy(owner, config.function_name, config.qualifier)
        except ResourceNotFoundException:
            return False
        statements = json.loads(found["Policy"])["Statement"]
        resource = function_arn(
            config.region, config.account, config.function_name, config.qualifier
        )
        context = {furl.AUTH_TYPE_KEY: auth_type, furl.VIA_URL_KEY: "true"}
        return all(
            policy.allows(
                statements, policy.AccessRequest(action, resource, account, context=context)
            )
            for action in (furl.INVOKE_URL, furl.INVOKE_FUNCTION)
        )
