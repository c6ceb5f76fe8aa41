"""What tracing costs a warm invoke: off vs PassThrough vs Active, side by side.

1. Three ``lambdad serve`` (process backend), identical but for tracing:
   ``LAMBDAD_TRACING_ENABLED=0`` (headers only, nothing recorded), and two with it on, one
   running a ``PassThrough`` function and one an ``Active`` one. The same pre-signed
   ``Invoke`` is replayed on a keep-alive connection to each, in alternating blocks (the
   order turned around each block, so drift of the machine hits all alike). On the Active
   server a second request carries ``X-Amzn-Trace-Id: ...;Sampled=1``: every one of its
   invocations records its segments (the plain one is sampled at 1/s + 5 %).
2. In process: the per-invoke decision (``tracing_ids.decide``) and building and storing
   one invocation's segments (``invocation_segments`` + ``TraceStore.put``), per call.

    python bench/tracing_overhead.py [--quick] [--n N] [--json PATH]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import _common as c

SAMPLED = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def _with_header(request: bytes, name: str, value: str) -> bytes:
    head, sep, body = request.partition(b"\r\n\r\n")
    return head + f"\r\n{name}: {value}".encode() + sep + body


def warm_invokes(n: int, blocks: int) -> dict[str, dict[str, float]]:
    base = {"LAMBDAD_SANDBOX": "process"}
    servers = {
        "tracing off": (c.Server({**base, "LAMBDAD_TRACING_ENABLED": "0"}), "PassThrough"),
        "PassThrough": (c.Server({**base, "LAMBDAD_TRACING_ENABLED": "1"}), "PassThrough"),
        "Active": (c.Server({**base, "LAMBDAD_TRACING_ENABLED": "1"}), "Active"),
    }
    runs: dict[str, tuple[int, bytes]] = {}
    try:
        for label, (server, mode) in servers.items():
            server.start()
            server.create("warm", MemorySize=1769, TracingConfig={"Mode": mode})
            runs[label] = (server.port, c.signed_invoke(server.endpoint, "warm", b'{"k":"v"}'))
        port, plain = runs["Active"]
        runs["Active, every invoke sampled"] = (
            port,
            _with_header(plain, "X-Amzn-Trace-Id", SAMPLED),
        )
        times: dict[str, list[float]] = {label: [] for label in runs}
        for port, request in runs.values():
            conn = c.Connection(port)
            conn.timed(request, max(200, n // 10))
            conn.close()
        for block in range(blocks):
            order = list(runs.items())
            for label, (port, request) in order if block % 2 == 0 else order[::-1]:
                conn = c.Connection(port)
                try:
                    conn.timed(request, 20)
                    times[label] += conn.timed(request, n // blocks)
                finally:
                    conn.close()
    finally:
        for server, _ in servers.values():
            server.stop()
    return {f"warm Invoke, {label}": c.summary(t) for label, t in times.items()}


def _per_call(fn: Callable[[], object], n: int) -> dict[str, float]:
    samples = []
    for _ in range(20):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n * 1e6)
    return {"median": statistics.median(samples), "p99": max(samples)}


def in_process(n: int) -> dict[str, dict[str, float]]:
    from lambdad.model.scope import Scope
    from lambdad.observe import tracing_ids as ti
    from lambdad.observe.tracing_segments import InvocationTiming, invocation_segments
    from lambdad.observe.tracing_store import TraceStore

    sampler = ti.Sampler()
    store = TraceStore(max_traces=1000)
    scope = Scope(c.ACCOUNT, c.REGION)
    timing = InvocationTiming(
        "r", "fn", "arn:aws:lambda:us-east-1:1:function:fn", "1", 1.0, 1.01, 5.0
    )

    def record() -> None:
        d = ti.decide(None, ti.ACTIVE, ti.Sampler(), time.time())
        store.put(scope, invocation_segments(timing, d))

    return {
        "decide, PassThrough, no header (us)": _per_call(
            lambda: ti.decide(None, ti.PASS_THROUGH, sampler, time.time()), n
        ),
        "decide, caller's header (us)": _per_call(
            lambda: ti.decide(SAMPLED, ti.PASS_THROUGH, sampler, time.time()), n
        ),
        "decide + segments + store, sampled Active (us)": _per_call(record, n // 4),
    }


def main() -> int:
    args = c.parse_args(200, 3000)
    n = args.n
    rows = warm_invokes(n, 4 if args.quick else 10)
    c.print_rows(f"warm invoke round trip, {n} each, alternating blocks", rows)
    off = rows["warm Invoke, tracing off"]["median"]
    for label in ("PassThrough", "Active", "Active, every invoke sampled"):
        added = rows[f"warm Invoke, {label}"]["median"] - off
        print(f"  {label} vs tracing off: {added:+.3f} ms median")
    calls = in_process(2000 if args.quick else 50_000)
    for label, row in calls.items():
        print(f"  {label}: {row['median']:.2f} median, {row['p99']:.2f} worst of 20 runs")
    c.write_rows("tracing_overhead", args, rows, in_process=calls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
