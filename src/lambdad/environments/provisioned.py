"""Provisioned concurrency: environments initialised ahead of time and kept ready.

For each configured target (a published version or an alias of a function) the
manager keeps the requested number of environments started with
``AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency``, initialised before
any invocation needs them. An invocation that holds a provisioned lease for that
target takes one of them (no cold start, so no ``Init Duration``); if none is idle
it falls back to the warm pool. An environment that dies, times out or is
retired is replaced; an alias that moves to another version takes its
provisioned environments along (the old ones stop, new ones start).

The status the API reports: ``IN_PROGRESS`` while fewer than requested are ready,
``READY`` once all are, ``FAILED`` (``FUNCTION_ERROR_INIT_FAILURE``) when the
function's init fails; a new configuration starts over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace

from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.environments.environment import Environment
from lambdad.environments.keeper import Background, on_loop, running_loop, sweep_every
from lambdad.environments.pool import Checkout, EnvironmentPool, VersionKey
from lambdad.errors import ResourceNotFoundException
from lambdad.model.changes import ChangeHub
from lambdad.model.provisioned import FAILED, IN_PROGRESS, READY, ProvisionedState
from lambdad.model.scope import Scope
from lambdad.model.version import RunnableVersion

log = logging.getLogger(__name__)

INITIALIZATION_TYPE = "provisioned-concurrency"
INIT_FAILURE = "FUNCTION_ERROR_INIT_FAILURE"


@dataclass(frozen=True, slots=True)
class Target:
    account: str
    region: str
    name: str
    qualifier: str

    @property
    def scope(self) -> Scope:
        return Scope(self.account, self.region)


# The version a target runs now: FunctionService.resolve(scope, name, qualifier).
Resolver = Callable[[Scope, str, str], RunnableVersion]


@dataclass(slots=True)
class _Slot:
    desired: int
    key: VersionKey | None = None
    envs: list[Environment] = field(default_factory=list)  # ready: idle or busy
    idle: list[Environment] = field(default_factory=list)
    failed: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _healthy(env: Environment) -> bool:
    return env.alive and not env.retired and not env.init_error and not env.expired


class ProvisionedManager:
    def __init__(
        self,
        pool: EnvironmentPool,
        resolve: Resolver,
        settings: Settings,
        changes: ChangeHub | None = None,
        *,
        clock: Clock,
    ) -> None:
        self.pool = pool
        self.clock = clock
        self.resolve = resolve
        self.settings = settings
        self._slots: dict[Target, _Slot] = {}
        self._background = Background()
        self._loop: asyncio.AbstractEventLoop | None = None
        if changes is not None:
            # Configurations come from the control plane; a changed or deleted function
            # has its targets checked.
            changes.on_provisioned_change(self.configure)
            changes.on_function_change(self.function_changed)

    # -- configuration (called by the control plane) ----------------------------------------

    def configure(self, scope: Scope, name: str, qualifier: str, count: int | None) -> None:
        """Keep ``count`` environments for the target (None: none); works in the background."""
        target = Target(scope.account, scope.region, name, qualifier)
        slot = self._slots.get(target)
        if count is None:
            if slot is not None:
                slot.desired = 0
        elif slot is None:
            self._slots[target] = _Slot(count)
        else:
            slot.desired = count
            slot.failed = None  # a new configuration tries again
        self._schedule(target)

    def function_changed(self, scope: Scope, name: str, version: str | None) -> None:
        """A function changed or was deleted (version None): check its targets now."""
        for target in list(self._slots):
            if (target.account, target.region, target.name) == (scope.account, scope.region, name):
                if version is None:
                    self._slots[target].desired = 0
                self._schedule(target)

    def state(self, scope: Scope, name: str, qualifier: str) -> ProvisionedState:
        slot = self._slots.get(Target(scope.account, scope.region, name, qualifier))
        if slot is None:
            return ProvisionedState()
        allocated = sum(1 for env in slot.envs if _healthy(env))
        if slot.failed is not None:
            return ProvisionedState(allocated, FAILED, slot.failed)
        if allocated >= slot.desired:
            return ProvisionedState(allocated, READY)
        return ProvisionedState(allocated, IN_PROGRESS)

    def statistics(self) -> dict[str, int]:
        return {
            "targets": len(self._slots),
            "environments": sum(len(s.envs) for s in self._slots.values()),
            "idle": sum(len(s.idle) for s in self._slots.values()),
        }

    # -- invocations ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def checkout(self, rv: RunnableVersion) -> AsyncIterator[Checkout]:
        """A provisioned environment of the target ``rv`` was invoked through, else the
        warm pool's (a provisioned lease whose environments are all busy or starting)."""
        env, slot = self._take(rv)
        if env is None or slot is None:
            async with self.pool.checkout(rv) as checkout:
                yield checkout
            return
        try:
            yield Checkout(env, cold=False)
        finally:
            await self._give_back(rv, slot, env)

    def _take(self, rv: RunnableVersion) -> tuple[Environment | None, _Slot | None]:
        if rv.invoked_as is None:
            return None, None
        target = Target(rv.scope.account, rv.scope.region, rv.name, rv.invoked_as)
        slot = self._slots.get(target)
        if slot is None or slot.key != self.pool.key(rv):
            return None, None
        while slot.idle:
            env = slot.idle.pop()
            if _healthy(env):
                return env, slot
            self._drop(target, slot, env)
        return None, None

    async def _give_back(self, rv: RunnableVersion, slot: _Slot, env: Environment) -> None:
        finishing = env.finishing
        if finishing is not None and not finishing.done():
            # Its extensions are still at work: it comes back once they are done.
            self._background.spawn(self._give_back_after(finishing, rv, slot, env))
            return
        assert rv.invoked_as is not None
        target = Target(rv.scope.account, rv.scope.region, rv.name, rv.invoked_as)
        current = self._slots.get(target)
        if current is slot and env in slot.envs and _healthy(env) and slot.key == self.pool.key(rv):
            env.last_used = self.clock.monotonic()
            slot.idle.append(env)
            return
        # Dead, timed out, retired or no longer wanted: stop it; reconcile replaces it.
        if env in slot.envs:
            slot.envs.remove(env)
        await self.pool.stop_environment(env)
        if current is not None:
            self._schedule(target)

    async def _give_back_after(
        self, finishing: asyncio.Task[None], rv: RunnableVersion, slot: _Slot, env: Environment
    ) -> None:
        await asyncio.gather(finishing, return_exceptions=True)
        await self._give_back(rv, slot, env)

    # -- keeping the count ------------------------------------------------------------------

    def _drop(self, target: Target, slot: _Slot, env: Environment) -> None:
        if env in slot.envs:
            slot.envs.remove(env)
        if env in slot.idle:
            slot.idle.remove(env)
        self._background.spawn(self.pool.stop_environment(env))
        self._schedule(target)

    def _schedule(self, target: Target) -> None:
        """Reconcile ``target`` soon, on the manager's loop (callable from any thread:
        function updates run in worker threads)."""
        loop = self._loop or running_loop()
        if loop is None:
            return  # not serving yet: the first sweep does it
        on_loop(loop, lambda: self._background.spawn(self.reconcile(target)))

    async def reconcile(self, target: Target) -> None:
        """Bring the target's environments to the configured number, of its current version."""
        slot = self._slots.get(target)
        if slot is None:
            return
        async with slot.lock:
            if self._slots.get(target) is not slot:
                return
            if slot.desired <= 0:
                del self._slots[target]
                await self._stop_all(slot.envs)
                return
            try:
                rv = self.resolve(target.scope, target.name, target.qualifier)
            except ResourceNotFoundException:
                # The function, version or alias is gone: so are its environments.
                del self._slots[target]
                await self._stop_all(slot.envs)
                return
            except Exception as exc:
                log.info("provisioned %s:%s cannot resolve: %s", target.name, target.qualifier, exc)
                return
            rv = replace(rv, invoked_as=target.qualifier)
            key = self.pool.key(rv)
            stale = [e for e in slot.envs if slot.key != key or not _healthy(e)]
            for env in stale:
                slot.envs.remove(env)
                if env in slot.idle:
                    slot.idle.remove(env)
                    await self.pool.stop_environment(env)
                else:
                    env.retired = True  # busy: stopped when its invocation returns
            if slot.key != key:
                slot.failed = None
            slot.key = key
            while len(slot.envs) > slot.desired and slot.idle:
                env = slot.idle.pop()
                slot.envs.remove(env)
                await self.pool.stop_environment(env)
            missing = slot.desired - len(slot.envs)
            if missing <= 0 or slot.failed is not None:
                return
            log.info(
                "provisioning %d environments for %s:%s", missing, target.name, target.qualifier
            )
            started = await asyncio.gather(
                *(self.pool.start_environment(rv, INITIALIZATION_TYPE) for _ in range(missing)),
                return_exceptions=True,
            )
            for outcome in started:
                if isinstance(outcome, BaseException):
                    log.warning("provisioned environment for %s failed: %s", target.name, outcome)
                    slot.failed = INIT_FAILURE
                    continue
                if outcome.init_error or not outcome.alive:
                    slot.failed = INIT_FAILURE
                    await self.pool.stop_environment(outcome)
                    continue
                if self._slots.get(target) is not slot or slot.key != key:
                    await self.pool.stop_environment(outcome)
                    continue
                slot.envs.append(outcome)
                slot.idle.append(outcome)

    async def _stop_all(self, envs: list[Environment]) -> None:
        for env in list(envs):
            if env.state.name == "BUSY":
                env.retired = True
            else:
                await self.pool.stop_environment(env)

    async def run(self) -> None:
        """Replace provisioned environments that died, periodically."""
        self._loop = asyncio.get_running_loop()
        await sweep_every(
            self.settings.provisioned_check_interval,
            self._slots.keys,
            self.reconcile,
            lambda target: f"provisioned concurrency check of {target.name}",
        )

    async def shutdown(self) -> None:
        await self._background.cancel()
        self._slots.clear()
