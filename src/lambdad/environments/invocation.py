"""One invocation as an environment receives it, and what it answers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from lambdad.environments.stream_sink import ResponseSink


@dataclass(slots=True)
class Invocation:
    request_id: str
    payload: bytes
    function_arn: str
    deadline_ms: int
    client_context: str | None = None
    cognito_identity: str | None = None
    trace_id: str = ""
    result: asyncio.Future[InvocationResult] | None = None
    # Where a response the runtime streams goes as it arrives (None: it is gathered
    # whole and answered as a buffered one, as ``Invoke`` answers a streaming function).
    stream: ResponseSink | None = None

    def runtime_headers(self) -> list[tuple[str, str]]:
        h = [
            ("Lambda-Runtime-Aws-Request-Id", self.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(self.deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", self.function_arn),
            ("Lambda-Runtime-Trace-Id", self.trace_id),
        ]
        if self.client_context is not None:
            h.append(("Lambda-Runtime-Client-Context", self.client_context))
        if self.cognito_identity is not None:
            h.append(("Lambda-Runtime-Cognito-Identity", self.cognito_identity))
        return h


@dataclass(frozen=True, slots=True)
class InvocationResult:
    payload: bytes
    function_error: str | None = None  # "Unhandled" when the function failed
    error_type: str | None = None
    log_tail: bytes = b""
    duration_ms: float = 0.0
    init_duration_ms: float | None = None
    max_memory_mb: int = 0
    # The environment cannot be reused (timeout, crash, init failure).
    fatal: bool = False
