"""Hostile functions against real sandboxes: every attack fails, the platform serves on.

Each test deploys a real Python function (``functions/hostile.py``, one handler per
attack) on a server that runs the bwrap backend, and asserts how the attack was
refused. A background thread invokes a well-behaved echo function throughout the
module; after every test it must have completed fresh invokes, and none may fail.

Needs root, bubblewrap and cgroups; skipped elsewhere with the reason (on CI, root,
it must run: there a missing capability fails the module instead).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

import lambdad
from e2e.helpers import LambdadServer, make_zip, serving
from e2e.sandboxes import (
    HOSTILE_SOURCE,
    cgroup_dirs,
    deploy_hostile,
    env_cgroups,
    host_listener,
    pids_current,
    require_full_isolation,
)

MARKER = "hostile-marker-" + uuid.uuid4().hex  # in the server's environment only
PIDS_LIMIT = 64
# Each environment's own uid comes from a range of 65536 the server claims from this
# base (settings sandbox_uid_base/count; the next free one when another server holds it).
SANDBOX_UIDS = range(0x60000000, 0x6FFF0000)

require_full_isolation()


pytestmark = pytest.mark.root


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


# -- the server and the background load ---------------------------------------------------


# Both ways an environment starts: bwrap exec'ing the runtime, and (Python) the fork
# of a zygote that builds the same sandbox itself.
START_PATHS = {"exec": "false", "zygote": "true"}


@pytest.fixture(scope="module", params=sorted(START_PATHS))
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LambdadServer]:
    # credentials=None: the server creates its credential file in the data directory,
    # which functions then try to read.
    srv = LambdadServer(
        tmp_path_factory.mktemp("hostile") / "data",
        credentials=None,
        env={
            "LAMBDAD_SANDBOX": "bwrap",
            "LAMBDAD_FAST_PATH": START_PATHS[request.param],
            "LAMBDAD_PIDS_LIMIT": str(PIDS_LIMIT),
            "LAMBDAD_NETWORK": "isolated",
            "HOSTILE_MARKER": MARKER,
        },
    )
    with serving(srv):
        yield srv
    leftovers = [d for d in cgroup_dirs(srv.data_dir) if d.exists()]
    assert not leftovers, f"cgroups left behind after shutdown: {leftovers}"


Deploy = Callable[..., str]


@pytest.fixture
def deploy(server: LambdadServer) -> Iterator[Deploy]:
    """``deploy(handler, **create_function_args)`` -> name; deleted after the test."""
    made: list[str] = []

    def make(handler: str, **params: Any) -> str:
        made.append(deploy_hostile(server, handler, **params))
        return made[-1]

    yield make
    client = server.client()
    for name in made:
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_function(FunctionName=name)


def invoke(srv: LambdadServer, name: str, event: Any) -> tuple[Any, str | None, str]:
    """(decoded payload, FunctionError, request id)."""
    resp = srv.client().invoke(FunctionName=name, Payload=json.dumps(event).encode())
    assert resp["StatusCode"] == 200
    payload = json.loads(resp["Payload"].read())
    return payload, resp.get("FunctionError"), resp["ResponseMetadata"]["RequestId"]


def attack(srv: LambdadServer, name: str, event: Any) -> Any:
    """Invoke a hostile handler that must run to completion and report."""
    payload, error, _ = invoke(srv, name, event)
    assert error is None, payload
    return payload


class EchoLoad:
    """Invokes an echo function in a loop and keeps count of what came back."""

    def __init__(self, srv: LambdadServer, name: str) -> None:
        cred = srv.credential
        self.client = boto3.session.Session().client(
            "lambda",
            endpoint_url=srv.endpoint,
            region_name=srv.region,
            aws_access_key_id=cred.access_key_id,
            aws_secret_access_key=cred.secret_access_key,
            config=Config(retries={"total_max_attempts": 1}, read_timeout=30),
        )
        self.name = name
        self.completed = 0
        self.failures: list[str] = []
        self.slowest = 0.0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="echo-load", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        seq = 0
        while not self._stop.is_set():
            seq += 1
            event = {"seq": seq, "pad": "x" * 100}
            started = time.monotonic()
            try:
                resp = self.client.invoke(FunctionName=self.name, Payload=json.dumps(event))
                body = json.loads(resp["Payload"].read())
                failure = None
                if resp.get("FunctionError") or body != event:
                    failure = f"invoke {seq}: {resp.get('FunctionError')} {body!r:.300}"
            except Exception as exc:
                failure = f"invoke {seq}: {exc!r}"
            with self._cond:
                self.slowest = max(self.slowest, time.monotonic() - started)
                if failure:
                    self.failures.append(failure)
                else:
                    self.completed += 1
                self._cond.notify_all()
            self._stop.wait(0.02)

    def wait_for_more(self, count: int, timeout: float = 20.0) -> None:
        """Block until ``count`` more invokes completed (one started after this call)."""
        with self._cond:
            target = self.completed + count
            ok = self._cond.wait_for(
                lambda: self.completed >= target or bool(self.failures), timeout
            )
        assert not self.failures, self.failures
        assert ok, f"the echo function answered nothing for {timeout} s"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


@pytest.fixture(scope="module")
def echo_load(server: LambdadServer) -> Iterator[EchoLoad]:
    load = EchoLoad(server, deploy_hostile(server, "echo"))
    load.start()
    load.wait_for_more(1)
    yield load
    load.stop()
    assert not load.failures, load.failures
    print(f"\necho load: {load.completed} invokes, slowest {load.slowest * 1000:.0f} ms")


@pytest.fixture(autouse=True)
def platform_keeps_serving(echo_load: EchoLoad) -> Iterator[None]:
    """Every attack runs while the echo function is invoked, and it never fails."""
    before = echo_load.completed
    yield
    echo_load.wait_for_more(2)
    assert echo_load.completed > before


# -- reading what is not its own ------------------------------------------------------------


def test_data_directory_and_credential_file_are_invisible(
    server: LambdadServer, deploy: Deploy
) -> None:
    data = server.data_dir
    secrets = [data / "credentials.json", data / "master.key", data / "lambdad.db"]
    assert all(p.is_file() for p in secrets)  # they exist on the host
    paths = [str(data), str(data.parent), *map(str, secrets), str(data / "code")]

    result = attack(server, deploy("read_paths"), {"paths": paths})

    for path in paths:
        assert result[path] == {"ok": False, "error": "FileNotFoundError", "errno": "ENOENT"}


def test_other_functions_code_is_invisible(server: LambdadServer, deploy: Deploy) -> None:
    secret = "victim-secret-" + uuid.uuid4().hex
    victim_zip = make_zip({"hostile.py": HOSTILE_SOURCE, "victim_secret.txt": secret})
    victim = deploy("echo", Code={"ZipFile": victim_zip})
    attack(server, victim, {})  # its code is now extracted in the code cache
    victim_dir = server.data_dir / "code" / hashlib.sha256(victim_zip).hexdigest()
    assert (victim_dir / "victim_secret.txt").read_text() == secret

    paths = [
        "/var/task",
        "/var/task/victim_secret.txt",
        str(victim_dir),
        str(victim_dir / "victim_secret.txt"),
    ]
    result = attack(server, deploy("read_paths"), {"paths": paths})

    assert result["/var/task"] == {"ok": True, "value": json.dumps(["hostile.py"])}
    for path in paths[1:]:
        assert result[path] == {"ok": False, "error": "FileNotFoundError", "errno": "ENOENT"}


def test_etc_shadow_is_not_in_the_sandbox(server: LambdadServer, deploy: Deploy) -> None:
    result = attack(server, deploy("read_paths"), {"paths": ["/etc/shadow", "/etc/passwd"]})

    assert result["/etc/shadow"] == {"ok": False, "error": "FileNotFoundError", "errno": "ENOENT"}
    users = [line.split(":")[0] for line in result["/etc/passwd"]["value"].splitlines()]
    assert users == ["root", "sbx_user1051"]


def test_host_environment_is_unreadable(server: LambdadServer, deploy: Deploy) -> None:
    assert MARKER in Path(f"/proc/{server.process.pid}/environ").read_text()  # type: ignore[union-attr]

    result = attack(server, deploy("environ_and_processes"), {})

    assert result["processes"]["1"]["environ"] == {
        "ok": False,
        "error": "PermissionError",
        "errno": "EACCES",
    }
    seen = json.dumps(result)
    assert MARKER not in seen
    assert not [k for k in result["own_environ"] if k.startswith("LAMBDAD_")]
    assert server.credential.secret_access_key not in seen


def test_host_processes_are_invisible(server: LambdadServer, deploy: Deploy) -> None:
    result = attack(server, deploy("environ_and_processes"), {})

    # Only the sandbox's init (bwrap) and the runtime itself.
    assert sorted(result["processes"], key=int) == ["1", str(result["self"])]
    # Not even the sandbox's init reveals host paths (data directory, code cache).
    cmdlines = [p["cmdline"]["value"] for p in result["processes"].values()]
    assert not [c for c in cmdlines if str(server.data_dir.parent) in c or "lambdad" in c]


# -- writing where it may not ---------------------------------------------------------------


def test_only_tmp_is_writable(server: LambdadServer, deploy: Deploy) -> None:
    dirs = [
        "/var/task",
        "/opt",
        "/",
        "/var/runtime",
        "/etc",
        "/usr",
        "/dev",
        "/dev/shm",
        "/var",
        "/tmp",
    ]

    result = attack(server, deploy("write_paths"), {"dirs": dirs})

    read_only = {"ok": False, "error": "OSError", "errno": "EROFS"}
    for d in ("/var/task", "/opt", "/", "/var/runtime", "/etc", "/usr", "/var"):
        assert result[d] == {"file": read_only, "mkdir": read_only}, d
    # /dev is bwrap's own small tmpfs, root's and 0755.
    not_yours = {"ok": False, "error": "PermissionError", "errno": "EACCES"}
    for d in ("/dev", "/dev/shm"):
        assert result[d] == {"file": not_yours, "mkdir": not_yours}, (d, result[d])
    assert result["/tmp"]["file"]["ok"]
    assert result["/tmp"]["mkdir"]["ok"]


# -- reaching out ---------------------------------------------------------------------------


def test_cannot_kill_processes_outside(server: LambdadServer, deploy: Deploy) -> None:
    assert server.process is not None
    pids = [server.process.pid, os.getpid()]

    result = attack(server, deploy("kill_outside"), {"pids": pids})

    for pid in pids:
        assert result[str(pid)] == {"ok": False, "error": "ProcessLookupError", "errno": "ESRCH"}
    assert result["1"] == {"ok": False, "error": "PermissionError", "errno": "EPERM"}
    assert result["-1"] == {"ok": False, "error": "ProcessLookupError", "errno": "ESRCH"}
    assert server.process.poll() is None


def test_runtime_api_is_its_own(server: LambdadServer, deploy: Deploy) -> None:
    victim = deploy("sleep")
    resp = server.client().invoke(
        FunctionName=victim, InvocationType="Event", Payload=json.dumps({"seconds": 3})
    )
    victim_request = resp["ResponseMetadata"]["RequestId"]

    # A whole vCPU (1,769 MB), so that scanning every loopback port takes a second.
    attacker = deploy("runtime_api", MemorySize=1769)
    report = attack(server, attacker, {"other_request_id": victim_request, "seconds": 2})

    # 127.0.0.1:9001 is its own Runtime API: it took the answer posted there.
    assert report["via"] == "runtime api"
    # Every attempt to answer the other environment's invocation (in flight meanwhile)
    # reached only that API, which does not know the request.
    assert len(report["other"]) >= 10
    for answer in report["other"]:
        assert 400 <= answer["status"] < 500, answer
        assert json.loads(answer["body"])["errorType"] == "InvalidRequestID"
    # Nothing but that API listens on its loopback, and the relay to lambdad's own API
    # at the port AWS_ENDPOINT_URL_LAMBDA names (the function's Lambda and Logs
    # endpoint, issue 15; the API still wants the function's role session).
    assert report["listening"] == sorted([9001, server.port])


@pytest.fixture(name="host_listener")
def host_listener_fixture() -> Iterator[tuple[str, int]]:
    with host_listener(8) as published:
        yield published


REFUSED = {"ok": False, "error": "ConnectionRefusedError", "errno": "ECONNREFUSED"}
UNREACHABLE = {"ok": False, "error": "OSError", "errno": "ENETUNREACH"}
NO_ROUTE_TO_HOST = {"ok": False, "error": "OSError", "errno": "EHOSTUNREACH"}


@pytest.mark.parametrize("mode", ["isolated", "none"])
def test_host_ports_are_unreachable_but_lambdads_own_endpoint(
    server: LambdadServer, deploy: Deploy, host_listener: tuple[str, int], mode: str
) -> None:
    addr, published = host_listener
    targets = [
        ("127.0.0.1", server.port),
        (addr, server.port),
        ("10.0.2.2", server.port),
        (addr, published),
        ("169.254.169.254", 80),  # a cloud VM's metadata service: its credentials
        (addr, 25),  # SMTP: blocked outbound, as on AWS
    ]
    name = deploy("network", Tags={"lambdad:network": mode})

    result = attack(server, name, {"targets": targets})

    connect = result["connect"]
    # lambdad listens on the host's loopback, which no sandbox shares: 127.0.0.1 at its
    # port inside is a relay lambdad makes to its own API (the function's
    # AWS_ENDPOINT_URL_LAMBDA, issue 15) and to nothing else of the host.
    assert connect[f"127.0.0.1:{server.port}"]["ok"], connect
    if mode == "isolated":
        # Outbound through the NAT: a service the host publishes is reachable,
        # its loopback (10.0.2.2 would be it) is not, nor lambdad's port.
        assert connect[f"{addr}:{published}"]["ok"], connect
        assert connect[f"{addr}:{server.port}"] == REFUSED
        assert connect[f"10.0.2.2:{server.port}"] == UNREACHABLE
        assert connect["169.254.169.254:80"] == NO_ROUTE_TO_HOST
        assert connect[f"{addr}:25"] == {"ok": False, "error": "PermissionError", "errno": "EACCES"}
        assert result["interfaces"] == ["lo", "tap0"]
        assert result["route_source"]["value"].startswith("10.0.2.")
    else:
        # No network at all beyond its own loopback.
        for target in (
            f"{addr}:{published}",
            f"{addr}:{server.port}",
            f"10.0.2.2:{server.port}",
            "169.254.169.254:80",
        ):
            assert connect[target] == UNREACHABLE, target
        assert result["interfaces"] == ["lo"]
        assert result["route_source"] == UNREACHABLE


def test_network_tag_cannot_widen_to_host(server: LambdadServer, deploy: Deploy) -> None:
    # A function owner cannot tag their way onto the host's loopback (local databases,
    # other services): on an isolated server the tag "host" is ignored.
    name = deploy("network", Tags={"lambdad:network": "host"})
    with socket.socket() as local:
        local.bind(("127.0.0.1", 0))
        local.listen(8)
        port = local.getsockname()[1]
        result = attack(server, name, {"targets": [("127.0.0.1", port)]})

    assert result["connect"][f"127.0.0.1:{port}"] == REFUSED
    assert result["interfaces"] == ["lo", "tap0"]


def test_network_tag_change_applies_to_new_environments(
    server: LambdadServer, deploy: Deploy
) -> None:
    name = deploy("network")
    assert attack(server, name, {"targets": []})["interfaces"] == ["lo", "tap0"]
    client = server.client()
    arn = client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]

    client.tag_resource(Resource=arn, Tags={"lambdad:network": "none"})
    assert attack(server, name, {"targets": []})["interfaces"] == ["lo"]
    client.untag_resource(Resource=arn, TagKeys=["lambdad:network"])
    assert attack(server, name, {"targets": []})["interfaces"] == ["lo", "tap0"]


# -- privileges -----------------------------------------------------------------------------


def test_setuid_binaries_do_not_give_root(server: LambdadServer, deploy: Deploy) -> None:
    result = attack(server, deploy("setuid_root"), {})

    # Debian's su and passwd are there, setuid root, and useless.
    assert {"/usr/bin/su", "/usr/bin/passwd"} <= set(result["setuid_binaries"])
    for argv, run in result["runs"].items():
        if run["ok"]:
            assert run["value"]["rc"] != 0, (argv, run)
            assert run["value"]["stdout"].strip() != "0", (argv, run)
        else:
            assert run["error"] == "FileNotFoundError", (argv, run)  # e.g. no sudo
    assert result["setuid0"] == {"ok": False, "error": "PermissionError", "errno": "EPERM"}
    assert result["uid"] == result["euid"]
    assert result["uid"] in SANDBOX_UIDS
    status = result["status"]
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2"  # a filter
    assert status["Uid"].split() == [str(result["uid"])] * 4
    assert status["Gid"].split() == [str(result["uid"])] * 4
    for caps in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[caps], 16) == 0, caps


def test_no_user_namespaces(server: LambdadServer, deploy: Deploy) -> None:
    result = attack(server, deploy("user_namespace"), {})

    assert result["unshare"] == {"ok": False, "error": "PermissionError", "errno": "EPERM"}
    tool = result["unshare_tool"]["value"]
    assert tool["rc"] != 0
    assert "Operation not permitted" in tool["stderr"]


def test_kernel_interfaces_exploits_start_from_are_closed(
    server: LambdadServer, deploy: Deploy
) -> None:
    result = attack(server, deploy("kernel_interfaces"), {})

    denied = {"ok": False, "error": "PermissionError", "errno": "EPERM"}
    names = ("bpf", "perf_event_open", "userfaultfd", "syslog", "io_uring_setup")
    assert result == dict.fromkeys(names, denied)


# -- what the kernel keeps per uid ----------------------------------------------------------


def test_keyring_is_closed(server: LambdadServer, deploy: Deploy) -> None:
    # Keyrings are not namespaced: one environment's key would be the next one's.
    added = attack(server, deploy("add_user_key"), {"secret": MARKER})
    found = attack(server, deploy("read_user_key"), {})

    assert added == {"ok": False, "error": "PermissionError", "errno": "EPERM"}
    assert found == {"ok": False, "error": "PermissionError", "errno": "EPERM"}


def test_per_uid_limits_are_per_environment(server: LambdadServer, deploy: Deploy) -> None:
    # inotify instances are limited per uid (128 by default) across namespaces.
    hog = attack(server, deploy("hold_inotify"), {})  # and keeps them: its env stays warm

    assert hog["error"] == "EMFILE"
    assert hog["held"] > 0
    assert attack(server, deploy("inotify_once"), {}) == {"ok": True, "value": None}


# -- resources ------------------------------------------------------------------------------


def test_twice_its_memory_is_out_of_memory(server: LambdadServer, deploy: Deploy) -> None:
    name = deploy("allocate", MemorySize=128)

    resp = server.client().invoke(FunctionName=name, Payload=b'{"mb": 256}', LogType="Tail")

    request_id = resp["ResponseMetadata"]["RequestId"]
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(resp["Payload"].read()) == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
    }
    log = base64.b64decode(resp["LogResult"]).decode()
    assert (
        f"RequestId: {request_id} Error: Runtime exited with error: signal: killed\n"
        "Runtime.OutOfMemory\n"
    ) in log
    assert "Memory Size: 128 MB\tMax Memory Used: 128 MB\t" in log
    # The environment was replaced: the next invoke runs in a fresh one.
    assert attack(server, name, {"mb": 32}) == 32


def test_filling_tmp_stops_at_ephemeral_storage(server: LambdadServer, deploy: Deploy) -> None:
    # /tmp is a disk of its own (sandbox/tmpdisk.py), apart from the function's memory:
    # a 128 MB function fills its 512 MB and is not OOM-killed.
    name = deploy("fill_tmp", MemorySize=128, EphemeralStorage={"Size": 512})

    result = attack(server, name, {"mb": 768})

    assert result["errno"] == "ENOSPC"
    assert int(result["tmp_size_mb"]) == 512
    assert 500 <= result["written_mb"] <= 512


def test_fork_bomb_is_held_by_the_pids_limit(server: LambdadServer, deploy: Deploy) -> None:
    # A whole vCPU, so that the bomb reaches the limit within its second.
    name = deploy("fork_bomb", MemorySize=1769)
    client = server.client()
    before = env_cgroups(server.data_dir)

    result = attack(server, name, {"seconds": 1.0})

    assert result["first_error"] == "EAGAIN", result
    assert 0 < result["forked"] < PIDS_LIMIT
    # Its environment (still warm, children holding every slot) sits at the limit.
    bombed = [d for d in env_cgroups(server.data_dir) - before if pids_current(d) == PIDS_LIMIT]
    assert len(bombed) == 1, [pids_current(d) for d in env_cgroups(server.data_dir) - before]
    assert client.get_function(FunctionName=name)["Configuration"]["State"] == "Active"

    client.delete_function(FunctionName=name)
    deadline = time.monotonic() + 10
    while bombed[0].exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not bombed[0].exists(), "the fork bomb's cgroup outlived its function"


def test_cpu_share_is_bounded_by_memory(server: LambdadServer, deploy: Deploy) -> None:
    procs = 2 * (os.cpu_count() or 1)  # spin every core, twice over
    small = deploy("spin", MemorySize=128, Timeout=15)
    large = deploy("spin", MemorySize=1769, Timeout=15)
    before = env_cgroups(server.data_dir)
    results: dict[str, Any] = {}

    def run(name: str, key: str) -> None:
        results[key] = attack(server, name, {"procs": procs, "seconds": 2.0})

    threads = [
        threading.Thread(target=run, args=(small, "128")),
        threading.Thread(target=run, args=(large, "1769")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    share_small, share_large = results["128"]["share"], results["1769"]["share"]
    print(
        f"\nCPU share over {results['128']['wall']:.2f} s, {procs} busy processes: "
        f"128 MB {share_small:.3f} vCPU (quota {128 / 1769:.3f}), "
        f"1769 MB {share_large:.3f} vCPU (quota 1.000)"
    )
    # The quotas in force once init is over: 1,769 MB buys one vCPU.
    quotas = sorted(
        cpu_quota(d.name, server.data_dir) for d in env_cgroups(server.data_dir) - before
    )
    assert quotas == [int(128 / 1769 * 100_000), 100_000]
    # And what they actually got, however busy the host: never more than that.
    assert share_small <= 128 / 1769 * 1.5
    assert share_large <= 1.1
    assert share_large > 3 * share_small


def cpu_quota(env: str, data_dir: Path) -> int:
    """The CPU quota of an environment's cgroup, in microseconds per 100 ms."""
    for parent in cgroup_dirs(data_dir):
        if parent.parent.name == "cpu":
            return int((parent / env / "cpu.cfs_quota_us").read_text())
        if (parent / env / "cpu.max").exists():
            quota, period = (parent / env / "cpu.max").read_text().split()
            assert period == "100000"
            return int(quota)
    raise AssertionError(f"no cpu cgroup for {env}")


def test_stdout_flood_keeps_server_memory_bounded(server: LambdadServer, deploy: Deploy) -> None:
    assert server.process is not None
    pid = server.process.pid
    name = deploy("flood", MemorySize=512, Timeout=30)
    attack(server, name, {"mb": 0, "line_mb": 0})  # warm: measure the flood only
    baseline = rss_bytes(pid)
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.01):
            peak = max(peak, rss_bytes(pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = attack(server, name, {"mb": 64, "line_mb": 4})
    finally:
        done.set()
        sampler.join()

    assert result["written_mb"] == 64
    growth = (peak - baseline) >> 20
    print(
        f"\nstdout flood of 68 MB in {result['seconds']:.2f} s: server RSS "
        f"{baseline >> 20} MB -> peak {peak >> 20} MB"
    )
    assert growth < 64, f"server RSS grew by {growth} MB during a 68 MB flood"


# -- nothing of the function's reaches a privileged process ---------------------------------

# Built by the test: a library whose constructor logs, for every process that loads it,
# its uid and effective capabilities, to the file PRELOAD_LOG names.
PRELOAD_SOURCE = r"""
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

__attribute__((constructor)) static void report(void) {
    const char *path = getenv("PRELOAD_LOG");
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {{0}};
    char exe[512] = {0};
    int fd;
    if (path == NULL)
        return;
    syscall(SYS_capget, &header, data);
    if (readlink("/proc/self/exe", exe, sizeof exe - 1) < 0)
        exe[0] = '?';
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0666);
    if (fd < 0)
        return;
    dprintf(fd, "uid=%d euid=%d capeff=%x,%x exe=%s\n", (int)getuid(), (int)geteuid(),
            data[0].effective, data[1].effective, exe);
    close(fd);
}
"""

NODE_PRELOAD_REPORT = """
const fs = require("fs");
exports.handler = async () => {
  let log;
  try {
    log = { ok: true, value: fs.readFileSync(process.env.PRELOAD_LOG, "utf8") };
  } catch (e) {
    log = { ok: false, error: e.code };
  }
  return { log, ld_preload: process.env.LD_PRELOAD || null, uid: process.getuid() };
};
"""


@pytest.fixture(scope="module")
def preload_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        if os.environ.get("CI"):
            raise RuntimeError("the LD_PRELOAD attack must run on CI: no C compiler")
        pytest.skip("no C compiler to build the attack's library")
    work = tmp_path_factory.mktemp("preload")
    (work / "evil.c").write_text(PRELOAD_SOURCE)
    subprocess.run(
        [cc, "-shared", "-fPIC", "-o", str(work / "evil.so"), str(work / "evil.c")],
        check=True,
        capture_output=True,
    )
    (work / "evil.so").chmod(0o755)
    return work / "evil.so"


@pytest.mark.parametrize("runtime", ["python3.12", "nodejs20.x"])
@pytest.mark.parametrize("where", ["task", "host"])
def test_loader_variables_reach_only_the_unprivileged_runtime(
    server: LambdadServer, deploy: Deploy, preload_library: Path, runtime: str, where: str
) -> None:
    # LD_PRELOAD naming a library in the function's own code, or (a path leaked to the
    # function) on the host: the privileged stages that build the sandbox must never
    # load it; the runtime does, as on AWS, as the sandbox user without capabilities.
    log = f"/tmp/preload-{uuid.uuid4().hex}.log"
    library = "/var/task/evil.so" if where == "task" else str(preload_library)
    variables = {"LD_PRELOAD": library, "PRELOAD_LOG": log, "LC_ALL": "C.UTF-8"}
    files: dict[str, str | bytes] = {"evil.so": preload_library.read_bytes()}
    params: dict[str, Any] = {"Environment": {"Variables": variables}, "Runtime": runtime}
    if runtime.startswith("nodejs"):
        files["index.js"] = NODE_PRELOAD_REPORT
        params["Handler"] = "index.handler"
    name = deploy("preload_report", files=files, **params)

    result = attack(server, name, {})

    assert not Path(log).exists(), "the library ran on the host, outside the sandbox"
    assert result["ld_preload"] == library
    if where == "host":
        assert result["log"]["ok"] is False  # not in the sandbox: nothing loaded it
        return
    lines = result["log"]["value"].splitlines()
    assert lines, "the runtime did not load the library"
    for line in lines:
        fields = dict(item.split("=", 1) for item in line.split())
        assert fields["uid"] == fields["euid"] == str(result["uid"]), line
        assert int(fields["uid"]) in SANDBOX_UIDS, line
        assert fields["capeff"] == "0,0", line
    binary = {"python3.12": "python", "nodejs20.x": "node"}[runtime]
    assert any("exe=" in line and binary in line.split("exe=", 1)[1] for line in lines), lines


def test_proc_shows_no_host_facts(server: LambdadServer, deploy: Deploy) -> None:
    # LC_ALL sends the Python runtime down the exec path; without, it is forked.
    exec_path = {"Environment": {"Variables": {"LC_ALL": "C.UTF-8"}}}
    for params in (exec_path, {}):
        result = attack(server, deploy("host_facts", **params), {})
        assert result["/proc/cmdline"] == {"ok": True, "value": ""}
        cgroup = result["/proc/self/cgroup"]["value"]
        assert all(line.endswith(":/") for line in cgroup.splitlines()), cgroup
        assert str(server.data_dir) not in result["/proc/1/cmdline"]["value"]
        # The memory is the function's (128 MB), not the host's.
        meminfo = result["/proc/meminfo"]["value"]
        assert meminfo.splitlines()[0].split() == ["MemTotal:", str(128 * 1024), "kB"], meminfo
        host = Path("/proc/meminfo").read_text().splitlines()[0]
        assert host not in meminfo or host.split()[1] == str(128 * 1024)
        # Generated files (/etc/passwd names the environment's uid) are no bind of a
        # file in the server's data directory, which would name the environment.
        # No line of its mount table names the data directory (code, layers, the
        # environment) or where lambdad is installed (its runtimes): code, runtimes,
        # layers and the interpreter are overlays, not binds of host directories.
        install = str(Path(lambdad.__file__).parent.parent)
        for line in result["/proc/self/mountinfo"]["value"].splitlines():
            assert str(server.data_dir) not in line, line
            assert install not in line, line


def uid_base(srv: LambdadServer) -> int:
    """The first uid of the server's range, as its banner says."""
    text = srv.stdout()
    return int(text.split("uid per environment from ", 1)[1].split(";", 1)[0])


def test_two_servers_never_share_sandbox_uids(
    server: LambdadServer, deploy: Deploy, lambdad_factory: Callable[..., LambdadServer]
) -> None:
    # Per-uid kernel limits (inotify, RLIMIT_NPROC, keyrings) must not be another
    # server's functions' to exhaust.
    other = lambdad_factory(credentials=None, env={"LAMBDAD_SANDBOX": "bwrap"})
    mine, theirs = uid_base(server), uid_base(other)
    assert abs(mine - theirs) >= 65536

    uid = attack(server, deploy("setuid_root"), {})["uid"]
    other_uid = attack(other, deploy_hostile(other, "setuid_root"), {})["uid"]
    assert mine <= uid < mine + 65536
    assert theirs <= other_uid < theirs + 65536
