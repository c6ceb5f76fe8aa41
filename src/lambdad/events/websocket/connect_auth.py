"""Authorization of a WebSocket API's ``$connect`` route (the only route that has any,
as on AWS): decided once, when the client connects.

- ``AWS_IAM``: the upgrade request is signed with SigV4 for ``execute-api`` in the API's
  region by a credential of the API's own account (identity policies are not modelled;
  no resource policy lets another account in); the signer's fields join the events'
  ``identity``. Otherwise 403.
- ``CUSTOM``: a Lambda ``REQUEST`` authorizer. Its identity sources
  (``route.request.header.NAME``, ``route.request.querystring.NAME``,
  ``stageVariables.NAME``) must all be present, else 401 without asking it; it gets
  ``{"type": "REQUEST", "methodArn", "headers", "multiValueHeaders", "queryString
  Parameters", "multiValueQueryStringParameters", "stageVariables", "requestContext"}``
  (the CONNECT event's) and answers an IAM policy that must allow ``execute-api:Invoke``
  on ``arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/$connect`` (else 403); its
  ``principalId`` and ``context`` are ``requestContext.authorizer`` in every event of the
  connection. An authorizer that cannot be asked, fails or answers nonsense: 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl

from lambdad.events.apigw import authorizer_core
from lambdad.events.apigw.api_store import Found
from lambdad.events.http.request import IamCaller
from lambdad.events.http.response import MalformedResult
from lambdad.events.websocket import names, ws_events
from lambdad.events.websocket.names import CONNECT
from lambdad.model.upgrade import Headers, Response

log = logging.getLogger(__name__)

_JSON: Final = [(b"content-type", b"application/json")]
UNAUTHORIZED: Final = (401, _JSON, b'{"message":"Unauthorized"}')
FORBIDDEN: Final = (403, _JSON, b'{"message":"Forbidden"}')
FAILED: Final = (500, _JSON, b'{"message":"Internal server error"}')
_SOURCES: Final = (
    ("route.request.header.", "header"),
    ("route.request.querystring.", "query"),
    ("stageVariables.", "stage"),
)
# (found, integration URI, stage variables, source ARN, event) -> the answer, or None
Ask = Callable[[Found, str, Mapping[str, str], str, Any], Awaitable["bytes | None"]]
# (method, raw path, raw query, headers, body, region) -> who signed it, or None
Verifier = Callable[[str, str, str, Headers, bytes, str], "IamCaller | None"]


@dataclass(frozen=True, slots=True)
class Granted:
    """What the connection's events carry of its authorization."""

    authorizer: Mapping[str, Any] | None = None
    identity: Mapping[str, Any] = field(default_factory=dict)


def identity_values(
    sources: Sequence[str], info: ws_events.ConnectionInfo, variables: Mapping[str, str]
) -> list[str] | None:
    """The identity sources' values, in order; None when one is missing or empty."""
    query = parse_qsl(info.query, keep_blank_values=True)
    values = []
    for source in sources:
        value = None
        for prefix, kind in _SOURCES:
            if source.startswith(prefix):
                name = source[len(prefix) :]
                if kind == "header":
                    found = [v for k, v in info.headers if k.lower() == name.lower()]
                elif kind == "query":
                    found = [v for k, v in query if k == name]
                else:
                    found = [variables[name]] if name in variables else []
                value = ",".join(found) if found else None
        if not value:
            return None
        values.append(value)
    return values


def authorizer_event(
    info: ws_events.ConnectionInfo,
    method_arn: str,
    variables: Mapping[str, str],
    request_id: str,
    now_ms: int,
) -> dict[str, Any]:
    event = ws_events.connect_event(info, request_id, now_ms)
    out: dict[str, Any] = {"type": "REQUEST", "methodArn": method_arn}
    out.update((k, v) for k, v in event.items() if k != "isBase64Encoded")
    out["stageVariables"] = dict(variables)
    return out


class ConnectAuthorizer:
    def __init__(self, ask: Ask, verify: Verifier | None) -> None:
        self.ask = ask
        self.verify = verify

    async def check(
        self,
        found: Found,
        route: Mapping[str, Any],
        info: ws_events.ConnectionInfo,
        wire_path: str,
        headers: Headers,
        now_ms: int,
    ) -> Granted | Response:
        kind = route.get("AuthorizationType", "NONE")
        if kind == "NONE":
            return Granted()
        if kind == "AWS_IAM":
            return self._signed(found, wire_path, info.query, headers)
        stored = (found.doc.get("Authorizers") or {}).get(str(route.get("AuthorizerId")))
        if kind != "CUSTOM" or stored is None:
            return FAILED
        variables = found.doc["Stages"].get(info.stage, {}).get("StageVariables") or {}
        values = identity_values(stored.get("IdentitySource") or (), info, variables)
        if stored.get("IdentitySource") and values is None:
            return UNAUTHORIZED
        owner, api_id = found.scope, found.doc["ApiId"]
        prefix = f"arn:aws:execute-api:{owner.region}:{owner.account}:{api_id}"
        method_arn = f"{prefix}/{info.stage}/{CONNECT}"
        source = f"{prefix}/authorizers/{stored['AuthorizerId']}"
        event = authorizer_event(info, method_arn, variables, names.new_id(), now_ms)
        payload = await self.ask(found, stored["AuthorizerUri"], variables, source, event)
        if payload is None:
            return FAILED
        try:
            verdict = authorizer_core.verdict(payload, simple=False, route_arn=method_arn)
        except MalformedResult as error:
            log.info("API %s: $connect authorizer answered badly: %s", api_id, error)
            return FAILED
        if not verdict.allowed:
            return FORBIDDEN
        authorizer = {"principalId": verdict.principal_id, **verdict.context}
        return Granted(authorizer=authorizer)

    def _signed(
        self, found: Found, wire_path: str, query: str, headers: Headers
    ) -> Granted | Response:
        caller = None
        if self.verify is not None:
            caller = self.verify("GET", wire_path, query, headers, b"", found.scope.region)
        if caller is None or caller.account_id != found.scope.account:
            return FORBIDDEN
        return Granted(
            identity={
                "accountId": caller.account_id,
                "caller": caller.caller_id,
                "user": caller.user_id,
                "userArn": caller.user_arn,
                "accessKey": caller.access_key,
            }
        )
