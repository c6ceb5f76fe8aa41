"""What metrics cost: the warm invoke with recording on vs off, and a /metrics scrape.

1. Two ``lambdad serve`` (process backend), identical but for
   ``LAMBDAD_METRICS_ENABLED``; one no-op function on each, warmed; then the same
   pre-signed ``Invoke`` replayed on a keep-alive connection to each, in alternating
   blocks, the order turned around each block (so that drift of the machine hits both
   alike). The difference of the medians is what recording adds to a warm invoke.
2. In process: ``MetricsRecorder.invoked`` alone (the hot-path call), per call.
3. In process: a Prometheus scrape (``PrometheusExport.scrape``) of 1,000 functions'
   series, and the fold before it.

    python bench/metrics_overhead.py [--quick] [--n N] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import _common as c

FUNCTIONS = 1000


def warm_invokes(n: int, blocks: int) -> dict[str, dict[str, float]]:
    servers = {
        "metrics off": c.Server({"LAMBDAD_SANDBOX": "process", "LAMBDAD_METRICS_ENABLED": "0"}),
        "metrics on": c.Server({"LAMBDAD_SANDBOX": "process", "LAMBDAD_METRICS_ENABLED": "1"}),
    }
    requests: dict[str, bytes] = {}
    times: dict[str, list[float]] = {label: [] for label in servers}
    try:
        for label, server in servers.items():
            server.start()
            server.create("warm", MemorySize=1769)
            requests[label] = c.signed_invoke(server.endpoint, "warm", b'{"k":"v"}')
        # Both warmed once both run (a server started last is still building its spares).
        for label, server in servers.items():
            conn = c.Connection(server.port)
            conn.timed(requests[label], max(200, n // 10))
            conn.close()
        # A fresh keep-alive connection per block (an idle one is closed after a few s),
        # the order of the two turned around every block.
        for block in range(blocks):
            order = list(servers.items())
            for label, server in order if block % 2 == 0 else order[::-1]:
                conn = c.Connection(server.port)
                try:
                    conn.timed(requests[label], 20)  # warm up
                    times[label] += conn.timed(requests[label], n // blocks)
                finally:
                    conn.close()
    finally:
        for server in servers.values():
            server.stop()
    return {f"warm Invoke, {label}": c.summary(t) for label, t in times.items()}


def recorder_call(n: int) -> dict[str, float]:
    """Per call, in runs of the recorder's high water (where the server drains it)."""
    from lambdad.model.scope import Scope
    from lambdad.model.version import RunnableVersion
    from lambdad.observe.metrics_recorder import HIGH_WATER, MetricsRecorder

    n = min(n, HIGH_WATER)

    rv = RunnableVersion(Scope(c.ACCOUNT, c.REGION), "fn", "$LATEST", "r", "00")
    rec = MetricsRecorder()
    samples = []
    for _ in range(50):
        start = time.perf_counter()
        for _ in range(n):
            rec.invoked(rv, 1.5, False, None, 1, 1, 1)
        samples.append((time.perf_counter() - start) / n * 1e6)
        rec.drain()
    return {
        "n": n * 20,
        "median": statistics.median(samples),
        "p99": max(samples),
        "mean": statistics.fmean(samples),
    }


def invoke_path_work(n: int) -> dict[str, float]:
    """What a warm invoke does for metrics, alone: the lease sample and the record."""
    from lambdad.clock import SystemClock
    from lambdad.invoke.lease_metrics import sample
    from lambdad.invoke.leases import AccountLimits, FunctionKey, FunctionLimits, Leases
    from lambdad.model.scope import Scope
    from lambdad.model.version import RunnableVersion
    from lambdad.observe.metrics_recorder import HIGH_WATER, MetricsRecorder

    n = min(n, HIGH_WATER)
    key = FunctionKey(c.ACCOUNT, c.REGION, "fn")
    account = AccountLimits(1000)
    leases = Leases(lambda k: (FunctionLimits(), account), SystemClock())
    lease = leases.grant(key, None)
    rv = RunnableVersion(Scope(c.ACCOUNT, c.REGION), "fn", "$LATEST", "r", "00")
    rec = MetricsRecorder()
    samples = []
    for _ in range(50):
        start = time.perf_counter()
        for _ in range(n):
            conc, unres, claimed = sample(rec, leases, key, lease, None)
            rec.invoked(rv, 1.5, False, None, conc, unres, claimed)
        samples.append((time.perf_counter() - start) / n * 1e6)
        rec.drain()
    return {
        "n": n * 50,
        "median": statistics.median(samples),
        "p99": max(samples),
        "mean": statistics.fmean(samples),
    }


def scrape(repeats: int) -> dict[str, dict[str, float]]:
    from lambdad.model.scope import Scope
    from lambdad.model.version import RunnableVersion
    from lambdad.observe.metrics_recorder import MetricsRecorder
    from lambdad.observe.metrics_service import MetricsService
    from lambdad.observe.prometheus_export import PrometheusExport
    from lambdad.store.metrics_sqlite import SqliteMetricStorage

    storage = SqliteMetricStorage(":memory:")
    storage.open()
    rec = MetricsRecorder()
    metrics = MetricsService(storage, rec)
    versions = [
        RunnableVersion(Scope(c.ACCOUNT, c.REGION), f"function-{i:04d}", "$LATEST", "r", "00")
        for i in range(FUNCTIONS)
    ]
    for i in range(5):
        for rv in versions:
            rec.invoked(rv, 1.0 + i * 40, i == 4, 80.0 if i == 0 else None, 1, 1)
    start = time.perf_counter()
    metrics.fold_pending()
    fold_ms = (time.perf_counter() - start) * 1000
    export = PrometheusExport(metrics)
    first = []
    for _ in range(max(1, repeats // 5)):
        export = PrometheusExport(metrics)  # nothing rendered yet: every function's lines
        start = time.perf_counter()
        body = export.render()
        first.append((time.perf_counter() - start) * 1000)
    steady = []
    for _ in range(repeats):
        # A tenth of the functions invoked since the last scrape.
        for rv in versions[: FUNCTIONS // 10]:
            rec.invoked(rv, 3.0, False, None, 1, 1)
        metrics.fold_pending()
        start = time.perf_counter()
        export.render()
        steady.append((time.perf_counter() - start) * 1000)
    storage.close()
    lines = body.count(b"\n")
    print(f"  /metrics body for {FUNCTIONS} functions: {len(body):,} bytes, {lines:,} lines")
    return {
        f"scrape of {FUNCTIONS} functions, all changed (first scrape)": c.summary(first),
        f"scrape of {FUNCTIONS} functions, {FUNCTIONS // 10} changed": c.summary(steady),
        f"fold of {FUNCTIONS * 5} invocations ({FUNCTIONS} functions)": c.summary([fold_ms]),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    n = args.n or (200 if args.quick else 3000)
    rows = warm_invokes(n, 4 if args.quick else 10)
    off = rows["warm Invoke, metrics off"]["median"]
    on = rows["warm Invoke, metrics on"]["median"]
    c.print_rows(f"warm invoke round trip, {n} each, alternating blocks", rows)
    print(f"  added by metrics recording: {on - off:+.3f} ms median")
    call = recorder_call(2000 if args.quick else 100_000)
    print(f"  MetricsRecorder.invoked alone: {call['median']:.3f} us per call (median of 50 runs)")
    work = invoke_path_work(2000 if args.quick else 100_000)
    print(f"  lease sample + record, the invoke path's metrics work: {work['median']:.3f} us")
    scraped = scrape(5 if args.quick else 30)
    c.print_rows("Prometheus exposition", scraped)
    result: dict[str, Any] = {
        "host": c.host_info(),
        "n": n,
        "rows": {**rows, **scraped},
        "recorder_call_us": call,
        "invoke_path_work_us": work,
        "added_ms_median": on - off,
    }
    print("wrote", c.write_json("metrics_overhead", result, args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
