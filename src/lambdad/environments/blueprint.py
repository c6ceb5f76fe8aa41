"""What an environment of a version is made of, decided before anything starts: its
network mode (the ``lambdad:network`` tag, within what the server allows), its
variables (the function's own, under the reserved ones Lambda sets), its
execution-role credentials, what the init log says first, and from these the
``SandboxSpec`` the backend starts and the ``EnvironmentConfig`` the environment runs
by (which retires it before its credentials expire).

Pure: the pool supplies the parts that take I/O or state (the runtime's launch, the code
and /opt directories, the environment's id, today's date from its clock).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from lambdad.config import Settings
from lambdad.environments.environment import EnvironmentConfig
from lambdad.environments.upstream_proxy import UpstreamSigning
from lambdad.model import function as fmodel
from lambdad.model.endpoints import Forward, FunctionEndpoints
from lambdad.model.session import Session
from lambdad.model.version import NETWORK_TAG, RunnableVersion
from lambdad.runtimes.host_support import host_architecture, setting_shortfalls
from lambdad.runtimes.table import (
    DEBUG_PORT_VARIABLE,
    DEBUGPY_PATH_VARIABLE,
    RUNTIME_DIR,
    Launch,
)
from lambdad.sandbox.base import SandboxSpec

EXEC_WRAPPER = "AWS_LAMBDA_EXEC_WRAPPER"
WRAPPED_FAMILIES = ("python", "nodejs")
EXTENSIONS_LAUNCHER = RUNTIME_DIR / "extensions.sh"

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


# An environment stops taking invocations this long (beyond its function's timeout)
# before its role session expires, so no invocation ever runs on expired credentials.
SESSION_MARGIN = timedelta(seconds=60)
# A debugged environment's timeouts (init and invoke): twelve hours.
DEBUG_TIMEOUT_S = 12 * 3600.0
# Where a debugged Python environment sees the debugpy package.
DEBUGPY_DIR = "/var/lambdad-debug"

# How much of the network a mode opens; a tag may choose a mode no wider than the server's.
_WIDTH = {"none": 0, "isolated": 1, "host": 2}


@dataclass(frozen=True, slots=True)
class Parts:
    """What the pool found or chose for one new environment."""

    env_id: str
    launch: Launch
    task_dir: Path
    opt_dir: Path | None
    date: date  # the log stream's, from the pool's clock
    network: str
    initialization_type: str = "on-demand"
    # The execution role's session minted for it (None: the function names no role).
    session: Session | None = None
    # A SnapStart version's: its role's credentials come from the container
    # credentials endpoint with this token instead (and ``session`` is None).
    container_token: str | None = None
    credentials: Callable[[], Session] | None = None
    # Its SDK's endpoints (AWS_ENDPOINT_URL_*) and the host ports relayed for them.
    endpoints: FunctionEndpoints | None = None
    # A debugger's port (``lambdad dev --debug``): the runtime waits for it.
    debug_port: int | None = None
    # Its role's upstream credentials, for its relays (environments/upstream_proxy.py).
    upstream: UpstreamSigning | None = None
    # Its external extensions: the executables in its layers' /opt/extensions.
    extensions: tuple[str, ...] = ()


def blueprint(
    rv: RunnableVersion, settings: Settings, parts: Parts
) -> tuple[SandboxSpec, EnvironmentConfig]:
    """The sandbox to start and the configuration to run for a new environment of ``rv``."""
    launch = parts.launch
    log_group = rv.log_group
    # AWS's: in a custom log group, which several functions may share, the function's
    # name comes before the version.
    owner = "" if log_group in ("", f"/aws/lambda/{rv.name}") else rv.name
    log_stream = f"{parts.date.strftime('%Y/%m/%d')}/{owner}[{rv.version}]{parts.env_id}"
    variables = _environment_variables(
        rv,
        parts.task_dir,
        log_group,
        log_stream,
        launch.family,
        parts.opt_dir,
        parts.initialization_type,
    )
    retire_at = None
    forwards: tuple[Forward, ...] = ()
    if parts.endpoints is not None:
        # Under the function's own variables: a function may name its own endpoints.
        own = {k: v for k, v in parts.endpoints.variables.items() if k not in rv.environment}
        variables.update(own)
        forwards = parts.endpoints.forwards
    if parts.container_token is not None:
        # As AWS does for SnapStart: credentials a client made during init keeps asking
        # for again, so that none expires in a snapshot (the runtime sets the URI to its
        # own Runtime API address, AWS_CONTAINER_CREDENTIALS_FULL_URI).
        variables["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = parts.container_token
    if parts.session is not None:
        variables.update(session_variables(parts.session))
        retire_at = parts.session.expires - timedelta(seconds=rv.timeout_s) - SESSION_MARGIN
    extra_ro: tuple[tuple[Path, str], ...] = ()
    timeout_s, init_timeout_s = rv.timeout_s, settings.init_timeout
    if parts.debug_port is not None:
        extra_ro = debug_setup(variables, launch.family, parts.debug_port)
        # Stopped at a breakpoint, nothing times out (as under `sam local invoke -d`).
        timeout_s = init_timeout_s = DEBUG_TIMEOUT_S
    spec = SandboxSpec(
        env_id=parts.env_id,
        argv=launch_argv(launch, parts.extensions, variables),
        env=variables,
        task_dir=parts.task_dir,
        runtime_dir=RUNTIME_DIR,
        opt_dir=parts.opt_dir,
        memory_mb=rv.memory_mb,
        tmp_mb=rv.ephemeral_storage_mb,
        host_paths=(launch.interpreter,) if launch.interpreter else (),
        pids_limit=settings.pids_limit,
        network=parts.network,
        tenant=rv.scope.account,
        extra_ro=extra_ro,
    )
    config = EnvironmentConfig(
        function_arn=rv.arn,
        version=rv.version,
        memory_mb=spec.memory_mb,
        timeout_s=timeout_s,
        init_timeout_s=init_timeout_s,
        log_group=log_group,
        log_stream=log_stream,
        account=rv.scope.account,
        region=rv.scope.region,
        init_notice=_init_notice(launch.notice, rv),
        retire_at=retire_at,
        forwards=forwards,
        upstream=parts.upstream if forwards else None,
        container_token=parts.container_token,
        credentials=parts.credentials,
        log_format=rv.log_format,
        system_log_level=rv.system_log_level or "INFO",
        initialization_type=parts.initialization_type,
        runtime_version=runtime_version(rv.runtime),
        runtime_version_arn=fmodel.runtime_version_arn(rv.scope.region, rv.runtime),
        max_stream_bytes=settings.max_stream_response,
        debug_port=parts.debug_port,
        handler=rv.handler,
        extensions=parts.extensions,
    )
    return spec, config


def launch_argv(
    launch: Launch, extensions: tuple[str, ...], variables: Mapping[str, str]
) -> tuple[str, ...]:
    """The runtime's command line: as the runtime table says, or behind the launcher of
    its extensions (``runtimes/extensions.sh``) when it has external ones or a wrapper
    script (``AWS_LAMBDA_EXEC_WRAPPER``, honoured by the managed runtimes only, as on
    AWS). Such an environment is exec'd, never forked from a zygote."""
    wrap = launch.family in WRAPPED_FAMILIES and bool(variables.get(EXEC_WRAPPER))
    if not extensions and not wrap:
        return launch.argv
    return ("/bin/sh", str(EXTENSIONS_LAUNCHER), "wrap" if wrap else "-", *launch.argv)


def debug_setup(variables: dict[str, str], family: str, port: int) -> tuple[tuple[Path, str], ...]:
    """Start the runtime under a debugger listening on ``port`` (inside the
    environment): debugpy for Python, the inspector for Node.js. The directories the
    sandbox must show for it."""
    if family == "nodejs":
        options = variables.get("NODE_OPTIONS", "")
        variables["NODE_OPTIONS"] = f"{options} --inspect-brk=127.0.0.1:{port}".strip()
        return ()
    if family != "python":
        return ()
    variables[DEBUG_PORT_VARIABLE] = str(port)
    try:
        import debugpy
    except ImportError:
        return ()
    package = Path(debugpy.__file__).parent
    # Only the package is shown (at DEBUGPY_DIR/debugpy); the path names its parent
    # through it, so that it holds inside a sandbox (where the package's host path
    # is rewritten) and outside alike.
    variables[DEBUGPY_PATH_VARIABLE] = f"{package}/.."
    return ((package, f"{DEBUGPY_DIR}/debugpy"),)


def session_variables(session: Session) -> dict[str, str]:
    """The variables through which the SDKs find the execution role's credentials."""
    return {
        "AWS_ACCESS_KEY_ID": session.access_key_id,
        "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
        "AWS_SESSION_TOKEN": session.token,
    }


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
        "AWS_LAMBDA_LOG_FORMAT": rv.log_format,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        # AWS's values (/var/lang: the interpreter's prefix inside a sandbox).
        "PATH": f"/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:{opt}/bin",
        "LD_LIBRARY_PATH": (
            f"/var/lang/lib:/lib64:/usr/lib64:{RUNTIME_DIR}:{RUNTIME_DIR}/lib:"
            f"{task_dir}:{task_dir}/lib:{opt}/lib"
        ),
    }
    if rv.log_format == "JSON":
        # The runtimes filter the function's own log records by it (ApplicationLogLevel).
        env["AWS_LAMBDA_LOG_LEVEL"] = rv.application_log_level or "INFO"
    if opt_dir is not None:
        env["LAMBDAD_OPT_DIR"] = opt
    if family == "nodejs":
        env["NODE_PATH"] = f"{opt}/nodejs/node_modules:{task_dir}"
    return env


def runtime_version(runtime: str) -> str:
    """A runtime's version as platform.initStart names it: ``python3.12`` ->
    ``python:3.12.v1`` (AWS's form, ``family:version.vN``)."""
    if runtime.startswith("provided"):
        family, _, version = runtime.partition(".")
    else:
        family = runtime.rstrip("0123456789.x")
        version = runtime[len(family) :].rstrip(".x")
    return f"{family}:{version or 'latest'}.v1"


def _init_notice(runtime_notice: str | None, rv: RunnableVersion) -> str | None:
    """What the init log says first: the runtime's stand-in, the settings ignored here."""
    lines = [runtime_notice] if runtime_notice else []
    settings = rv.settings_document()
    lines += [f"lambdad: {s.message}" for s in setting_shortfalls(settings, host_architecture())]
    return "\n".join(lines) or None
