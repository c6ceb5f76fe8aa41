"""What a new environment is made of: its version's code and layers (or container
image), its execution role's credentials, its SDK's endpoints and network mode, put
together by ``blueprint.py`` (``image_env.py`` for an image), not started and not in
any pool. The warm pool (``pool.py``) and SnapStart's templates make theirs here.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.environments.blueprint import NETWORK_MODES, Parts, blueprint, network_mode
from lambdad.environments.code import CodeCache
from lambdad.environments.environment import Environment, LogSink, new_env_id
from lambdad.environments.image_env import IMAGE_LAUNCH, TASK_DIR, image_environment
from lambdad.environments.layers import OptCache, extension_names
from lambdad.environments.upstream_proxy import UpstreamSigning
from lambdad.errors import InvalidRuntimeException
from lambdad.model import endpoints
from lambdad.model.image_config import ImageRun
from lambdad.model.scope import Scope
from lambdad.model.session import Session, SessionIssuer, role_account
from lambdad.model.version import NETWORK_TAG, RunnableVersion
from lambdad.runtimes.table import RuntimeTable, RuntimeUnavailable
from lambdad.sandbox.base import Sandbox, SandboxBackend, SandboxSpec
from lambdad.store import upstream as upstream_file
from lambdad.store.images import ImageStore, UnpackedImage
from lambdad.store.upstream import UpstreamCredentials

log = logging.getLogger(__name__)


class EnvironmentMaker:
    """Makes new environments of a server's function versions."""

    def __init__(
        self,
        settings: Settings,
        backend: SandboxBackend,
        runtimes: RuntimeTable,
        code: CodeCache,
        log_sink: LogSink,
        opt: OptCache | None = None,
        *,
        clock: Clock,
        sessions: SessionIssuer | None = None,
        xray_daemon_port: int | None = None,
        images: ImageStore | None = None,
    ) -> None:
        self.settings = settings
        # Container images, unpacked per digest (None: this server runs none).
        self.images = images
        # The platform's clock, handed to every environment (durations, idle time, the
        # log stream's date), so a fake one drives them all.
        self.clock = clock
        # Mints each new environment's execution-role session (None: no credentials).
        self.sessions = sessions
        # Where functions' SDKs find lambdad and the operator's other services (refused
        # at start-up when the operator's mapping is malformed).
        self.endpoints = endpoints.plan(
            settings.host,
            settings.port,
            endpoints.parse(settings.function_endpoints, dict(settings.host_endpoints)),
        )
        if xray_daemon_port is not None:  # the X-Ray SDK's segments (observe/tracing_daemon)
            self.endpoints = endpoints.with_xray_daemon(self.endpoints, xray_daemon_port)
        # The operator's upstream credentials per role (store/upstream.py).
        self.upstream = UpstreamCredentials(settings.data_dir / upstream_file.FILE_NAME)
        self.opt = opt
        self.backend = backend
        self.runtimes = runtimes
        self.code = code
        self.log_sink = log_sink
        # Functions started under a debugger (``lambdad dev --debug``): their port.
        self._debug: dict[tuple[str, str, str], int] = {}

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
        image = None
        if rv.image is not None:
            image = await self._image(rv.image)
            launch, task_dir, opt_dir = IMAGE_LAUNCH, TASK_DIR, None
        else:
            try:
                launch = self.runtimes.launch(rv.runtime)
            except RuntimeUnavailable as exc:
                # What the invoker answers (InvalidRuntimeException), whoever asked.
                raise InvalidRuntimeException(str(exc)) from None
            task_dir = await self.code.ensure(rv.code_sha256_hex)
            opt_dir = await self.opt.ensure(rv.layer_sha256_hex) if self.opt is not None else None
        env_id = new_env_id()
        session = container_token = credentials = None
        sessions = self.sessions
        if sessions is not None and role_account(rv.role) == rv.scope.account:
            if rv.restores_from_snapshot:
                container_token = sessions.container_token(rv.arn, rv.version)
                credentials = functools.partial(
                    _mint_now, sessions, self.clock, rv.scope.account, rv.role, rv.arn
                )
            else:
                session = sessions.mint(rv.scope.account, rv.role, rv.arn, self.clock.now())
        spec, config = blueprint(
            rv,
            self.settings,
            Parts(
                env_id=env_id,
                launch=launch,
                task_dir=task_dir,
                opt_dir=opt_dir,
                date=self.clock.today(),
                network=self.network_for(rv),
                initialization_type=initialization_type,
                session=session,
                container_token=container_token,
                credentials=credentials,
                endpoints=self._endpoints_for(rv.role),
                debug_port=self.debug_port(rv.scope, rv.name),
                upstream=self._upstream_signing(rv.scope.account, rv.role),
                extensions=extension_names(opt_dir),
            ),
        )
        if rv.image is not None and image is not None:
            env = dict(rv.environment)
            spec, config = image_environment(
                spec, config, rv.image, image.settings, image.rootfs, env
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

    async def _image(self, run: ImageRun) -> UnpackedImage:
        """The unpacked image an image function's environment runs (pulled again by its
        digest if it is gone); refused where the sandbox cannot run images."""
        if self.images is None or self.backend.name != "bwrap":
            raise InvalidRuntimeException(
                "lambdad runs container images in the bwrap sandbox only; this server "
                f"runs the {self.backend.name} sandbox (see lambdad doctor)."
            )
        return await asyncio.to_thread(self.images.ensure_run, run)

    def _endpoints_for(self, role: str) -> endpoints.FunctionEndpoints:
        """Every environment's endpoints; with its role's upstream credentials, those
        off the host's loopback relayed too (model/endpoints.with_upstream)."""
        services = self.upstream.services(role) if self.sessions is not None else frozenset()
        return endpoints.with_upstream(self.endpoints, services) if services else self.endpoints

    def _upstream_signing(self, account: str, role: str) -> UpstreamSigning | None:
        """What the relays of an environment of ``role`` sign its requests again with
        (None: the operator gave its role no upstream credentials)."""
        if self.sessions is None or not self.upstream.has_role(role):
            return None
        return UpstreamSigning(
            account, self.sessions.open, self.upstream.credential_for, self.clock.now
        )

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

    def debug(self, scope: Scope, name: str, port: int | None) -> None:
        """Make the function's new environments start under a debugger listening on
        ``port`` (None: without one again)."""
        key = (scope.account, scope.region, name)
        if port is None:
            self._debug.pop(key, None)
        else:
            self._debug[key] = port

    def debug_port(self, scope: Scope, name: str) -> int | None:
        return self._debug.get((scope.account, scope.region, name))


def _mint_now(
    sessions: SessionIssuer, clock: Clock, account: str, role: str, function_arn: str
) -> Session:
    return sessions.mint(account, role, function_arn, clock.now())
