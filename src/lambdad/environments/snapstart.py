"""SnapStart on the data plane: a published version's init run once into a template
that its new environments are restored from.

``SnapStart.build(request)`` (when the version is published, and again on the first
cold start after a restart) starts the version's template: an environment whose
sandbox the backend builds as any other's (``SandboxBackend.prepare_template``) and
whose runtime, after the function's init and its ``before_snapshot`` hooks, reports
the snapshot taken instead of asking for work. The backend's ``restorer`` then makes
each new environment of the version from it (``sandbox/restored.py``,
``runtimes/python/snapstart.py``): a cold start of a SnapStart version is a restore
(``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``, ``Restore Duration`` in REPORT),
running only the ``after_restore`` hooks.

Templates live in memory with the server; a version whose template is gone (a
restart, a template killed) gets a new one on its next cold start. On a backend that
takes no snapshots (setting ``fast_path`` off) there are no templates: environments
of a SnapStart version start as on-demand ones do. When builds happen (publish,
delete, restart) is ``snapstart_jobs.py``'s; which versions take snapshots, and
their states, are ``model/snapstart.py``'s rules.
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
from lambdad.sandbox.base import Restorer, Sandbox, SandboxBackend, SandboxSpec
from lambdad.sandbox.restored import UserNamespacesRefused
from lambdad.sandbox.zygote_channel import receive_with_sender

if TYPE_CHECKING:
    from lambdad.environments.environment import Environment

log = logging.getLogger(__name__)

INITIALIZATION_TYPE = "snap-start"

TemplateKey = tuple[str, str, str, str]  # account, region, function, version
# How an environment's sandbox is made, when not by the backend's ``prepare``.
PrepareSandbox = Callable[[SandboxSpec], Awaitable[Sandbox]]


class SnapshotFailed(Exception):
    """The version's snapshot could not be taken (its init failed); the message says
    why, as the version's ``StateReason`` does."""


@dataclass(frozen=True, slots=True)
class TemplateRequest:
    """One version's template, as the pool describes it (``EnvironmentPool.
    template_request``): which it is, the network mode its environments get, and how
    its environment is made (not started) with a given sandbox maker."""

    key: TemplateKey
    network: str
    make_environment: Callable[[PrepareSandbox], Awaitable[Environment]]

    @property
    def label(self) -> str:
        return f"{self.key[2]}:{self.key[3]}"


@dataclass(slots=True)
class _Template:
    env: Environment
    sandbox: Sandbox
    channel: socket.socket  # the platform's end of its restore channel
    restore: Restorer

    @property
    def alive(self) -> bool:
        return self.env.alive and self.channel.fileno() >= 0

    def serves(self, network: str) -> bool:
        """Alive, and built for the network mode new environments get (its network
        namespace, NAT and /etc/resolv.conf are its mode's)."""
        return self.alive and self.env.spec.network == network


class SnapStart:
    """The templates of SnapStart versions, and the restores from them."""

    def __init__(self, backend: SandboxBackend) -> None:
        self.backend = backend
        self._templates: dict[TemplateKey, _Template] = {}
        self._locks: dict[TemplateKey, asyncio.Lock] = {}
        self.refused: str | None = None  # why restores cannot work on this host

    @property
    def available(self) -> bool:
        return self.backend.takes_snapshots and self.refused is None

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

    async def build(self, request: TemplateRequest) -> None:
        """Take the version's snapshot (run its init into a template). Raises
        ``SnapshotFailed`` when its init fails."""
        if self.available:
            await self._template(request)

    async def restorer(self, request: TemplateRequest) -> Restorer:
        """How a new environment of the version is made: restored from its template
        (built now if it has none). Raises ``SnapshotFailed``."""
        return (await self._template(request)).restore

    async def discard(self, key: TemplateKey) -> None:
        """Drop the version's template (the version was deleted)."""
        self._locks.pop(key, None)
        template = self._templates.pop(key, None)
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

    async def _template(self, request: TemplateRequest) -> _Template:
        key = request.key
        # A tag changes the function's network mode (and retires its environments): a
        # template built for another mode is built again.
        template = self._templates.get(key)
        if template is not None and template.serves(request.network):
            return template
        async with self._locks.setdefault(key, asyncio.Lock()):
            template = self._templates.get(key)
            if template is not None and template.serves(request.network):
                return template
            if template is not None:
                del self._templates[key]
                await self._stop(template)
            template = await self._start(request)
            self._templates[key] = template
            return template

    async def _start(self, request: TemplateRequest) -> _Template:
        backend = self.backend
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        made: list[Sandbox] = []

        async def prepare(spec: SandboxSpec) -> Sandbox:
            sandbox = await backend.prepare_template(spec, theirs)
            made.append(sandbox)
            return sandbox

        env: Environment | None = None
        taken: asyncio.Task[tuple[dict[str, Any] | None, int]] | None = None
        try:
            env = await request.make_environment(prepare)
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
            restore = backend.restorer(made[0], ours)
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
        log.info("snapshot of %s taken (template %s)", request.label, env.id)
        return _Template(env, made[0], ours, restore)
