"""The fast path: Python environments forked from a zygote instead of exec'd.

``ZygoteBackend`` wraps the backend ``select.choose_backend`` picked. For a Python
runtime it forks the environment from a zygote that has already imported the runtime
bootstrap (``runtimes/python/zygote.py``); everything else (Node.js, ``provided``, a
function whose variables the interpreter reads at start-up, an interpreter the zygote
cannot run on) goes to the wrapped backend unchanged.

Over ``bwrap`` the isolation is the same, built by the zygote's child instead of by
bwrap and setpriv (see ``rootfs.py`` for the file system): mount, PID, IPC, UTS, cgroup
and network namespaces, the environment's cgroup joined before anything else runs, the
Runtime API socket created inside the network namespace, the sandbox uid with no
capabilities and ``no_new_privs``, and the same NAT. Over ``process`` it is a fork with
the environment's own ``TMPDIR`` and session.

One zygote per (interpreter, sandboxed or not, tenant), started on first use and again
after it dies. Per tenant because every child inherits its zygote's memory, including
CPython's string-hash secret, which a function can read: two accounts never share one.

Sandboxed, each zygote also keeps a few spare sandboxes built ahead (setting
``zygote_spares``): namespaces, the shared part of the root, the Runtime API socket
and a parked runtime process; a cold start then only finishes one for its
environment (``zygote_sandbox.py``), and a new spare is built in the background.

SnapStart templates are forked as any environment (``prepare_template``); their
``restorer`` makes each restored environment's sandbox (``restored.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import deque
from pathlib import Path

from lambdad.config import Settings
from lambdad.errors import SandboxError
from lambdad.runtimes.table import PYTHON_BOOTSTRAP, RUNTIME_DIR
from lambdad.sandbox import restored, rootfs, zygote_wire
from lambdad.sandbox.base import Restorer, Sandbox, SandboxBackend, SandboxSpec
from lambdad.sandbox.bwrap import BwrapBackend
from lambdad.sandbox.bwrap_plan import RUNTIME, host_etc_files, lang_interpreter, lang_prefix
from lambdad.sandbox.process import ProcessBackend
from lambdad.sandbox.zygote_process import ZygoteProcess
from lambdad.sandbox.zygote_sandbox import ZygoteGone, ZygoteSandbox

log = logging.getLogger(__name__)

SHOWN_BOOTSTRAP = f"{RUNTIME}/python/{PYTHON_BOOTSTRAP.name}"

ZygoteKey = tuple[str, bool, str]  # interpreter, sandboxed, tenant


def with_fast_path(settings: Settings, backend: SandboxBackend) -> SandboxBackend:
    """``backend``, wrapped in the zygote fast path unless the settings turn it off."""
    if not settings.fast_path:
        return backend
    return ZygoteBackend(backend, spares=settings.zygote_spares)


class ZygoteBackend:
    takes_snapshots = True

    def __init__(self, inner: SandboxBackend, *, spares: int = 2) -> None:
        self.inner = inner
        self.name = inner.name
        self.spares = spares if isinstance(inner, BwrapBackend) else 0
        self._zygotes: dict[ZygoteKey, ZygoteProcess] = {}
        self._locks: dict[ZygoteKey, asyncio.Lock] = {}
        self._broken: dict[str, str] = {}  # interpreter -> why its zygote cannot run
        self._host: rootfs.HostLayout | None = None
        self._parked: dict[ZygoteKey, deque[ZygoteSandbox]] = {}
        self._refills: dict[ZygoteKey, asyncio.Task[None]] = {}
        # Sandboxes built at once: a burst of a thousand cold starts on two cores would
        # otherwise have every one of them run past its set-up timeout together.
        self._builds = asyncio.Semaphore(max(4, 2 * (os.cpu_count() or 1)))

    @property
    def sandboxed(self) -> bool:
        return isinstance(self.inner, BwrapBackend)

    @property
    def network(self) -> str:
        """The network mode spares are built for (the server's)."""
        return str(getattr(self.inner, "network", "host"))

    def describe(self) -> str:
        return f"{self.inner.describe()}; Python environments forked from a zygote"

    def close(self) -> None:
        for task in self._refills.values():
            task.cancel()
        for parked in self._parked.values():
            for spare in parked:
                spare.discard()
        self._parked.clear()
        for zygote in self._zygotes.values():
            zygote.stop_now()
        self._zygotes.clear()
        self.inner.close()

    def refusal(self, spec: SandboxSpec) -> str | None:
        """Why ``spec`` goes to the wrapped backend (None: it is forked)."""
        if not isinstance(self.inner, BwrapBackend | ProcessBackend):
            return f"no zygote over the {self.inner.name} backend"
        if len(spec.argv) != 2 or spec.argv[1] != str(PYTHON_BOOTSTRAP):
            return "not the Python runtime"
        if spec.argv[0] in self._broken:
            return self._broken[spec.argv[0]]
        return zygote_wire.refusal(spec.env)

    async def prepare(self, spec: SandboxSpec) -> Sandbox:
        why = self.refusal(spec)
        if why is not None:
            log.debug("environment %s exec'd: %s", spec.env_id, why)
            return await self.inner.prepare(spec)
        key = self._key(spec)
        for attempt in (0, 1):
            try:
                zygote = await self._zygote(key)
            except SandboxError as exc:
                # Not for this interpreter, then: exec'd from now on, said once.
                self._broken[spec.argv[0]] = str(exc)
                log.warning("no zygote on %s (environments exec'd): %s", spec.argv[0], exc)
                return await self.inner.prepare(spec)
            spare = self._take_spare(key, spec)
            self._refill(key, zygote)
            sandbox = spare or ZygoteSandbox(self, zygote, self._network_of(spec))
            try:
                async with self._builds:
                    if spare is not None:
                        await sandbox.assign(spec)
                    else:
                        await sandbox.launch(spec)
            except ZygoteGone:
                await sandbox.destroy()
                if attempt:
                    raise
                continue  # it died under us: start a new one, once
            except BaseException:
                await sandbox.destroy()
                raise
            return sandbox
        raise AssertionError("unreachable")

    async def prepare_template(self, spec: SandboxSpec, channel: socket.socket) -> Sandbox:
        """A SnapStart template for ``spec``: a sandbox built as any environment's, never a
        spare, whose runtime is handed ``channel`` (``runtimes/python/snapstart.py``)."""
        why = self.refusal(spec)
        if why is not None:
            raise SandboxError(f"no snapshot: {why}")
        zygote = await self._zygote(self._key(spec))
        sandbox = ZygoteSandbox(self, zygote, self._network_of(spec))
        sandbox.template_channel = channel
        try:
            async with self._builds:
                await sandbox.launch(spec)
        except BaseException:
            await sandbox.destroy()
            raise
        return sandbox

    def restorer(self, template: Sandbox, channel: socket.socket) -> Restorer:
        """How environments are restored from ``template`` (``prepare_template``'s)."""
        if not isinstance(template, ZygoteSandbox):
            raise SandboxError(f"sandbox {template.env_id} is not a template of this backend")
        return restored.restorer(self, template, channel)

    def _key(self, spec: SandboxSpec) -> ZygoteKey:
        return (spec.argv[0], self.sandboxed, spec.tenant)

    def _network_of(self, spec: SandboxSpec) -> str:
        return spec.network if spec.network in ("isolated", "none", "host") else self.network

    async def _zygote(self, key: ZygoteKey) -> ZygoteProcess:
        zygote = self._zygotes.get(key)
        if zygote is not None and zygote.alive:
            return zygote
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            zygote = self._zygotes.get(key)
            if zygote is not None and zygote.alive:
                return zygote
            interpreter = key[0]
            shown = SHOWN_BOOTSTRAP if self.sandboxed else str(PYTHON_BOOTSTRAP)
            lang = None
            prefix = lang_prefix((Path(interpreter),))
            if self.sandboxed and prefix is not None:
                lang = (str(prefix), lang_interpreter(interpreter))
            zygote = ZygoteProcess(interpreter, PYTHON_BOOTSTRAP, shown, lang=lang)
            await zygote.start()
            if zygote.python < (3, 9):
                await zygote.stop()
                raise SandboxError(f"Python {zygote.python} is older than 3.9")
            self._zygotes[key] = zygote
            # Spares of a zygote that died died with it.
            for spare in self._parked.pop(key, deque()):
                spare.discard()
            log.info("zygote %d started on %s", zygote.pid, interpreter)
            return zygote

    # -- spares ----------------------------------------------------------------------------

    def _take_spare(self, key: ZygoteKey, spec: SandboxSpec) -> ZygoteSandbox | None:
        if self._network_of(spec) != self.network or self.network == "host":
            return None
        parked = self._parked.get(key)
        while parked:
            spare = parked.popleft()
            if spare.alive:
                return spare
            spare.discard()
        return None

    def _refill(self, key: ZygoteKey, zygote: ZygoteProcess) -> None:
        """Build spares up to the target in the background, one at a time."""
        if self.spares <= 0 or self.network == "host":
            return
        task = self._refills.get(key)
        if task is not None and not task.done():
            return
        self._refills[key] = asyncio.get_running_loop().create_task(self._park(key, zygote))

    async def _park(self, key: ZygoteKey, zygote: ZygoteProcess) -> None:
        parked = self._parked.setdefault(key, deque())
        while len(parked) < self.spares and zygote.alive:
            spare = ZygoteSandbox(self, zygote, self.network)
            try:
                async with self._builds:
                    await spare.park()
            except asyncio.CancelledError:
                spare.discard()
                raise
            except Exception as exc:
                spare.discard()
                log.debug("no spare sandbox on %s: %s", key[0], exc)
                return
            parked.append(spare)

    # -- what sandboxed children need ----------------------------------------------------

    def host_layout(self) -> rootfs.HostLayout:
        if self._host is None:
            self._host = rootfs.probe_host()
        return self._host

    def base_plan(self, interpreter: str) -> list[rootfs.Step]:
        """The shared part of a sandbox's root, for a spare (which keeps no copy of the
        /tmp disks mounted when it is built)."""
        plan = rootfs.plan_base(self.host_layout(), RUNTIME_DIR, (Path(interpreter),))
        return [*plan, rootfs.DETACH_TMP_DISKS]

    def etc_files(self, network: str, uid: int) -> dict[str, str]:
        """The generated /etc files of an environment (passwd and group name its uid)."""
        return host_etc_files(network, uid)


__all__ = ["ZygoteBackend", "ZygoteGone", "ZygoteSandbox", "with_fast_path"]
