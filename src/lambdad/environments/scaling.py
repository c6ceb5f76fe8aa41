"""Function scaling on one host: each version with a function scaling configuration
keeps its floor of environments initialised, and stays within its cap.

The control plane publishes a version's ``VersionScaling`` (model/scaling.py) when its
configuration is put, and the composition root hands over every stored one at start-up.
The keeper tells the warm pool the version's floor and cap (the pool throttles cold
starts beyond the cap and does not reap below the floor), then reconciles: it starts
environments up to the floor (``AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances``,
idle in the warm pool before any invocation needs them, so the first one has no
``Init Duration``) and stops idle ones above the cap. It reconciles again when the
version changes (the pool retired its environments), and every
``provisioned_check_interval`` seconds, which restores environments that crashed or
were stopped. A version whose init fails is not started again until its
configuration or the function changes; a version that is gone takes its scaling along.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambdad.config import Settings
from lambdad.environments.keeper import Background, on_loop, sweep_every
from lambdad.environments.pool import EnvironmentPool, VersionKey
from lambdad.errors import ResourceNotFoundException
from lambdad.model import scaling
from lambdad.model.changes import ChangeHub
from lambdad.model.scaling import VersionScaling
from lambdad.model.scope import Scope
from lambdad.model.version import ACTIVE, RunnableVersion

log = logging.getLogger(__name__)

# The version a qualifier names now: FunctionService.resolve(scope, name, version).
Resolver = Callable[[Scope, str, str], RunnableVersion]


@dataclass(slots=True)
class _Target:
    wanted: VersionScaling
    failed: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _key(scope: Scope, name: str, version: str) -> VersionKey:
    # A published version's pool key (EnvironmentPool.key): no revision.
    return (scope.account, scope.region, name, version, "")


class ScalingKeeper:
    def __init__(
        self,
        pool: EnvironmentPool,
        resolve: Resolver,
        settings: Settings,
        changes: ChangeHub | None = None,
    ) -> None:
        self.pool = pool
        self.resolve = resolve
        self.settings = settings
        self._targets: dict[VersionKey, _Target] = {}
        self._background = Background()
        self._loop: asyncio.AbstractEventLoop | None = None
        if changes is not None:
            changes.on_scaling_change(self.configure)
            changes.on_function_change(self.function_changed)

    # -- configuration (called by the control plane, from any thread) ----------------------

    def configure(self, scope: Scope, name: str, version: str, wanted: VersionScaling) -> None:
        """Keep the version within ``wanted`` from now on; works in the background."""
        self._on_loop(self._configure, _key(scope, name, version), wanted)

    def _configure(self, key: VersionKey, wanted: VersionScaling) -> None:
        if wanted == VersionScaling():
            self._targets.pop(key, None)
            self.pool.set_scaling(key, None)
            return
        target = self._targets.get(key)
        if target is None:
            self._targets[key] = _Target(wanted)
        else:
            target.wanted = wanted
            target.failed = False  # a new configuration tries again
        self.pool.set_scaling(key, wanted)
        self._schedule(key)

    def function_changed(self, scope: Scope, name: str, version: str | None) -> None:
        """A function changed or was deleted (version None): check its versions now."""
        self._on_loop(self._function_changed, scope, name, version)

    def _function_changed(self, scope: Scope, name: str, version: str | None) -> None:
        for key, target in list(self._targets.items()):
            if key[:3] == (scope.account, scope.region, name) and version in (None, key[3]):
                target.failed = False
                self._schedule(key)

    def statistics(self) -> dict[str, int]:
        return {"versions": len(self._targets)}

    # -- keeping the versions within their scaling ------------------------------------------

    async def reconcile(self, key: VersionKey) -> None:
        target = self._targets.get(key)
        if target is None:
            return
        async with target.lock:
            if self._targets.get(key) is not target:
                return
            scope, name, version = Scope(key[0], key[1]), key[2], key[3]
            try:
                rv = self.resolve(scope, name, version)
            except ResourceNotFoundException:
                # The version or its function is gone: so is its scaling.
                del self._targets[key]
                self.pool.set_scaling(key, None)
                return
            except Exception as exc:
                log.info("scaling of %s:%s cannot resolve: %s", name, version, exc)
                return
            if rv.state != ACTIVE:
                return  # kept warm once the version is active (the next check)
            self.pool.drop_dead_idle(key)  # restored below: crashed ones count no more
            live, idle = self.pool.census(key)
            change = scaling.adjust(live, idle, target.wanted)
            if change.stop_idle:
                log.info("stopping %d environments of %s:%s", change.stop_idle, name, version)
                await self.pool.trim(key, change.stop_idle)
            if change.start <= 0 or target.failed:
                return
            log.info("starting %d environments of %s:%s", change.start, name, version)
            started = await asyncio.gather(
                *(self.pool.prewarm(rv) for _ in range(change.start)), return_exceptions=True
            )
            for outcome in started:
                if outcome is not True:
                    log.warning("an environment of %s:%s failed: %s", name, version, outcome)
                    target.failed = True

    async def run(self) -> None:
        """Reconcile every version periodically (restores crashed environments)."""
        self._loop = asyncio.get_running_loop()
        for key in list(self._targets):
            self._schedule(key)
        await sweep_every(
            self.settings.provisioned_check_interval,
            self._targets.keys,
            self.reconcile,
            lambda key: f"function scaling check of {key[2]}",
        )

    async def shutdown(self) -> None:
        await self._background.cancel()
        self._targets.clear()

    # -- the loop -----------------------------------------------------------------------------

    def _on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn`` on the keeper's loop (now, when called on it or before serving)."""
        on_loop(self._loop, fn, *args)

    def _schedule(self, key: VersionKey) -> None:
        if self._loop is None:
            return  # not serving yet: run() reconciles every version first
        self._background.spawn(self.reconcile(key))
