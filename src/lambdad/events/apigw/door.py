"""The API Gateway front door on the API port (DESIGN.md §10).

A request the API port recognised as addressed to an API (``names.address``: by its
``Host`` ``<api-id>.execute-api.<region>.localhost`` or its path
``/execute-api/<api-id>/…``) comes here whole, before any SigV4 handling. The door
finds the API (``ApiStore.find``, remembered until the next control-plane write),
the route or method (``dispatch``), checks that the function's resource policy lets
``apigateway.amazonaws.com`` invoke it for the route's source ARN (remembered until a
policy, function or alias changes, ``url_cache.UrlCache``), builds the payload 2.0 or
1.0 event (``events.http``), invokes the function through ``invoke/`` as ``Invoke``
does, and answers by that format's rules. It never raises: every outcome is an answer.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from lambdad.clock import Clock
from lambdad.errors import AwsError, RequestTooLargeException, TooManyRequestsException
from lambdad.events.apigw import answers, dispatch, names
from lambdad.events.apigw.api_store import HTTP, ApiStore, Found
from lambdad.events.apigw.authorizer_core import Verdict
from lambdad.events.apigw.authorizer_run import LambdaAuthorizers
from lambdad.events.apigw.gateway_access import (
    ApiLookup,
    Permissions,
    ServicePolicies,
    as_sent,
)
from lambdad.events.apigw.jwt_core import Grant
from lambdad.events.apigw.jwt_run import IssuerKeys, JwtAuthorizers
from lambdad.events.apigw.proxy_events import proxy_event, proxy_response, version_of
from lambdad.events.function_urls import Response, SyncInvoker
from lambdad.events.http import apigw_v1, cors
from lambdad.events.http.request import HttpRequest, IamCaller, event_json, request_trace
from lambdad.events.http.response import HttpResponse
from lambdad.events.public_web import PublicWeb
from lambdad.events.url_auth import Verifier
from lambdad.events.url_cache import UrlCache
from lambdad.events.web_fetch import UrllibWeb, Web
from lambdad.invoke.sync import InvokeRequest
from lambdad.model.function_url import Cors
from lambdad.model.ids import new_uuid4

log = logging.getLogger(__name__)


def _nobody(account: str) -> bool:
    return False


class ApiGatewayDoor:
    def __init__(
        self,
        apis: ApiStore,
        invoker: SyncInvoker,
        policies: ServicePolicies,
        cache: UrlCache,
        clock: Clock,
        *,
        port: int,
        new_id: Callable[[], str] = new_uuid4,
        verify: Verifier | None = None,
        web: Web | None = None,
        trusted_account: Callable[[str], bool] | None = None,
    ) -> None:
        self.apis = apis
        self.invoker = invoker
        self.policies = policies
        self.cache = cache
        self.clock = clock
        self.port = port
        self.new_id = new_id
        self.verify = verify
        self._lookup = ApiLookup(apis)
        self._rights = Permissions(policies, cache)
        self.authorizers = LambdaAuthorizers(invoker, self._rights.permitted, clock)
        # JWT issuers are fetched through ``web`` for the accounts the operator trusts
        # with the server's position, through PublicWeb (no host, no private network)
        # for every other.
        keys = IssuerKeys(
            web or UrllibWeb(),
            clock,
            public=web or PublicWeb(),
            trusted=trusted_account or _nobody,
        )
        self.jwt = JwtAuthorizers(keys, clock)

    async def respond(
        self,
        address: names.ApiAddress,
        method: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        source_ip: str,
        wire_path: str | None = None,
    ) -> Response:
        found = self._lookup.find(address.api_id)
        rest = found is not None and found.kind != HTTP
        # REST APIs' request ids are UUIDs (with an extendedRequestId beside);
        # HTTP APIs' are the short base64 form, in the event and the answer alike.
        request_id = self.new_id()
        if not rest:
            request_id = apigw_v1.extended_request_id(request_id)
        if found is None or address.region not in (None, found.scope.region):
            answer = answers.HTTP_NOT_FOUND
        elif found.doc["Api"].get("ProtocolType") == "WEBSOCKET":
            answer = answers.HTTP_FORBIDDEN  # not an upgrade (events.websocket takes those)
        elif _endpoint_disabled(found):
            # Clients must come through a custom domain, which lambdad does not serve.
            answer = answers.REST_FORBIDDEN if rest else answers.HTTP_FORBIDDEN
        else:
            request = HttpRequest(
                method=method,
                raw_path=address.raw_path,
                raw_query=query,
                headers=tuple(as_sent(headers) if rest else headers),
                body=body,
                source_ip=source_ip,
                time=self.clock.now(),
                request_id=request_id,
                domain=names.domain(address.api_id, found.scope.region),
                port=self.port,
            )
            try:
                answer = await self._answer(found, request, wire_path or address.raw_path)
            except Exception:  # a bug must not cost the client more than AWS's 500
                log.exception("API %s request %s failed", address.api_id, request_id)
                answer = answers.REST_SERVER_ERROR if rest else answers.HTTP_SERVER_ERROR
        if answer.integration_error is not None:
            log.info(
                "API %s request %s failed: %s",
                address.api_id,
                request_id,
                answer.integration_error,
            )
        out = [(k.lower().encode(), v.encode("latin-1", "replace")) for k, v in answer.headers]
        if rest:
            out.append((b"x-amzn-requestid", request_id.encode()))
            out.append((b"x-amz-apigw-id", apigw_v1.extended_request_id(request_id).encode()))
        else:
            out.append((b"apigw-requestid", request_id.encode()))
        return answer.status, out, answer.body

    async def _answer(self, found: Found, request: HttpRequest, wire_path: str) -> HttpResponse:
        settings = found.doc["Api"].get("CorsConfiguration")
        if found.kind != HTTP or not settings:
            return await self._routed(found, request, wire_path)
        # An HTTP API with CORS settings answers preflights itself, and adds its
        # headers to every answer (the function's own Access-Control-* replaced).
        config = Cors.from_doc(settings)
        if cors.is_preflight(request):
            # The same headers as a function URL's preflight, but 204 No Content.
            return dataclasses.replace(cors.preflight(config, request), status=204)
        return cors.with_cors(config, request, await self._routed(found, request, wire_path))

    async def _routed(self, found: Found, request: HttpRequest, wire_path: str) -> HttpResponse:
        rest = found.kind != HTTP
        choose = dispatch.rest_target if rest else dispatch.http_target
        target = choose(found.doc, request.method, request.raw_path, found.routes)
        if target is None:
            return answers.REST_MISSING_TOKEN if rest else answers.HTTP_NOT_FOUND
        if len(request.body) > names.MAX_REQUEST_BODY:
            return answers.REST_TOO_LARGE if rest else answers.HTTP_TOO_LARGE
        verdict: Verdict | Grant | None = None
        caller = None
        if target.authorization_type == "AWS_IAM":
            caller = self._signer(found, request, wire_path)
            if caller is None:
                return _iam_refusal(rest, request)
        if target.authorization_type == "CUSTOM":
            outcome = await self.authorizers.authorize(
                found, request, target, lambda v: proxy_event(found, request, target, v)
            )
            if isinstance(outcome, HttpResponse):
                return outcome
            verdict = outcome
        elif target.authorization_type == "JWT" and not rest:
            granted = await self.jwt.authorize(found, request, target)
            if isinstance(granted, HttpResponse):
                return granted
            verdict = granted
        function = dispatch.function_of(target.integration_uri, target.stage_variables)
        owner = found.scope
        arn = names.source_arn(owner.region, owner.account, found.doc["ApiId"], target.stage,
                               target.arn_method, target.arn_path)  # fmt: skip
        if function is None or not self._rights.may_invoke(found, function, arn):
            log.info(
                "API %s cannot invoke %r for %s (no function, or no permission)",
                found.doc["ApiId"],
                target.integration_uri,
                target.route_key,
            )
            return answers.REST_SERVER_ERROR if rest else answers.HTTP_SERVER_ERROR
        event = proxy_event(found, request, target, version_of(found, target), verdict, caller)
        try:
            result = await self.invoker.invoke(
                InvokeRequest(
                    scope=owner,
                    function_name=function.name,
                    qualifier=function.qualifier,
                    payload=event_json(event),
                    trace_id=request_trace(request),
                    payload_is_json=True,
                )
            )
        except TooManyRequestsException:
            return answers.REST_THROTTLED if rest else answers.HTTP_THROTTLED
        except RequestTooLargeException:
            return answers.REST_TOO_LARGE if rest else answers.HTTP_TOO_LARGE
        except AwsError as error:
            log.info("API %s: invoking %s failed: %s", found.doc["ApiId"], function.name, error)
            return answers.REST_SERVER_ERROR if rest else answers.HTTP_SERVER_ERROR
        return proxy_response(found, request, target, result.payload, result.function_error)

    def _signer(self, found: Found, request: HttpRequest, wire_path: str) -> IamCaller | None:
        """Who signed an ``AWS_IAM`` route's request for ``execute-api``: a credential of
        the API's own account (identity policies are not modelled, and no resource
        policy lets another account in), else None."""
        if self.verify is None:
            return None
        caller = self.verify(request.method, wire_path, request.raw_query, request.headers,
                             request.body, found.scope.region)  # fmt: skip
        return caller if caller is not None and caller.account_id == found.scope.account else None


def _iam_refusal(rest: bool, request: HttpRequest) -> HttpResponse:
    if not rest:
        return answers.HTTP_FORBIDDEN
    signed = request.first_header("authorization") is not None
    return answers.REST_FORBIDDEN if signed else answers.REST_MISSING_TOKEN


def _endpoint_disabled(found: Found) -> bool:
    api = found.doc["Api"]
    return bool(api.get("DisableExecuteApiEndpoint") or api.get("disableExecuteApiEndpoint"))
