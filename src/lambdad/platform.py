"""The composition root: builds every service once from the settings.

``Platform.open()`` performs the side effects (data directory, store, keys);
``close()`` releases them. The ASGI app and the CLI receive a Platform; nothing
else constructs services.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from lambdad.clock import Clock, SystemClock
from lambdad.config import Settings
from lambdad.control import credentials as credstore
from lambdad.control.account import AccountSettings
from lambdad.control.aliases import AliasService
from lambdad.control.capacity_providers import CapacityProviders
from lambdad.control.code_signing import CodeSigningConfigs
from lambdad.control.code_verify import CodeVerifier
from lambdad.control.concurrency import ConcurrencyService
from lambdad.control.event_invoke_config import EventInvokeConfigService
from lambdad.control.event_source_mappings import EventSourceMappingService
from lambdad.control.function_scaling import FunctionScaling
from lambdad.control.function_settings import FunctionSettings
from lambdad.control.function_urls import FunctionUrlService
from lambdad.control.functions import FunctionService
from lambdad.control.images import FunctionImages
from lambdad.control.layers import LayerService
from lambdad.control.policies import PolicyService
from lambdad.control.signing_profiles import SigningProfiles
from lambdad.environments.code import CodeCache
from lambdad.environments.layers import OptCache
from lambdad.environments.maker import EnvironmentMaker
from lambdad.environments.pool import EnvironmentPool
from lambdad.environments.provisioned import ProvisionedManager
from lambdad.environments.scaling import ScalingKeeper
from lambdad.environments.snapstart import SnapStart, TemplateRequest
from lambdad.environments.snapstart_jobs import SnapStartJobs, TemplateBuilds
from lambdad.errors import AwsError
from lambdad.events.alarm_targets import AlarmTargets
from lambdad.events.alb.service import LoadBalancing
from lambdad.events.apigw.service import ApiGateway
from lambdad.events.eventbridge import EventBridge
from lambdad.events.mappings.context import MappingContext
from lambdad.events.mappings.filtering import check_pattern
from lambdad.events.mappings.supervisor import MappingSupervisor, function_exists
from lambdad.events.s3_door import parse_webhooks
from lambdad.invoke.async_invoke import AsyncInvokeService
from lambdad.invoke.cache import ResolveCache
from lambdad.invoke.destinations import DestinationSender
from lambdad.invoke.leases import Leases, ScaleUp, limits_from
from lambdad.invoke.sync import InvokeService
from lambdad.invoke.tracing import InvokeTracing
from lambdad.model.changes import ChangeHub
from lambdad.model.credential import Credential
from lambdad.model.image_uri import parse_registry
from lambdad.model.scope import Scope
from lambdad.model.session import SessionIssuer
from lambdad.observe import emf
from lambdad.observe.alarms import AlarmService
from lambdad.observe.logs import LogStore
from lambdad.observe.metrics_recorder import MetricsRecorder
from lambdad.observe.metrics_retention import Retention
from lambdad.observe.metrics_service import Allocation, MetricsService
from lambdad.observe.tracing_setup import Tracing
from lambdad.outbound import NoOutboundIdentity, OutboundIdentities
from lambdad.outbound import parse_credentials as parse_outbound
from lambdad.outbound import trusted_accounts as outbound_trusted
from lambdad.runtimes.sdk import ensure_python_sdk
from lambdad.runtimes.table import RuntimeTable
from lambdad.sandbox.select import choose_backend
from lambdad.secrets import Sealer, session_key
from lambdad.store import roles as roles_file
from lambdad.store.blobs import BlobStore
from lambdad.store.images import ImageStore
from lambdad.store.logs_sqlite import SqliteLogStorage
from lambdad.store.metrics_sqlite import SqliteMetricStorage
from lambdad.store.queue_sqlite import SqliteAsyncQueue
from lambdad.store.roles import RolePolicies
from lambdad.store.sqlite import SqliteStore

log = logging.getLogger(__name__)
T = TypeVar("T")
S3_ACCESS_DENIED = (
    "Error occurred while GetObject. S3 Error Code: AccessDenied. S3 Error Message: Access Denied"
)


class Platform:
    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        *,
        templates: TemplateBuilds | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.credentials: dict[str, Credential] = {}
        self.generated_credential: Credential | None = None
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lambdad-io")
        # Container image pulls (minutes at worst) have their own threads: they never
        # hold the ones archives, metrics and alarm actions share.
        self._pull_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lambdad-pull")
        # What takes SnapStart snapshots, when not the pool's templates (a test's fake).
        self._templates = templates

    def open(self) -> None:
        try:
            self._open()
        except BaseException:
            # What outlives the process must not be left behind: the sandbox's mounts
            # (/tmp disks) and cgroups, made before a later part failed to open.
            backend = getattr(self, "backend", None)
            if backend is not None:
                backend.close()
            raise

    def _open(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        ensure_python_sdk()
        explicit = credstore.parse(s.credentials)
        if explicit:
            creds = explicit
        else:
            cred, created = credstore.load_or_create(s.data_dir)
            creds = [cred]
            if created:
                self.generated_credential = cred
        self.credentials = {c.access_key_id: c for c in creds}
        # Outbound AWS calls for an account sign with its own identity (outbound.py).
        self.outbound = OutboundIdentities(
            parse_outbound(s.outbound_credentials),
            outbound_trusted(
                s.outbound_trusted_accounts, None if explicit else creds[0].account_id
            ),
        )
        # Code from S3 is held to the unzipped limit only, as on AWS (not the zipped one).
        fetch_s3_code = functools.partial(_fetch_s3_code, self.outbound, s.max_unzipped_bytes)
        self.store = SqliteStore(s.data_dir / "lambdad.db")
        self.store.open()
        self.blobs = BlobStore(s.data_dir / "blobs")
        self.blobs.open()
        self.logs = LogStore(
            SqliteLogStorage(s.data_dir / "logs.db"),
            self.clock,
            retention_events=s.log_retention_events,
            max_event_bytes=s.log_event_max_bytes,
            buffer_bytes=s.log_buffer_bytes,
        )
        self.logs.open()
        self.sealer = Sealer.from_data_dir(s.data_dir)
        # Metrics: recorded by the invoke paths, flushed to metrics.db in the background.
        self.metric_storage = SqliteMetricStorage(s.data_dir / "metrics.db")
        self.metric_storage.open()
        self.metrics_recorder = MetricsRecorder(
            enabled=s.metrics_enabled, on_high_water=lambda: self.metrics.refresh_soon()
        )
        self.metrics = MetricsService(
            self.metric_storage,
            self.metrics_recorder,
            retention=Retention(minute_days=s.metrics_retention_days),
            offload=self.offload,
            max_custom_series=s.metrics_max_custom_series,
        )
        # Execution-role sessions: minted for each new environment, opened by the API;
        # what each role may do, from the operator's roles.json (store/roles.py).
        self.sessions = SessionIssuer(session_key(s.data_dir), s.role_session_duration)
        self.role_policies = RolePolicies(s.data_dir / roles_file.FILE_NAME)
        self.layers = LayerService(s, self.store, self.blobs, self.clock, fetch_s3_code)
        # What changed in the control plane, for whoever follows it (each subscribes in
        # its constructor; the resolve cache first, so it forgets before anyone acts).
        self.changes = ChangeHub()
        self.signing_profiles = SigningProfiles(self.store, self.sealer, self.clock)
        code_verifier = CodeVerifier(self.store, self.signing_profiles, self.clock)
        self.capacity_providers = CapacityProviders(self.store, self.clock)
        # Container images: pulled per digest into images/ (store/images.py).
        self.images = ImageStore(
            s.data_dir / "images",
            parse_registry(s.image_registry),
            auth_file=s.image_registry_auth_file,
        )
        # No environment runs yet: images nothing runs any longer go now.
        self.images.sweep(self.store)
        self.functions = FunctionService(
            s,
            self.store,
            self.blobs,
            self.sealer,
            self.clock,
            code_fetcher=fetch_s3_code,
            layers=self.layers.resolve,
            changes=self.changes,
            code_check=code_verifier.check,
            role_check=self.role_policies.assumable,
            capacity_check=self.capacity_providers.check_config,
            function_images=FunctionImages(self.images, self.outbound.uses_server_identity),
        )
        self.code_signing = CodeSigningConfigs(self.functions, code_verifier, self.clock)
        self.function_settings = FunctionSettings(self.store, self.functions)
        resolved = ResolveCache(self.functions)
        self.account = AccountSettings(s, self.store)
        self.aliases = AliasService(self.store, self.functions, self.changes)
        self.policies = PolicyService(self.store, self.functions, self.aliases, self.changes)
        self.function_urls = FunctionUrlService(
            self.store, self.functions, self.aliases, self.clock, self.changes, port=s.port
        )
        scale_up = ScaleUp(
            self.clock,
            limit=s.scale_up_limit,
            window=s.scale_up_window,
            retry_after=s.throttle_retry_after,
        )
        self.backend = choose_backend(s)
        self.runtimes = RuntimeTable(dict(s.runtime_overrides), strict=s.strict_runtimes)
        self.code = CodeCache(s.data_dir / "code", self.blobs, s.max_unzipped_bytes)
        # No environment runs yet: code and /opt trees nothing needs any longer go now.
        self.code.sweep()
        opt = OptCache(s.data_dir / "opt", self.code)
        opt.sweep()
        # SnapStart versions' templates, which their environments are restored from.
        self.snapstart = SnapStart(self.backend)
        # Traces: the X-Ray daemon's port (in every environment's variables), the store.
        self.tracing = Tracing(s)
        maker = EnvironmentMaker(
            s,
            self.backend,
            self.runtimes,
            self.code,
            self._log_sink,
            opt,
            clock=self.clock,
            sessions=self.sessions,
            xray_daemon_port=self.tracing.daemon_port,
            images=self.images,
        )
        self.pool = EnvironmentPool(
            s, maker, scale_up, self.snapstart, self.changes, clock=self.clock
        )

        def template_request(scope: Scope, name: str, version: str) -> TemplateRequest:
            return self.pool.template_request(self.functions.resolve(scope, name, version))

        # Snapshots taken when a SnapStart version is published, dropped when deleted.
        self.snapstart_jobs = SnapStartJobs(
            self._templates or self.snapstart,
            template_request,
            self.functions.finish_snapshot,
            self.functions.versions.pending_snapshots,
            self.changes,
        )
        self.provisioned = ProvisionedManager(
            self.pool, self.functions.resolve, s, self.changes, clock=self.clock
        )
        # Function scaling configurations: each version's floor and cap of environments.
        self.scaling = ScalingKeeper(self.pool, self.functions.resolve, s, self.changes)
        self.concurrency = ConcurrencyService(
            s,
            self.store,
            self.functions,
            self.aliases,
            self.clock,
            status=self.provisioned,
            changes=self.changes,
        )
        self.function_scaling = FunctionScaling(
            self.store, self.functions, self.concurrency.limits, s.account_concurrency
        )
        self.leases = Leases(
            limits_from(self.concurrency),
            self.clock,
            retry_after=s.throttle_retry_after,
        )
        self.invoker = InvokeService(
            s,
            self.functions,
            self.pool,
            leases=self.leases,
            aliases=self.aliases,
            policies=self.policies,
            provisioned=self.provisioned,
            resolved=resolved,
            metrics=self.metrics_recorder,
            tracing=InvokeTracing(self.tracing.store if self.tracing.enabled else None),
        )
        self.event_configs = EventInvokeConfigService(self.store, self.functions, self.clock)
        self.async_queue = SqliteAsyncQueue(s.data_dir / "async.db")
        self.async_queue.open()
        self.async_invoker = AsyncInvokeService(
            s,
            self.functions,
            self.invoker,
            self.event_configs,
            self.async_queue,
            self.clock,
            self.concurrency,
            DestinationSender(self.outbound),
            self.policies,
        )
        # Buckets whose pushed S3 events run a function (checked now: a bad one stops serve).
        self.s3_webhooks = parse_webhooks(s.s3_webhooks)
        # EventBridge: rules, targets, buses and PutEvents; Scheduler; one timer for both.
        self.eventbridge = EventBridge(
            s,
            self.store,
            self.async_invoker,
            self.policies,
            self.clock,
            DestinationSender(self.outbound),
        )
        # Metric alarms, evaluated every minute; a state change is an event on the
        # account's default bus, as CloudWatch sends it, and runs the alarm's actions
        # (SNS topics through the outbound identities, functions asynchronously).
        intake = self.eventbridge.intake
        self.alarms = AlarmService(
            self.metrics,
            on_change=lambda scope, entry: intake.put_events(scope, {"Entries": [entry]}),
            actions=AlarmTargets(
                self.outbound,
                self.async_invoker,
                self.policies,
                None,  # on threads of its own: a slow SNS never holds the platform's
                s.max_async_payload,
            ),
        )
        # Event source mappings and the pollers that run them, on their own threads.
        self.mappings = EventSourceMappingService(
            self.store, self.functions, self.clock, self.changes, check_pattern
        )
        self._mapping_executor = ThreadPoolExecutor(
            max_workers=max(1, s.esm_threads), thread_name_prefix="lambdad-esm"
        )
        self.mapping_supervisor = MappingSupervisor(
            self.mappings,
            self.store,
            self.changes,
            functools.partial(
                MappingContext,
                invoker=self.invoker,
                mappings=self.mappings,
                outbound=self.outbound,
                store=self.store,
                executor=self._mapping_executor,
                clock=self.clock,
                settings=s,
                metrics=self.metrics_recorder,
                recursive_loop=self.function_settings.recursive_loop,
            ),
            function_exists(self.functions.function_doc),
        )
        # API Gateway: HTTP and REST APIs, served by host and path on the API port.
        self.apigateway = ApiGateway(self.store, self.clock, s.port)
        # Application load balancers with Lambda targets, by Host on the API port.
        self.load_balancing = LoadBalancing(self.store, self.clock, self.policies, s.port)

    def close(self) -> None:
        self.async_queue.close()
        self.logs.close()
        self.metric_storage.close()
        self.store.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
        images = getattr(self, "images", None)
        if images is not None:
            images.close()  # the pulls' skopeo and umoci
        self._pull_executor.shutdown(wait=False, cancel_futures=True)
        alarm_targets = getattr(getattr(self, "alarms", None), "actions", None)
        if isinstance(alarm_targets, AlarmTargets):
            alarm_targets.close()
        mapping_executor = getattr(self, "_mapping_executor", None)
        if mapping_executor is not None:
            mapping_executor.shutdown(wait=False, cancel_futures=True)

    def isolation_banner(self) -> str:
        return self.backend.describe()

    def _log_sink(
        self, account: str, region: str, group: str, stream: str, ts_ms: int, message: str
    ) -> None:
        logs = getattr(self, "logs", None)
        if logs is not None:
            logs.put(account, region, group, stream, ts_ms, message)
        if emf.MARKER in message:  # metrics in the embedded metric format
            emf.record(self.metrics_recorder, Scope(account, region), message)

    async def start_background(self) -> None:
        """Background work that needs the event loop (reaper, flushers)."""
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self.pool.run_reaper()),
            loop.create_task(self.logs.run_flusher()),
            loop.create_task(self.provisioned.run()),
            loop.create_task(self.scaling.run()),
            loop.create_task(self.eventbridge.timer.run()),
            loop.create_task(self.metrics.run_flusher(self.settings.metrics_flush_interval)),
            loop.create_task(self.alarms.run(self.settings.metrics_alarm_interval)),
            # Provisioned concurrency is billed while configured, once a minute here.
            loop.create_task(self.metrics.run_provisioned_accrual(self._allocations, 60.0)),
        ]
        for scope, name, qualifier, count in self.concurrency.provisioned_targets():
            self.provisioned.configure(scope, name, qualifier, count)
        for scope, name, version, wanted in self.function_scaling.targets():
            self.scaling.configure(scope, name, version, wanted)
        # Snapshots a stop (or a crash) interrupted, or published with no server running.
        self.snapstart_jobs.start()
        await self.tracing.start()
        await self.async_invoker.start()
        await self.mapping_supervisor.start()

    async def stop_background(self) -> None:
        await self.mapping_supervisor.stop()
        # Actions under way queue their invocations first (an SNS topic that does
        # not answer holds the stop up for 5 s at most).
        await self.alarms.settle(within=5.0)
        await self.async_invoker.stop()
        for task in getattr(self, "_tasks", []):
            task.cancel()
        try:
            await self.metrics.flush()  # what the last seconds recorded
        except Exception:
            log.exception("metrics: the last flush failed")
        await self.tracing.stop()
        # A snapshot cut short stays Pending and is taken again at the next start.
        await self.snapstart_jobs.stop()
        await self.provisioned.shutdown()
        await self.scaling.shutdown()
        await self.pool.shutdown()
        self.backend.close()

    def _allocations(self) -> list[Allocation]:
        """Every provisioned concurrency configuration, with its version's size."""
        out: list[Allocation] = []
        for scope, name, qualifier, count in self.concurrency.provisioned_targets():
            try:
                rv = self.functions.resolve(scope, name, qualifier)
            except AwsError:
                continue  # deleted meanwhile
            arch = rv.architectures[0] if rv.architectures else "x86_64"
            out.append(
                (scope, name, rv.version, arch, rv.memory_mb, rv.ephemeral_storage_mb, count)
            )
        return out

    def lookup_credential(self, access_key_id: str) -> Credential | None:
        return self.credentials.get(access_key_id)

    async def offload(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work (archive checks, hashing, big writes) off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    async def offload_pull(self, fn: Callable[..., T], *args: Any) -> T:
        """``offload`` for a request that pulls a container image (its own 2 threads)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pull_executor, functools.partial(fn, *args))


_ZIP_SLACK = 4 * 1024 * 1024


def _fetch_s3_code(
    identities: OutboundIdentities, max_bytes: int, scope: Scope, code: dict[str, Any]
) -> bytes:
    """Code given as an S3 location, fetched with the identity of the account that asked
    (never lambdad's own, unless the operator trusts that account with it)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from lambdad.errors import InvalidParameterValueException

    try:
        s3 = identities.client(scope.account, "s3", scope.region)
    except NoOutboundIdentity as exc:
        log.warning(
            "S3 code s3://%s/%s for account %s refused: %s",
            code.get("S3Bucket"),
            code.get("S3Key"),
            scope.account,
            exc,
        )
        raise InvalidParameterValueException(S3_ACCESS_DENIED) from None
    try:
        args = {"Bucket": code["S3Bucket"], "Key": code["S3Key"]}
        if code.get("S3ObjectVersion"):
            args["VersionId"] = code["S3ObjectVersion"]
        stream = s3.get_object(**args)["Body"]
        try:
            # An archive's headers add to its members' size: a zip larger than the
            # unzipped limit and this slack cannot fit it, and is refused unread.
            most = max_bytes + _ZIP_SLACK
            body: bytes = stream.read(most + 1)
        finally:
            stream.close()
        if len(body) > most:
            raise InvalidParameterValueException(
                f"Unzipped size must be smaller than {max_bytes} bytes"
            )
        return body
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise InvalidParameterValueException(
            f"Error occurred while GetObject. S3 Error Code: {err.get('Code')}. S3 Error "
            f"Message: {err.get('Message')}"
        ) from None
    except BotoCoreError as exc:
        raise InvalidParameterValueException(f"Error occurred while GetObject: {exc}") from None
