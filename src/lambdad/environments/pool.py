"""The warm pool: idle environments per function version, ready for reuse.

``checkout`` hands out an idle environment of exactly that version (the most
recently used, so the warmest), or starts a new one (a cold start); ``release``
takes it back. Environments idle longer than the idle timeout are reaped; when a
version changes or is deleted its environments are retired: the idle ones stop
now, the busy ones when they are released (the pool hears of changes on the
``ChangeHub`` it is given). Everything it reads of a version is a field of the typed
``RunnableVersion`` (model/version.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.environments.code import CodeCache
from lambdad.environments.environment import (
    Environment,
    EnvironmentConfig,
    LogSink,
    State,
    new_env_id,
)
from lambdad.environments.layers import OptCache
from lambdad.environments.snapstart import (
    INITIALIZATION_TYPE,
    PrepareSandbox,
    SnapshotFailed,
    SnapStart,
    TemplateRequest,
)
from lambdad.errors import (
    InvalidRuntimeException,
    SandboxError,
    SnapStartException,
    SnapStartTimeoutException,
)
from lambdad.model.changes import ChangeHub
from lambdad.model.scope import Scope
from lambdad.model.version import NETWORK_TAG, RunnableVersion
from lambdad.runtimes.host_support import host_architecture, setting_shortfalls
from lambdad.runtimes.table import RUNTIME_DIR, RuntimeTable, RuntimeUnavailable
from lambdad.sandbox.base import Sandbox, SandboxBackend, SandboxSpec

log = logging.getLogger(__name__)

VersionKey = tuple[str, str, str, str, str]  # account, region, name, version, revision


class ScaleGate(Protocol):
    """Asked before a cold start (``invoke/leases.ScaleUp``)."""

    def allow_new_environment(self, scope: Scope, name: str) -> None:
        """Return, or raise (TooManyRequestsException) past the function's scale-up rate."""


# The values of the lambdad:network tag (NETWORK_TAG), which overrides the server's
# network mode for a function's environments.
NETWORK_MODES = ("isolated", "none", "host")


def network_mode(tags: Mapping[str, str], default: str) -> str:
    """The network mode a function's environments get: its tag, else the server's.

    A tag may only narrow what the server allows: ``host`` (the host's loopback,
    lambdad's own API included) is honoured only on a server that runs in host mode,
    ``isolated`` (outbound NAT) not on a server set to ``none``.
    """
    value = tags.get(NETWORK_TAG)
    if value not in NETWORK_MODES or _WIDTH[value] > _WIDTH.get(default, 0):
        return default
    return value


# How much of the network a mode opens; a tag may choose a mode no wider than the server's.
_WIDTH = {"none": 0, "isolated": 1, "host": 2}


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
        backend: SandboxBackend,
        runtimes: RuntimeTable,
        code: CodeCache,
        log_sink: LogSink,
        opt: OptCache | None = None,
        scale_gate: ScaleGate | None = None,
        snapstart: SnapStart | None = None,
        changes: ChangeHub | None = None,
        *,
        clock: Clock,
    ) -> None:
        self.settings = settings
        # The platform's clock, handed to every environment (durations, idle time, the
        # log stream's date), so a fake one drives them all.
        self.clock = clock
        self.opt = opt
        self.scale_gate = scale_gate
        self.backend = backend
        self.runtimes = runtimes
        self.code = code
        self.log_sink = log_sink
        self._idle: dict[VersionKey, list[Environment]] = {}
        self._all: dict[str, Environment] = {}
        self._keys: dict[str, VersionKey] = {}
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
            if env.alive:
                return Checkout(env, False)
            # Its runtime died while idle (killed, crashed in a thread, its template
            # gone): torn down in the background, never handed out.
            self._forget(env)
            self._stop_later(env)
        if self.scale_gate is not None:
            self.scale_gate.allow_new_environment(rv.scope, rv.name)
        return Checkout(await self._start(rv, key), True)

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
        restore = None
        snaps = self.snapstart
        if (
            from_snapshot
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
        """A new environment of ``rv``, not started and not in the pool (``prepare``: how
        its sandbox is made, when not by the backend; ``restored``: from a snapshot)."""
        try:
            launch = self.runtimes.launch(rv.runtime)
        except RuntimeUnavailable as exc:
            # What the invoker answers (InvalidRuntimeException), whoever asked.
            raise InvalidRuntimeException(str(exc)) from None
        task_dir = await self.code.ensure(rv.code_sha256_hex)
        opt_dir = await self.opt.ensure(rv.layer_sha256_hex) if self.opt is not None else None
        env_id = new_env_id()
        today = self.clock.today().strftime("%Y/%m/%d")
        log_group = rv.log_group
        log_stream = f"{today}/[{rv.version}]{env_id}"
        variables = _environment_variables(
            rv, task_dir, log_group, log_stream, launch.family, opt_dir, initialization_type
        )
        spec = SandboxSpec(
            env_id=env_id,
            argv=launch.argv,
            env=variables,
            task_dir=task_dir,
            runtime_dir=RUNTIME_DIR,
            opt_dir=opt_dir,
            memory_mb=rv.memory_mb,
            tmp_mb=rv.ephemeral_storage_mb,
            host_paths=(launch.interpreter,) if launch.interpreter else (),
            pids_limit=self.settings.pids_limit,
            network=self.network_for(rv),
            tenant=rv.scope.account,
        )
        config = EnvironmentConfig(
            function_arn=rv.arn,
            version=rv.version,
            memory_mb=spec.memory_mb,
            timeout_s=rv.timeout_s,
            init_timeout_s=self.settings.init_timeout,
            log_group=log_group,
            log_stream=log_stream,
            account=rv.scope.account,
            region=rv.scope.region,
            init_notice=_init_notice(launch.notice, rv),
        )
        return Environment(
            env_id,
            config,
            spec,
            self.backend,
            self.log_sink,
            prepare=prepare,
            restored=restored,
            clock=self.clock,
        )

    def template_request(self, rv: RunnableVersion) -> TemplateRequest:
        """What SnapStart needs to build, or restore from, ``rv``'s template."""

        async def make(prepare: PrepareSandbox) -> Environment:
            return await self.make_environment(rv, INITIALIZATION_TYPE, prepare=prepare)

        key = (rv.scope.account, rv.scope.region, rv.name, rv.version)
        return TemplateRequest(key, self.network_for(rv), make)

    def network_for(self, rv: RunnableVersion) -> str:
        # Read on cold starts only; a tag change retires the function's environments.
        tags = {} if rv.network_tag is None else {NETWORK_TAG: rv.network_tag}
        mode = network_mode(tags, self.settings.network)
        if NETWORK_TAG in tags and tags[NETWORK_TAG] != mode:
            log.warning(
                "function %s: ignoring tag %s=%r (use one of %s)",
                rv.name,
                NETWORK_TAG,
                tags[NETWORK_TAG],
                ", ".join(NETWORK_MODES),
            )
        return mode

    async def _release(self, env: Environment, key: VersionKey) -> None:
        if env.state is not State.READY or env.retired:
            self._forget(env)
            await env.stop()
            return
        env.last_used = self.clock.monotonic()
        self._idle.setdefault(key, []).append(env)

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
        for env in doomed:
            self._forget(env)
        await asyncio.gather(*(env.stop() for env in doomed), return_exceptions=True)
        if doomed:
            log.info("reaped %d idle environments", len(doomed))
        return len(doomed)

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


def _environment_variables(
    rv: RunnableVersion,
    task_dir: Path,
    log_group: str,
    log_stream: str,
    family: str,
    opt_dir: Path | None = None,
    initialization_type: str = "on-demand",
) -> dict[str, str]:
    region = rv.scope.region
    # Layers: a sandbox that mounts opt_dir at /opt rewrites this host path to /opt; the
    # process sandbox cannot, so the runtimes read LAMBDAD_OPT_DIR (default /opt).
    opt = str(opt_dir) if opt_dir is not None else "/opt"
    env = {
        # The function's own variables first: reserved names below always win.
        **rv.environment,
        "LAMBDA_TASK_ROOT": str(task_dir),
        "LAMBDA_RUNTIME_DIR": str(RUNTIME_DIR),
        "_HANDLER": rv.handler,
        "AWS_LAMBDA_FUNCTION_NAME": rv.name,
        "AWS_LAMBDA_FUNCTION_VERSION": rv.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(rv.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": initialization_type,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{rv.runtime}",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": f"/usr/local/bin:/usr/bin/:/bin:{opt}/bin",
        "LD_LIBRARY_PATH": f"/lib64:/usr/lib64:{RUNTIME_DIR}:{task_dir}:{task_dir}/lib:{opt}/lib",
    }
    if opt_dir is not None:
        env["LAMBDAD_OPT_DIR"] = opt
    if family == "nodejs":
        env["NODE_PATH"] = f"{opt}/nodejs/node_modules:{task_dir}"
    return env


def _init_notice(runtime_notice: str | None, rv: RunnableVersion) -> str | None:
    """What the init log says first: the runtime's stand-in, the settings ignored here."""
    lines = [runtime_notice] if runtime_notice else []
    settings = rv.settings_document()
    lines += [f"lambdad: {s.message}" for s in setting_shortfalls(settings, host_architecture())]
    return "\n".join(lines) or None
