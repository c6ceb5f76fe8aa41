"""What an external extension costs: a function alone vs the same function with the
e2e tests' telemetry extension (``tests/e2e/functions/extension/recorder.py``: it
registers for INVOKE and SHUTDOWN, subscribes to platform and function telemetry, logs
each event and record) in a layer.

1. Cold start: the first Invoke of a fresh function of each kind (one each per round,
   alternating), round trip as the caller sees it.
2. Warm Invoke: the same pre-signed Invoke replayed on one keep-alive connection,
   alternating blocks between the two functions. With an extension, an environment is
   free again only once the extension is back in ``next`` (as on AWS): an invoke that
   comes sooner starts another environment; how many environments each function ended
   with is printed too.
3. In process: what the extensions' hooks cost an environment that has none, per
   invoke (INVOKE event, platform records) and per output line, beside a bare append.

    python bench/extensions.py [--quick] [--n N] [--json PATH]
"""

from __future__ import annotations

import io
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import _common as c

RECORDER = Path(__file__).resolve().parent.parent / "tests/e2e/functions/extension/recorder.py"


def layer_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("extensions/recorder", date_time=(2024, 1, 1, 0, 0, 0))
        info.external_attr = 0o100755 << 16
        zf.writestr(info, RECORDER.read_text())
    return buf.getvalue()


def environments(server: c.Server, name: str) -> int:
    """How many environments served ``name``: its cold starts' REPORT lines."""
    import boto3

    logs = boto3.client(
        "logs",
        endpoint_url=server.endpoint,
        region_name=c.REGION,
        aws_access_key_id=c.AKID,
        aws_secret_access_key=c.SECRET,
    )
    time.sleep(1.0)  # the log sink's last batch
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern="REPORT")
    return sum("Init Duration" in e["message"] for e in events["events"])


def hook_costs(n: int) -> dict[str, float]:
    """Microseconds per call of the hooks every environment runs (no extension)."""
    import asyncio
    import socket
    import timeit
    from datetime import UTC, datetime

    from lambdad.clock import SystemClock
    from lambdad.environments import report
    from lambdad.environments.extension_host import ExtensionsHost
    from lambdad.environments.extensions import FunctionIdentity
    from lambdad.environments.invocation import Invocation

    async def measure() -> dict[str, float]:
        async def connect(port: int) -> socket.socket:
            raise OSError("none")

        lines: list[str] = []
        who = FunctionIdentity("f", "1", "app.handler", c.ACCOUNT)
        host = ExtensionsHost("env", who, (), SystemClock(), lines.append, connect)
        now = datetime.now(UTC)
        host.init_ended(now, "on-demand", 1.0, None)
        inv = Invocation("req", b"{}", "arn:aws:lambda:us-east-1:1:function:f", 0, trace_id="x")
        figures = report.Report("req", 1.0, 128, 30)

        def per_invoke() -> None:
            host.invoke_started(now, inv, "$LATEST")
            host.runtime_done(now, inv, 1.0, 2, None, False)
            host.reported(now, figures, None, "")
            host.settled()

        def us(fn: Any) -> float:
            return float(timeit.timeit(fn, number=n) / n * 1e6)

        return {
            "hooks per invoke, us": us(per_invoke),
            "output() per line, us": us(lambda: host.output("a log line")),
            "bare append per line, us": us(lambda: lines.append("a log line")),
        }

    return asyncio.run(measure())


def main() -> int:
    args = c.parse_args(100, 1000)
    n = args.n
    rounds = 3 if args.quick else 10
    env = {"LAMBDAD_SANDBOX": "process"} if c.sandbox_unavailable() else {}
    server = c.Server(env).start()
    rows: dict[str, dict[str, float]] = {}
    extra: dict[str, Any] = {}
    try:
        layer = server.client.publish_layer_version(
            LayerName="recorder", Content={"ZipFile": layer_zip()}
        )["LayerVersionArn"]
        kinds = {"alone": {}, "with the extension": {"Layers": [layer]}}
        cold: dict[str, list[float]] = {k: [] for k in kinds}
        for i in range(rounds):
            for kind, params in kinds.items():
                name = f"cold-{i}-{len(cold[kind])}-{'x' if params else 'p'}"
                server.create(name, **params)
                started = time.perf_counter()
                server.client.invoke(FunctionName=name, Payload=b"{}")
                cold[kind].append((time.perf_counter() - started) * 1000)
        for kind, values in cold.items():
            rows[f"cold Invoke, {kind}"] = c.summary(values)
        warm: dict[str, list[float]] = {k: [] for k in kinds}
        names = {k: f"warm-{'x' if p else 'p'}" for k, p in kinds.items()}
        conns = {}
        requests = {}
        for kind, params in kinds.items():
            server.create(names[kind], **params)
            conns[kind] = c.Connection(server.port)
            requests[kind] = c.signed_invoke(server.endpoint, names[kind], b"{}")
            conns[kind].timed(requests[kind], 20)
        block = max(10, n // 10)
        for b in range(n // block):
            order = list(kinds) if b % 2 == 0 else list(reversed(kinds))
            for kind in order:
                warm[kind] += conns[kind].timed(requests[kind], block)
        for kind, values in warm.items():
            rows[f"warm Invoke, {kind}"] = c.summary(values)
            extra[f"environments, warm function {kind}"] = environments(server, names[kind])
        for conn in conns.values():
            conn.close()
    finally:
        server.stop()
    extra.update(hook_costs(20000 if args.quick else 200000))
    backend = env.get("LAMBDAD_SANDBOX", "default (zygote/bwrap)")
    c.print_rows(f"external extension cost, backend {backend}, {n} warm invokes each", rows)
    for label, value in extra.items():
        print(f"  {label}: {value:.3f}" if isinstance(value, float) else f"  {label}: {value}")
    c.write_rows("extensions", args, rows, **extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
