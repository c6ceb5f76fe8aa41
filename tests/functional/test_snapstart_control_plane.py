"""SnapStart's control plane, driven by boto3 against an in-process platform.

The platform and its ASGI app run in this process (uvicorn on a thread, process
sandbox) with fake templates the tests hold, release or fail, so every state a
SnapStart version passes through can be observed: which runtimes may turn it on, the
configuration shapes, Pending then Active or Failed, invocations refused meanwhile,
botocore's ``published_version_active`` waiter, snapshots dropped with their version,
and snapshots taken again after a restart.
"""

from __future__ import annotations

import asyncio
import io
import socket
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from botocore.config import Config
from botocore.exceptions import ClientError, WaiterError

from lambdad.config import Settings
from lambdad.environments.snapstart import SnapshotFailed, TemplateKey, TemplateRequest
from lambdad.platform import Platform
from lambdad.server import build_app

KEY, SECRET = "AKIDSNAPSTART0000001", "snapstart-secret"
ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
HANDLER = "def handler(event, context):\n    return {'echo': event}\n"
FAST_WAIT = {"Delay": 0.05, "MaxAttempts": 100}


def code_zip(source: str = HANDLER) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", source)
    return buf.getvalue()


class FakeSnapshots:
    """Builds that finish at once, or wait until released, or fail as told; records
    what was built and discarded. Driven from the test thread."""

    def __init__(self) -> None:
        self.hold = threading.Event()  # set: new builds wait for release()
        self._released: set[tuple[str, str]] = set()
        self._gates: dict[tuple[str, str], tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}
        self._lock = threading.Lock()
        self.failures: dict[str, BaseException] = {}  # function name -> what build raises
        self.started: list[tuple[str, str]] = []
        self.built: list[tuple[str, str]] = []
        self.cancelled: list[tuple[str, str]] = []
        self.discarded: list[tuple[str, str, str, str]] = []
        # The server's loop, where the snapshot jobs run (known from the first job on).
        self.loop: asyncio.AbstractEventLoop | None = None

    def release(self, name: str, version: str) -> None:
        """Let the version's build finish (called from the test's thread)."""
        with self._lock:
            self._released.add((name, version))
            gate = self._gates.get((name, version))
        if gate is not None:
            loop, event = gate
            loop.call_soon_threadsafe(event.set)

    async def build(self, request: TemplateRequest) -> None:
        self.loop = asyncio.get_running_loop()
        key = request.key[2:]
        self.started.append(key)
        event = asyncio.Event()
        with self._lock:
            self._gates[key] = (asyncio.get_running_loop(), event)
            if not self.hold.is_set() or key in self._released:
                event.set()
        try:
            await event.wait()
        except asyncio.CancelledError:
            self.cancelled.append(key)
            raise
        failure = self.failures.get(key[0])
        if failure is not None:
            raise failure
        self.built.append(key)

    async def discard(self, key: TemplateKey) -> None:
        self.loop = asyncio.get_running_loop()
        self.discarded.append(key)

    def settle(self, timeout: float = 10.0) -> None:
        """Return once every snapshot job scheduled so far has ended. The control plane
        hands its jobs to the server's loop before it answers, so a coroutine handed over
        after the answer finds them all there (by the names ``snapstart_jobs`` gives
        them)."""
        assert self.loop is not None, "no snapshot job has run yet"

        async def jobs_ended() -> None:
            jobs = [
                t for t in asyncio.all_tasks() if t.get_name().startswith(("snapshot ", "discard "))
            ]
            await asyncio.gather(*jobs, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(jobs_ended(), self.loop).result(timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class InProcessServer:
    def __init__(self, data_dir: Path, snapshots: FakeSnapshots) -> None:
        self.settings = Settings(
            data_dir=data_dir,
            port=free_port(),
            credentials=(f"{KEY}:{SECRET}:{ACCOUNT}",),
            sandbox="process",
            fast_path=False,
            async_poll_interval=0.05,
            async_throttle_backoff=(0.05, 0.2),
        )
        # Snapshots taken and dropped by the fake; the pool keeps the real templates,
        # which without the fast path start a SnapStart version's environments as any
        # other's.
        self.platform = Platform(self.settings, templates=snapshots)
        self.platform.open()
        config = uvicorn.Config(
            build_app(self.platform),
            host="127.0.0.1",
            port=self.settings.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive(), "the server thread ended"
            assert time.monotonic() < deadline, "the server did not start in time"
            time.sleep(0.01)
        self.client = boto3.client(
            "lambda",
            endpoint_url=f"http://127.0.0.1:{self.settings.port}",
            region_name=REGION,
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
            config=Config(retries={"total_max_attempts": 1}),
        )

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.platform.close()


@pytest.fixture
def snapshots() -> FakeSnapshots:
    return FakeSnapshots()


@pytest.fixture
def server(tmp_path: Path, snapshots: FakeSnapshots) -> Iterator[InProcessServer]:
    srv = InProcessServer(tmp_path / "data", snapshots)
    yield srv
    srv.stop()


@pytest.fixture
def create(server: InProcessServer) -> Callable[..., dict[str, Any]]:
    def make(name: str = "snap", **params: Any) -> dict[str, Any]:
        args: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": "python3.12",
            "Role": ROLE,
            "Handler": "app.handler",
            "Code": {"ZipFile": code_zip()},
            "SnapStart": {"ApplyOn": "PublishedVersions"},
            **params,
        }
        out: dict[str, Any] = server.client.create_function(**args)
        return out

    return make


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    resp = exc.value.response
    return (
        resp["Error"]["Code"],
        resp["ResponseMetadata"]["HTTPStatusCode"],
        resp["Error"]["Message"],
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


# -- which runtimes ------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", ["python3.11", "python3.10", "nodejs22.x", "java21"])
def test_create_refuses_snapstart_on_runtimes_that_do_not_support_it(
    create: Callable[..., dict[str, Any]], runtime: str
) -> None:
    with pytest.raises(ClientError) as exc:
        create(Runtime=runtime)
    assert error_of(exc) == (
        "InvalidParameterValueException",
        400,
        f"{runtime} is not supported for SnapStart enabled functions.",
    )


@pytest.mark.parametrize("runtime", ["python3.12", "python3.13", "python3.14"])
def test_create_accepts_snapstart_on_python_312_and_later(
    create: Callable[..., dict[str, Any]], runtime: str
) -> None:
    out = create(Runtime=runtime)
    assert out["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}


def test_snapstart_none_is_accepted_on_any_runtime(
    create: Callable[..., dict[str, Any]],
) -> None:
    out = create(Runtime="python3.11", SnapStart={"ApplyOn": "None"})
    assert out["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}


def test_update_configuration_checks_the_runtime_snapstart_would_run_on(
    server: InProcessServer, create: Callable[..., dict[str, Any]]
) -> None:
    client = server.client
    create("old", Runtime="python3.11", SnapStart={"ApplyOn": "None"})
    with pytest.raises(ClientError) as exc:
        client.update_function_configuration(
            FunctionName="old", SnapStart={"ApplyOn": "PublishedVersions"}
        )
    assert error_of(exc)[0] == "InvalidParameterValueException"
    assert "python3.11 is not supported for SnapStart" in error_of(exc)[2]
    # Together with a runtime that supports it: accepted.
    out = client.update_function_configuration(
        FunctionName="old", Runtime="python3.13", SnapStart={"ApplyOn": "PublishedVersions"}
    )
    assert out["SnapStart"]["ApplyOn"] == "PublishedVersions"

    # A SnapStart function cannot move to a runtime without it...
    create("snap")
    with pytest.raises(ClientError) as exc:
        client.update_function_configuration(FunctionName="snap", Runtime="python3.11")
    assert error_of(exc)[2] == "python3.11 is not supported for SnapStart enabled functions."
    config = client.get_function_configuration(FunctionName="snap")
    assert config["Runtime"] == "python3.12"
    # ...unless SnapStart is turned off in the same request.
    out = client.update_function_configuration(
        FunctionName="snap", Runtime="python3.11", SnapStart={"ApplyOn": "None"}
    )
    assert (out["Runtime"], out["SnapStart"]["ApplyOn"]) == ("python3.11", "None")


# -- shapes and states ---------------------------------------------------------------------


def test_published_version_is_pending_until_its_snapshot_is_taken(
    server: InProcessServer, create: Callable[..., dict[str, Any]], snapshots: FakeSnapshots
) -> None:
    client = server.client
    create()
    snapshots.hold.set()
    published = client.publish_version(FunctionName="snap")
    assert published["Version"] == "1"
    assert published["State"] == "Pending"
    assert published["StateReasonCode"] == "Creating"
    assert published["StateReason"]
    assert published["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}

    wait_for(lambda: ("snap", "1") in snapshots.started)
    config = client.get_function_configuration(FunctionName="snap", Qualifier="1")
    assert (config["State"], config["StateReasonCode"]) == ("Pending", "Creating")

    snapshots.release("snap", "1")
    client.get_waiter("published_version_active").wait(
        FunctionName="snap", Qualifier="1", WaiterConfig=FAST_WAIT
    )
    config = client.get_function_configuration(FunctionName="snap", Qualifier="1")
    assert config["State"] == "Active"
    assert "StateReason" not in config
    assert "StateReasonCode" not in config
    assert config["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    assert snapshots.built == [("snap", "1")]

    # $LATEST never has a snapshot, wherever it is shown.
    latest = client.get_function(FunctionName="snap")["Configuration"]
    assert latest["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    assert latest["State"] == "Active"
    on_v1 = client.get_function(FunctionName="snap", Qualifier="1")["Configuration"]
    assert on_v1["SnapStart"]["OptimizationStatus"] == "On"
    listed = {
        v["Version"]: v["SnapStart"]
        for v in client.list_versions_by_function(FunctionName="snap")["Versions"]
    }
    assert listed == {
        "$LATEST": {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"},
        "1": {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"},
    }


def test_publishing_again_unchanged_returns_the_version_without_a_new_snapshot(
    server: InProcessServer, create: Callable[..., dict[str, Any]], snapshots: FakeSnapshots
) -> None:
    client = server.client
    create()
    client.publish_version(FunctionName="snap")
    client.get_waiter("published_version_active").wait(
        FunctionName="snap", Qualifier="1", WaiterConfig=FAST_WAIT
    )
    again = client.publish_version(FunctionName="snap")
    assert (again["Version"], again["State"]) == ("1", "Active")
    assert snapshots.started == [("snap", "1")]


def test_version_of_a_function_without_snapstart_is_active_at_once(
    server: InProcessServer, create: Callable[..., dict[str, Any]], snapshots: FakeSnapshots
) -> None:
    create("plain", SnapStart={"ApplyOn": "None"})
    published = server.client.publish_version(FunctionName="plain")
    # Answered Pending, as AWS answers every publish; Active at the next read.
    assert published["State"] == "Pending"
    version = server.client.get_function_configuration(FunctionName="plain", Qualifier="1")
    assert version["State"] == "Active"
    assert published["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    server.client.get_waiter("published_version_active").wait(
        FunctionName="plain", Qualifier="1", WaiterConfig=FAST_WAIT
    )
    assert snapshots.started == []


def test_create_with_publish_takes_the_snapshot_of_the_version(
    server: InProcessServer, create: Callable[..., dict[str, Any]], snapshots: FakeSnapshots
) -> None:
    out = create(Publish=True)
    assert out["Version"] == "1"
    server.client.get_waiter("published_version_active").wait(
        FunctionName="snap", Qualifier="1", WaiterConfig=FAST_WAIT
    )
    assert snapshots.built == [("snap", "1")]


def test_a_failed_init_fails_the_version_with_its_message(
    server: InProcessServer, create: Callable[..., dict[str, Any]], snapshots: FakeSnapshots
) -> None:
    client = server.client
    create()
    snapshots.failures["snap"] = SnapshotFailed("ImportError: No module named 'missing'")
    client.publish_version(FunctionName="snap")
    with pytest.raises(WaiterError) as exc:
        client.get_waiter("published_version_active").wait(
            FunctionName="snap", Qualifier="1", WaiterConfig=FAST_WAIT
        )
    assert "terminal failure" in str(exc.value)
    config = client.get_function_configuration(FunctionName="snap", Qualifier="1")
    assert config["State"] == "Failed"
    assert config["StateReasonCode"] == "FunctionError"
    assert config["StateReason"] == "ImportError: No module named 'missing'"

    for invocation_type in ("RequestResponse", "Event"):
        with pytest.raises(ClientError) as invoked:
            client.invoke(
                FunctionName="snap", Qualifier="1", InvocationType=invocation_type, Payload=b"{}"
            )
        assert error_of(invoked) == (
            "ResourceConflictException",
            409,
            "The operation cannot be performed at this time. The function is currently in "
            "the following state: Failed",
        )


def test_a_platform_fault_fails_the_version_as_an_internal_error(
    server: InProcessServer, create: Callable[..., dict[str, Any]], snapshots: FakeSnapshots
) -> None:
    create()
    snapshots.failures["snap"] = RuntimeError("template socket closed")
    server.client.publish_version(FunctionName="snap")
    wait_for(
        lambda: (
            server.client.get_function_configuration(FunctionName="snap", Qualifier="1")["State"]
            == "Failed"
        )
    )
    config = server.client.get_function_configuration(FunctionName="snap", Qualifier="1")
    assert config["StateReasonCode"] == "InternalError"
    # The fault's own text stays in the server's log, not in the API.
    assert "template socket" not in config["StateReason"]


# -- invoking ------------------------------------------------------------------------------


def test_invoking_a_pending_version_is_refused_until_it_is_active(
    server: InProcessServer, create: Callable[..., dict[str, Any]], snapshots: FakeSnapshots
) -> None:
    client = server.client
    create()
    snapshots.hold.set()
    client.publish_version(FunctionName="snap")
    client.create_alias(FunctionName="snap", Name="live", FunctionVersion="1")
    for qualifier in ("1", "live"):
        with pytest.raises(ClientError) as exc:
            client.invoke(FunctionName="snap", Qualifier=qualifier, Payload=b"{}")
        code, status, message = error_of(exc)
        assert (code, status) == ("SnapStartNotReadyException", 409)
        assert message.startswith("Lambda is initializing your function.")
    # $LATEST has no snapshot to wait for.
    latest = client.invoke(FunctionName="snap", Payload=b'{"a": 1}')
    assert latest["Payload"].read() == b'{"echo": {"a": 1}}'

    snapshots.release("snap", "1")
    client.get_waiter("published_version_active").wait(
        FunctionName="snap", Qualifier="1", WaiterConfig=FAST_WAIT
    )
    for qualifier in ("1", "live"):
        out = client.invoke(FunctionName="snap", Qualifier=qualifier, Payload=b'{"b": 2}')
        assert out["StatusCode"] == 200
        assert out["ExecutedVersion"] == "1"
        assert out["Payload"].read() == b'{"echo": {"b": 2}}'


def test_an_event_for_a_pending_version_waits_and_runs_once_it_is_active(
    server: InProcessServer, create: Callable[..., dict[str, Any]], snapshots: FakeSnapshots
) -> None:
    client = server.client
    create()
    snapshots.hold.set()
    client.publish_version(FunctionName="snap")
    # No retries after a failed attempt: the wait must not count as one.
    client.put_function_event_invoke_config(
        FunctionName="snap", Qualifier="1", MaximumRetryAttempts=0
    )
    accepted = client.invoke(
        FunctionName="snap", Qualifier="1", InvocationType="Event", Payload=b"{}"
    )
    assert accepted["StatusCode"] == 202

    def counters() -> dict[str, int]:
        for stats in server.platform.async_invoker.statistics():
            if stats.function_name == "snap":
                return stats.counters
        return {}

    wait_for(lambda: counters().get("throttled", 0) >= 2)
    assert counters().get("processed", 0) == 0
    snapshots.release("snap", "1")
    wait_for(lambda: counters().get("processed", 0) == 1)
    assert counters().get("dropped", 0) == 0


# -- deleting and restarting ---------------------------------------------------------------


def test_deleting_versions_discards_their_snapshots(
    server: InProcessServer, create: Callable[..., dict[str, Any]], snapshots: FakeSnapshots
) -> None:
    client = server.client
    create()
    client.publish_version(FunctionName="snap")
    client.update_function_configuration(FunctionName="snap", Description="second")
    client.publish_version(FunctionName="snap")
    for version in ("1", "2"):
        client.get_waiter("published_version_active").wait(
            FunctionName="snap", Qualifier=version, WaiterConfig=FAST_WAIT
        )
    client.delete_function(FunctionName="snap", Qualifier="1")
    wait_for(lambda: len(snapshots.discarded) == 1)
    assert snapshots.discarded == [(ACCOUNT, REGION, "snap", "1")]

    # A version published without SnapStart has no snapshot to drop.
    client.update_function_configuration(FunctionName="snap", SnapStart={"ApplyOn": "None"})
    client.publish_version(FunctionName="snap")
    client.delete_function(FunctionName="snap")
    snapshots.settle()  # a discard of version 3 would have run by now
    assert snapshots.discarded == [(ACCOUNT, REGION, "snap", v) for v in ("1", "2")]


def test_deleting_a_version_while_its_snapshot_is_taken_stops_the_build(
    server: InProcessServer, create: Callable[..., dict[str, Any]], snapshots: FakeSnapshots
) -> None:
    client = server.client
    create()
    snapshots.hold.set()
    client.publish_version(FunctionName="snap")
    wait_for(lambda: ("snap", "1") in snapshots.started)
    client.delete_function(FunctionName="snap", Qualifier="1")
    wait_for(lambda: snapshots.discarded == [(ACCOUNT, REGION, "snap", "1")])
    assert snapshots.cancelled == [("snap", "1")]
    assert snapshots.built == []


def test_a_snapshot_interrupted_by_a_stop_is_taken_at_the_next_start(
    tmp_path: Path, snapshots: FakeSnapshots
) -> None:
    first = InProcessServer(tmp_path / "data", snapshots)
    try:
        first.client.create_function(
            FunctionName="snap",
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": code_zip()},
            SnapStart={"ApplyOn": "PublishedVersions"},
        )
        snapshots.hold.set()
        first.client.publish_version(FunctionName="snap")
        wait_for(lambda: ("snap", "1") in snapshots.started)
    finally:
        first.stop()
    assert snapshots.cancelled == [("snap", "1")]

    again = FakeSnapshots()
    second = InProcessServer(tmp_path / "data", again)
    try:
        second.client.get_waiter("published_version_active").wait(
            FunctionName="snap", Qualifier="1", WaiterConfig=FAST_WAIT
        )
        assert again.built == [("snap", "1")]
    finally:
        second.stop()


def test_snapstart_refuses_ephemeral_storage_over_512_mb(
    server: InProcessServer, create: Callable[..., dict[str, Any]]
) -> None:
    with pytest.raises(ClientError) as exc:
        create("big", EphemeralStorage={"Size": 1024})
    assert error_of(exc)[:2] == ("InvalidParameterValueException", 400)
    assert "ephemeral storage greater than 512 MB" in error_of(exc)[2]
    create("small", EphemeralStorage={"Size": 512})
    with pytest.raises(ClientError) as exc:
        server.client.update_function_configuration(
            FunctionName="small", EphemeralStorage={"Size": 2048}
        )
    assert error_of(exc)[0] == "InvalidParameterValueException"
    # Without SnapStart, the same storage is fine.
    create("plain", EphemeralStorage={"Size": 1024}, SnapStart={"ApplyOn": "None"})


def test_provisioned_concurrency_is_refused_on_snapstart_versions(
    server: InProcessServer, create: Callable[..., dict[str, Any]]
) -> None:
    client = server.client
    create()
    client.publish_version(FunctionName="snap")
    client.create_alias(FunctionName="snap", Name="live", FunctionVersion="1")
    for qualifier in ("1", "live"):
        with pytest.raises(ClientError) as exc:
            client.put_provisioned_concurrency_config(
                FunctionName="snap", Qualifier=qualifier, ProvisionedConcurrentExecutions=1
            )
        assert error_of(exc)[:2] == ("InvalidParameterValueException", 400)
        assert "SnapStart" in error_of(exc)[2]
