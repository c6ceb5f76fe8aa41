"""SnapStart: a published version's init run once into a template that its new
environments are forked from.

``build(rv)`` (when the version is published, and again on the first cold start after
a restart) starts the version's template: an environment whose sandbox the zygote
builds as any other's (``ZygoteBackend.prepare_template``) and whose runtime, after
the function's init and its ``before_snapshot`` hooks, reports the snapshot taken
instead of asking for work. The template then forks each new environment of the
version (``sandbox/restored.py``, ``runtimes/python/snapstart.py``): a cold start of
a SnapStart version is a restore (``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``,
``Restore Duration`` in REPORT), running only the ``after_restore`` hooks.

Templates live in memory with the server; a version whose template is gone (a
restart, a template killed) gets a new one on its next cold start. Without the zygote
fast path (setting ``fast_path`` off) there are no templates: environments of a
SnapStart version start as on-demand ones do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambdad.errors import SandboxError
from lambdad.sandbox.base import Sandbox, SandboxSpec
from lambdad.sandbox.restored import (
    RestoredSandbox,
    UserNamespacesRefused,
    receive_with_sender,
)
from lambdad.sandbox.zygote import ZygoteBackend
from lambdad.sandbox.zygote_sandbox import ZygoteSandbox

if TYPE_CHECKING:
    from lambdad.control.functions import ResolvedVersion
    from lambdad.environments.environment import Environment
    from lambdad.environments.pool import EnvironmentPool

log = logging.getLogger(__name__)

INITIALIZATION_TYPE = "snap-start"

TemplateKey = tuple[str, str, str, str]  # account, region, function, version


class SnapshotFailed(Exception):
    """The version's snapshot could not be taken (its init failed); the message says
    why, as the version's ``StateReason`` does."""


@dataclass(slots=True)
class _Template:
    env: Environment
    sandbox: ZygoteSandbox
    channel: socket.socket  # the platform's end of its restore channel

    @property
    def alive(self) -> bool:
        return self.env.alive and self.channel.fileno() >= 0

    def serves(self, network: str) -> bool:
        """Alive, and built for the network mode new environments get (its network
        namespace, NAT and /etc/resolv.conf are its mode's)."""
        return self.alive and self.env.spec.network == network


def applies(rv: ResolvedVersion) -> bool:
    """Whether ``rv``'s environments are restored from a snapshot."""
    snap = rv.config.get("SnapStart") or {}
    return rv.version != "$LATEST" and snap.get("ApplyOn") == "PublishedVersions"


class Snapshots:
    def __init__(self, pool: EnvironmentPool | None = None) -> None:
        self.pool = pool
        self._templates: dict[TemplateKey, _Template] = {}
        self._locks: dict[TemplateKey, asyncio.Lock] = {}
        self.refused: str | None = None  # why restores cannot work on this host

    @property
    def available(self) -> bool:
        return (
            self.pool is not None
            and isinstance(self.pool.backend, ZygoteBackend)
            and self.refused is None
        )

    def restore_failed(self, exc: Exception) -> None:
        """A restore could not build its sandbox. When the host refuses user namespaces
        to unprivileged processes (``lambdad doctor`` says so), no restore can: from
        then on SnapStart versions start as on-demand ones do. Only a template's
        namespace factory says so: what a restored environment's own processes report
        (forks of a template, the function's to patch) never turns SnapStart off."""
        text = str(exc)
        if self.refused is None and isinstance(exc, UserNamespacesRefused):
            self.refused = text
            log.warning(
                "this host refuses user namespaces to unprivileged processes: SnapStart "
                "versions start on demand (%s)",
                text,
            )

    async def build(self, rv: ResolvedVersion) -> None:
        """Take ``rv``'s snapshot (run its init into a template). Raises
        ``SnapshotFailed`` when its init fails."""
        if self.available and applies(rv):
            await self._template(rv)

    async def restorer(self, rv: ResolvedVersion) -> Callable[[SandboxSpec], Awaitable[Sandbox]]:
        """How a new environment of ``rv`` is made: restored from its template (built
        now if it has none). Raises ``SnapshotFailed``."""
        template = await self._template(rv)
        backend = self.pool.backend if self.pool is not None else None
        assert isinstance(backend, ZygoteBackend)

        async def restore(spec: SandboxSpec) -> Sandbox:
            sandbox = RestoredSandbox(
                backend,
                template.sandbox.zygote,
                template.sandbox.network,
                template.channel,
                template.sandbox.template_proc_plan,
                template.sandbox.uid,
                template.sandbox.namespace_factory,
            )
            try:
                await sandbox.restore(spec)
            except BaseException:
                await sandbox.destroy()
                raise
            return sandbox

        return restore

    async def discard(self, account: str, region: str, name: str, version: str) -> None:
        """Drop the version's template (the version was deleted)."""
        self._locks.pop((account, region, name, version), None)
        template = self._templates.pop((account, region, name, version), None)
        if template is not None:
            await self._stop(template)

    async def shutdown(self) -> None:
        templates = list(self._templates.values())
        self._templates.clear()
        await asyncio.gather(*(self._stop(t) for t in templates), return_exceptions=True)

    @staticmethod
    async def _stop(template: _Template) -> None:
        template.channel.close()
        await template.env.stop()

    async def _template(self, rv: ResolvedVersion) -> _Template:
        key = (rv.scope.account, rv.scope.region, rv.name, rv.version)
        assert self.pool is not None
        # A tag changes the function's network mode (and retires its environments): a
        # template built for another mode is built again.
        network = self.pool.network_for(rv)
        template = self._templates.get(key)
        if template is not None and template.serves(network):
            return template
        async with self._locks.setdefault(key, asyncio.Lock()):
            template = self._templates.get(key)
            if template is not None and template.serves(network):
                return template
            if template is not None:
                del self._templates[key]
                await self._stop(template)
            template = await self._start(rv)
            self._templates[key] = template
            return template

    async def _start(self, rv: ResolvedVersion) -> _Template:
        pool = self.pool
        assert pool is not None
        backend = pool.backend
        assert isinstance(backend, ZygoteBackend)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        made: list[ZygoteSandbox] = []

        async def prepare(spec: SandboxSpec) -> Sandbox:
            sandbox = await backend.prepare_template(spec, theirs)
            made.append(sandbox)
            return sandbox

        env: Environment | None = None
        taken: asyncio.Task[tuple[dict[str, Any] | None, int]] | None = None
        try:
            env = await pool.make_environment(rv, INITIALIZATION_TYPE, prepare=prepare)
            loop = asyncio.get_running_loop()
            starting = loop.create_task(env.start())
            taken = loop.create_task(receive_with_sender(ours, timeout=None))
            await asyncio.wait({starting, taken}, return_when=asyncio.FIRST_COMPLETED)
            snapshotted = False
            if taken.done() and not taken.exception():
                doc, _ = taken.result()
                snapshotted = bool(doc and doc.get("snapshot"))
                if snapshotted:
                    env.snapshot_taken()
            await starting
            if env.init_error or not snapshotted or not made:
                raise SnapshotFailed(env.init_error_message() or "the runtime took no snapshot")
        except BaseException as exc:
            # Whatever went wrong (a cancellation too), nothing of the template stays.
            ours.close()
            if env is not None:
                await asyncio.shield(env.stop())
            if isinstance(exc, SandboxError | OSError):
                raise SnapshotFailed(f"the snapshot's sandbox could not be built: {exc}") from exc
            raise
        finally:
            theirs.close()
            if taken is not None and not taken.done():
                taken.cancel()
                with contextlib.suppress(BaseException):
                    await taken
        log.info("snapshot of %s:%s taken (template %s)", rv.name, rv.version, env.id)
        return _Template(env, made[0], ours)
