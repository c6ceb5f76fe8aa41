"""Cold starts of an existing version: zygote against exec, sandboxed against not,
beside their floors; and new environments per second.

Every server runs with an idle timeout of 0, so its reaper stops each environment
right after its invocation: each ``Invoke`` of the published version 1 of one no-op
function is a cold start (a new environment of an existing version, code already
extracted), timed by the client over HTTP, with the REPORT line's Init Duration. The
servers take turns, so drift on a busy machine hits them alike.

Floors, measured in the same run on the functions' interpreter: the fork of a warm
Python process (the bootstrap imported, heap frozen) until the child's first byte
reaches a socket, and the exec of a fresh interpreter until its first byte.

New environments per second: K concurrent invocations of a function with no idle
environment (each handler holds its environment 200 ms), K / (time to the last answer
- 200 ms); R rounds, each with a function of its own, the servers taking turns (the
median, lowest and highest of the rounds).

    python bench/zygote.py [--quick] [--n N] [--rounds R] [--json PATH]
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

INIT = re.compile(r"(Init|Restore) Duration: ([\d.]+) ms")
HOLD = "import time\ndef handler(event, context):\n    time.sleep(0.2)\n    return event\n"

FLOOR = r"""
import gc, os, socket, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
import bootstrap  # what a zygote holds
gc.collect(); gc.freeze()
n = int(sys.argv[2])
lst = socket.socket(); lst.bind(("127.0.0.1", 0)); lst.listen(64)
port = lst.getsockname()[1]
def first_byte(start):
    t = time.perf_counter()
    child = start()
    conn, _ = lst.accept(); conn.recv(1); elapsed = time.perf_counter() - t
    conn.close()
    return elapsed * 1000, child
def fork():
    pid = os.fork()
    if pid == 0:
        s = socket.socket(); s.connect(("127.0.0.1", port)); s.send(b"x"); os._exit(0)
    return pid
code = f"import socket; s = socket.socket(); s.connect(('127.0.0.1', {port})); s.send(b'x')"
forks, execs = [], []
for _ in range(n):
    ms, pid = first_byte(fork); os.waitpid(pid, 0); forks.append(ms)
    ms, proc = first_byte(lambda: subprocess.Popen([sys.executable, "-c", code])); proc.wait()
    execs.append(ms)
print(forks); print(execs)
"""


def floors(interpreter: str, n: int) -> dict[str, dict[str, float]]:
    runtime_dir = c.ROOT / "src" / "lambdad" / "runtimes" / "python"
    out = subprocess.run(
        [interpreter, "-c", FLOOR, str(runtime_dir), str(n)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    forks, execs = json.loads(out[0]), json.loads(out[1])
    return {
        "floor: fork of a warm Python to first byte": c.summary(forks),
        "floor: exec of a fresh interpreter to first byte": c.summary(execs),
    }


NODE = {"index.js": "exports.handler = async (event) => event;\n"}


class Variant:
    def __init__(self, label: str, env: dict[str, str], node: bool = False) -> None:
        self.label = label
        self.node = node
        self.server = c.Server(
            {"LAMBDAD_IDLE_TIMEOUT": "0", "LAMBDAD_REAPER_INTERVAL": "0.01", **env}
        )
        self.latency: list[float] = []
        self.init: list[float] = []
        self.rates: list[float] = []

    def start(self) -> None:
        self.server.start()
        if self.node:
            self.server.create("cold", files=NODE, Runtime="nodejs20.x", Handler="index.handler")
        else:
            self.server.create("cold")
        self.server.client.publish_version(FunctionName="cold")
        self.cold_start()  # the code extracted, the zygote started: not measured
        self.latency.clear()
        self.init.clear()

    def cold_start(self) -> None:
        t = time.perf_counter()
        resp = self.server.client.invoke(
            FunctionName="cold", Qualifier="1", Payload=b"{}", LogType="Tail"
        )
        elapsed = (time.perf_counter() - t) * 1000
        log = base64.b64decode(resp["LogResult"]).decode()
        found = INIT.search(log)
        if resp.get("FunctionError") or found is None:
            raise RuntimeError(f"{self.label}: not a cold start: {log[-500:]}")
        self.latency.append(elapsed)
        self.init.append(float(found.group(2)))

    def environments_per_second(self, k: int) -> float:
        server = self.server
        name = f"hold{k}-{len(self.rates)}"
        server.create(name, HOLD)
        request = c.signed_invoke(server.endpoint, name, b"{}")
        conns = [c.Connection(server.port) for _ in range(k)]
        done: list[float] = []
        start = threading.Event()

        def one(conn: c.Connection) -> None:
            start.wait()
            status, body = conn.round_trip(request)
            if status != 200:
                raise RuntimeError(f"{status}: {body[:200]!r}")
            done.append(time.perf_counter())

        threads = [threading.Thread(target=one, args=(conn,)) for conn in conns]
        for thread in threads:
            thread.start()
        t = time.perf_counter()
        start.set()
        for thread in threads:
            thread.join()
        for conn in conns:
            conn.close()
        if len(done) != k:
            raise RuntimeError(f"{self.label}: {k - len(done)} of {k} invocations failed")
        rate = k / max(1e-3, max(done) - t - 0.2)
        self.rates.append(rate)
        return rate


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=0, help="cold starts per variant [100]")
    ap.add_argument("--rounds", type=int, default=0, help="rounds of the rate [3]")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    n = args.n or (10 if args.quick else 100)
    k = 8 if args.quick else 32
    rounds = args.rounds or (1 if args.quick else 3)

    variants = [
        Variant("process, exec", {"LAMBDAD_SANDBOX": "process", "LAMBDAD_FAST_PATH": "0"}),
        Variant("process, zygote", {"LAMBDAD_SANDBOX": "process", "LAMBDAD_FAST_PATH": "1"}),
    ]
    why = c.sandbox_unavailable()
    if why is None:
        for net in ("none", "isolated"):
            base = {"LAMBDAD_SANDBOX": "bwrap", "LAMBDAD_NETWORK": net}
            variants += [
                Variant(f"bwrap/{net}, exec", {**base, "LAMBDAD_FAST_PATH": "0"}),
                Variant(f"bwrap/{net}, zygote", {**base, "LAMBDAD_FAST_PATH": "1"}),
            ]
    if _has_node():
        # Node.js keeps the exec path: what that costs, beside Python's.
        node_env = (
            {"LAMBDAD_SANDBOX": "bwrap", "LAMBDAD_NETWORK": "none"}
            if why is None
            else {"LAMBDAD_SANDBOX": "process"}
        )
        variants.append(Variant(f"nodejs20.x {node_env['LAMBDAD_SANDBOX']}, exec", node_env, True))
    try:
        for v in variants:
            v.start()
        for _ in range(n):
            for v in variants:
                v.cold_start()
                time.sleep(0.03)  # the reaper takes the environment away
        for _ in range(rounds):
            for v in variants:
                if not v.node:
                    v.environments_per_second(k)
    finally:
        for v in variants:
            v.server.stop()
    interpreter = _interpreter()
    floor = floors(interpreter, n)

    rows = {f"{v.label}: client-observed": c.summary(v.latency) for v in variants}
    inits = {f"{v.label}: Init Duration": c.summary(v.init) for v in variants}
    c.print_rows(f"cold start of an existing version, {n} each (ms)", {**rows, **inits, **floor})
    rates = {
        v.label: {
            "median": statistics.median(v.rates),
            "min": min(v.rates),
            "max": max(v.rates),
            "rounds": v.rates,
        }
        for v in variants
        if not v.node
    }
    print(f"new environments per second ({k} concurrent invocations, none idle; {rounds} rounds)")
    print(f"  {'':44} {'median':>12} {'lowest':>8} {'highest':>8}")
    for label, r in rates.items():
        print(f"  {label:44} {r['median']:12.0f} {r['min']:8.0f} {r['max']:8.0f}")
    result: dict[str, Any] = {
        "host": c.host_info(),
        "n": n,
        "interpreter": interpreter,
        "cold_start_ms": rows,
        "init_duration_ms": inits,
        "floors_ms": floor,
        "environments_per_second": {"concurrent": k, "rounds": rounds, "rates": rates},
    }
    if why is not None:
        result["bwrap_skipped"] = why
    print("wrote", c.write_json("zygote", result, args.json))
    return 0


def _has_node() -> bool:
    sys.path.insert(0, str(c.ROOT / "src"))
    from lambdad.runtimes.table import RuntimeTable

    return RuntimeTable().node is not None


def _interpreter() -> str:
    sys.path.insert(0, str(c.ROOT / "src"))
    from lambdad.runtimes.table import RuntimeTable

    return RuntimeTable().launch("python3.12").argv[0]


if __name__ == "__main__":
    sys.exit(main())
