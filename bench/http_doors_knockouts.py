"""What the warm path's per-invocation bookkeeping costs the HTTP front doors'
throughput: the same doors as ``http_doors_throughput.py`` (wrk, c=8) on two servers
side by side, one as users run it and one with logs, metrics, Max Memory Used and the
end-of-invocation output drain switched off (``bench/knockouts/sitecustomize.py``, in
that server's process only), in alternating rounds.

A diagnostic: it says how far the doors are from a throughput target with that work
gone, i.e. whether the target is within reach of cutting it.

    python bench/http_doors_knockouts.py [--quick] [--seconds S] [--rounds N]
                                         [--knockout logs,metrics,peak,drain] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
import http_doors_throughput as doors
import throughput as t

HERE = Path(__file__).resolve().parent
EVERYTHING = "logs,metrics,peak,drain"
DOORS = ("function URL", "HTTP API", "ALB")


def _server(knockout: str) -> c.Server:
    saved = os.environ.get("PYTHONPATH")
    paths = [str(HERE / "knockouts"), *filter(None, [saved])]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    try:
        return c.Server({"LAMBDAD_SANDBOX": "process", "LAMBDAD_BENCH_KNOCKOUT": knockout}).start()
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved


def _scripts(server: c.Server, work: Path, label: str) -> dict[str, Path]:
    scripts = doors.door_scripts(server, work, f"{label}-")
    return {door: scripts[door] for door in DOORS}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seconds", type=float, default=0)
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--knockout", default=EVERYTHING, help="what to switch off")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    seconds = args.seconds or (1.0 if args.quick else 4.0)
    rounds = args.rounds or (1 if args.quick else 4)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk; make install does it): skipped")
        return 0
    work = Path(tempfile.mkdtemp(prefix="lambdad-knockouts-"))
    variants = {"as users run it": "", f"{args.knockout} off": args.knockout}
    servers = {label: _server(knockout) for label, knockout in variants.items()}
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    try:
        scripts = {label: _scripts(s, work, label.split()[0]) for label, s in servers.items()}
        for label, s in servers.items():
            for path in scripts[label].values():
                t.wrk(f"{s.endpoint}/", path, doors.CONNECTIONS, 1)
        for _ in range(rounds):
            for door in scripts[next(iter(servers))]:
                for label, s in servers.items():
                    assert s.process is not None
                    result = doors.measured(
                        s.process.pid, f"{s.endpoint}/", scripts[label][door], seconds
                    )
                    runs.setdefault((door, label), []).append(result)
    finally:
        for s in servers.values():
            s.stop()
    print(f"HTTP front doors with and without the warm path's bookkeeping ({args.knockout}),")
    print(f"process sandbox, wrk -t1 -c{doors.CONNECTIONS}, {rounds} alternating rounds of "
          f"{seconds:g} s; medians")  # fmt: skip
    width = max(len(f"{door}, {label}") for door, label in runs) + 2
    print(f"  {'':{width}}{'req/s':>8}{'server us':>11}{'(loop)':>8}")
    rows = {}
    for (door, label), results in runs.items():
        row = {
            "requests_per_s": statistics.median(r["requests_per_s"] for r in results),
            "server_us": statistics.median(r["cpu_us_per_request"]["server"] for r in results),
            "loop_us": statistics.median(r["cpu_us_per_request"]["loop"] for r in results),
            "rounds_requests_per_s": [r["requests_per_s"] for r in results],
        }
        rows[f"{door}, {label}"] = row
        print(f"  {door + ', ' + label:{width}}{row['requests_per_s']:8.0f}"
              f"{row['server_us']:11.0f}{row['loop_us']:8.0f}")  # fmt: skip
    result = {"host": c.host_info(), "seconds": seconds, "rounds": rounds, "rows": rows}
    print("wrote", c.write_json("http_doors_knockouts", result, args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
