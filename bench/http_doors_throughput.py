"""Throughput through the HTTP front doors at c=8, with wrk, beside a direct ``Invoke``
and a raw asyncio HTTP server, in one run.

One ``lambdad serve`` (``process`` sandbox) and one no-op Python function answering a
small proxy response, behind an HTTP API (quick create), a REST API (``{proxy+}``) and
an application load balancer (as ``bench/http_api.py`` makes them). ``wrk`` (one
thread) drives 8 keep-alive connections at each: a pre-signed ``Invoke``, POSTs to the
APIs' ``/execute-api/<id>/…`` path form, POSTs to the API port with the balancer's
``DNSName`` as ``Host``; then the same wrk against a minimal asyncio server in a
process of its own (what loopback HTTP does on this machine at all).

    python bench/http_doors_throughput.py [--quick] [--seconds S] [--json PATH]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
import http_api
import throughput as t

CONNECTIONS = 8


def _script(path: str, host: str | None = None) -> str:
    lines = ['wrk.method = "POST"', f'wrk.path = "{path}"', 'wrk.body = "{\\"k\\":\\"v\\"}"',
             'wrk.headers["Content-Type"] = "application/json"']  # fmt: skip
    if host is not None:
        lines.append(f'wrk.headers["Host"] = "{host}"')
    return "\n".join(lines) + "\n"


def measure(seconds: float, work: Path) -> dict[str, dict[str, Any]]:
    server = c.Server({"LAMBDAD_SANDBOX": "process"}).start()
    try:
        server.create("apigw", source=http_api.HANDLER, MemorySize=1769)
        arn = server.client.get_function(FunctionName="apigw")["Configuration"]["FunctionArn"]
        http_id, rest_id = http_api._apis(server, arn)
        dns_name = http_api._balancer(server, arn)
        scripts = {
            "direct Invoke": t.lua_for(c.signed_invoke(server.endpoint, "apigw", b"{}")),
            "HTTP API": _script(f"/execute-api/{http_id}/x"),
            "REST API": _script(f"/execute-api/{rest_id}/b/x"),
            "ALB": _script("/x", f"{dns_name}:{server.port}"),
        }
        out = {}
        for label, script in scripts.items():
            path = work / f"{label.split()[0]}.lua"
            path.write_text(script)
            t.wrk(f"{server.endpoint}/", path, CONNECTIONS, max(1, round(seconds / 3)))
            out[label] = t.wrk(f"{server.endpoint}/", path, CONNECTIONS, seconds)
        return out
    finally:
        server.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seconds", type=float, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk; make install does it): skipped")
        return 0
    work = Path(tempfile.mkdtemp(prefix="lambdad-doors-"))
    results = measure(seconds, work)
    proc, port = c.baseline_process()
    try:
        script = work / "baseline.lua"
        script.write_text('wrk.method = "POST"\nwrk.body = "{}"\n')
        results["raw asyncio HTTP server"] = t.wrk(
            f"http://127.0.0.1:{port}/", script, CONNECTIONS, seconds
        )
    finally:
        proc.kill()
        proc.wait()
    print(f"HTTP front doors, wrk -t1 -c{CONNECTIONS}, {seconds:g} s per point")
    print(f"  {'':28}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
    for label, r in results.items():
        lat = r["latency_ms"]
        print(f"  {label:28}{r['requests_per_s']:10.0f}{lat.get('50', 0):9.2f}"
              f"{lat.get('99', 0):9.2f}{r['non_2xx']:9d}")  # fmt: skip
    result = {"host": c.host_info(), "seconds": seconds, "connections": CONNECTIONS,
              "results": results}  # fmt: skip
    print("wrote", c.write_json("http_doors_throughput", result, args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
