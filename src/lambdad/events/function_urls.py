"""The function URL front door on the API port (DESIGN.md §10).

A request the API port recognised as addressed to a URL (``model.function_url.address``:
its ``Host`` ``<url-id>.lambda-url.<region>.localhost`` or its path
``/lambda-url/<url-id>/…``) comes here whole, before any SigV4 handling of the API.
The door finds the URL's config, lets CORS answer a preflight, authorizes the caller
(``url_auth``), builds the payload 2.0 event (``http.url_event``), invokes the function
through ``invoke/`` as the ``Invoke`` API does (leases, alias routing, logs), and
answers by ``http.url_response``'s rules (a ``RESPONSE_STREAM`` URL: by ``url_stream``'s,
while the function runs). It never raises: every outcome is an answer.
"""

from __future__ import annotations

import logging
from typing import Final, Protocol

from lambdad.clock import Clock
from lambdad.errors import AwsError, RequestTooLargeException, TooManyRequestsException
from lambdad.events.http import cors
from lambdad.events.http.request import HttpRequest, event_json, request_trace
from lambdad.events.http.response import HttpResponse
from lambdad.events.http.url_event import function_url_event
from lambdad.events.http.url_response import JSON, url_response
from lambdad.events.url_auth import UrlAuthorizer, UrlForbidden
from lambdad.events.url_stream import stream_answer
from lambdad.invoke.response_stream import ResponseStream
from lambdad.invoke.sync import InvokeRequest, InvokeResponse
from lambdad.model import function_url as furl
from lambdad.model.ids import new_uuid4
from lambdad.model.scope import Scope

log = logging.getLogger(__name__)

Response = tuple[int, list[tuple[bytes, bytes]], bytes]

FORBIDDEN: Final = HttpResponse(403, (("Content-Type", JSON),), b'{"Message":"Forbidden"}')
NOT_FOUND: Final = HttpResponse(404, (("Content-Type", JSON),), b'{"Message":null}')
TOO_LARGE: Final = HttpResponse(
    413, (("Content-Type", JSON),), b'{"Message":"Request Entity Too Large"}'
)
THROTTLED: Final = HttpResponse(429, (("Content-Type", JSON),), b'{"Message":"Rate Exceeded."}')


class UrlConfigs(Protocol):
    def config_for(self, url_id: str) -> furl.UrlConfig | None: ...


class SyncInvoker(Protocol):
    async def invoke(
        self, req: InvokeRequest, stream: ResponseStream | None = None
    ) -> InvokeResponse: ...


class FunctionUrlDoor:
    def __init__(
        self,
        configs: UrlConfigs,
        invoker: SyncInvoker,
        authorizer: UrlAuthorizer,
        clock: Clock,
        *,
        port: int,
    ) -> None:
        self.configs = configs
        self.invoker = invoker
        self.authorizer = authorizer
        self.clock = clock
        self.port = port

    async def respond(
        self,
        address: furl.UrlAddress,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        source_ip: str,
    ) -> Response:
        """The answer to one request for a URL (``path``: the whole raw path received;
        ``source_ip``: the client's address)."""
        request_id = new_uuid4()
        answer = await self._answer(
            address, method, path, query, headers, body, request_id, source_ip
        )
        if answer.integration_error is not None:
            log.info("URL %s request %s failed: %s", address.url_id, request_id,
                     answer.integration_error)  # fmt: skip
        out = [(k.lower().encode(), v.encode("latin-1", "replace")) for k, v in answer.headers]
        out.append((b"x-amzn-requestid", request_id.encode()))
        return answer.status, out, answer.body

    async def _answer(
        self,
        address: furl.UrlAddress,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        request_id: str,
        source_ip: str,
    ) -> HttpResponse:
        config = self.configs.config_for(address.url_id)
        if config is None or address.region not in (None, config.region):
            return NOT_FOUND
        if len(body) > furl.MAX_REQUEST_BODY:
            return TOO_LARGE
        request = HttpRequest(
            method=method,
            raw_path=address.raw_path,
            raw_query=query,
            headers=tuple(headers),
            body=body,
            source_ip=source_ip,
            time=self.clock.now(),
            request_id=request_id,
            domain=furl.domain(config.url_id, config.region),
            port=self.port,
        )
        if config.cors is not None and cors.is_preflight(request):
            return cors.preflight(config.cors, request)
        try:
            caller = self.authorizer.authorize(config, method, path, query, headers, body)
        except UrlForbidden:
            return FORBIDDEN
        event = function_url_event(
            request, url_id=config.url_id, owner_account_id=config.account, iam=caller
        )
        answer = await self._invoke(config, event, request_id, request_trace(request))
        return answer if config.cors is None else cors.with_cors(config.cors, request, answer)

    async def _invoke(
        self,
        config: furl.UrlConfig,
        event: dict[str, object],
        request_id: str,
        trace_id: str | None = None,
    ) -> HttpResponse:
        req = InvokeRequest(
            scope=Scope(config.account, config.region),
            function_name=config.function_name,
            qualifier=config.qualifier,
            payload=event_json(event),
            request_id=request_id,
            trace_id=trace_id,
            payload_is_json=True,
        )
        try:
            if config.invoke_mode == furl.RESPONSE_STREAM:
                return await stream_answer(lambda stream: self.invoker.invoke(req, stream))
            result = await self.invoker.invoke(req)
        except TooManyRequestsException:
            return THROTTLED
        except RequestTooLargeException:
            return TOO_LARGE  # the event, with its headers and base64 body, is over 6 MB
        except AwsError as error:
            return url_response(b"", function_error=type(error).__name__)
        return url_response(result.payload, function_error=result.function_error)
