"""Throughput through the HTTP front doors at c=8, with wrk, beside a direct ``Invoke``
and a raw asyncio HTTP server, in one run.

Beside req/s: CPU microseconds per request of the server (and of its event-loop thread),
the runtimes and wrk, and the two ceilings they set on this machine: requests/s with the
loop thread always busy, and with every core busy.

One ``lambdad serve`` (``process`` sandbox; ``--sandbox bwrap``: the default one) and
one no-op Python function answering a small proxy response, behind a function URL
(AuthType NONE), an HTTP API (quick create), a REST API (``{proxy+}``) and an
application load balancer (as ``bench/function_url.py`` and ``bench/http_api.py`` make
them). ``wrk`` (one thread) drives 8 keep-alive connections at each: a pre-signed
``Invoke``, POSTs to the URL's ``/lambda-url/<id>/…`` path form and to the APIs'
``/execute-api/<id>/…`` one, POSTs to the API port with the balancer's ``DNSName`` as
``Host``; then the same wrk against a minimal asyncio server in a process of its own
(what loopback HTTP does on this machine at all).

    python bench/http_doors_throughput.py [--quick] [--seconds S] [--sandbox process|bwrap]
                                          [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
import function_url
import http_api
import throughput as t

CONNECTIONS = 8
TICK = os.sysconf("SC_CLK_TCK")


def _ticks(pid: int) -> tuple[int, int]:
    """A process's own CPU ticks (utime + stime) and its reaped children's."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True)
    children: dict[int, list[int]] = {}
    for line in out.stdout.splitlines():
        child, parent = (int(x) for x in line.split())
        children.setdefault(parent, []).append(child)
    found, todo = [], list(children.get(pid, []))
    while todo:
        found.append(todo.pop())
        todo.extend(children.get(found[-1], []))
    return found


def _cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of the server process itself, and of everything below it."""
    own, reaped = _ticks(pid)
    below = reaped
    for child in _descendants(pid):
        try:
            below += _ticks(child)[0]  # a live child's own reaped children are in its cutime
            below += _ticks(child)[1]
        except (FileNotFoundError, ProcessLookupError):
            pass  # exited meanwhile: counted in its parent's cutime from now on
    return own / TICK, below / TICK


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _loop_thread_seconds(pid: int) -> float:
    """CPU seconds of the server's main thread (its event loop: Python runs there only,
    one thread at a time)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def measured(pid: int, url: str, script: Path, seconds: float) -> dict[str, Any]:
    """wrk's figures, with CPU microseconds per request of server (and of its event-loop
    thread), runtimes and wrk, and the two ceilings they set: requests/s when the loop
    thread is always busy, and when every core is."""
    server0, below0, wrk0 = (*_cpu(pid), _children_cpu())
    loop0 = _loop_thread_seconds(pid)
    result = t.wrk(url, script, CONNECTIONS, seconds)
    server1, below1, wrk1 = (*_cpu(pid), _children_cpu())
    loop1 = _loop_thread_seconds(pid)
    requests = result["requests"] or 1
    cpu = result["cpu_us_per_request"] = {
        "server": (server1 - server0) / requests * 1e6,
        "loop": (loop1 - loop0) / requests * 1e6,
        "runtimes": (below1 - below0) / requests * 1e6,
        "wrk": (wrk1 - wrk0) / requests * 1e6,
    }
    everything = cpu["server"] + cpu["runtimes"] + cpu["wrk"]
    result["ceiling_per_s"] = {
        "loop": 1e6 / cpu["loop"] if cpu["loop"] else 0.0,
        "cores": (os.cpu_count() or 1) * 1e6 / everything if everything else 0.0,
    }
    return result


def _script(path: str, host: str | None = None) -> str:
    lines = ['wrk.method = "POST"', f'wrk.path = "{path}"', 'wrk.body = "{\\"k\\":\\"v\\"}"',
             'wrk.headers["Content-Type"] = "application/json"']  # fmt: skip
    if host is not None:
        lines.append(f'wrk.headers["Host"] = "{host}"')
    return "\n".join(lines) + "\n"


def door_scripts(server: c.Server, work: Path, prefix: str = "") -> dict[str, Path]:
    """A no-op function behind each door of ``server`` (and a direct ``Invoke`` of it):
    one wrk script per door, written under ``work``."""
    server.create("apigw", source=http_api.HANDLER, MemorySize=1769)
    arn = server.client.get_function(FunctionName="apigw")["Configuration"]["FunctionArn"]
    http_id, rest_id = http_api._apis(server, arn)
    dns_name = http_api._balancer(server, arn)
    url_id = function_url.public_url(server, "apigw")
    scripts = {
        "direct Invoke": t.lua_for(c.signed_invoke(server.endpoint, "apigw", b"{}")),
        "function URL": _script(f"/lambda-url/{url_id}/x"),
        "HTTP API": _script(f"/execute-api/{http_id}/x"),
        "REST API": _script(f"/execute-api/{rest_id}/b/x"),
        "ALB": _script("/x", f"{dns_name}:{server.port}"),
    }
    out = {}
    for door, text in scripts.items():
        path = work / f"{prefix}{door.split()[0]}.lua"
        path.write_text(text)
        out[door] = path
    return out


def measure(seconds: float, work: Path, sandbox: str) -> dict[str, dict[str, Any]]:
    env = {"LAMBDAD_SANDBOX": sandbox}
    if sandbox == "bwrap":
        env["LAMBDAD_NETWORK"] = "none"  # as bench/warm.py measures it
    server = c.Server(env).start()
    try:
        out = {}
        for label, path in door_scripts(server, work).items():
            t.wrk(f"{server.endpoint}/", path, CONNECTIONS, max(1, round(seconds / 3)))
            out[label] = measured(server.process.pid, f"{server.endpoint}/", path, seconds)
        return out
    finally:
        server.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seconds", type=float, default=0)
    ap.add_argument("--json", default=None)
    # process: as the figures in the issue were taken; bwrap: the default users get.
    ap.add_argument("--sandbox", choices=("process", "bwrap"), default="process")
    args = ap.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk; make install does it): skipped")
        return 0
    work = Path(tempfile.mkdtemp(prefix="lambdad-doors-"))
    if args.sandbox == "bwrap" and (why := c.sandbox_unavailable()) is not None:
        print(f"bwrap cannot run here ({why}): skipped")
        return 0
    results = measure(seconds, work, args.sandbox)
    proc, port = c.baseline_process()
    try:
        script = work / "baseline.lua"
        script.write_text('wrk.method = "POST"\nwrk.body = "{}"\n')
        results["raw asyncio HTTP server"] = measured(
            proc.pid, f"http://127.0.0.1:{port}/", script, seconds
        )
    finally:
        proc.kill()
        proc.wait()
    print(f"HTTP front doors, {args.sandbox} sandbox, wrk -t1 -c{CONNECTIONS}, "
          f"{seconds:g} s per point")  # fmt: skip
    print(f"  {'':26}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'non-2xx':>8}"
          f"   CPU us/request: {'server':>7}{'(loop)':>7}{'runtimes':>9}{'wrk':>6}"
          f"   ceiling req/s: {'loop':>6}{'cores':>7}")  # fmt: skip
    for label, r in results.items():
        lat, cpu, top = r["latency_ms"], r["cpu_us_per_request"], r["ceiling_per_s"]
        print(f"  {label:26}{r['requests_per_s']:8.0f}{lat.get('50', 0):8.2f}"
              f"{lat.get('99', 0):8.2f}{r['non_2xx']:8d}{'':18}{cpu['server']:7.0f}"
              f"{cpu['loop']:7.0f}{cpu['runtimes']:9.0f}{cpu['wrk']:6.0f}{'':18}"
              f"{round(top['loop']) or '-':>6}{top['cores']:7.0f}")  # fmt: skip
    print(
        "  ceilings: the server's event-loop thread always busy (an upper bound: Python runs"
        " on one thread at a time, and the worker threads' Python takes turns with it), and"
        " every core busy with server, runtimes and wrk together"
    )
    result = {"host": c.host_info(), "seconds": seconds, "connections": CONNECTIONS,
              "sandbox": args.sandbox, "results": results}  # fmt: skip
    print("wrote", c.write_json("http_doors_throughput", result, args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
