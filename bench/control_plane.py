"""Control-plane latency: GetFunction round trips on loopback, beside a raw HTTP baseline.

Starts a real ``lambdad serve`` (process sandbox; no function runs), creates one
function, pre-signs a GetFunction request (a SigV4 signature stays valid for 15
minutes, so one signed request can be replayed) and replays it over one keep-alive
connection. The baseline is a minimal asyncio HTTP server answering a fixed response,
measured in the same run: what any HTTP round trip costs on this machine.

    python bench/control_plane.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    n = 200 if args.quick else 5000

    rows: dict[str, dict[str, float]] = {}
    server = c.Server({"LAMBDAD_SANDBOX": "process"}).start()
    try:
        server.create("bench")
        request = c.signed(server.endpoint, "GET", "/2015-03-31/functions/bench")
        conn = c.Connection(server.port)
        conn.timed(request, 50)  # warm up
        rows["GetFunction (lambdad)"] = c.summary(conn.timed(request, n))
        conn.close()
    finally:
        server.stop()

    port = c.start_baseline()
    conn = c.Connection(port)
    base_req = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    conn.timed(base_req, 50)
    rows["raw loopback HTTP round trip (asyncio)"] = c.summary(conn.timed(base_req, n))
    conn.close()

    c.print_rows(f"control plane, {n} round trips each, keep-alive, loopback", rows)
    medians = [r["median"] for r in rows.values()]
    print(f"  GetFunction / baseline median: {medians[0] / medians[1]:.1f}x")
    out = c.write_json("control_plane", {"host": c.host_info(), "n": n, "rows": rows}, args.json)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
