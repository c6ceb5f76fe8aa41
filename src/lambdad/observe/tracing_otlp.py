"""Segments as OpenTelemetry spans, sent over OTLP/HTTP (protobuf) to the operator's
collector (``LAMBDAD_OTLP_ENDPOINT``, e.g. ``http://127.0.0.1:4318/v1/traces``).

``spans`` maps X-Ray documents to spans (pure): the trace id is the root's 32 hex digits
without the version and dashes (what X-Ray's OpenTelemetry support does), each segment
and subsegment a span with its parent's id, ``fault``/``error`` an error status, the
segment's origin and ``aws`` fields as attributes; one resource per (account, region,
service). The exporter only queues on the invoke path (``offer``); ``run`` sends a batch
every ``interval`` seconds from a thread, and the queue drops the oldest spans past
``max_queued`` rather than grow while a collector is down.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.request
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from lambdad.model.scope import Scope

log = logging.getLogger(__name__)

Doc = dict[str, Any]
_SERVER_ORIGINS = frozenset({"AWS::Lambda"})


def _kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _span(doc: Doc, trace_id: bytes, parent: str | None, origin: str) -> Span:
    start = float(doc["start_time"])
    end = float(doc.get("end_time") or start)
    aws = doc.get("aws") or {}
    attributes = [_kv("aws.xray.origin", origin)] if origin else []
    for key, name in (
        ("request_id", "faas.invocation_id"),
        ("function_arn", "cloud.resource_id"),
        ("cold_start", "faas.coldstart"),
    ):
        if key in aws:
            attributes.append(_kv(name, aws[key]))
    attributes.extend(
        _kv(f"xray.annotation.{k}", v) for k, v in (doc.get("annotations") or {}).items()
    )
    failed = bool(doc.get("fault") or doc.get("error"))
    return Span(
        trace_id=trace_id,
        span_id=bytes.fromhex(doc["id"]),
        parent_span_id=bytes.fromhex(parent) if parent else b"",
        name=str(doc.get("name") or "subsegment"),
        kind=Span.SPAN_KIND_SERVER if origin in _SERVER_ORIGINS else Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=int(start * 1e9),
        end_time_unix_nano=int(end * 1e9),
        attributes=attributes,
        status=Status(code=Status.STATUS_CODE_ERROR if failed else Status.STATUS_CODE_OK),
    )


def _walk(doc: Doc, trace_id: bytes, parent: str | None, origin: str) -> Iterator[Span]:
    yield _span(doc, trace_id, parent, origin)
    for sub in doc.get("subsegments") or ():
        if isinstance(sub, dict) and isinstance(sub.get("id"), str):
            yield from _walk(sub, trace_id, doc["id"], "")


def _services(docs: list[Doc], into: dict[str, str]) -> None:
    """Segment and subsegment ids -> the service (segment name) they belong to."""

    def walk(doc: Doc, service: str) -> None:
        into[str(doc.get("id"))] = service
        for sub in doc.get("subsegments") or ():
            if isinstance(sub, dict):
                walk(sub, service)

    for doc in docs:
        if doc.get("type") != "subsegment":
            walk(doc, str(doc.get("name") or "unknown"))


def spans(docs: list[Doc], services: dict[str, str] | None = None) -> Iterator[tuple[str, Span]]:
    """(service name, span) for each segment and subsegment of ``docs``; a subsegment
    sent on its own belongs to its parent's service (``services``: by id)."""
    services = services if services is not None else {}
    _services(docs, services)
    for doc in docs:
        trace_id = bytes.fromhex(doc["trace_id"][2:].replace("-", ""))
        parent = doc.get("parent_id")
        parent_id = parent if isinstance(parent, str) else None
        if doc.get("type") == "subsegment":
            service = services.get(str(parent_id), "unknown")
        else:
            service = str(doc.get("name") or "unknown")
        for span in _walk(doc, trace_id, parent_id, str(doc.get("origin") or "")):
            yield service, span


def request(batch: list[tuple[Scope, list[Doc]]]) -> ExportTraceServiceRequest:
    """One export of a batch, spans grouped by (account, region, service). Loose
    subsegments find their service among the batch's segments (the function's segment
    is recorded after the subsegments its code sent)."""
    services: dict[str, str] = {}
    for _, docs in batch:
        _services(docs, services)
    grouped: dict[tuple[Scope, str], list[Span]] = {}
    for scope, docs in batch:
        for service, span in spans(docs, services):
            grouped.setdefault((scope, service), []).append(span)
    out = ExportTraceServiceRequest()
    for (scope, service), group in grouped.items():
        resource = Resource(
            attributes=[
                _kv("service.name", service),
                _kv("cloud.provider", "aws"),
                _kv("cloud.account.id", scope.account),
                _kv("cloud.region", scope.region),
            ]
        )
        out.resource_spans.append(
            ResourceSpans(
                resource=resource,
                scope_spans=[ScopeSpans(scope=InstrumentationScope(name="lambdad"), spans=group)],
            )
        )
    return out


def split_orphans(
    batch: list[tuple[Scope, list[Doc]]], beside: Sequence[tuple[Scope, list[Doc]]] = ()
) -> tuple[list[tuple[Scope, list[Doc]]], list[tuple[Scope, list[Doc]]]]:
    """(what of ``batch`` to send now, its loose subsegments whose parent is neither in
    it nor ``beside`` it)."""
    services: dict[str, str] = {}
    for _, docs in (*batch, *beside):
        _services(docs, services)
    ready: list[tuple[Scope, list[Doc]]] = []
    held: list[tuple[Scope, list[Doc]]] = []
    for scope, docs in batch:
        orphans = [
            d for d in docs if d.get("type") == "subsegment" and d.get("parent_id") not in services
        ]
        if orphans:
            held.append((scope, orphans))
        kept = [d for d in docs if not any(d is o for o in orphans)]
        if kept:
            ready.append((scope, kept))
    return ready, held


class OtlpExporter:
    def __init__(self, endpoint: str, max_queued: int = 10_000, timeout: float = 5.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._queue: deque[tuple[Scope, list[Doc]]] = deque(maxlen=max_queued)
        # Subsegments whose segment had not come yet: held for one more batch.
        self._held: list[tuple[Scope, list[Doc]]] = []

    def offer(self, scope: Scope, docs: list[Doc]) -> None:
        self._queue.append((scope, docs))

    async def run(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush()
            except Exception:  # the next batch is sent all the same
                log.exception("OTLP export to %s failed", self.endpoint)

    async def flush(self, *, last: bool = False) -> None:
        previous, self._held = self._held, []
        fresh: list[tuple[Scope, list[Doc]]] = []
        while self._queue:
            fresh.append(self._queue.popleft())
        if not last:
            # Held once only: what was held last time goes now, found its segment or not.
            fresh, self._held = split_orphans(fresh, previous)
        batch = fresh + previous
        if not batch:
            return
        body = request(batch).SerializeToString()
        try:
            await asyncio.to_thread(self._post, body)
        except OSError as exc:
            log.warning(
                "OTLP export to %s failed (%d segment batches dropped): %s",
                self.endpoint,
                len(batch),
                exc,
            )

    def _post(self, body: bytes) -> None:
        req = urllib.request.Request(
            self.endpoint,
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-protobuf"},
        )
        with urllib.request.urlopen(req, timeout=self.timeout) as answer:
            answer.read()
