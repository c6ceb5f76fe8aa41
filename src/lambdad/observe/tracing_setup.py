"""Tracing's parts, built once from the settings: the trace store, the X-Ray API's
operations over it, the daemon's UDP port, and the OpenTelemetry exporter (if the
operator named a collector). The platform starts and stops them with its background
work; ``tracing_enabled = False`` leaves only the trace headers (no store is fed).
"""

from __future__ import annotations

import asyncio
import contextlib

from lambdad.config import Settings
from lambdad.observe.tracing_daemon import XRayDaemon
from lambdad.observe.tracing_otlp import OtlpExporter
from lambdad.observe.tracing_service import TracingService
from lambdad.observe.tracing_store import TraceStore


class Tracing:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.tracing_enabled
        self.interval = settings.otlp_interval
        endpoint = settings.otlp_endpoint
        self.exporter = OtlpExporter(endpoint) if endpoint and self.enabled else None
        self.store = TraceStore(
            settings.tracing_max_traces,
            on_put=self.exporter.offer if self.exporter is not None else None,
        )
        self.queries = TracingService(self.store)
        self.daemon = XRayDaemon(self.store)
        # Bound now: every environment's variables name its port.
        self.daemon_port = (
            self.daemon.bind(port=settings.xray_daemon_port) if self.enabled else None
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.daemon.start()
        if self.exporter is not None:
            self._task = asyncio.get_running_loop().create_task(self.exporter.run(self.interval))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.exporter is not None:
            await self.exporter.flush(last=True)  # what the last seconds recorded
        self.daemon.close()
