"""What the warm, throughput, zygote and memory benchmarks share (not a benchmark).

A real ``lambdad serve`` in a subprocess (``Server``), requests signed once with
botocore and replayed (a SigV4 signature stays valid for 15 minutes), a raw
keep-alive HTTP client that measures each round trip, the asyncio loopback server
that is every figure's baseline, and the table/JSON output. The mapping benchmarks'
moto server, its clients and a server's environment pointing at it are the e2e tests'
(``tests/e2e/aws_side.py``), re-exported here.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import io
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from e2e.aws_side import MOTO_ACCOUNT as MOTO_ACCOUNT
from e2e.aws_side import moto_client as moto_client
from e2e.aws_side import moto_env as moto_env
from e2e.aws_side import moto_server as moto_server

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
AKID, SECRET, ACCOUNT = "BENCHWARMPATH", "bench-warm-path-secret", "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/bench"
REGION = "us-east-1"
NOOP = "def handler(event, context):\n    return event\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p99": percentile(values, 99),
        "mean": statistics.fmean(values),
    }


def host_info() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_at_start": os.getloadavg()[0],
    }


def code_zip(source: str = NOOP) -> bytes:
    return zip_of({"app.py": source})


def zip_of(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return buf.getvalue()


def sandbox_unavailable() -> str | None:
    """Why the bwrap backend cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "not root"
    sys.path.insert(0, str(ROOT / "src"))
    from lambdad.sandbox.select import full_isolation_possible

    return None if full_isolation_possible() else "bwrap or cgroups missing"


@dataclass
class Server:
    """``lambdad serve`` with its own data directory and settings (``LAMBDAD_*``)."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="lambdad-b-")))
    process: subprocess.Popen[bytes] | None = None
    client: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        import boto3
        from botocore.config import Config

        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMBDAD_"))}
        env.update(LAMBDAD_CREDENTIALS=f"{AKID}:{SECRET}:{ACCOUNT}", **self.env)
        self.data_dir.chmod(0o755)
        log = (self.data_dir.parent / f"{self.data_dir.name}.log").open("wb")
        self.process = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "lambdad"),
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir / "data"),
            ],
            env=env,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        self.client = boto3.client(
            "lambda",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=AKID,
            aws_secret_access_key=SECRET,
            config=Config(retries={"total_max_attempts": 1}, read_timeout=120),
        )
        deadline = time.time() + 30
        while True:
            try:
                self.client.get_account_settings()
                return self
            except Exception:
                if time.time() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"lambdad did not start: {self.log_tail()}") from None
                time.sleep(0.1)

    def log_tail(self) -> str:
        path = self.data_dir.parent / f"{self.data_dir.name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def create(
        self, name: str, source: str = NOOP, files: dict[str, str] | None = None, **params: Any
    ) -> None:
        """A function: ``app.py`` = ``source`` (Python), or ``files`` with ``Handler`` and
        ``Runtime`` given."""
        self.client.create_function(
            FunctionName=name,
            Runtime=params.pop("Runtime", "python3.12"),
            Role=ROLE,
            Handler=params.pop("Handler", "app.handler"),
            Code={"ZipFile": zip_of(files) if files is not None else code_zip(source)},
            **params,
        )
        self.client.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400}
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def signed(endpoint: str, method: str, path: str, body: bytes = b"") -> bytes:
    """A serialized HTTP/1.1 request signed with the benchmark's credential."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method=method, url=f"{endpoint}{path}", data=body)
    SigV4Auth(Credentials(AKID, SECRET), "lambda", REGION).add_auth(req)
    host = endpoint.split("//", 1)[1]
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in req.headers.items() if k.lower() != "content-length"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def signed_invoke(endpoint: str, name: str, payload: bytes = b"{}") -> bytes:
    return signed(endpoint, "POST", f"/2015-03-31/functions/{name}/invocations", payload)


class Connection:
    """One keep-alive connection that replays a request and times each round trip."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def round_trip(self, request: bytes) -> tuple[int, bytes]:
        self.sock.sendall(request)
        status = int(self.reader.readline().split()[1])
        length = 0
        while True:
            line = self.reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return status, self.reader.read(length)

    def timed(self, request: bytes, n: int, expect: int = 200) -> list[float]:
        out = []
        for _ in range(n):
            t = time.perf_counter()
            status, body = self.round_trip(request)
            out.append((time.perf_counter() - t) * 1000)
            if status != expect:
                raise RuntimeError(f"answered {status}: {body[:300]!r}")
        return out

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def start_baseline() -> int:
    """A minimal asyncio HTTP server answering a fixed response, in a thread: what any
    HTTP round trip costs on this machine. Returns its port."""
    body = b'{"ok":true}'
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )

    class Proto(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.t = transport
            self.buf = b""
            transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while b"\r\n\r\n" in self.buf:
                head, self.buf = self.buf.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                self.buf = self.buf[length:]
                self.t.write(response)

    port = free_port()
    ready = threading.Event()

    def run() -> None:
        loop = asyncio.new_event_loop()
        loop.run_until_complete(loop.create_server(Proto, "127.0.0.1", port, backlog=1024))
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait(5)
    return port


def baseline_process() -> tuple[subprocess.Popen[bytes], int]:
    """The baseline server in a process of its own (for load generators)."""
    here = str(Path(__file__).parent)
    code = (
        f"import sys, time; sys.path.insert(0, {here!r}); import _common as c; "
        "print(c.start_baseline(), flush=True); time.sleep(86400)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, port


def alternating(
    cases: dict[str, Callable[[int], float]], n: int, blocks: int
) -> dict[str, dict[str, float]]:
    """Each case's figure over ``blocks`` blocks of ``n // blocks``, the cases taking
    turns so that drift on the host weighs on all alike; a case measures one block of
    the count it is given and returns its figure (say, microseconds per request)."""
    samples: dict[str, list[float]] = {label: [] for label in cases}
    per_block = max(1, n // blocks)
    for _ in range(blocks):
        for label, case in cases.items():
            samples[label].append(case(per_block))
    return {label: summary(values) for label, values in samples.items()}


def timers(
    connections: dict[str, Any], requests: dict[str, bytes]
) -> dict[str, Callable[[int], list[float]]]:
    """A timer per label: its request sent that many times on its ``Connection``."""
    return {
        label: functools.partial(connections[label].timed, request)
        for label, request in requests.items()
    }


def interleaved(
    timers: dict[str, Callable[[int], list[float]]], n: int, block: int = 100
) -> dict[str, dict[str, float]]:
    """Each timer's samples over ``n`` requests after a warm-up, the timers taking turns
    a ``block`` at a time (drift on the host weighs on all alike); a timer makes the
    count of requests it is given and returns each one's time."""
    warm_up = max(50, n // 20)
    for timer in timers.values():
        timer(warm_up)
    times: dict[str, list[float]] = {label: [] for label in timers}
    for start in range(0, n, block):
        for label, timer in timers.items():
            times[label] += timer(min(block, n - start))
    return {label: summary(values) for label, values in times.items()}


LAMBDAD = ROOT / ".venv" / "bin" / "lambdad"


def cli_env(**extra: str) -> dict[str, str]:
    """The environment a user's command runs in against a bench server: this process's
    without its ``AWS_``/``LAMBDAD_`` settings, the bench's keys and region, no AWS
    config files; then ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMBDAD_"))}
    env.update(
        AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )  # fmt: skip
    env.update(extra)
    return env


def timed_command(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    """The wall time of ``cmd`` in ms; RuntimeError with its output when it fails."""
    started = time.monotonic()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} failed:\n{done.stdout}\n{done.stderr}")
    return (time.monotonic() - started) * 1000


def sam_project(prefix: str, template: str, source: str) -> Path:
    """A SAM project in a new temporary directory: ``template.yaml`` and ``src/app.py``."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    (directory / "src").mkdir()
    (directory / "src" / "app.py").write_text(source)
    (directory / "template.yaml").write_text(template)
    return directory


@dataclass(frozen=True, slots=True)
class Args:
    """A benchmark's usual flags: ``--quick`` (a smoke run), ``--n`` (how many), ``--json``
    (where the result goes; bench/results/NAME.json when None)."""

    quick: bool
    n: int
    json: str | None


def parse_args(quick_n: int, full_n: int) -> Args:
    """The usual flags; ``n`` is ``--n`` when given, else ``quick_n`` or ``full_n``."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    return Args(args.quick, args.n or (quick_n if args.quick else full_n), args.json)


def write_rows(name: str, args: Args, rows: dict[str, Any], **extra: Any) -> None:
    """Write the host, ``n``, the rows and ``extra`` as NAME's JSON result; say where."""
    result: dict[str, Any] = {"host": host_info(), "n": args.n, "rows": rows, **extra}
    print("wrote", write_json(name, result, args.json))


def write_json(name: str, result: dict[str, Any], path: str | None = None) -> Path:
    out = Path(path) if path else RESULTS / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return out


def print_rows(title: str, rows: dict[str, dict[str, float]], unit: str = "ms") -> None:
    print(title)
    print(f"  {'':44} {'median ' + unit:>12} {'p99 ' + unit:>12} {'n':>7}")
    for label, s in rows.items():
        print(f"  {label:44} {s['median']:12.3f} {s['p99']:12.3f} {s['n']:7d}")


def print_mapping(
    title: str,
    mapped: tuple[str, float],
    baseline: tuple[str, float],
    latency: dict[str, float] | None = None,
    unit: str = "messages/s",
) -> None:
    """A mapping benchmark's lines: its rate beside the baseline's, their ratio, and the
    idle latency to the handler's start."""
    print(title)
    for label, rate in (mapped, baseline):
        print(f"  {label:60} {rate:9.0f} {unit}")
    print(f"  mapping / baseline: {mapped[1] / baseline[1]:.2f}x")
    if latency is not None:
        print(f"  idle send -> handler start: median {latency['median']:.1f} ms, "
              f"p99 {latency['p99']:.1f} ms (n={latency['n']})")  # fmt: skip
