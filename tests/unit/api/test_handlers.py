"""The route table and the invoke handler, with fakes for the services they call."""

from __future__ import annotations

import asyncio

import botocore.loaders

from lambdad.api.context import RequestContext
from lambdad.api.handlers.invoke import ASYNC_INVOKE_LIMIT, InvokeHandlers
from lambdad.api.routes import OPERATIONS
from lambdad.api.sigv4 import Principal
from lambdad.invoke.sync import InvokeRequest, InvokeResponse
from lambdad.model.credential import Credential

CTX = RequestContext(
    Principal(Credential("AKID", "secret", "123456789012"), "us-east-1", "lambda"),
    "req-1",
    "http://127.0.0.1:9000",
    {},
)


class FakeInvoker:
    def __init__(self) -> None:
        self.requests: list[InvokeRequest] = []

    async def invoke(self, req: InvokeRequest) -> InvokeResponse:
        self.requests.append(req)
        return InvokeResponse(200, b'"ok"', "$LATEST")


class FakeQueue:
    def __init__(self) -> None:
        self.accepted: list[tuple[InvokeRequest, int, str]] = []

    async def accept(self, req: InvokeRequest, *, limit: int, operation: str) -> str:
        self.accepted.append((req, limit, operation))
        return req.request_id


def test_every_routed_operation_is_one_of_the_lambda_model() -> None:
    model = botocore.loaders.Loader().load_service_model("lambda", "service-2")
    assert OPERATIONS.issubset(model["operations"])


def test_event_invocations_are_queued_with_the_async_payload_limit() -> None:
    invoker, queue = FakeInvoker(), FakeQueue()
    handlers = InvokeHandlers(invoker, queue, max_async_payload=1234)
    params = {"FunctionName": "f", "InvocationType": "Event", "Payload": b"{}"}
    out = asyncio.run(handlers.invoke(CTX, params))
    assert out == {"StatusCode": 202}
    assert invoker.requests == []
    [(req, limit, operation)] = queue.accepted
    assert (req.function_name, req.request_id, limit, operation) == ("f", "req-1", 1234, "Invoke")


def test_request_response_invocations_answer_with_the_result() -> None:
    invoker, queue = FakeInvoker(), FakeQueue()
    handlers = InvokeHandlers(invoker, queue, max_async_payload=1234)
    out = asyncio.run(handlers.invoke(CTX, {"FunctionName": "f", "Qualifier": "1"}))
    assert out["StatusCode"] == 200
    assert out["Payload"] == b'"ok"'
    assert out["ExecutedVersion"] == "$LATEST"
    assert invoker.requests[0].qualifier == "1"
    assert queue.accepted == []


def test_invoke_async_keeps_its_old_256_kb_limit() -> None:
    queue = FakeQueue()
    handlers = InvokeHandlers(FakeInvoker(), queue, max_async_payload=1234)
    out = asyncio.run(handlers.invoke_async(CTX, {"FunctionName": "f", "InvokeArgs": b"{}"}))
    assert out == {"Status": 202}
    assert queue.accepted[0][1:] == (ASYNC_INVOKE_LIMIT, "InvokeAsync")
