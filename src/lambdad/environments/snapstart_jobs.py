"""When SnapStart snapshots are taken and dropped: one background job per version.

The control plane asks on the ``ChangeHub`` (``requested`` hears a SnapStart version
published, ``deleted`` versions gone) from whatever thread it runs on; each request becomes a
task on the server's loop that builds or discards the version's template
(``snapstart.py``) and records the outcome as the version's state (Active, or Failed
with ``FunctionError`` or ``InternalError``). A version deleted while its snapshot is
being taken has its build cut short before its template goes; a version published
again under a deleted one's number waits for the old template to go first.
Snapshots a stop (or a crash) interrupted, or published with no server running, stay
Pending and are taken at the next ``start``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Protocol

from lambdad.environments.snapstart import SnapshotFailed, TemplateKey, TemplateRequest
from lambdad.errors import ResourceNotFoundException
from lambdad.model.changes import ChangeHub
from lambdad.model.scope import Scope
from lambdad.model.snapstart import FUNCTION_ERROR, INTERNAL_ERROR, INTERNAL_REASON

log = logging.getLogger(__name__)

# The version's template request (ResourceNotFoundException: the version is gone).
RequestFor = Callable[[Scope, str, str], TemplateRequest]
# Records a snapshot's outcome: scope, name, version, error (None: taken), reason code.
FinishSnapshot = Callable[[Scope, str, str, str | None, str], None]
# The versions whose snapshot is still to be taken.
PendingSnapshots = Callable[[], Iterable[tuple[Scope, str, str]]]


class TemplateBuilds(Protocol):
    """What the jobs need of the templates (``SnapStart``, or a test's fake)."""

    async def build(self, request: TemplateRequest) -> None: ...
    async def discard(self, key: TemplateKey) -> None: ...


class SnapStartJobs:
    def __init__(
        self,
        templates: TemplateBuilds,
        request_for: RequestFor,
        finish: FinishSnapshot,
        pending: PendingSnapshots,
        changes: ChangeHub | None = None,
    ) -> None:
        self._templates = templates
        self._request_for = request_for
        self._finish = finish
        self._pending = pending
        # The loop the jobs run on (None until start, and after stop).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._builds: dict[TemplateKey, asyncio.Task[None]] = {}
        self._discards: dict[TemplateKey, asyncio.Task[None]] = {}
        if changes is not None:
            changes.on_snapshot_requested(self.requested)
            changes.on_snapshots_deleted(self.deleted)

    def start(self) -> None:
        """On the server's loop: take the snapshots still Pending."""
        self._loop = asyncio.get_running_loop()
        for scope, name, version in self._pending():
            self._start_build(scope, name, version)

    async def stop(self) -> None:
        """Cut every job short (a snapshot cut short stays Pending)."""
        tasks = [*self._builds.values(), *self._discards.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop = None

    def requested(self, scope: Scope, name: str, version: str) -> None:
        """A SnapStart version was published. Callable from any thread; with no loop
        running, the version stays Pending until the next start."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._start_build, scope, name, version)

    def deleted(self, scope: Scope, name: str, versions: list[str]) -> None:
        """SnapStart versions were deleted. Callable from any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            for version in versions:
                loop.call_soon_threadsafe(self._start_discard, scope, name, version)

    def _start_build(self, scope: Scope, name: str, version: str) -> None:
        key = (scope.account, scope.region, name, version)
        if key in self._builds:
            return
        _track(
            self._builds,
            key,
            self._build(scope, name, version),
            f"snapshot {name}:{version}",
        )

    async def _build(self, scope: Scope, name: str, version: str) -> None:
        key = (scope.account, scope.region, name, version)
        discarding = self._discards.get(key)
        if discarding is not None:
            # A deleted version of the same number: its template goes first.
            await asyncio.gather(discarding, return_exceptions=True)
        try:
            request = self._request_for(scope, name, version)
        except ResourceNotFoundException:
            return  # deleted meanwhile
        error: str | None = None
        reason_code = FUNCTION_ERROR
        try:
            await self._templates.build(request)
        except SnapshotFailed as exc:
            error = str(exc)
        except Exception:
            log.exception("snapshot of %s:%s in %s/%s", name, version, scope.account, scope.region)
            error, reason_code = INTERNAL_REASON, INTERNAL_ERROR
        try:
            self._finish(scope, name, version, error, reason_code)
        except Exception:
            log.exception(
                "recording the snapshot of %s:%s in %s/%s",
                name,
                version,
                scope.account,
                scope.region,
            )

    def _start_discard(self, scope: Scope, name: str, version: str) -> None:
        key = (scope.account, scope.region, name, version)
        building = self._builds.pop(key, None)
        previous = self._discards.get(key)
        _track(
            self._discards,
            key,
            self._discard(key, building, previous),
            f"discard {name}:{version}",
        )

    async def _discard(
        self,
        key: TemplateKey,
        building: asyncio.Task[None] | None,
        previous: asyncio.Task[None] | None,
    ) -> None:
        # The version's build is cut short, and an earlier discard of the same key
        # finishes, before its template goes.
        if building is not None:
            building.cancel()
        waits = [t for t in (building, previous) if t is not None]
        await asyncio.gather(*waits, return_exceptions=True)
        try:
            await self._templates.discard(key)
        except Exception:
            log.exception("discarding the snapshot of %s:%s in %s/%s", key[2], key[3], *key[:2])


def _track(
    tasks: dict[TemplateKey, asyncio.Task[None]],
    key: TemplateKey,
    work: Coroutine[Any, Any, None],
    name: str,
) -> None:
    """Run ``work`` as ``tasks[key]`` until it ends (a newer task of the key stays)."""
    task = asyncio.get_running_loop().create_task(work, name=name)
    tasks[key] = task

    def done(t: asyncio.Task[None]) -> None:
        if tasks.get(key) is t:
            del tasks[key]

    task.add_done_callback(done)
