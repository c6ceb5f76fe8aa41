"""The mapping supervisor: one poller task per Enabled mapping whose function exists.

It follows the control plane through the ``ChangeHub``: a mapping created, updated,
disabled or deleted, or its function deleted, makes it reconcile that mapping: stop its
poller (cancel and wait), settle the transitional state (``Creating`` → ``Enabled``,
``Disabling`` → ``Disabled``, ``Deleting`` → gone, with its checkpoints), and start a
new poller if the mapping should run. Reconciliations of one mapping run one after the
other. Listeners are called on control-plane threads, so they only hand the work to the
event loop. A mapping whose function is missing looks for it again every few seconds
(creating a function publishes no change).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

from lambdad.control.event_source_mappings import EventSourceMappingService
from lambdad.errors import ResourceNotFoundException
from lambdad.events.mappings import checkpoints
from lambdad.events.mappings.contract import PollerContext, PollerFactory
from lambdad.events.mappings.registry import FACTORIES
from lambdad.model.changes import ChangeHub
from lambdad.model.event_source_mapping import ENABLED, EventSourceMapping
from lambdad.model.scope import Scope
from lambdad.store.base import MetadataStore

log = logging.getLogger(__name__)

FUNCTION_GONE: Final = "PROBLEM: Function not found"
# Seconds before a poller that raised (against the contract) is started again.
RESTART_DELAY: Final = 5.0
# How often mappings whose function is missing look for it again (CreateFunction
# publishes no change).
RECHECK_INTERVAL: Final = 5.0

Key = tuple[str, str, str]  # account, region, uuid
ContextFactory = Callable[[EventSourceMapping], PollerContext]
FunctionExists = Callable[[Scope, str], bool]


class MappingSupervisor:
    def __init__(
        self,
        mappings: EventSourceMappingService,
        store: MetadataStore,
        changes: ChangeHub,
        contexts: ContextFactory,
        function_exists: FunctionExists,
        factories: dict[str, PollerFactory] | None = None,
    ) -> None:
        self.mappings = mappings
        self.store = store
        self.contexts = contexts
        self.function_exists = function_exists
        self.factories = FACTORIES if factories is None else factories
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pollers: dict[Key, asyncio.Task[None]] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        # mapping -> (the function it targets, whether that function existed when last seen)
        self._known: dict[Key, tuple[str, bool]] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self._recheck: asyncio.Task[None] | None = None
        changes.on_mapping_change(self._mapping_changed)
        changes.on_function_change(self._function_changed)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for mapping in self.mappings.all():
            self._schedule(mapping.scope, mapping.uuid)
        self._recheck = asyncio.create_task(self._recheck_loop(), name="esm-recheck")

    def recheck(self) -> None:
        """Reconcile the mappings whose missing function exists again."""
        for (account, region, uuid), (function, existed) in list(self._known.items()):
            scope = Scope(account, region)
            if not existed and self.function_exists(scope, function):
                self._schedule(scope, uuid)

    async def _recheck_loop(self) -> None:
        while True:
            await asyncio.sleep(RECHECK_INTERVAL)
            try:
                self.recheck()
            except Exception:
                log.exception("looking for mappings' functions failed")

    async def stop(self) -> None:
        self._loop = None
        if self._recheck is not None:
            self._recheck.cancel()
        for task in list(self._pending):
            task.cancel()
        pollers = list(self._pollers.values())
        for task in pollers:
            task.cancel()
        await asyncio.gather(*self._pending, *pollers, return_exceptions=True)
        self._pollers.clear()

    def running(self) -> list[str]:
        """The UUIDs of the mappings being polled."""
        return [key[2] for key, task in self._pollers.items() if not task.done()]

    async def reconcile(self, scope: Scope, uuid: str) -> None:
        key = (scope.account, scope.region, uuid)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            await self._stop_poller(key)
            mapping = self.mappings.settle(scope, uuid)
            if mapping is None:
                self._known.pop(key, None)
                self._locks.pop(key, None)
                checkpoints.drop_all(self.store, scope, uuid)
                return
            function = mapping.function_arn.split(":")[6]
            exists = self.function_exists(scope, function)
            self._known[key] = (function, exists)
            if mapping.state != ENABLED:
                return
            if not exists:
                self.mappings.report(scope, uuid, FUNCTION_GONE)
                log.warning("mapping %s: function %s not found, not polling", uuid, function)
                return
            factory = self.factories.get(mapping.kind)
            if factory is None:
                log.warning("mapping %s: no poller for %s sources yet", uuid, mapping.kind)
                return
            self._pollers[key] = asyncio.create_task(
                self._run(factory, mapping), name=f"esm-{uuid}"
            )

    async def _run(self, factory: PollerFactory, mapping: EventSourceMapping) -> None:
        while True:
            try:
                await factory(mapping, self.contexts(mapping)).run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("mapping %s: its poller failed; restarting it", mapping.uuid)
                await asyncio.sleep(RESTART_DELAY)

    async def _stop_poller(self, key: Key) -> None:
        task = self._pollers.pop(key, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- listeners (control-plane threads) -----------------------------------------------

    def _mapping_changed(self, scope: Scope, uuid: str) -> None:
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._schedule, scope, uuid)

    def _function_changed(self, scope: Scope, name: str, version: str | None) -> None:
        loop = self._loop
        if loop is None or version is not None:
            return
        exists: bool | None = None
        for (account, region, uuid), (function, existed) in list(self._known.items()):
            if (account, region) != (scope.account, scope.region) or function != name:
                continue
            if exists is None:
                exists = self.function_exists(scope, name)
            # Deleted or created again; other changes (tags) leave its pollers be.
            if exists != existed:
                loop.call_soon_threadsafe(self._schedule, scope, uuid)

    def _schedule(self, scope: Scope, uuid: str) -> None:
        if self._loop is None:
            return
        task = asyncio.ensure_future(self.reconcile(scope, uuid))
        self._pending.add(task)
        task.add_done_callback(self._reconciled)

    def _reconciled(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("reconciling a mapping failed", exc_info=task.exception())


def function_exists(lookup: Callable[[Scope, str], object]) -> FunctionExists:
    """``function_exists`` over a look-up that raises ResourceNotFoundException."""

    def exists(scope: Scope, name: str) -> bool:
        try:
            lookup(scope, name)
        except ResourceNotFoundException:
            return False
        return True

    return exists
