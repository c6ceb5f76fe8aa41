"""What one environment runs with, besides its sandbox's spec: its function's identity,
limits and log destination, its credentials and relays, how it writes its log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from lambdad.environments.upstream_proxy import UpstreamSigning
from lambdad.model.endpoints import Forward
from lambdad.model.session import Session


@dataclass(frozen=True, slots=True)
class EnvironmentConfig:
    function_arn: str
    version: str
    memory_mb: int
    timeout_s: float
    init_timeout_s: float
    log_group: str
    log_stream: str
    account: str
    region: str
    init_notice: str | None = None
    # When it stops taking invocations: its role session's credentials (fixed in its
    # variables) would not outlast one more (None: no session).
    retire_at: datetime | None = None
    # Host ports relayed from inside its network namespace (its SDK's endpoints).
    forwards: tuple[Forward, ...] = ()
    # Its role's upstream credentials, used by those relays (None: none configured).
    upstream: UpstreamSigning | None = None
    # How the platform writes in its log (LoggingConfig), and what platform.initStart
    # says of its runtime.
    log_format: str = "Text"
    system_log_level: str = "INFO"
    initialization_type: str = "on-demand"
    runtime_version: str = ""
    runtime_version_arn: str = ""
    # SnapStart: what its container credentials endpoint asks for, and answers with.
    container_token: str | None = None
    credentials: Callable[[], Session] | None = None
    max_stream_bytes: int = 200 * 1024 * 1024
    # A debugger's port: the host's 127.0.0.1:port relayed into its namespace.
    debug_port: int | None = None
    # What register tells its extensions, and the external ones' names (/opt/extensions).
    handler: str = ""
    extensions: tuple[str, ...] = ()
