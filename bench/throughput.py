"""Throughput of a no-op function at concurrency 1, 8 and 64, with wrk.

``wrk`` (Debian's, one thread: it must not take the CPU the server needs) replays
one pre-signed ``Invoke`` of a no-op Python function, with a Lua script carrying the
precomputed SigV4 headers, on N keep-alive connections: N invocations in flight,
so N warm environments. Each concurrency is warmed first (its environments started),
then measured. Beside it, the same wrk against a minimal asyncio HTTP server in a
process of its own: what this machine's loopback HTTP does at all.

    python bench/throughput.py [--quick] [--seconds S] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

CONCURRENCY = (1, 8, 64)


def lua_for(request: bytes) -> str:
    """A wrk script sending ``request`` (a serialized, signed HTTP request)."""
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    out = [f'wrk.method = "{method}"', f'wrk.path = "{path}"', f"wrk.body = {_lua(body.decode())}"]
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        if name.lower() in ("host", "content-length"):
            continue  # wrk sets both
        out.append(f"wrk.headers[{_lua(name)}] = {_lua(value)}")
    return "\n".join(out) + "\n"


def _lua(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk(url: str, script: Path, connections: int, seconds: float) -> dict[str, Any]:
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = {p: _ms(m) for p, m in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    requests = re.search(r"(\d+) requests in", out)
    return {
        "requests": int(requests.group(1)) if requests else 0,
        "requests_per_s": rps,
        "latency_ms": latency,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else None,
    }


def _ms(value: str) -> float:
    number = float(re.match(r"[\d.]+", value).group(0))  # type: ignore[union-attr]
    if value.endswith("us"):
        return number / 1000
    if value.endswith("ms"):
        return number
    if value.endswith("s"):
        return number * 1000
    return number


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and all its descendants so far (reaped ones included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def run_backend(label: str, env: dict[str, str], seconds: float, work: Path) -> dict[str, Any]:
    server = c.Server(env).start()
    try:
        server.create("noop", MemorySize=1769)
        script = work / f"{label.split()[0]}.lua"
        script.write_text(lua_for(c.signed_invoke(server.endpoint, "noop", b"{}")))
        url = f"{server.endpoint}/"
        out: dict[str, Any] = {}
        for n in CONCURRENCY:
            wrk(url, script, n, max(1, round(seconds / 3)))  # warm: N environments
            assert server.process is not None
            before = cpu_seconds(server.process.pid)
            result = wrk(url, script, n, seconds)
            result["server_cpu_per_invoke_us"] = (
                (cpu_seconds(server.process.pid) - before)
                / max(1.0, result["requests_per_s"] * seconds)
                * 1e6
            )
            out[str(n)] = result
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
    work = Path(tempfile.mkdtemp(prefix="lambdad-wrk-"))
    backends: dict[str, dict[str, str]] = {"process": {"LAMBDAD_SANDBOX": "process"}}
    why = c.sandbox_unavailable()
    if why is None:
        backends["bwrap (network none)"] = {"LAMBDAD_SANDBOX": "bwrap", "LAMBDAD_NETWORK": "none"}
    results: dict[str, Any] = {}
    for label, env in backends.items():
        results[label] = run_backend(label, env, seconds, work)

    proc, port = c.baseline_process()
    try:
        script = work / "baseline.lua"
        script.write_text('wrk.method = "POST"\nwrk.body = "{}"\n')
        url = f"http://127.0.0.1:{port}/"
        results["raw asyncio HTTP server"] = {
            str(n): wrk(url, script, n, seconds) for n in CONCURRENCY
        }
    finally:
        proc.kill()
        proc.wait()

    print(f"no-op Invoke throughput, wrk -t1, {seconds:g} s per point")
    print(f"  {'':28}" + "".join(f"{'c=' + str(n):>26}" for n in CONCURRENCY))
    print(f"  {'':28}" + "".join(f"{'req/s  p50 ms  p99 ms':>26}" for _ in CONCURRENCY))
    for label, by_n in results.items():
        cells = []
        for n in CONCURRENCY:
            r = by_n[str(n)]
            lat = r["latency_ms"]
            cells.append(
                f"{r['requests_per_s']:10.0f} {lat.get('50', 0):7.2f} {lat.get('99', 0):7.2f}"
            )
        print(f"  {label:28}" + "".join(f"{cell:>26}" for cell in cells))
    for label, by_n in results.items():
        errs = {n: r["non_2xx"] for n, r in by_n.items() if r["non_2xx"]}
        if errs:
            print(f"  {label}: non-2xx answers {errs}")
        cpu = {
            n: round(r["server_cpu_per_invoke_us"])
            for n, r in by_n.items()
            if "server_cpu_per_invoke_us" in r
        }
        if cpu:
            print(f"  {label}: lambdad CPU per invoke (us, runtimes included) {cpu}")
    result = {"host": c.host_info(), "seconds": seconds, "results": results}
    if why is not None:
        result["bwrap_skipped"] = why
    print("wrote", c.write_json("throughput", result, args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
