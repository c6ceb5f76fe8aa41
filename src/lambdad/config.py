"""Settings: built once at start-up and passed down.

Precedence: command-line options > ``LAMBDAD_*`` environment variables > defaults.
Every path is absolute from the moment a ``Settings`` exists: a relative data directory
(``--data-dir``, ``LAMBDAD_DATA_DIR``, the default ``./.lambdad``) is resolved against the
working directory at start, since sandboxes mount it from another root.
``Settings.from_env`` only reads; nothing in lambdad reads the environment at import
time. Every time constant a test needs to shorten is a setting (fractional seconds
accepted).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = ".lambdad"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 9550
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    # "AKID:SECRET:ACCOUNT" entries; empty means "use or create the one in data_dir".
    credentials: tuple[str, ...] = ()
    default_region: str = DEFAULT_REGION
    # "auto" picks bwrap where it can run, else process.
    sandbox: str = "auto"
    # Outbound network of sandboxed functions: "isolated" (user-space NAT), "none", "host".
    network: str = "isolated"
    # Sandboxed environments each run as their own uid (= gid) from this range.
    sandbox_uid_base: int = 0x60000000
    sandbox_uid_count: int = 65536
    pids_limit: int = 1024
    # Python environments forked from a zygote instead of exec'd (sandbox/zygote.py).
    fast_path: bool = True
    # Sandboxes each zygote keeps built ahead of cold starts (0: none).
    zygote_spares: int = 2
    # Where sandboxed functions' /tmp lives: "disk" (an ext4 image of EphemeralStorage
    # MB per environment, where loop devices and mkfs.ext4 are there) or "memory" (a
    # tmpfs charged to the function's memory); disks kept ready ahead of cold starts.
    tmp_storage: str = "disk"
    tmp_disk_spares: int = 2
    strict_runtimes: bool = False
    # Runtime identifier -> interpreter command, over the discovered defaults.
    runtime_overrides: tuple[tuple[str, str], ...] = ()
    init_timeout: float = 10.0
    idle_timeout: float = 600.0
    reaper_interval: float = 5.0
    max_zipped_bytes: int = 50 * 1024 * 1024
    max_unzipped_bytes: int = 250 * 1024 * 1024
    max_sync_payload: int = 6 * 1024 * 1024
    max_async_payload: int = 1024 * 1024
    # The most a response streamed through the Runtime API may carry (AWS: 200 MB since
    # July 2025, 20 MB before; past it the stream ends with Function.ResponseSizeTooLarge).
    max_stream_response: int = 200 * 1024 * 1024
    # Asynchronous invocation (invoke/async_*): delays before the 1st, 2nd... retry after a
    # function error; throttle/platform-error backoff "min,max"; events in flight at once;
    # how long a claim lasts before another worker may take the event; idle poll period;
    # a factor on MaximumEventAgeInSeconds (tests shrink it); how long an unreachable
    # destination is retried.
    async_retry_delays: tuple[float, ...] = (60.0, 120.0)
    async_throttle_backoff: tuple[float, ...] = (1.0, 300.0)
    async_max_concurrency: int = 32
    async_visibility_timeout: float = 960.0
    async_poll_interval: float = 1.0
    async_event_age_scale: float = 1.0
    async_delivery_max_age: float = 21600.0
    # EventBridge scheduled rules and Scheduler schedules (events/timer.py): real seconds
    # per schedule second (tests shrink it: 0.01 makes rate(1 minute) fire every 0.6 s);
    # the timer's longest sleep between looks at the schedules.
    schedule_time_scale: float = 1.0
    schedule_poll_interval: float = 1.0
    # Traffic shifting of aliases deployed with a CodeDeploy UpdatePolicy (SAM's
    # DeploymentPreference, deploy/traffic_shift.py): real seconds per deployment second
    # (tests shrink it: 0.01 makes Canary10Percent5Minutes last 3 s).
    deployment_time_scale: float = 1.0
    # Event source mappings (events/mappings/): threads for their blocking calls to
    # queues and streams (long polls hold one each), the backoff "min,max" after a
    # source error or a throttle, SQS's long-poll wait (0-20 s; short enough that a stop
    # does not wait long for the threads in a poll).
    esm_threads: int = 64
    esm_backoff: tuple[float, ...] = (1.0, 60.0)
    esm_sqs_wait: float = 5.0
    # Amazon MQ (RabbitMQ) sources (events/mappings/rmq_*): "BROKER=amqp://host:port"
    # pairs, BROKER a broker's ARN or its name (a name serves every account); a JSON file
    # {"SECRET_ARN": {"username": ..., "password": ...}} for BASIC_AUTH; the batching
    # window of a mapping whose MaximumBatchingWindowInSeconds is 0 (AWS's 500 ms).
    mq_brokers: tuple[tuple[str, str], ...] = ()
    mq_secrets_file: str = ""
    esm_mq_default_window: float = 0.5
    # Pushed events (events/sns_door.py, events/s3_door.py): whether SNS messages must be
    # signed; the SNS whose certificates and confirmation links are trusted besides AWS's
    # (empty: AWS_ENDPOINT_URL_SNS, then AWS_ENDPOINT_URL, of lambdad's environment);
    # "bucket=FUNCTION_ARN" pairs of S3 webhooks, and the token they must carry.
    sns_require_signature: bool = True
    sns_endpoint: str = ""
    s3_webhooks: tuple[tuple[str, str], ...] = ()
    s3_webhook_token: str = ""
    # Container images (model/image_uri.py): the OCI/Docker registry ECR URIs map to
    # ("http://127.0.0.1:5000", "https://registry.example"; empty: no images), and the
    # auth file (containers-auth.json) with its login (empty: no credentials sent).
    image_registry: str = ""
    image_registry_auth_file: str = ""
    # The VPCs whose subnets and security groups functions may name (model/vpc.py): a
    # JSON object of VPC id -> {"SubnetIds": [...], "SecurityGroupIds": [...]}.
    vpc_networks: str = ""
    account_concurrency: int = 1000
    # Concurrency (invoke/leases.py): what PutFunctionConcurrency must leave unreserved;
    # per function, at most scale_up_limit new environments per scale_up_window seconds
    # (refilled continuously); the Retry-After of a throttle; how often provisioned
    # environments are checked and replaced.
    min_unreserved_concurrency: int = 100
    scale_up_limit: int = 1000
    scale_up_window: float = 10.0
    throttle_retry_after: int = 1
    provisioned_check_interval: float = 1.0
    code_storage_limit: int = 75 * 1024**3
    log_retention_events: int = 100_000
    log_event_max_bytes: int = 256 * 1024
    log_buffer_bytes: int = 1024 * 1024
    # AWS calls made for an account (S3 code, destinations, dead-letter queues; outbound.py)
    # are signed with that account's own identity: "ACCOUNT=profile:NAME" or
    # "ACCOUNT=AKID:SECRET[:TOKEN]" entries. lambdad's own identity serves only the trusted
    # accounts: ids, "generated" (the data dir's generated credential's account), "*".
    outbound_credentials: tuple[tuple[str, str], ...] = ()
    outbound_trusted_accounts: tuple[str, ...] = ("generated",)
    # The API port (api/http.py): the largest request head and most header fields; seconds
    # a head may take, and a body (plus one second per api_min_body_rate bytes); open
    # connections in all and per client address; body bytes held until answered (before
    # their signature is verified), in all and per client address.
    api_max_head_bytes: int = 64 * 1024
    api_max_headers: int = 100
    api_head_timeout: float = 30.0
    api_body_timeout: float = 30.0
    api_min_body_rate: float = 16 * 1024
    api_max_connections: int = 1024
    api_max_connections_per_client: int = 256
    api_max_unverified_bytes: int = 256 * 1024 * 1024
    api_max_unverified_bytes_per_client: int = 96 * 1024 * 1024
    # WebSocket APIs (events/websocket/): seconds a connection may stay without a frame
    # either way, and open in all, before it is closed (AWS: 10 minutes, 2 hours).
    websocket_idle_timeout: float = 600.0
    websocket_max_duration: float = 7200.0
    # Connections upgraded to WebSockets, in all and per client address (apart from the
    # api_max_connections* above; past them an upgrade is answered 429).
    websocket_max_connections: int = 1000
    websocket_max_connections_per_client: int = 100
    # Metrics (observe/metrics_*): recorded at all; seconds between flushes to the store;
    # days 1-minute points are kept (then 5-minute for 63 days, 1-hour for 455); the
    # bearer token `/metrics` (Prometheus) asks for (empty: open); seconds between
    # evaluations of the metric alarms.
    metrics_enabled: bool = True
    metrics_flush_interval: float = 10.0
    metrics_alarm_interval: float = 60.0
    # Custom metric series (PutMetricData, the embedded metric format) kept per account
    # and region; new ones past it are refused (a tenant cannot fill the disk).
    metrics_max_custom_series: int = 10_000
    metrics_retention_days: float = 15.0
    metrics_token: str = ""
    # Tracing (observe/tracing_*): trace headers and X-Ray segments at all; the UDP port
    # of the X-Ray daemon functions send segments to (0: any free one); traces kept per
    # account and region; where OTLP/HTTP spans go ("http://collector:4318/v1/traces";
    # empty: nowhere) and seconds between their batches.
    tracing_enabled: bool = True
    xray_daemon_port: int = 0
    tracing_max_traces: int = 10_000
    otlp_endpoint: str = ""
    otlp_interval: float = 2.0
    # `lambdad cost` (observe/pricing.py): AWS's public prices in USD and the monthly
    # free tier, per account and region.
    price_per_million_requests: float = 0.20
    price_gb_second_x86_64: float = 0.0000166667
    price_gb_second_arm64: float = 0.0000133334
    price_storage_gb_second: float = 0.0000000309
    price_provisioned_gb_second_x86_64: float = 0.0000041667
    price_provisioned_gb_second_arm64: float = 0.0000033334
    price_provisioned_duration_gb_second_x86_64: float = 0.0000097222
    price_provisioned_duration_gb_second_arm64: float = 0.0000077778
    free_tier_requests: int = 1_000_000
    free_tier_gb_seconds: float = 400_000.0
    # Seconds an environment's execution-role session lasts (AWS_SESSION_TOKEN); an
    # environment stops taking invocations once the rest would not cover one more.
    role_session_duration: float = 43200.0
    # Services a function's SDK reaches elsewhere than lambdad (model/endpoints.py):
    # "s3=http://127.0.0.1:4566,dynamodb=...", or "host": the server's own
    # AWS_ENDPOINT_URL_* (host_endpoints, read from the environment at start).
    function_endpoints: str = ""
    host_endpoints: tuple[tuple[str, str], ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: Any) -> Settings:
        """Settings from ``LAMBDAD_*`` variables, then explicit overrides (CLI)."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get("LAMBDAD_" + f.name.upper())
            if raw is None or f.name == "extra":
                continue
            values[f.name] = _coerce(f.type, raw)
        values["host_endpoints"] = tuple(
            sorted((k, v) for k, v in env.items() if k.startswith("AWS_ENDPOINT_URL_"))
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def __post_init__(self) -> None:
        # Relative paths break as soon as a sandbox mounts them from its own root.
        object.__setattr__(self, "data_dir", Path(self.data_dir).absolute())

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def resolve_data_dir(option: str | Path | None, env: Mapping[str, str]) -> Path:
    """The data directory a command means: ``option`` (``--data-dir``), else
    ``LAMBDAD_DATA_DIR``, else ``./.lambdad``; absolute, against the working directory."""
    chosen = option or env.get("LAMBDAD_DATA_DIR") or DEFAULT_DATA_DIR
    return Path(chosen).absolute()


def _coerce(kind: Any, raw: str) -> Any:
    kind = str(kind)
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind == "Path":
        return Path(raw)
    if kind.startswith("tuple[float"):
        return tuple(float(p) for p in raw.split(",") if p.strip())
    if kind.startswith("tuple[str"):
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    if kind.startswith("tuple[tuple"):
        pairs = (p.split("=", 1) for p in raw.split(",") if "=" in p)
        return tuple((k.strip(), v.strip()) for k, v in pairs)
    return raw


def describe() -> list[tuple[str, str]]:
    """(environment variable, default) for every setting, for ``serve --help``."""
    out = []
    for f in dataclasses.fields(Settings):
        if f.name in ("extra", "host_endpoints"):
            continue
        default = f.default if f.default is not dataclasses.MISSING else ""
        if isinstance(default, tuple):  # as the variable is written: 60,120
            default = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in default)
        out.append(("LAMBDAD_" + f.name.upper(), str(default)))
    return out
