"""The warm pool: idle environments per function version, ready for reuse.

``checkout`` hands out an idle environment of exactly that version (the most
recently used, so the warmest), or starts a new one (a cold start); ``release``
takes it back. Environments idle longer than the idle timeout are reaped; when a
version changes or is deleted its environments are retired: the idle ones stop
now, the busy ones when they are released (the pool hears of changes on the
``ChangeHub`` it is given). Everything it reads of a version is a field of the typed
``RunnableVersion`` (model/version.py); what a new environment is made of (code,
credentials, network mode, spec) is put together by ``maker.py``.

A version with a function scaling configuration (``set_scaling``; model/scaling.py,
kept by environments/scaling.py) has a cap: an invocation that finds none of its
environments idle when it already has ``cap`` is throttled (``TooManyRequestsException``,
which the async queue requeues) instead of starting one; and a floor: the reaper leaves
that many of its idle environments. ``census``/``prewarm``/``trim`` are what its keeper
counts, starts and stops them with.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.environments.environment import Environment, State
from lambdad.environments.maker import EnvironmentMaker
from lambdad.environments.snapstart import (
    INITIALIZATION_TYPE,
    PrepareSandbox,
    SnapshotFailed,
    SnapStart,
    TemplateRequest,
)
from lambdad.errors import (
    SandboxError,
    SnapStartException,
    SnapStartTimeoutException,
    TooManyRequestsException,
)
from lambdad.model import scaling
from lambdad.model.changes import ChangeHub
from lambdad.model.scope import Scope
from lambdad.model.version import RunnableVersion
from lambdad.sandbox.base import Sandbox, SandboxSpec

log = logging.getLogger(__name__)

VersionKey = tuple[str, str, str, str, str]  # account, region, name, version, revision


class ScaleGate(Protocol):
    """Asked before a cold start (``invoke/leases.ScaleUp``)."""

    def allow_new_environment(self, scope: Scope, name: str) -> None:
        """Return, or raise (TooManyRequestsException) past the function's scale-up rate."""


@dataclass(frozen=True, slots=True)
class Checkout:
    env: Environment
    cold: bool


class _Checkout:
    """``EnvironmentPool.checkout``'s context: a class, not a generator, as it runs on
    every invoke."""

    __slots__ = ("_env", "_key", "_pool", "_rv")

    def __init__(self, pool: EnvironmentPool, rv: RunnableVersion) -> None:
        self._pool = pool
        self._rv = rv
        self._key = pool.key(rv)
        self._env: Environment | None = None

    async def __aenter__(self) -> Checkout:
        checkout = await self._pool._take(self._rv, self._key)
        self._env = checkout.env
        return checkout

    async def __aexit__(self, *exc_info: object) -> None:
        if self._env is not None:
            await self._pool._release(self._env, self._key)


class EnvironmentPool:
    def __init__(
        self,
        settings: Settings,
        maker: EnvironmentMaker,
        scale_gate: ScaleGate | None = None,
        snapstart: SnapStart | None = None,
        changes: ChangeHub | None = None,
        *,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.scale_gate = scale_gate
        # What each new environment is made of (environments/maker.py).
        self.maker = maker
        self._idle: dict[VersionKey, list[Environment]] = {}
        self._all: dict[str, Environment] = {}
        self._keys: dict[str, VersionKey] = {}
        # Versions with a function scaling configuration: their floor and cap.
        self._scaling: dict[VersionKey, scaling.VersionScaling] = {}
        # Environments being made, not yet in ``_all``, per version.
        self._starting: dict[VersionKey, int] = {}
        self._reaper: asyncio.Task[None] | None = None
        # The loop the environments live on (set by the first start): retire() may be
        # called from a control-plane worker thread and hands its work to this loop.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: set[asyncio.Task[None]] = set()
        # SnapStart's templates, which SnapStart versions' environments are restored from.
        self.snapstart = snapstart
        if changes is not None:
            changes.on_function_change(self.retire)

    @staticmethod
    def key(rv: RunnableVersion) -> VersionKey:
        # A published version never changes (a policy change renews its RevisionId, not
        # its code): only $LATEST's environments are told apart by revision.
        revision = rv.revision_id if rv.version == "$LATEST" else ""
        return (rv.scope.account, rv.scope.region, rv.name, rv.version, revision)

    def statistics(self) -> dict[str, int]:
        idle = sum(len(v) for v in self._idle.values())
        return {"environments": len(self._all), "idle": idle, "busy": len(self._all) - idle}

    def checkout(self, rv: RunnableVersion) -> _Checkout:
        """``async with pool.checkout(rv) as checkout:`` an environment of ``rv`` (warm,
        else started: a cold start), given back when the block ends."""
        return _Checkout(self, rv)

    async def _take(self, rv: RunnableVersion, key: VersionKey) -> Checkout:
        idle = self._idle.get(key)
        while idle:
            env = idle.pop()
            if env.alive and not env.expired:
                return Checkout(env, False)
            # Its runtime died while idle (killed, crashed in a thread, its template
            # gone), or its role session is about to expire: torn down in the
            # background, never handed out.
            self._forget(env)
            self._stop_later(env)
        init_type = "on-demand"
        wanted = self._scaling.get(key)
        if wanted is not None:
            if not scaling.may_start(self.census(key)[0], wanted):
                log.info("%s:%s throttled at %s environments", rv.name, rv.version, wanted.cap)
                raise TooManyRequestsException(
                    scaling.THROTTLE_MESSAGE,
                    reason=scaling.THROTTLE_REASON,
                    retry_after=self.settings.throttle_retry_after,
                )
            init_type = scaling.MANAGED_INITIALIZATION_TYPE
        if self.scale_gate is not None:
            self.scale_gate.allow_new_environment(rv.scope, rv.name)
        return Checkout(await self._start(rv, key, init_type), True)

    # -- function scaling (environments/scaling.py) ------------------------------------------

    def set_scaling(self, key: VersionKey, wanted: scaling.VersionScaling | None) -> None:
        """The version's floor and cap from now on (None: it has none)."""
        if wanted is None:
            self._scaling.pop(key, None)
        else:
            self._scaling[key] = wanted

    def census(self, key: VersionKey) -> tuple[int, int]:
        """(live, idle): the version's environments starting, idle or busy (not retired,
        not dead), and how many of them are idle and alive. A count only: dead idle
        ones stay where they are (``drop_dead_idle``, or the next checkout, drops them)."""
        live = self._starting.get(key, 0)
        for env_id, held in self._keys.items():
            if held != key:
                continue
            env = self._all[env_id]
            starting = env.state in (State.STARTING, State.INITIALIZING)
            if not env.retired and (starting or env.alive):
                live += 1
        return live, sum(1 for env in self._idle.get(key, ()) if env.alive)

    def drop_dead_idle(self, key: VersionKey) -> None:
        """Forget the version's idle environments whose runtime died, and stop them."""
        for env in [e for e in self._idle.get(key, ()) if not e.alive]:
            self._forget(env)
            self._stop_later(env)

    async def prewarm(self, rv: RunnableVersion) -> bool:
        """Start an environment of ``rv`` and leave it idle in the pool, unless cold
        starts brought the version to its cap meanwhile (False: its init failed, and it
        was stopped)."""
        key = self.key(rv)
        wanted = self._scaling.get(key)
        if wanted is not None and not scaling.may_start(self.census(key)[0], wanted):
            return True  # at the cap: the floor, below it, is met
        env = await self._start(rv, key, scaling.MANAGED_INITIALIZATION_TYPE)
        if env.init_error or not env.alive:
            self._forget(env)
            await env.stop()
            return False
        await self._release(env, key)
        return True

    async def trim(self, key: VersionKey, count: int) -> None:
        """Stop up to ``count`` of the version's idle environments, the least recently
        used first."""
        doomed = self._idle.get(key, [])[:count]
        for env in doomed:
            self._forget(env)
        await asyncio.gather(*(env.stop() for env in doomed), return_exceptions=True)

    def _stop_later(self, env: Environment) -> None:
        task = asyncio.get_running_loop().create_task(env.stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def start_environment(
        self, rv: RunnableVersion, initialization_type: str = "on-demand"
    ) -> Environment:
        """A new environment of ``rv``, initialised and owned by the caller until it is
        stopped (provisioned concurrency); the pool still stops it on retire and shutdown."""
        return await self._start(rv, self.key(rv), initialization_type)

    async def _start(
        self,
        rv: RunnableVersion,
        key: VersionKey,
        initialization_type: str = "on-demand",
        *,
        from_snapshot: bool = True,
    ) -> Environment:
        self._loop = asyncio.get_running_loop()
        # Counted as the version's (census) from before the first await, so a cap is
        # checked and taken in one step; until it is in ``_all``.
        self._starting[key] = self._starting.get(key, 0) + 1
        try:
            restore = None
            snaps = self.snapstart
            if (
                from_snapshot
                and self.debug_port(rv.scope, rv.name) is None
                and initialization_type == "on-demand"
                and snaps is not None
                and snaps.available
                and rv.restores_from_snapshot
            ):
                try:
                    restore = await snaps.restorer(self.template_request(rv))
                except SnapshotFailed as exc:
                    raise SnapStartException(f"The snapshot could not be restored: {exc}") from exc
                initialization_type = INITIALIZATION_TYPE
            env = await self.make_environment(
                rv, initialization_type, prepare=restore, restored=restore is not None
            )
        finally:
            left = self._starting.pop(key) - 1
            if left:
                self._starting[key] = left
        self._all[env.id] = env
        self._keys[env.id] = key
        try:
            await env.start()
        except SandboxError as exc:
            self._forget(env)
            await env.stop()
            if restore is None or snaps is None:
                raise
            # The restore itself failed (not the function): this one starts as an
            # on-demand environment does; a host that refuses restores is noted once.
            snaps.restore_failed(exc)
            log.warning("restoring %s:%s failed (%s): started on demand", rv.name, rv.version, exc)
            return await self._start(rv, key, from_snapshot=False)
        except BaseException:
            self._forget(env)
            await env.stop()
            raise
        if restore is not None and env.init_error:
            # An after_restore hook failed: the invocation answers SnapStartException.
            message = env.init_error_message()
            timed_out = env.init_error_type == "Runtime.InitTimeout"
            self._forget(env)
            await env.stop()
            if timed_out:
                raise SnapStartTimeoutException(
                    f"Lambda couldn't restore the snapshot within the timeout limit. {message}"
                )
            raise SnapStartException(f"The after-restore runtime hook failed: {message}")
        log.debug("environment %s started for %s:%s", env.id, rv.name, rv.version)
        return env

    async def make_environment(
        self,
        rv: RunnableVersion,
        initialization_type: str = "on-demand",
        *,
        prepare: Callable[[SandboxSpec], Awaitable[Sandbox]] | None = None,
        restored: bool = False,
    ) -> Environment:
        """A new environment of ``rv``, not started and not in the pool."""
        return await self.maker.make_environment(
            rv, initialization_type, prepare=prepare, restored=restored
        )

    def network_for(self, rv: RunnableVersion) -> str:
        return self.maker.network_for(rv)

    def template_request(self, rv: RunnableVersion) -> TemplateRequest:
        """What SnapStart needs to build, or restore from, ``rv``'s template."""

        async def make(prepare: PrepareSandbox) -> Environment:
            return await self.make_environment(rv, INITIALIZATION_TYPE, prepare=prepare)

        key = (rv.scope.account, rv.scope.region, rv.name, rv.version)
        return TemplateRequest(key, self.network_for(rv), make)

    async def _release(self, env: Environment, key: VersionKey) -> None:
        finishing = env.finishing
        if finishing is not None and not finishing.done():
            # Its extensions are still at work: it comes back once they are done.
            task = asyncio.get_running_loop().create_task(self._release_after(env, key))
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)
            return
        if env.state is not State.READY or env.retired:
            self._forget(env)
            await env.stop()
            return
        env.last_used = self.clock.monotonic()
        self._idle.setdefault(key, []).append(env)

    async def _release_after(self, env: Environment, key: VersionKey) -> None:
        if env.finishing is not None:
            await asyncio.gather(env.finishing, return_exceptions=True)
        await self._release(env, key)

    async def stop_environment(self, env: Environment) -> None:
        """Stop an environment from ``start_environment`` (idempotent)."""
        self._forget(env)
        await env.stop()

    def _forget(self, env: Environment) -> None:
        self._all.pop(env.id, None)
        key = self._keys.pop(env.id, None)
        if key is not None:
            idle = self._idle.get(key)
            if idle and env in idle:
                idle.remove(env)
            if not idle:
                self._idle.pop(key, None)

    def debug(self, scope: Scope, name: str, port: int | None) -> None:
        """Start the function's new environments under a debugger listening on
        ``port`` (None: without one again); its running ones are retired."""
        self.maker.debug(scope, name, port)
        self.retire(scope, name, None)

    def debug_port(self, scope: Scope, name: str) -> int | None:
        return self.maker.debug_port(scope, name)

    def retire(self, scope: Scope, name: str, version: str | None) -> None:
        """Stop the environments of a changed or deleted version (None: all versions).

        Callable from any thread (updates run in worker threads): the work is queued on
        the pool's loop, ahead of the answer to the update that caused it."""
        loop = self._loop
        if loop is None:
            return  # no environment was ever started
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            loop.call_soon_threadsafe(self._retire, scope, name, version)
            return
        self._retire(scope, name, version)

    def _retire(self, scope: Scope, name: str, version: str | None) -> None:
        doomed = []
        for env_id, key in list(self._keys.items()):
            if (
                key[0] == scope.account
                and key[1] == scope.region
                and key[2] == name
                and (version is None or key[3] == version)
            ):
                env = self._all[env_id]
                env.retired = True
                idle = self._idle.get(key, [])
                if env in idle:
                    self._forget(env)
                    doomed.append(env)
        for env in doomed:
            asyncio.get_running_loop().create_task(env.stop())

    async def reap(self) -> int:
        now = self.clock.monotonic()
        doomed = [
            env
            for envs in self._idle.values()
            for env in envs
            if now - env.last_used > self.settings.idle_timeout
        ]
        if self._scaling and doomed:
            doomed = self._above_floors(doomed)
        for env in doomed:
            self._forget(env)
        await asyncio.gather(*(env.stop() for env in doomed), return_exceptions=True)
        if doomed:
            log.info("reaped %d idle environments", len(doomed))
        return len(doomed)

    def _above_floors(self, expired: list[Environment]) -> list[Environment]:
        """The expired idle environments the reaper may stop: the dead ones, and of the
        others those a version's floor does not keep."""
        by_key: dict[VersionKey, list[Environment]] = {}
        out = []
        for env in expired:
            if env.alive:
                by_key.setdefault(self._keys[env.id], []).append(env)
            else:
                out.append(env)  # a floor is never kept by a dead environment
        for key, envs in by_key.items():
            wanted = self._scaling.get(key)
            if wanted is None:
                out.extend(envs)
            else:
                out.extend(envs[: scaling.reapable(len(envs), self.census(key)[0], wanted)])
        return out

    async def run_reaper(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reaper_interval)
            try:
                await self.reap()
            except Exception:
                log.exception("reaper failed")

    async def shutdown(self) -> None:
        if self.snapstart is not None:
            await self.snapstart.shutdown()
        envs = list(self._all.values())
        self._all.clear()
        self._idle.clear()
        self._keys.clear()
        await asyncio.gather(*(env.stop() for env in envs), return_exceptions=True)
