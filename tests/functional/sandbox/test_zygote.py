"""Environments forked from a zygote: what the runtime sees, and what it cannot reach.

Real zygotes on a real interpreter, driven through ``Environment`` (the Runtime API
and all) without the HTTP API. The process-backend zygote runs anywhere; the sandboxed
one needs root, bwrap and cgroups and skips with the reason elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdad.config import Settings
from lambdad.environments.environment import Environment, EnvironmentConfig, Invocation
from lambdad.runtimes.table import RUNTIME_DIR, RuntimeTable, RuntimeUnavailable
from lambdad.sandbox.base import SandboxBackend, SandboxSpec
from lambdad.sandbox.bwrap_plan import lang_interpreter, lang_prefix
from lambdad.sandbox.select import choose_backend
from lambdad.sandbox.zygote import ZygoteBackend, ZygoteSandbox

PROBE = """
import json, os, socket, sys

def _try(fn):
    try:
        return {"ok": True, "value": fn()}
    except OSError as exc:
        return {"ok": False, "errno": exc.errno}

def _status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out

def _connect(port):
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return "connected"

def handler(event, context):
    if event.get("write"):
        with open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "mark"), "w") as f:
            f.write(event["write"])
    tmp = os.environ.get("TMPDIR", "/tmp")
    status = _status()
    return {
        "uid": os.getuid(), "gid": os.getgid(), "pid": os.getpid(),
        "no_new_privs": status["NoNewPrivs"], "cap_eff": status["CapEff"],
        "cap_bnd": status["CapBnd"], "seccomp": status.get("Seccomp"),
        "procs": sorted(p for p in os.listdir("/proc") if p.isdigit()),
        "tmp": sorted(os.listdir(tmp)),
        "cwd": os.getcwd(),
        "argv": sys.argv,
        "main": getattr(sys.modules["__main__"], "__file__", None),
        "environ": dict(os.environ),
        "cmdline": open("/proc/self/cmdline", "rb").read().decode().split("\\0"),
        "connect": _try(lambda: _connect(event["port"])) if "port" in event else None,
        "sys_path": sys.path[:3],
        "executable": sys.executable, "prefix": sys.prefix, "os_file": os.__file__,
        "mountinfo": open("/proc/self/mountinfo").read(),
    }
"""


def python() -> tuple[str, Path]:
    try:
        launch = RuntimeTable().launch("python3.12")
    except RuntimeUnavailable as exc:
        pytest.skip(str(exc))
    assert launch.interpreter is not None
    return launch.argv[0], launch.interpreter


def sandbox_missing() -> str | None:
    if os.geteuid() != 0:
        return f"needs root for namespaces and cgroups (running as uid {os.geteuid()})"
    from lambdad.sandbox.select import capabilities, full_isolation_possible

    if full_isolation_possible():
        return None
    return "full isolation cannot run here: missing " + ", ".join(
        c.name for c in capabilities() if not c.present
    )


@pytest.fixture
def task(tmp_path: Path) -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(PROBE)
    code.chmod(0o755)
    (code / "app.py").chmod(0o644)
    return code


def make_backend(tmp_path: Path, sandbox: str, spares: int = 0) -> SandboxBackend:
    settings = Settings(
        data_dir=tmp_path / "data", sandbox=sandbox, network="none", zygote_spares=spares
    )
    backend = choose_backend(settings)
    assert isinstance(backend, ZygoteBackend)
    return backend


@pytest.fixture
def process_backend(tmp_path: Path) -> Iterator[SandboxBackend]:
    backend = make_backend(tmp_path, "process")
    yield backend
    backend.close()


@pytest.fixture(params=["built inline", "from a spare"])
def bwrap_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SandboxBackend]:
    """Sandboxes built when asked, or finished from spares built ahead."""
    reason = sandbox_missing()
    if reason is not None:
        if os.environ.get("CI"):
            raise RuntimeError(f"sandbox tests must run on CI: {reason}")
        pytest.skip(reason)
    tmp_path.chmod(0o755)  # the sandbox uid must reach the code below it
    backend = make_backend(tmp_path, "bwrap", spares=2 if request.param == "from a spare" else 0)
    yield backend
    backend.close()


async def spares_ready(backend: SandboxBackend, task: Path) -> None:
    """With spares on, the first environment starts inline and the spares get built:
    wait for them."""
    assert isinstance(backend, ZygoteBackend)
    if not backend.spares:
        return
    _, first = await invoke_new(backend, task, {})
    await first.stop()
    for _ in range(500):
        if sum(len(q) for q in backend._parked.values()) >= backend.spares:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no spare sandbox was built")


async def invoke_new(
    backend: SandboxBackend,
    task: Path,
    event: dict[str, Any],
    env: dict[str, str] | None = None,
    tenant: str = "123456789012",
) -> tuple[dict[str, Any], Environment]:
    """Start a new environment, invoke it once; the caller stops it."""
    argv0, interpreter = python()
    env_id = os.urandom(8).hex()
    variables = {
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "_HANDLER": "app.handler",
        "LAMBDA_TASK_ROOT": str(task),
        **(env or {}),
    }
    spec = SandboxSpec(
        env_id=env_id,
        argv=(argv0, str(RUNTIME_DIR / "python" / "bootstrap.py")),
        env=variables,
        task_dir=task,
        runtime_dir=RUNTIME_DIR,
        host_paths=(interpreter,),
        network="none",
        tmp_mb=16,
        tenant=tenant,
    )
    config = EnvironmentConfig("arn:fn", "$LATEST", 128, 10, 10, "g", "s", "1", "r")
    lines: list[str] = []
    environment = Environment(env_id, config, spec, backend, lambda *a: lines.append(a[-1]))
    await environment.start()
    inv = Invocation(
        request_id=os.urandom(8).hex(),
        payload=json.dumps(event).encode(),
        function_arn="arn:fn",
        deadline_ms=int(time.time() * 1000) + 10_000,
    )
    result = await environment.invoke(inv, cold=True)
    assert result.function_error is None, (result.payload, lines)
    return json.loads(result.payload), environment


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- process backend: a fork, indistinguishable from the exec'd runtime ---------------------


def test_forked_runtime_sees_what_an_execd_one_sees(
    process_backend: SandboxBackend, task: Path
) -> None:
    async def go() -> dict[str, Any]:
        seen, environment = await invoke_new(process_backend, task, {}, {"MY_VAR": "v"})
        assert isinstance(environment.sandbox, ZygoteSandbox)
        await environment.stop()
        return seen

    seen = run(go())
    bootstrap = str(RUNTIME_DIR / "python" / "bootstrap.py")
    assert seen["cwd"] == str(task)
    assert seen["argv"] == [bootstrap]
    assert seen["main"] == bootstrap
    assert seen["cmdline"][:2] == [python()[0], bootstrap]
    assert seen["sys_path"][0] == str(task)
    environ = seen["environ"]
    assert environ["MY_VAR"] == "v"
    assert environ["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert Path(environ["TMPDIR"]).is_relative_to(Path(process_backend.inner.work_root))  # type: ignore[attr-defined]
    # Nothing of the zygote's own environment, nothing of the platform's.
    assert not [k for k in environ if k.startswith("LAMBDAD_")]


def test_each_forked_environment_has_its_own_tmpdir(
    process_backend: SandboxBackend, task: Path
) -> None:
    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        first, a = await invoke_new(process_backend, task, {"write": "one"})
        second, b = await invoke_new(process_backend, task, {})
        await a.stop()
        await b.stop()
        return first, second

    first, second = run(go())
    assert first["tmp"] == ["mark"]
    assert second["tmp"] == []
    assert first["environ"]["TMPDIR"] != second["environ"]["TMPDIR"]


def test_tenants_never_share_a_zygote(process_backend: SandboxBackend, task: Path) -> None:
    # A child inherits its zygote's memory (CPython's hash secret among it).
    async def go() -> list[int]:
        pids = []
        for tenant in ("111111111111", "111111111111", "222222222222"):
            _, environment = await invoke_new(process_backend, task, {}, tenant=tenant)
            assert isinstance(environment.sandbox, ZygoteSandbox)
            pids.append(environment.sandbox.zygote.pid)
            await environment.stop()
        return pids

    first, again, other = run(go())
    assert first == again
    assert other != first


def test_a_startup_variable_it_cannot_honour_gets_an_execd_runtime(
    process_backend: SandboxBackend, task: Path
) -> None:
    async def go() -> tuple[dict[str, Any], object]:
        seen, environment = await invoke_new(process_backend, task, {}, {"PYTHONHASHSEED": "7"})
        sandbox = environment.sandbox
        await environment.stop()
        return seen, sandbox

    seen, sandbox = run(go())
    assert not isinstance(sandbox, ZygoteSandbox)
    assert seen["environ"]["PYTHONHASHSEED"] == "7"


# -- bwrap backend: the same isolation, built by the zygote's child ------------------------


def test_sandboxed_fork_is_isolated(bwrap_backend: SandboxBackend, task: Path) -> None:
    with socket.socket() as host_service:
        host_service.bind(("127.0.0.1", 0))
        host_service.listen(1)
        port = host_service.getsockname()[1]

        async def go() -> tuple[dict[str, Any], dict[str, Any]]:
            await spares_ready(bwrap_backend, task)
            first, a = await invoke_new(bwrap_backend, task, {"write": "one", "port": port})
            second, b = await invoke_new(bwrap_backend, task, {})
            assert isinstance(a.sandbox, ZygoteSandbox)
            assert a.sandbox.from_spare == bool(bwrap_backend.spares)  # type: ignore[attr-defined]
            await a.stop()
            await b.stop()
            return first, second

        first, second = run(go())

    # Its own /tmp.
    assert first["tmp"] == ["mark"]
    assert second["tmp"] == []
    # An unprivileged uid of its own, no capabilities, no_new_privs, a seccomp filter.
    assert first["uid"] == first["gid"] != 0
    assert first["uid"] != second["uid"]
    assert first["no_new_privs"] == "1"
    assert int(first["cap_eff"], 16) == 0
    assert int(first["cap_bnd"], 16) == 0
    assert first["seccomp"] == "2"
    # Its own PID namespace: its init and itself, nothing of the host.
    assert first["procs"] == ["1", "2"]
    assert first["pid"] == 2
    # Its own network namespace: the host's loopback services are out of reach.
    assert first["connect"] == {"ok": False, "errno": 111}
    # What it sees is the layout of an exec'd runtime.
    assert first["cwd"] == "/var/task"
    assert first["argv"] == ["/var/runtime/python/bootstrap.py"]
    inside = lang_interpreter(python()[0])
    assert inside.startswith("/var/lang/bin/python3.")
    assert first["cmdline"][:2] == [inside, "/var/runtime/python/bootstrap.py"]
    # The interpreter where AWS has it: run from /var/lang, its library there.
    assert first["executable"] == inside
    assert first["prefix"] == "/var/lang"
    assert first["os_file"].startswith("/var/lang/lib/python3.")
    # No host directory named in its mount table (code, install path, interpreter).
    prefix = str(lang_prefix((Path(python()[0]),)))
    for host_path in (str(task), str(RUNTIME_DIR), prefix if prefix != "/usr" else str(task)):
        assert host_path not in first["mountinfo"], host_path
    assert first["environ"]["LAMBDA_TASK_ROOT"] == "/var/task"
    assert first["environ"]["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"


def test_sandboxed_fork_leaves_nothing_behind(bwrap_backend: SandboxBackend, task: Path) -> None:
    async def go() -> ZygoteSandbox:
        await spares_ready(bwrap_backend, task)
        _, environment = await invoke_new(bwrap_backend, task, {})
        sandbox = environment.sandbox
        assert isinstance(sandbox, ZygoteSandbox)
        await environment.stop()
        return sandbox

    sandbox = run(go())
    assert sandbox.cgroup is not None
    assert not any(d.exists() for d in sandbox.cgroup.dirs)
    with pytest.raises(ProcessLookupError):
        os.kill(sandbox.pid, 0)  # its init, and with it the whole PID namespace


def test_a_burst_of_spawns_fills_the_control_socket_and_every_one_is_answered(
    tmp_path: Path,
) -> None:
    # Sandboxed requests carry a root plan of a few KB: a burst of cold starts fills the
    # control socket's buffer, and every sender must get its turn when it drains.
    from lambdad.runtimes.table import PYTHON_BOOTSTRAP
    from lambdad.sandbox import zygote_wire
    from lambdad.sandbox.zygote_process import ZygoteProcess

    argv0, _ = python()

    async def go() -> list[int]:
        zygote = ZygoteProcess(argv0, PYTHON_BOOTSTRAP, str(PYTHON_BOOTSTRAP))
        await zygote.start()
        ends: list[socket.socket] = []

        async def one() -> int:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            out_r, out_w = os.pipe()
            ends.append(ours)
            request = zygote_wire.spawn_request("", sandboxed=False, cwd=str(tmp_path))
            request["padding"] = "x" * 16384
            try:
                child = await zygote.spawn(request, [theirs.fileno(), out_w])
            finally:
                theirs.close()
                os.close(out_w)
                os.close(out_r)
            os.close(child.pidfd)
            return child.pid

        try:
            pids = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(64))), 30)
        finally:
            for end in ends:
                end.close()  # each child sees the hang-up and exits
            await zygote.stop()
        return pids

    pids = run(go())
    assert len(set(pids)) == 64
