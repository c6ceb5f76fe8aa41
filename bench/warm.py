"""Warm invoke round trip through the HTTP API, beside a raw loopback HTTP round trip.

One ``lambdad serve`` per backend (``process``; ``bwrap`` when it can run here), one
no-op Python function, warmed; then the same pre-signed ``Invoke`` request replayed
on one keep-alive connection, each round trip timed (so: SigV4 check, routing, the
warm environment's Runtime API both ways, logs). The baseline is a minimal asyncio
HTTP server answering a fixed body, measured in the same run: the difference is
lambdad's warm-path overhead.

    python bench/warm.py [--quick] [--n N] [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c


def measure(server: c.Server, n: int) -> dict[str, float]:
    server.create("warm", MemorySize=1769)
    request = c.signed_invoke(server.endpoint, "warm", b'{"k":"v"}')
    conn = c.Connection(server.port)
    try:
        conn.timed(request, max(50, n // 20))  # warm up: the environment, caches, JIT-less
        return c.summary(conn.timed(request, n))
    finally:
        conn.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    n = args.n or (200 if args.quick else 2000)

    backends: dict[str, dict[str, str]] = {"process": {"LAMBDAD_SANDBOX": "process"}}
    why = c.sandbox_unavailable()
    if why is None:
        backends["bwrap (network none)"] = {"LAMBDAD_SANDBOX": "bwrap", "LAMBDAD_NETWORK": "none"}
    rows: dict[str, dict[str, float]] = {}
    for label, env in backends.items():
        server = c.Server(env).start()
        try:
            rows[f"warm Invoke, {label}"] = measure(server, n)
        finally:
            server.stop()
    port = c.start_baseline()
    conn = c.Connection(port)
    base_req = f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 9\r\n\r\n".encode()
    base_req += b'{"k":"v"}'
    conn.timed(base_req, 100)
    rows["raw loopback HTTP round trip (asyncio)"] = c.summary(conn.timed(base_req, n))
    conn.close()

    base = rows["raw loopback HTTP round trip (asyncio)"]["median"]
    c.print_rows(f"warm invoke round trip, {n} each, one keep-alive connection", rows)
    for label, s in rows.items():
        if label.startswith("warm"):
            print(
                f"  overhead over the raw round trip, {label[12:]}: "
                f"{s['median'] - base:.3f} ms median"
            )
    result: dict[str, Any] = {"host": c.host_info(), "n": n, "rows": rows}
    if why is not None:
        result["bwrap_skipped"] = why
    print("wrote", c.write_json("warm", result, args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
