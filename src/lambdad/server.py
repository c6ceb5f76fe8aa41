"""Running the server: the Platform, the ASGI app, uvicorn, and clean shutdown.

uvicorn handles SIGINT/SIGTERM by finishing in-flight requests and then leaving
``serve()``; the platform is closed after it returns, so no environment outlives
the server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, SimpleNamespace
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.server import ServerState

from lambdad.api import role_auth, sigv4
from lambdad.api.admission import MAX_BODY, Admission, refuse, throttle
from lambdad.api.apigateway_api import ApiGatewayApi
from lambdad.api.app import App
from lambdad.api.cloudwatch_api import CloudWatchApi
from lambdad.api.code_links import CodeLinks
from lambdad.api.cost_api import cost_report
from lambdad.api.debug_api import DebugApi
from lambdad.api.elbv2_api import ElbApi
from lambdad.api.events_api import EventsApi
from lambdad.api.handlers.account import AccountHandlers
from lambdad.api.handlers.aliases import AliasHandlers
from lambdad.api.handlers.capacity_providers import CapacityProviderHandlers
from lambdad.api.handlers.code_signing import CodeSigningHandlers
from lambdad.api.handlers.concurrency import ConcurrencyHandlers
from lambdad.api.handlers.event_invoke_config import EventInvokeConfigHandlers
from lambdad.api.handlers.event_source_mappings import EventSourceMappingHandlers
from lambdad.api.handlers.function_settings import FunctionSettingsHandlers
from lambdad.api.handlers.function_urls import FunctionUrlHandlers
from lambdad.api.handlers.functions import FunctionHandlers
from lambdad.api.handlers.invoke import InvokeHandlers
from lambdad.api.handlers.layers import LayerHandlers
from lambdad.api.handlers.policies import PolicyHandlers
from lambdad.api.handlers.tags import TagHandlers
from lambdad.api.handlers.versions import VersionHandlers
from lambdad.api.http import protocol_for
from lambdad.api.limits import Limits
from lambdad.api.logs_api import LogsApi
from lambdad.api.metrics_http import MetricsRoute
from lambdad.api.routes import LambdaHandlers, lambda_routes
from lambdad.api.scheduler_api import SchedulerApi
from lambdad.api.signing_api import SigningApi
from lambdad.api.xray_api import XRayApi
from lambdad.config import Settings
from lambdad.console.aws import Aws
from lambdad.console.door import Console, ConsoleRoute
from lambdad.console.saved_events import SavedEvents
from lambdad.deploy.cfn_api import build as cloudformation_api
from lambdad.deploy.codedeploy_api import TARGET_PREFIX as CODEDEPLOY_TARGET
from lambdad.deploy.codedeploy_api import CodeDeployApi
from lambdad.deploy.codedeploy_records import CodeDeployRecords
from lambdad.errors import AwsError
from lambdad.events.alb import door as alb_door
from lambdad.events.alb.door import LoadBalancerDoor
from lambdad.events.alb.listeners import HOST as LISTENER_HOST
from lambdad.events.alb.listeners import OpenPort
from lambdad.events.alb.routing import BalancerRoute
from lambdad.events.apigw.routing import ApiRoute
from lambdad.events.function_urls import FunctionUrlDoor, Response
from lambdad.events.http.alb import MAX_REQUEST_BODY_BYTES
from lambdad.events.http.request import IamCaller
from lambdad.events.push_routing import PushRoute
from lambdad.events.s3_door import S3Door
from lambdad.events.sns_door import SnsDoor
from lambdad.events.url_auth import UrlAuthorizer
from lambdad.events.url_cache import CachedUrlConfigs, UrlCache
from lambdad.events.url_routing import UrlRoute
from lambdad.events.web_fetch import ServiceSigner, UrllibWeb
from lambdad.events.websocket.door import WebSocketDoor
from lambdad.events.websocket.management import ConnectionsRoute
from lambdad.events.websocket.names import Bounds
from lambdad.model import peer
from lambdad.model.credential import Credential
from lambdad.model.front_door import front
from lambdad.model.scope import Scope
from lambdad.observe.pricing import Prices
from lambdad.observe.prometheus_export import PrometheusExport
from lambdad.platform import Platform
from lambdad.runtimes.table import RuntimeTable

if TYPE_CHECKING:
    from lambdad.runtimes.host_support import Shortfall
    from lambdad.sandbox.select import Capability

log = logging.getLogger(__name__)


def build_app(platform: Platform) -> App:
    """The API app over the platform's services: each handler gets what it calls."""
    from lambdad.runtimes.host_support import host_architecture, shortfalls

    s = platform.settings
    # Load balancer listeners on their own ports, served by a door of their own.
    elb_door = platform.load_balancing.door(platform.invoker, UrlCache(platform.changes))
    open_port = functools.partial(_open_listener, platform, elb_door)
    code_links = CodeLinks(platform.clock, platform.store, platform.blobs)
    # The stacks' traffic-shifting deployments, which the CodeDeploy API reports on.
    codedeploy = CodeDeployRecords(platform.store)
    cloudformation = cloudformation_api(
        platform.store,
        s.data_dir,
        platform.sealer,
        platform.outbound,
        lambda: platform.clock.now().timestamp(),
        s.host,
        s.port,
        configured_sns_endpoint(s),
        configured_service_endpoints(s),
        codedeploy,
        s.deployment_time_scale,
        functools.partial(_restore_alias, platform),
    )
    handlers = LambdaHandlers(
        functions=FunctionHandlers(
            platform.functions,
            platform.offload,
            code_links.for_request,
            lambda config: shortfalls(config, platform.runtimes, host_architecture()),
            offload_pull=platform.offload_pull,
        ),
        versions=VersionHandlers(platform.functions),
        invoke=InvokeHandlers(
            platform.invoker, platform.async_invoker, max_async_payload=s.max_async_payload
        ),
        event_invoke_config=EventInvokeConfigHandlers(platform.event_configs),
        aliases=AliasHandlers(platform.aliases),
        layers=LayerHandlers(platform.layers, platform.offload, code_links.for_request),
        policies=PolicyHandlers(platform.policies),
        concurrency=ConcurrencyHandlers(platform.concurrency),
        tags=TagHandlers(platform.functions, platform.mappings, platform.capacity_providers),
        account=AccountHandlers(platform.account, platform.concurrency),
        function_urls=FunctionUrlHandlers(platform.function_urls),
        event_source_mappings=EventSourceMappingHandlers(platform.mappings),
        code_signing=CodeSigningHandlers(platform.code_signing),
        function_settings=FunctionSettingsHandlers(platform.function_settings),
        capacity_providers=CapacityProviderHandlers(
            platform.capacity_providers, platform.function_scaling
        ),
    )
    return App(
        s,
        lambda_routes(handlers),
        lookup_credential=platform.lookup_credential,
        clock=platform.clock,
        code_links=code_links,
        logs=LogsApi(platform.logs),
        events=EventsApi(platform.eventbridge.operations()),
        async_statistics=lambda: platform.offload(platform.async_invoker.statistics),
        lifecycle=_WithListeners(platform, open_port),
        open_session=platform.sessions.open,
        role_policy=platform.role_policies.policy_for,
        # The APIs answered by their signing scope (sigv4.SCOPED_SERVICES), by name.
        scoped_services={
            "monitoring": CloudWatchApi(platform.metrics, prices_from(s), alarms=platform.alarms),
            "scheduler": SchedulerApi(platform.eventbridge.scheduler.operations()),
            "xray": XRayApi(platform.tracing.queries),
            "apigateway": ApiGatewayApi(
                platform.apigateway.http_operations(),
                platform.apigateway.rest_operations(),
                platform.offload,
            ),
            "elasticloadbalancing": ElbApi(
                platform.load_balancing.operations(),
                platform.offload,
                after=functools.partial(platform.load_balancing.listening.sync, open_port),
            ),
            "cloudformation": cloudformation,
        },
        extra_services={CODEDEPLOY_TARGET: CodeDeployApi(codedeploy)},
        own_apis=(
            SigningApi(platform.signing_profiles),
            DebugApi(platform.functions, platform.pool),
        ),
    )


def _restore_alias(
    platform: Platform, account: str, region: str, function: str, alias: str, version: str
) -> None:
    """An alias on ``version`` alone (a traffic shift an earlier run left half-way)."""
    params = {"FunctionName": function, "Name": alias, "FunctionVersion": version,
              "RoutingConfig": {"AdditionalVersionWeights": {}}}  # fmt: skip
    platform.aliases.update(Scope(account, region), params)


class _WithListeners:
    """The platform's background work, and load balancers' own-port listeners: opened
    at start-up for the listeners stored, closed first at shutdown."""

    def __init__(self, platform: Platform, open_port: OpenPort) -> None:
        self.platform = platform
        self.open_port = open_port
        # Awaited first at shutdown (work in flight that needs the platform to end).
        self.drains: list[Callable[[], Awaitable[None]]] = []

    async def start_background(self) -> None:
        await self.platform.start_background()
        await self.platform.load_balancing.listening.sync(self.open_port)

    async def stop_background(self) -> None:
        for drain in self.drains:
            await drain()
        await self.platform.load_balancing.listening.close()
        await self.platform.stop_background()


async def _open_listener(platform: Platform, door: LoadBalancerDoor, port: int) -> asyncio.Server:
    """``127.0.0.1:port`` served by the API port's HTTP protocol, every request going to
    the load balancer door (its body bounded by a Lambda target's 1 MB)."""

    async def respond(
        method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes
    ) -> Response:
        client = peer.CLIENT.get() or LISTENER_HOST
        return await door.respond_on_port(
            port, method, path, query, headers, body, source_ip=client
        )

    # The balancer's own bounds on a head, and its answer past them; the header count
    # is bounded by the head's bytes alone (ELB sets no count).
    limits = dataclasses.replace(
        api_limits(platform.settings),
        max_head_bytes=alb_door.MAX_HEAD_BYTES,
        max_line_bytes=alb_door.MAX_LINE_BYTES,
        max_headers=alb_door.MAX_HEAD_BYTES // 4,
        head_refusal=alb_door.HEAD_REFUSAL,
    )
    build = protocol_for(
        respond, refuse, MAX_BODY, lambda *request: MAX_REQUEST_BODY_BYTES + 1, limits, throttle
    )
    config, state = SimpleNamespace(timeout_keep_alive=5), ServerState()
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: build(config=config, server_state=state), LISTENER_HOST, port
    )


def build_server(platform: Platform) -> uvicorn.Server:
    app = build_app(platform)
    admission = Admission(
        platform.lookup_credential,
        platform.clock,
        max_sync_payload=platform.settings.max_sync_payload,
        open_session=platform.sessions.open,
    )
    url_cache = UrlCache(platform.changes)
    urls = FunctionUrlDoor(
        CachedUrlConfigs(platform.function_urls.config_for, url_cache),
        platform.invoker,
        UrlAuthorizer(platform.policies, functools.partial(_url_signer, platform), url_cache),
        platform.clock,
        port=platform.settings.port,
    )
    apis = platform.apigateway.door(
        platform.invoker,
        platform.policies,
        url_cache,
        functools.partial(_url_signer, platform, service="execute-api"),
        trusted_account=platform.outbound.uses_server_identity,
    )
    balancers = platform.load_balancing.door(platform.invoker, url_cache)
    websockets = WebSocketDoor(
        platform.apigateway.apis,
        platform.invoker,
        platform.policies,
        url_cache,
        platform.clock,
        port=platform.settings.port,
        bounds=Bounds(
            idle_timeout=platform.settings.websocket_idle_timeout,
            max_duration=platform.settings.websocket_max_duration,
        ),
        verify=functools.partial(_url_signer, platform, service="execute-api"),
    )
    if isinstance(app.lifecycle, _WithListeners):
        app.lifecycle.drains.append(websockets.drain)
    manage = functools.partial(
        _url_signer, platform, service="execute-api", action="execute-api:ManageConnections"
    )
    console = build_console(platform, app)
    # The doors that answer before SigV4, in order: a balancer or an API its Host names,
    # a function URL, then /metrics and /console on the port's own host only (an API's
    # or a URL's paths are theirs), and pushed events.
    doors = (
        BalancerRoute(balancers),
        ConnectionsRoute(websockets, manage),
        ApiRoute(apis),
        UrlRoute(urls),
        MetricsRoute(
            PrometheusExport(platform.metrics, platform.offload).scrape,
            platform.settings.metrics_token,
        ),
        ConsoleRoute(console),
        PushRoute(*push_doors(platform)),
    )
    respond, admit = front(doors, app.respond, admission.admit)
    config = uvicorn.Config(
        app,
        host=platform.settings.host,
        port=platform.settings.port,
        # uvicorn's own HTTP protocols drive the app through ASGI messages, which cost
        # more per request than the rest of a warm invoke; api/http.py calls it directly.
        http=protocol_for(  # type: ignore[arg-type]
            respond,
            refuse,
            MAX_BODY,
            admit,
            api_limits(platform.settings),
            throttle,
            upgrader=websockets,
        ),
        proxy_headers=False,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        server_header=False,
        date_header=True,
    )
    return uvicorn.Server(config)


def build_console(platform: Platform, app: App) -> Console:
    """The web console (``/console``): the API's own operations, called in-process."""
    logs = app.extra_services.get("Logs_20140328")
    cloudwatch = app.scoped_services.get("monitoring")
    gateway = platform.apigateway
    aws = Aws(
        app.routes,
        logs_ops=logs.handlers if isinstance(logs, LogsApi) else {},
        events_ops=platform.eventbridge.operations(),
        scheduler_ops=platform.eventbridge.scheduler.operations(),
        cloudwatch_ops=cloudwatch.operations if isinstance(cloudwatch, CloudWatchApi) else {},
        # The console asks GetApis/GetIntegrations (HTTP) and GetRestApis/GetResources.
        apigateway_ops={**gateway.rest_operations(), **gateway.http_operations()},
        cost=(
            functools.partial(cost_report, cloudwatch.metrics, cloudwatch.prices)
            if isinstance(cloudwatch, CloudWatchApi)
            else None
        ),
    )
    saved = SavedEvents(platform.settings.data_dir / "console.db")
    clock = platform.clock
    return Console(
        aws,
        platform.lookup_credential,
        lambda: clock.now_ms() / 1000,
        platform.settings.default_region,
        saved,
    )


def configured_sns_endpoint(s: Settings) -> str | None:
    """The SNS lambdad trusts and subscribes on besides AWS's (None: none configured)."""
    return (
        s.sns_endpoint
        or os.environ.get("AWS_ENDPOINT_URL_SNS")
        or os.environ.get("AWS_ENDPOINT_URL")
        or None
    )


def configured_service_endpoints(s: Settings) -> dict[str, str]:
    """Where stacks make their queues and buckets (``sqs``, ``s3``): the endpoints the
    operator configured for them (the pollers and code reads use the same)."""
    given = dict(s.host_endpoints)
    fallback = os.environ.get("AWS_ENDPOINT_URL")
    out = {}
    for service in ("sqs", "s3"):
        url = given.get(f"AWS_ENDPOINT_URL_{service.upper()}") or fallback
        if url:
            out[service] = url
    return out


def push_doors(platform: Platform) -> tuple[SnsDoor, S3Door]:
    """The SNS subscription and S3 webhook endpoints (events/push_routing.py)."""
    s = platform.settings
    sns_endpoint = configured_sns_endpoint(s)
    sns = SnsDoor(
        platform.async_invoker,
        platform.policies,
        UrllibWeb(),
        ServiceSigner(platform.outbound),
        platform.clock,
        sns_endpoint=sns_endpoint or None,
        require_signature=s.sns_require_signature,
        max_payload=s.max_async_payload,
    )
    s3 = S3Door(
        platform.s3_webhooks,
        s.s3_webhook_token,
        platform.async_invoker,
        platform.policies,
        max_payload=s.max_async_payload,
    )
    return sns, s3


def _url_signer(
    platform: Platform,
    method: str,
    path: str,
    query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    region: str,
    *,
    service: str = "lambda",
    action: str | None = None,
) -> IamCaller | None:
    """Who signed a request to an ``AWS_IAM`` function URL (for lambda, in ``region``),
    or API Gateway route (``service`` ``execute-api``)."""
    try:
        signer = sigv4.verify(
            method, path, query, headers, body, platform.lookup_credential,
            platform.clock.now(), service=service, sessions=platform.sessions.open,
        )  # fmt: skip
    except AwsError:
        return None
    if signer.region != region:
        return None
    # A role's session also needs its identity policy's leave (by default: lambda:*).
    if action is None:
        action = "lambda:InvokeFunctionUrl" if service == "lambda" else "execute-api:Invoke"
    if not role_auth.permits(signer, platform.role_policies.policy_for, action):
        return None
    account = signer.credential.account_id
    return IamCaller(
        access_key=signer.credential.access_key_id,
        account_id=account,
        caller_id=account,
        user_arn=signer.arn,
        user_id=account,
    )


def prices_from(settings: Settings) -> Prices:
    """The price table of ``lambdad cost``: AWS's public prices unless the operator's."""
    return Prices(
        per_million_requests=settings.price_per_million_requests,
        gb_second={
            "x86_64": settings.price_gb_second_x86_64,
            "arm64": settings.price_gb_second_arm64,
        },
        storage_gb_second=settings.price_storage_gb_second,
        provisioned_gb_second={
            "x86_64": settings.price_provisioned_gb_second_x86_64,
            "arm64": settings.price_provisioned_gb_second_arm64,
        },
        provisioned_duration_gb_second={
            "x86_64": settings.price_provisioned_duration_gb_second_x86_64,
            "arm64": settings.price_provisioned_duration_gb_second_arm64,
        },
        free_requests=settings.free_tier_requests,
        free_gb_seconds=settings.free_tier_gb_seconds,
    )


def api_limits(settings: Settings) -> Limits:
    return Limits(
        max_head_bytes=settings.api_max_head_bytes,
        max_headers=settings.api_max_headers,
        head_timeout=settings.api_head_timeout,
        body_timeout=settings.api_body_timeout,
        min_body_rate=settings.api_min_body_rate,
        max_connections=settings.api_max_connections,
        max_connections_per_client=settings.api_max_connections_per_client,
        max_unverified_bytes=settings.api_max_unverified_bytes,
        max_unverified_bytes_per_client=settings.api_max_unverified_bytes_per_client,
        max_upgraded=settings.websocket_max_connections,
        max_upgraded_per_client=settings.websocket_max_connections_per_client,
    )


def run(platform: Platform) -> None:
    server = build_server(platform)

    def stop(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    # uvicorn swaps in its own handlers while serving and, once shut down, raises the
    # signal again for the handlers it found, so that the default ones end the process
    # (status -15 for SIGTERM). lambdad exits 0 after a clean shutdown instead; these
    # handlers also cover a signal that arrives before uvicorn installs its own.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(server.serve())
    finally:
        platform.close()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed: the warm path is event-loop bound (a warm invoke
    is four socket writes and reads, timers and futures), and uvloop's loop, transports
    and timers in C take a good share of that CPU off it. None: asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


# -- what the command line needs of this host without a running server ---------------------
# (The import contract lets ``cli`` import ``api`` and this module only: ``serve`` opens
# the platform here, and ``doctor``, ``ls`` and the client commands' credential come
# from the host's probes and data directory through these functions.)


def open_platform(settings: Settings) -> Platform:
    """The platform for ``settings``, opened (ValueError, StoreUnreadable: it cannot)."""
    platform = Platform(settings)
    platform.open()
    return platform


def data_dir_credential(data_dir: Path) -> Credential | None:
    """The credential ``lambdad serve`` created in ``data_dir``, if any."""
    from lambdad.control import credentials

    return credentials.load(data_dir)


@dataclass(frozen=True, slots=True)
class HostCheck:
    """What ``lambdad doctor`` reports: the bwrap backend's needs, the runtimes found
    (family -> versions), whether full isolation can run, and the settings no host of
    lambdad honours fully."""

    capabilities: list[Capability]
    runtimes: dict[str, str]
    full_isolation: bool
    limits: list[str]


def host_check() -> HostCheck:
    from lambdad.runtimes.host_support import host_architecture, host_limits
    from lambdad.sandbox import select

    caps = select.capabilities()
    return HostCheck(
        caps,
        RuntimeTable().available(),
        select.full_isolation_possible(caps),
        host_limits(host_architecture()),
    )


def host_shortfalls(
    functions: Iterable[Mapping[str, Any]], environ: Mapping[str, str]
) -> dict[str, list[Shortfall]]:
    """Per function (a FunctionConfiguration), what this host cannot honour with the
    runtime settings of ``environ``."""
    from lambdad.runtimes.host_support import host_architecture, shortfalls

    settings = Settings.from_env(environ)
    runtimes = RuntimeTable(dict(settings.runtime_overrides), strict=settings.strict_runtimes)
    machine = host_architecture()
    return {f["FunctionName"]: shortfalls(f, runtimes, machine) for f in functions}
