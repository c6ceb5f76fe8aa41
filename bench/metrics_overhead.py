"""What metrics cost: the warm invoke with recording on vs off, and a /metrics scrape.

1. Two ``lambdad serve`` (process backend), identical but for
   ``LAMBDAD_METRICS_ENABLED``; one no-op function on each, warmed; then the same
   pre-signed ``Invoke`` replayed on a keep-alive connection to each, in alternating
   blocks, the order turned around each block (so that drift of the machine hits both
   alike). The difference of the medians is what recording adds to a warm invoke.
2. In process: ``MetricsRecorder.invoked`` alone (the hot-path call), per call.
3. In process: a Prometheus scrape (``PrometheusExport.render``) of 1,000 functions'
   series (a new export's first, with every function moved, with a tenth moved: those
   invocations not folded yet, as a server mostly has them), side by side with the
   plain way (``generate_latest`` over every function's metric families, built anew:
   the baseline), and the fold of the events.
4. Over HTTP: ``curl http://127.0.0.1:PORT/metrics`` (curl's ``time_total``) of a
   ``lambdad serve`` with 1,000 functions (100 with ``--quick``), each invoked once:
   the first scrape (every function new), then with every function's totals moved
   since the scrape before (a throttled invoke each: their reserved concurrency set
   to 0) and with a tenth moved. Each scrape starts once the server has settled
   (the invokes' own after-work done: the cold starts' environments reaped, their
   logs written), so that it measures the scrape, not the traffic before it. Every
   body is parsed with ``prometheus_client``'s parser and its counts checked.

    python bench/metrics_overhead.py [--quick] [--n N] [--json PATH]
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import _common as c

FUNCTIONS = 1000
SETTLE = 0.5  # seconds a server is left alone after traffic before it is scraped


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
    from lambdad.observe.prometheus_text import Counts, exposition, families
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

    def timed(fn: Any) -> float:
        start = time.perf_counter()
        fn()
        return (time.perf_counter() - start) * 1000

    def plain() -> bytes:
        """The baseline: ``generate_latest`` over every function's families, built anew."""
        rows = [(k, Counts.of(t)) for k, t in sorted(metrics.totals.items())]
        return exposition(families(rows)).encode()

    def move(subset: list[RunnableVersion]) -> None:
        """Invocations since the last scrape, not folded yet (as most are when a server
        is scraped: it folds every ``metrics_flush_interval``); the scrape counts them."""
        for rv in subset:
            rec.invoked(rv, 3.0, False, None, 1, 1)

    rows: dict[str, list[float]] = {k: [] for k in ("plain", "first", "all", "tenth")}
    for _ in range(repeats):
        # Side by side: the plain way, then a new export's first scrape (nothing written
        # yet), then every function moved, then a tenth of them.
        metrics.fold_pending()
        rows["plain"].append(timed(plain))
        export = PrometheusExport(metrics)
        rows["first"].append(timed(export.render))
        move(versions)
        rows["all"].append(timed(export.render))
        move(versions[: FUNCTIONS // 10])
        rows["tenth"].append(timed(export.render))
    body = export.render()
    metrics.fold_pending()
    assert body == plain(), "the exposition is generate_latest's, byte for byte"
    storage.close()
    lines = body.count(b"\n")
    print(f"  /metrics body for {FUNCTIONS} functions: {len(body):,} bytes, {lines:,} lines")
    n = FUNCTIONS
    return {
        f"baseline: generate_latest over {n} functions' families": c.summary(rows["plain"]),
        f"scrape of {n} functions, first (every line new)": c.summary(rows["first"]),
        f"scrape of {n} functions, all changed": c.summary(rows["all"]),
        f"scrape of {n} functions, {n // 10} changed": c.summary(rows["tenth"]),
        f"fold of {n * 5} invocations ({n} functions)": c.summary([fold_ms]),
    }


def _curl(url: str) -> tuple[float, str]:
    """curl's own time for the whole request, in ms, and the body."""
    with tempfile.NamedTemporaryFile() as out:
        proc = subprocess.run(
            ["curl", "-sS", "-o", out.name, "-w", "%{http_code} %{time_total}", url],
            capture_output=True,
            text=True,
            check=True,
        )
        status, seconds = proc.stdout.split()
        if status != "200":
            raise RuntimeError(f"/metrics answered {status}")
        return float(seconds) * 1000, Path(out.name).read_text()


def _totals(body: str) -> dict[str, tuple[float, float]]:
    """function -> (invocations, throttles), as prometheus_client's parser reads them."""
    from prometheus_client.parser import text_string_to_metric_families

    got: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            if s.name in ("lambdad_invocations_total", "lambdad_throttles_total"):
                row = got.setdefault(s.labels["function_name"], [0.0, 0.0])
                row[s.name == "lambdad_throttles_total"] = s.value
    return {k: (v[0], v[1]) for k, v in got.items()}


def _children(pid: int) -> int:
    count = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            count += len((task / "children").read_text().split())
    return count


def _settle(server: c.Server, most: float = 60.0) -> None:
    """Until the server's child processes (its environments) stop changing for 2 s."""
    assert server.process is not None
    deadline = time.monotonic() + most
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = _children(server.process.pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= 2.0:
            return
        time.sleep(0.2)


def scrape_http(functions: int, repeats: int) -> dict[str, dict[str, float]]:
    env = {
        "LAMBDAD_SANDBOX": "process",
        "LAMBDAD_METRICS_ENABLED": "1",
        # A thousand cold starts, each environment reaped soon after (each holds a
        # connection to the Runtime API from 127.0.0.1 while it lives).
        "LAMBDAD_IDLE_TIMEOUT": "1",
        "LAMBDAD_REAPER_INTERVAL": "0.5",
        "LAMBDAD_API_MAX_CONNECTIONS_PER_CLIENT": "1024",
    }
    server = c.Server(env)
    names = [f"function-{i:04d}" for i in range(functions)]
    url = f"{server.endpoint}/metrics"
    try:
        server.start()
        start = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(server.create, names))
            made = time.perf_counter()
            list(pool.map(lambda n: server.client.invoke(FunctionName=n, Payload=b"{}"), names))
        print(
            f"  {functions} functions created in {made - start:.1f} s, "
            f"each invoked once in {time.perf_counter() - made:.1f} s"
        )
        _settle(server)  # every environment idle past LAMBDAD_IDLE_TIMEOUT and reaped
        first, body = _curl(url)
        assert _totals(body) == {n: (1.0, 0.0) for n in names}, "the first scrape's counts"
        for name in names:
            server.client.put_function_concurrency(
                FunctionName=name, ReservedConcurrentExecutions=0
            )
        throttle = {n: c.signed_invoke(server.endpoint, n) for n in names}
        conns = [c.Connection(server.port) for _ in range(4)]
        throttled = dict.fromkeys(names, 0)

        def throttle_all(subset: list[str]) -> None:
            def run(i: int) -> None:
                for name in subset[i :: len(conns)]:
                    conns[i].round_trip(throttle[name])

            with ThreadPoolExecutor(len(conns)) as pool:
                list(pool.map(run, range(len(conns))))
            for name in subset:
                throttled[name] += 1

        every, tenth = [], []
        for _ in range(repeats):
            throttle_all(names)
            time.sleep(SETTLE)
            ms, body = _curl(url)
            every.append(ms)
            throttle_all(names[: functions // 10])
            time.sleep(SETTLE)
            ms, body = _curl(url)
            tenth.append(ms)
        for conn in conns:
            conn.close()
        want = {n: (1.0, float(throttled[n])) for n in names}
        assert _totals(body) == want, "the last scrape's counts"
    finally:
        server.stop()
    print(f"  curl /metrics of {functions} functions: {len(body):,} bytes, parsed and checked")
    return {
        f"curl /metrics, {functions} functions, first scrape": c.summary([first]),
        f"curl /metrics, {functions} functions, all changed": c.summary(every),
        f"curl /metrics, {functions} functions, {functions // 10} changed": c.summary(tenth),
    }


def main() -> int:
    args = c.parse_args(200, 3000)
    n = args.n
    rows = warm_invokes(n, 4 if args.quick else 10)
    off = rows["warm Invoke, metrics off"]["median"]
    on = rows["warm Invoke, metrics on"]["median"]
    c.print_rows(f"warm invoke round trip, {n} each, alternating blocks", rows)
    print(f"  added by metrics recording: {on - off:+.3f} ms median")
    call = recorder_call(2000 if args.quick else 100_000)
    print(f"  MetricsRecorder.invoked alone: {call['median']:.3f} us per call (median of 50 runs)")
    work = invoke_path_work(2000 if args.quick else 100_000)
    print(f"  lease sample + record, the invoke path's metrics work: {work['median']:.3f} us")
    scraped = scrape(5 if args.quick else 20)
    c.print_rows("Prometheus exposition, in process", scraped)
    http = scrape_http(100 if args.quick else FUNCTIONS, 3 if args.quick else 10)
    c.print_rows("Prometheus exposition, over HTTP", http)
    c.write_rows(
        "metrics_overhead",
        args,
        {**rows, **scraped, **http},
        recorder_call_us=call,
        invoke_path_work_us=work,
        added_ms_median=on - off,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
