"""SnapStart end to end: published versions restored from their snapshot, as a user sees it.

A real server (the bwrap backend; one test on ``process``) and boto3: functions with
``SnapStart={"ApplyOn": "PublishedVersions"}`` (``functions/snapstart.py``) are
published, waited for with botocore's ``published_version_active`` waiter, and invoked.
The control plane (states, refusals) is ``functional/test_snapstart_control_plane.py``'s,
the API's shapes ``test_snapstart_api.py``'s.

Without the zygote fast path (``LAMBDAD_FAST_PATH=0``, the suite's second run) there
are no snapshots: a SnapStart version is Active at once and starts its environments as
on-demand ones do. Tests assert that behaviour there instead of the restore's.

The sandboxed tests need root, bubblewrap and cgroups; they skip with the reason
elsewhere (on CI, root, they must run: there a missing capability fails them).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError

from e2e.conftest import ServerFactory
from e2e.helpers import LambdadServer, make_zip, serving
from e2e.sandboxes import alive, cgroup_dirs, descendants, require_full_isolation

SOURCE = (Path(__file__).parent / "functions" / "snapstart.py").read_text()
# Environments are restored from snapshots only on the zygote fast path (the default).
RESTORES = os.environ.get("LAMBDAD_FAST_PATH", "1").strip().lower() in ("1", "true", "yes", "on")
ACTIVE = {"Delay": 0.1, "MaxAttempts": 100}

# What the function's hooks record (functions/snapstart.py): before-snapshot hooks in
# the reverse order of their registration, after-restore hooks in order.
BEFORE_SNAPSHOT = [{"args": [1, 2], "kwargs": {"flag": "b"}}, "decorated"]
AFTER_RESTORE = ["decorated", {"args": [3], "kwargs": {"flag": "a"}}]
ON_DEMAND_HOOKS: dict[str, list[Any]] = {"before_snapshot": [], "after_restore": []}


@dataclass(frozen=True, slots=True)
class Invoked:
    payload: Any
    error: str | None
    log: str
    request_id: str


@dataclass(frozen=True, slots=True)
class Published:
    name: str
    version: str


def invoke(srv: LambdadServer, fn: Published, event: Any = None, qualifier: str = "") -> Invoked:
    resp = srv.client().invoke(
        FunctionName=fn.name,
        Qualifier=qualifier or fn.version,
        LogType="Tail",
        Payload=json.dumps(event or {}).encode(),
    )
    assert resp["StatusCode"] == 200
    return Invoked(
        json.loads(resp["Payload"].read()),
        resp.get("FunctionError"),
        base64.b64decode(resp["LogResult"]).decode(),
        resp["ResponseMetadata"]["RequestId"],
    )


def invoke_together(srv: LambdadServer, fn: Published, events: list[Any]) -> list[Invoked]:
    """Invoke concurrently (events that sleep make that many environments)."""
    with ThreadPoolExecutor(len(events)) as pool:
        return list(pool.map(lambda e: invoke(srv, fn, e), events))


def ok(result: Invoked) -> Any:
    assert result.error is None, result.payload
    return result.payload


def assert_cold_start(result: Invoked) -> None:
    """The invoke started its environment: restored from the snapshot on the fast path,
    an ordinary init without it."""
    if RESTORES:
        assert "\tRestore Duration: " in result.log, result.log
        assert "\tBilled Restore Duration: " in result.log, result.log
        assert "Init Duration" not in result.log, result.log
    else:
        assert "\tInit Duration: " in result.log, result.log
        assert "Restore Duration" not in result.log, result.log


def sandbox_processes(srv: LambdadServer) -> dict[int, int]:
    """The server's live processes running as a sandbox uid (the pool's range): pid ->
    host uid."""
    assert srv.process is not None
    found = {}
    for pid in sorted(descendants(srv.process.pid)):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        uid = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("Uid:")))
        if uid in SANDBOX_UIDS:
            found[pid] = uid
    return found


def describe(pids: list[int]) -> str:
    """pid, parent, state and command line of each process, for a failure's message."""
    lines = []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError):
            continue
        lines.append(f"{pid} (parent {stat[1]}, {stat[0]}): {cmdline}")
    return "\n".join(lines)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


Publish = Callable[..., Published]


def publisher(srv: LambdadServer, made: list[str]) -> Publish:
    def publish(
        handler: str = "report", *, wait: bool = True, variables: dict[str, str] | None = None
    ) -> Published:
        """A SnapStart function running ``snap.<handler>`` and its published version
        (Active once ``wait`` returns)."""
        client = srv.client()
        name = f"snap-{handler}-{uuid.uuid4().hex[:8]}"
        client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=f"arn:aws:iam::{srv.credential.account_id}:role/lambda-role",
            Handler=f"snap.{handler}",
            Code={"ZipFile": make_zip({"snap.py": SOURCE})},
            MemorySize=128,
            Timeout=10,
            Environment={"Variables": variables or {}},
            SnapStart={"ApplyOn": "PublishedVersions"},
        )
        made.append(name)
        client.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
        )
        version = client.publish_version(FunctionName=name)["Version"]
        if wait:
            client.get_waiter("published_version_active").wait(
                FunctionName=name, Qualifier=version, WaiterConfig=ACTIVE
            )
        return Published(name, version)

    return publish


def delete_all(srv: LambdadServer, names: list[str]) -> None:
    client = srv.client()
    for name in names:
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_function(FunctionName=name)


# The pool's uids (from setting sandbox_uid_base, default: a server takes the first
# range no other server on the host holds).
SANDBOX_UIDS = range(0x60000000, 0x6FFF0000)


# -- the sandboxed server --------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdadServer]:
    require_full_isolation()
    srv = LambdadServer(
        tmp_path_factory.mktemp("snapstart") / "data", env={"LAMBDAD_SANDBOX": "bwrap"}
    )
    with serving(srv):
        yield srv
    leftovers = [d for d in cgroup_dirs(srv.data_dir) if d.exists()]
    assert not leftovers, f"cgroups left behind after shutdown: {leftovers}"


@pytest.fixture
def publish(server: LambdadServer) -> Iterator[Publish]:
    made: list[str] = []
    yield publisher(server, made)
    delete_all(server, made)


# -- hooks ------------------------------------------------------------------------------


@pytest.mark.root
def test_hooks_run_once_before_the_snapshot_and_once_per_restored_environment(
    server: LambdadServer, publish: Publish
) -> None:
    fn = publish()

    first = invoke_together(server, fn, [{"sleep": 0.5}, {"sleep": 0.5}])
    warm = [invoke(server, fn) for _ in range(3)]

    streams = {r.payload["log_stream"] for r in first}
    assert len(streams) == 2
    assert {r.payload["log_stream"] for r in warm} <= streams  # no new environment
    states = [ok(r)["state"] for r in first + warm]
    if RESTORES:
        # One init and its before-snapshot hooks, once, seen by every environment;
        # after-restore hooks once in each (the warm invokes did not run them again).
        assert len({s["init_id"] for s in states}) == 1
        for state in states:
            assert state["init_type"] == "snap-start"  # the init that the snapshot took
            assert state["before_snapshot"] == BEFORE_SNAPSHOT
            assert state["after_restore"] == AFTER_RESTORE
    else:
        # Each environment ran its own init, and no hook ran.
        assert len({s["init_id"] for s in states}) == 2
        for state in states:
            assert state["init_type"] == "on-demand"
            assert {k: state[k] for k in ON_DEMAND_HOOKS} == ON_DEMAND_HOOKS


# -- restored environments ----------------------------------------------------------


@pytest.mark.root
def test_restored_environments_are_distinct(server: LambdadServer, publish: Publish) -> None:
    fn = publish()
    files = [f"written-by-{i}" for i in range(3)]

    results = invoke_together(server, fn, [{"write": f, "sleep": 0.5} for f in files])

    reports = [ok(r) for r in results]
    assert len({r["log_stream"] for r in reports}) == 3
    if RESTORES:
        # On the host each is a user of its own (per-user kernel limits are not shared);
        # inside, each sees the template's uid, which its files and /etc/passwd name.
        host_uids = set(sandbox_processes(server).values())
        assert len(host_uids - {reports[0]["uid"]}) >= 3, host_uids
        assert len({r["uid"] for r in reports}) == 1
    assert len({r["uuid"] for r in reports}) == 3
    assert len({tuple(r["random"]) for r in reports}) == 3
    for report, own_file, result in zip(reports, files, results, strict=True):
        # What the init left in /tmp is in each, as it left it; the others' files are not.
        assert report["tmp"] == sorted(["init-cache", own_file])
        assert report["init_file"] == "init"
        assert report["init_modes"] == ["0o770", "0o666"]
        # A file the init opened and kept open is the environment's own copy too.
        assert report["init_log"] == f"init\n{own_file}\n"
        assert report["processes"] == ["1", str(report["pid"])]
        # /proc/meminfo (a fresh /proc in each) shows the configured memory, not the host's.
        assert report["memtotal"] == [str(128 * 1024), "kB"]
        assert_cold_start(result)
        if RESTORES:
            assert report["initialization_type"] == "snap-start"
            assert report["pid"] == 2
        else:
            assert report["initialization_type"] == "on-demand"


@pytest.mark.root
def test_latest_of_a_snapstart_function_is_an_ordinary_init(
    server: LambdadServer, publish: Publish
) -> None:
    fn = publish()

    result = invoke(server, fn, qualifier="$LATEST")

    assert "\tInit Duration: " in result.log
    assert "Restore Duration" not in result.log
    report = ok(result)
    assert report["initialization_type"] == "on-demand"
    assert report["state"]["init_type"] == "on-demand"
    assert {k: report["state"][k] for k in ON_DEMAND_HOOKS} == ON_DEMAND_HOOKS


# -- isolation ----------------------------------------------------------------------------


@pytest.mark.root
def test_a_restored_environment_cannot_reach_out(server: LambdadServer, publish: Publish) -> None:
    fn = publish("escape")
    # Two environments at once: each has a sibling (and, restored, the same template).
    first = [ok(r) for r in invoke_together(server, fn, [{"sleep": 0.5}, {"sleep": 0.5}])]
    streams = {r["log_stream"] for r in first}
    assert len(streams) == 2
    # Every sandbox process of the server: the template's, both environments', others'.
    others = sorted(sandbox_processes(server))
    assert others, "no sandbox process on the host"

    attack = [ok(r) for r in invoke_together(server, fn, [{"pids": others, "sleep": 0.5}] * 2)]

    for report in attack:
        assert report["unshare"] == {"ok": False, "errno": "EPERM"}
        assert int(report["cap_eff"], 16) == 0
        # The template's and the sibling's processes are not even there to signal, nor
        # is any process but its own (kill(-1) spares the caller and pid 1).
        assert report["kill"] == {str(pid): {"ok": False, "errno": "ESRCH"} for pid in others}
        assert report["kill_all"] == {"ok": False, "errno": "ESRCH"}
        denied = {"ok": False, "errno": "EACCES"}
        assert report["pid1"] == {"environ": denied, "mem": denied}
        assert len(report["processes"]) == 2
        if RESTORES:
            assert report["processes"] == ["1", "2"]
        for setting, attempt in report["proc_sys"].items():
            assert not attempt["ok"], setting
    assert all(alive(pid) for pid in others)
    # The same two environments served the attack: neither was killed.
    assert {r["log_stream"] for r in attack} == streams


def assert_no_user_namespace(attempts: dict[str, Any]) -> None:
    """Every way to a new user namespace refused (``functions/snapstart.py:attacks``)."""
    denied = {"ok": False, "errno": "EPERM"}
    assert attempts["unshare"] == denied
    assert attempts["clone"] == denied
    assert attempts["clone3"] == {"ok": False, "errno": "ENOSYS"}
    tool = attempts["unshare_tool"]
    if tool["ok"]:  # the tool is there (a FileNotFoundError otherwise)
        assert tool["value"]["rc"] != 0, tool
        assert "Operation not permitted" in tool["value"]["stderr"], tool
    else:
        assert tool["errno"] == "ENOENT"


@pytest.mark.root
@pytest.mark.parametrize("network", ["isolated", "none"])
def test_init_code_cannot_create_user_namespaces_nor_reach_the_factory(
    server: LambdadServer, publish: Publish, network: str
) -> None:
    fn = publish("init_attacks", variables={"INIT_ATTACKS": "1"})
    if network != "isolated":  # the server's mode: a template of the tag's mode instead
        client = server.client()
        arn = client.get_function(FunctionName=fn.name)["Configuration"]["FunctionArn"]
        client.tag_resource(Resource=arn, Tags={"lambdad:network": network})

    results = invoke_together(server, fn, [{}, {}])

    for result in results:
        assert_cold_start(result)
        report = ok(result)
        # The function's module-level code ran in the template (or, without snapshots,
        # in an on-demand environment), then in the handler after the restore.
        assert_no_user_namespace(report["init"])
        assert_no_user_namespace(report["handler"])
        closed = {"userns", "netns", "fds", "mem", "ptrace"}
        for seen in (report["init"]["same_uid"], report["handler"]["same_uid"]):
            for pid, attempts in seen.items():
                assert set(attempts) == closed
                for what, attempt in attempts.items():
                    assert not attempt["ok"], (pid, what, attempt)
                    assert attempt["errno"] in ("EACCES", "EPERM"), (pid, what, attempt)
        if RESTORES:
            # The template's namespace factory was there, with the template's uid.
            assert len(report["init"]["same_uid"]) == 1, report["init"]
            # In the restored environment: its pid 1 (the keeper).
            assert list(report["handler"]["same_uid"]) == ["1"]
            assert report["pid"] == 2


@pytest.mark.root
def test_a_network_tag_change_applies_to_restored_environments(
    server: LambdadServer, publish: Publish
) -> None:
    fn = publish()
    client = server.client()
    arn = client.get_function(FunctionName=fn.name)["Configuration"]["FunctionArn"]
    before = invoke(server, fn)

    client.tag_resource(Resource=arn, Tags={"lambdad:network": "none"})
    after = invoke(server, fn)

    assert ok(before)["interfaces"] == ["lo", "tap0"]  # the server's mode: isolated
    # A new environment (the tag retired the warm one), restored from a template of the
    # new mode: no network beyond its loopback.
    assert ok(after)["interfaces"] == ["lo"]
    assert_cold_start(after)


@pytest.mark.root
def test_a_restored_environment_that_exits_is_replaced_by_a_new_restore(
    server: LambdadServer, publish: Publish
) -> None:
    fn = publish()
    before = invoke(server, fn)

    crashed = invoke(server, fn, {"exit": 1})
    after = invoke(server, fn)

    assert crashed.error == "Unhandled"
    assert crashed.payload["errorType"] == "Runtime.ExitError"
    assert "exit status 1" in crashed.payload["errorMessage"]
    # The template survived the environment it forked: the next invoke is restored.
    ok(after)
    assert_cold_start(after)
    assert after.payload["log_stream"] != before.payload["log_stream"]


@pytest.mark.root
def test_out_of_memory_in_a_restored_environment(server: LambdadServer, publish: Publish) -> None:
    fn = publish()

    oom = invoke(server, fn, {"allocate_mb": 400})
    after = invoke(server, fn, {"allocate_mb": 32})

    assert oom.error == "Unhandled"
    assert oom.payload["errorType"] == "Runtime.OutOfMemory"
    assert "Memory Size: 128 MB\tMax Memory Used: 128 MB\t" in oom.log
    assert ok(after)["held_mb"] == 32
    assert_cold_start(after)


# -- failures -------------------------------------------------------------------------------


@pytest.mark.root
@pytest.mark.parametrize(
    ("fail_at", "message"),
    [
        ("init", "init failed on purpose: no database"),
        ("before_snapshot", "before-snapshot hook failed on purpose"),
    ],
)
def test_a_failed_init_or_before_snapshot_hook_fails_the_version(
    server: LambdadServer, publish: Publish, fail_at: str, message: str
) -> None:
    fn = publish(wait=False, variables={"FAIL_AT": fail_at})
    client = server.client()

    if not RESTORES:
        # No snapshot to take: Active at once, and its environments start on demand.
        client.get_waiter("published_version_active").wait(
            FunctionName=fn.name, Qualifier=fn.version, WaiterConfig=ACTIVE
        )
        result = invoke(server, fn)
        if fail_at == "init":
            assert result.error == "Unhandled"
            assert result.payload["errorMessage"] == message
        else:
            assert ok(result)["state"]["before_snapshot"] == []  # never run
        return
    with pytest.raises(WaiterError, match="Failed"):
        client.get_waiter("published_version_active").wait(
            FunctionName=fn.name, Qualifier=fn.version, WaiterConfig=ACTIVE
        )
    config = client.get_function_configuration(FunctionName=fn.name, Qualifier=fn.version)
    assert config["State"] == "Failed"
    assert config["StateReasonCode"] == "FunctionError"
    assert message in config["StateReason"]


@pytest.mark.root
def test_a_failed_after_restore_hook_fails_each_invoke(
    server: LambdadServer, publish: Publish
) -> None:
    fn = publish(variables={"FAIL_AT": "after_restore"})

    if not RESTORES:
        assert ok(invoke(server, fn))["state"]["after_restore"] == []  # never run
        return
    for _ in range(2):  # and the next invoke tries a new restore, which fails again
        with pytest.raises(ClientError) as failed:
            invoke(server, fn)
        error = failed.value.response["Error"]
        assert error["Code"] == "SnapStartException"
        assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert "after-restore hook failed on purpose" in error["Message"]


# -- lifecycle ------------------------------------------------------------------------------


@pytest.mark.root
def test_deleting_the_version_removes_its_template_and_environments(
    server: LambdadServer, publish: Publish
) -> None:
    before = set(sandbox_processes(server))
    fn = publish()
    ok(invoke(server, fn))
    # The template's runtime and its namespace factory, and the environment restored
    # from it (its waiter, its pid 1, its runtime) under a uid of its own; without
    # snapshots, the runtime alone.
    made = {pid: uid for pid, uid in sandbox_processes(server).items() if pid not in before}
    assert len(made) == (5 if RESTORES else 1), describe(list(made))
    if RESTORES:
        assert len(set(made.values())) == 2, made  # the template's uid, the environment's
    client = server.client()

    client.delete_function(FunctionName=fn.name, Qualifier=fn.version)

    with pytest.raises(client.exceptions.ResourceNotFoundException):
        invoke(server, fn)

    def alive() -> list[int]:
        return [pid for pid in made if Path(f"/proc/{pid}").exists()]

    assert wait_until(lambda: not alive()), describe(alive())


@pytest.mark.root
def test_after_a_restart_the_version_restores_from_a_new_template(
    server: LambdadServer, publish: Publish
) -> None:
    fn = publish()
    before = ok(invoke(server, fn))

    assert server.stop() == 0
    # The template and its environment went with the server, cgroups and all.
    assert not [d for d in cgroup_dirs(server.data_dir) if d.exists()]
    server.start()
    config = server.client().get_function_configuration(FunctionName=fn.name, Qualifier=fn.version)
    after = invoke(server, fn)

    assert config["State"] == "Active"
    report = ok(after)
    assert_cold_start(after)
    assert report["state"]["init_id"] != before["state"]["init_id"]  # a new init
    if RESTORES:
        assert report["state"]["before_snapshot"] == BEFORE_SNAPSHOT
        assert report["state"]["after_restore"] == AFTER_RESTORE


# -- the process backend ------------------------------------------------------------------


def test_restores_over_the_process_backend(lambdad_factory: ServerFactory) -> None:
    srv = lambdad_factory(env={"LAMBDAD_SANDBOX": "process"})
    made: list[str] = []
    try:
        fn = publisher(srv, made)()

        results = invoke_together(srv, fn, [{"sleep": 0.5}, {"sleep": 0.5}])
    finally:
        delete_all(srv, made)

    reports = [ok(r) for r in results]
    assert len({r["log_stream"] for r in reports}) == 2
    assert len({tuple(r["random"]) for r in reports}) == 2
    for report, result in zip(reports, results, strict=True):
        assert_cold_start(result)
        if RESTORES:
            assert report["initialization_type"] == "snap-start"
            assert report["state"]["before_snapshot"] == BEFORE_SNAPSHOT
            assert report["state"]["after_restore"] == AFTER_RESTORE
        else:
            assert report["initialization_type"] == "on-demand"
            assert {k: report["state"][k] for k in ON_DEMAND_HOOKS} == ON_DEMAND_HOOKS
    if RESTORES:
        assert len({r["state"]["init_id"] for r in reports}) == 1


def test_a_hung_after_restore_hook_times_the_restore_out(lambdad_factory: ServerFactory) -> None:
    srv = lambdad_factory(env={"LAMBDAD_SANDBOX": "process", "LAMBDAD_INIT_TIMEOUT": "1"})
    made: list[str] = []
    try:
        fn = publisher(srv, made)(variables={"FAIL_AT": "after_restore_hangs"})
        if not RESTORES:
            assert ok(invoke(srv, fn))["state"]["after_restore"] == []  # never run
            return
        with pytest.raises(ClientError) as failed:
            invoke(srv, fn)
    finally:
        delete_all(srv, made)
    error = failed.value.response["Error"]
    assert error["Code"] == "SnapStartTimeoutException"
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 408
