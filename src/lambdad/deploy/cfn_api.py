"""The CloudFormation API subset (query protocol, XML), answered by its signing scope:
change sets, stacks, their events, resources and templates, over ``StackService``.

Change sets are executed before ``ExecuteChangeSet`` answers (the AWS CLI's waiters then
see the final status on their first call, instead of polling every 30 s), unless that
takes over ``APPLY_WAIT`` seconds (a traffic-shifting deployment of an alias takes
minutes): then it answers and the work goes on, followed by DescribeStacks, as on AWS,
without running into the caller's read timeout (60 s for the AWS CLI). That work is
blocking and calls lambdad's own API over HTTP, as the caller, so it runs on threads of
its own: never on the event loop, nor on the platform's pool, which the API handlers
it calls need. Also ``PUT /_lambdad/artifacts`` (signed for cloudformation): the code
``lambdad deploy`` uploads.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lambdad.api.context import RequestContext
from lambdad.deploy import query_protocol, template_url, traffic_shift
from lambdad.deploy.artifacts import Artifacts
from lambdad.deploy.bucket_resources import NO_S3
from lambdad.deploy.codedeploy_records import CodeDeployRecords
from lambdad.deploy.daemon_pool import DaemonPool
from lambdad.deploy.errors import StackError
from lambdad.deploy.handlers import Env
from lambdad.deploy.operations import OPERATIONS
from lambdad.deploy.parameters import StackIdentity
from lambdad.deploy.queue_resources import NO_SQS
from lambdad.deploy.stack_records import StackRecords, Where
from lambdad.deploy.stacks import StackService
from lambdad.model.artifacts import ARTIFACT_BUCKET, ARTIFACTS_PATH
from lambdad.model.credential import Credential
from lambdad.outbound import OutboundIdentities
from lambdad.secrets import Sealer
from lambdad.store import roles as roles_file
from lambdad.store.base import MetadataStore
from lambdad.store.blobs import BlobStore
from lambdad.store.roles import StackRoles

log = logging.getLogger(__name__)
XMLNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
_XML = {"content-type": "text/xml"}
# Threads for everything but deployments (planning, describing), which never waits
# behind them.
WORKERS = 4
# Deployments running at once on the server (each holds a thread while it waits for its
# resources), and of one account: a deployment waiting for an alias's traffic shift
# holds its thread for minutes, and no tenant's deployments may hold every thread.
APPLY_WORKERS = 16
APPLY_PER_ACCOUNT = 4
# Seconds ExecuteChangeSet and DeleteStack wait for their work before they answer.
APPLY_WAIT = 20.0
_APPLY = frozenset({"ExecuteChangeSet", "DeleteStack"})
SUBSCRIPTION = "AWS::SNS::Subscription"
# (account, region, function, alias, version): the alias on that version alone.
RestoreAlias = Callable[[str, str, str, str, str], None]
NO_SNS = (
    "no SNS endpoint is configured in lambdad (LAMBDAD_SNS_ENDPOINT or AWS_ENDPOINT_URL_SNS), "
    "so it cannot subscribe a function to a topic"
)


# The types made on services lambdad is not: the service each needs an endpoint of.
_ELSEWHERE = {
    SUBSCRIPTION: ("sns", NO_SNS),
    "AWS::SQS::Queue": ("sqs", NO_SQS),
    "AWS::S3::Bucket": ("s3", NO_S3),
    "AWS::S3::BucketPolicy": ("s3", NO_S3),
}


class CloudFormationApi:
    def __init__(
        self,
        service: StackService,
        artifacts: Artifacts,
        endpoint: str,
        outbound: Callable[[str, str, str], Any] | None = None,
        roles: StackRoles | None = None,
        codedeploy: CodeDeployRecords | None = None,
        time_scale: float = 1.0,
    ) -> None:
        import botocore.session

        self.service = service
        self.roles = roles
        # Alias traffic shifting's records (read by the CodeDeploy API, codedeploy_api.py).
        self.codedeploy = codedeploy
        self.time_scale = time_scale
        # (account, service, region) -> a client of a service lambdad is not (SNS, SQS,
        # S3) at the endpoint the operator configured, or None when none is.
        self.outbound = outbound
        self.artifacts = artifacts
        self.endpoint = endpoint
        self.model = botocore.session.get_session().get_service_model("cloudformation")
        self.pool = DaemonPool(APPLY_WORKERS, "lambdad-deploy")
        self._accounts: dict[str, asyncio.Semaphore] = {}
        self.quick = DaemonPool(WORKERS, "lambdad-stacks")
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._guard = threading.Lock()
        self._running: set[asyncio.Future[Any]] = set()

    async def __call__(
        self, ctx: RequestContext, method: str, path: str, query_string: str, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        rid = ctx.request_id
        where = Where(ctx.principal.credential.account_id, ctx.principal.region)
        try:
            if path.split("?", 1)[0] == ARTIFACTS_PATH and method == "PUT":
                digest = await self.quick.run(self.artifacts.put, where, body)
                out = {"Bucket": ARTIFACT_BUCKET, "Key": digest}
                return 200, {"content-type": "application/json"}, json.dumps(out).encode()
            form = query_protocol.read_form(body, query_string)
            action = form.get("Action", "")
            fn = OPERATIONS.get(action)
            if fn is None or method != "POST":
                msg = f"Unrecognized operation {action or method + ' ' + path}"
                return 400, _XML, query_protocol.error("InvalidAction", msg, rid, XMLNS)
            op = self.model.operation_model(action)
            params = query_protocol.parse(op, form)
            env_for = functools.partial(self._env, ctx.principal.credential, where, ctx.base_url)
            if action in _APPLY:
                result = await self._apply(fn, where, params, env_for)
            else:
                result = await self.quick.run(fn, self.service, where, params, env_for)
            return 200, _XML, query_protocol.response(op, result, rid, XMLNS)
        except StackError as exc:
            return exc.status, _XML, query_protocol.error(exc.code, exc.message, rid, XMLNS)
        except Exception:
            log.exception("cloudformation request %s failed", rid)
            msg = "An internal error occurred"
            return 500, _XML, query_protocol.error("InternalFailure", msg, rid, XMLNS, sender=False)

    async def _apply(self, fn: Callable[..., Any], where: Where, params: Any, env_for: Any) -> Any:
        slots = self._accounts.setdefault(where.account, asyncio.Semaphore(APPLY_PER_ACCOUNT))

        async def work() -> Any:
            async with slots:
                result = await self.pool.run(fn, self.service, where, params, env_for)
            await self.quick.run(self._collect, where)
            return result

        task = asyncio.ensure_future(work())
        done, _ = await asyncio.wait({task}, timeout=APPLY_WAIT)
        if task in done:
            return task.result()
        # Still applying: answered now (both operations' results are empty), finished
        # in the background (kept referenced until then; a failure is the stack's).
        self._running.add(task)
        task.add_done_callback(self._finished)
        return {}

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a stack operation failed in the background: %s", task.exception())

    def _collect(self, where: Where) -> None:
        records = self.service.records
        texts = []
        for stack in records.all(where):
            texts.append(stack.get("TemplateBody") or "")
            texts.extend(
                cs.get("TemplateBody") or ""
                for _, cs in records.change_sets(where, stack["StackName"])
            )
        for digest in self.artifacts.collect(where, texts):
            log.info(
                "account %s: stack artifact %s no longer named, forgotten", where.account, digest
            )

    def _env(
        self, credential: Credential, where: Where, own_url: str, identity: StackIdentity
    ) -> Env:
        outbound = self.outbound
        return Env(
            identity=identity,
            client=functools.partial(self._client, credential, where.region),
            read_artifact=functools.partial(self.artifacts.read, where),
            outbound=None if outbound is None else functools.partial(outbound, where.account),
            own_url=own_url,
            roles=self.roles,
            codedeploy=self.codedeploy,
            time_scale=self.time_scale,
        )

    def _client(self, credential: Credential, region: str, service: str) -> Any:
        key = (credential.access_key_id, region, service)
        with self._guard:
            client = self._clients.get(key)
            if client is None:
                import boto3
                from botocore.config import Config

                client = boto3.session.Session().client(
                    service,
                    endpoint_url=self.endpoint,
                    region_name=region,
                    aws_access_key_id=credential.access_key_id,
                    aws_secret_access_key=credential.secret_access_key,
                    config=Config(retries={"max_attempts": 3}, read_timeout=300),
                )
                self._clients[key] = client
            return client


def build(
    store: MetadataStore,
    data_dir: Path,
    sealer: Sealer,
    outbound: OutboundIdentities,
    now: Callable[[], float],
    host: str,
    port: int,
    sns_endpoint: str | None = None,
    service_endpoints: Mapping[str, str] | None = None,
    codedeploy: CodeDeployRecords | None = None,
    deployment_time_scale: float = 1.0,
    restore_alias: RestoreAlias | None = None,
) -> CloudFormationApi:
    """The API over the stacks in ``store``, applying them through the server at
    ``host:port`` (loopback when it listens on every address); SNS subscriptions are
    made on ``sns_endpoint``, queues and buckets on ``service_endpoints``' ``sqs`` and
    ``s3`` (none: the plans refuse them, saying why). Traffic-shifting
    deployments an earlier run left unfinished are rolled back with ``restore_alias``
    (account, region, function, alias, version), as traffic_shift.recover says."""
    blobs = BlobStore(data_dir / "stack-artifacts")
    blobs.open()
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    endpoint = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    read_url = functools.partial(template_url.fetch, outbound)
    endpoints = {**(service_endpoints or {}), **({"sns": sns_endpoint} if sns_endpoint else {})}
    unavailable = {kind: why for kind, (name, why) in _ELSEWHERE.items() if name not in endpoints}
    service = StackService(
        StackRecords(store, sealer), now, read_url=read_url, unavailable=unavailable
    )
    for name in service.recover():
        log.warning("stack %s was left in progress by an earlier run: marked failed", name)
    codedeploy = codedeploy or CodeDeployRecords(store)
    if restore_alias is not None:

        def restore(where: Where, doc: Mapping[str, Any]) -> None:
            restore_alias(
                where.account, where.region, doc["functionName"], doc["alias"], doc["oldVersion"]
            )

        for deployment_id in traffic_shift.recover(codedeploy, restore):
            log.warning("deployment %s was left running by an earlier run: rolled back",
                        deployment_id)  # fmt: skip
    reach: Callable[[str, str, str], Any] | None = None
    if endpoints:

        def reach(account: str, service_name: str, region: str) -> Any:
            url = endpoints.get(service_name)
            if url is None:
                raise RuntimeError(f"no {service_name} endpoint is configured in lambdad")
            return outbound.client(account, service_name, region, endpoint_url=url)

    return CloudFormationApi(
        service,
        Artifacts(store, blobs, now),
        endpoint,
        reach,
        StackRoles(data_dir / roles_file.FILE_NAME),
        codedeploy,
        deployment_time_scale,
    )
