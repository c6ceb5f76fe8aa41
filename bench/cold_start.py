"""The cost of a sandboxed cold start, against the process backend, in one run.

Starts one ``lambdad serve`` per backend on this machine — ``process`` (no
isolation), ``bwrap`` with network ``none``, and ``bwrap`` with network ``isolated``
(slirp4netns NAT) — and forces cold starts by invoking a fresh function each time
(same code, so the code cache is warm: what is measured is the environment).
The backends take turns, so drift on a busy machine hits them alike.

Per backend: client-observed Invoke latency (boto3, loopback) and the REPORT
line's Init Duration, median and p99; then the memory of the environments those
cold starts left idle: what each one's cgroup is charged (bwrap), the PSS of the
runtime processes, and the host-side helpers outside the cgroup (bwrap's monitor
process, slirp4netns).

    python bench/cold_start.py [--quick] [--n N] [--json PATH]

Then two more columns:
the process backend and bwrap (isolated) with Python environments forked from a
zygote; the first three columns exec the runtime (``LAMBDAD_FAST_PATH=false``).
And two SnapStart columns: each start publishes a version of a fresh function with
``SnapStart={"ApplyOn": "PublishedVersions"}``, waits for it to be Active (its
snapshot taken), then invokes it: the environment is restored from the version's
template, and REPORT's ``Restore Duration`` is the column's init figure. (Their
memory is not measured: each function's template is an environment too.)

Needs root, bubblewrap and cgroups for the bwrap columns (they are skipped, with
the reason, elsewhere).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Server, percentile, sandbox_unavailable

ROOT = Path(__file__).resolve().parent.parent
INIT_DURATION = re.compile(r"(?:Init|Restore) Duration: ([\d.]+) ms")
CGROUP = Path("/sys/fs/cgroup")
HANDLER = "def handler(event, context):\n    return event\n"
# A typical Python function's init: the AWS SDK imported and a client made.
HEAVY_HANDLER = (
    "import boto3\n"
    "s3 = boto3.client('s3', region_name='us-east-1')\n"
    "def handler(event, context):\n    return event\n"
)


@dataclass
class Backend:
    label: str
    env: dict[str, str]
    snapstart: bool = False
    heavy: bool = False  # HEAVY_HANDLER's init instead of a no-op
    server: Server = field(init=False)
    latency_ms: list[float] = field(default_factory=list)
    init_ms: list[float] = field(default_factory=list)
    qualifiers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.server = Server(self.env)

    @property
    def client(self) -> Any:
        return self.server.client

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def create(self, name: str, source: str) -> None:
        snap = {"SnapStart": {"ApplyOn": "PublishedVersions"}} if self.snapstart else {}
        self.server.create(name, source, MemorySize=128, **snap)
        if self.snapstart:
            version = self.client.publish_version(FunctionName=name)["Version"]
            self.client.get_waiter("published_version_active").wait(
                FunctionName=name,
                Qualifier=version,
                WaiterConfig={"Delay": 0.02, "MaxAttempts": 500},
            )
            self.qualifiers[name] = version

    def cold_start(self, name: str) -> None:
        started = time.perf_counter()
        qualifier = {"Qualifier": self.qualifiers[name]} if name in self.qualifiers else {}
        resp = self.client.invoke(
            FunctionName=name, Payload=b'{"ping": 1}', LogType="Tail", **qualifier
        )
        payload = resp["Payload"].read()
        self.latency_ms.append((time.perf_counter() - started) * 1000)
        log = base64.b64decode(resp["LogResult"]).decode()
        if resp.get("FunctionError"):
            raise RuntimeError(f"{self.label}: {name} failed: {payload!r}\n{log}")
        match = INIT_DURATION.search(log)
        if match is None:
            raise RuntimeError(f"{self.label}: no Init/Restore Duration (not cold?):\n{log}")
        self.init_ms.append(float(match.group(1)))

    # -- memory of idle environments ------------------------------------------------------

    def memory(self) -> dict[str, Any]:
        process = self.server.process
        assert process is not None
        if self.snapstart:
            return {}
        helpers = _children(process.pid)
        if self.env["LAMBDAD_SANDBOX"] == "process":
            # Descendants: with the zygote, runtimes are its children, not lambdad's.
            found = _descendants(process.pid)
            runtimes = [_pss(p) for p, comm in found.items() if comm.startswith("python")]
            return {"environments": len(runtimes), "runtime_pss_mib": _mib(runtimes)}
        parent = _cgroup_parent(self.server.data_dir / "data")
        charged, runtime_pss = [], []
        mem_parent = (
            CGROUP / parent
            if (CGROUP / "cgroup.controllers").exists()
            else CGROUP / "memory" / parent
        )
        for env in sorted(d for d in mem_parent.iterdir() if d.is_dir()):
            usage = env / (
                "memory.current" if mem_parent.parent == CGROUP else "memory.usage_in_bytes"
            )
            charged.append(int(usage.read_text()))
            procs = [int(p) for p in (env / "cgroup.procs").read_text().split()]
            runtime_pss.append(sum(_pss(p) for p in procs))
        monitors = [_pss(p) for p, comm in helpers.items() if comm == "bwrap"]
        nat = [_pss(p) for p, comm in helpers.items() if comm in ("slirp4netns", "pasta")]
        out = {
            "environments": len(charged),
            "cgroup_charge_mib": _mib(charged),
            "runtime_pss_mib": _mib(runtime_pss),
            "bwrap_monitor_pss_mib": _mib(monitors),
        }
        if nat:
            out["nat_helper_pss_mib"] = _mib(nat)
        return out


def _cgroup_parent(data_dir: Path) -> str:
    return "lambdad-" + hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]


def _children(pid: int) -> dict[int, str]:
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out[int(entry.name)] = stat[stat.index("(") + 1 : stat.rindex(")")]
    return out


def _descendants(pid: int) -> dict[int, str]:
    out: dict[int, str] = {}
    todo = [pid]
    while todo:
        found = _children(todo.pop())
        out.update(found)
        todo.extend(found)
    return out


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _mib(values: list[int]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "median": round(statistics.median(values) / 2**20, 2),
        "mean": round(statistics.fmean(values) / 2**20, 2),
        "max": round(max(values) / 2**20, 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10 cold starts each (a smoke run)")
    ap.add_argument("--n", type=int, default=None, help="cold starts per backend [100]")
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "cold_start.json"))
    args = ap.parse_args()
    n = args.n or (10 if args.quick else 100)

    exec_ = {"LAMBDAD_FAST_PATH": "false"}
    backends = [Backend("process", {"LAMBDAD_SANDBOX": "process", **exec_})]
    why_not = sandbox_unavailable()
    sandboxed = {"LAMBDAD_SANDBOX": "bwrap", "LAMBDAD_NETWORK": "isolated"}
    if why_not is None:
        backends += [
            Backend("bwrap/none", {**sandboxed, "LAMBDAD_NETWORK": "none", **exec_}),
            Backend("bwrap/isolated", {**sandboxed, **exec_}),
        ]
    else:
        print(f"bwrap backend skipped: {why_not}", file=sys.stderr)
    # Python environments forked from a zygote instead of exec'd (sandbox/zygote.py).
    fast = {"LAMBDAD_FAST_PATH": "true"}
    backends.append(Backend("process+zygote", {"LAMBDAD_SANDBOX": "process", **fast}))
    if why_not is None:
        backends.append(Backend("bwrap/isolated+zygote", {**sandboxed, **fast}))
    # SnapStart: restored from a published version's template.
    backends.append(
        Backend("process+snapstart", {"LAMBDAD_SANDBOX": "process", **fast}, snapstart=True)
    )
    if why_not is None:
        backends.append(Backend("bwrap/isolated+snapstart", {**sandboxed, **fast}, snapstart=True))
        # What SnapStart is for: an init that takes time (boto3 and a client).
        heavy = {**sandboxed, **fast}
        backends.append(Backend("zygote, boto3 init", heavy, heavy=True))
        backends.append(Backend("snapstart, boto3 init", heavy, snapstart=True, heavy=True))

    try:
        for b in backends:
            b.start()
            b.create("warmup", HEAVY_HANDLER if b.heavy else HANDLER)  # extracts, warms the zygote
            b.cold_start("warmup")
            b.latency_ms.clear()
            b.init_ms.clear()
        for i in range(n):
            for b in backends:
                name = f"cold-{i}"
                b.create(name, HEAVY_HANDLER if b.heavy else HANDLER)
                b.cold_start(name)
        memory = {b.label: b.memory() for b in backends}
    finally:
        for b in backends:
            b.stop()

    result: dict[str, Any] = {
        "n": n,
        "host": {"cpus": os.cpu_count(), "kernel": os.uname().release},
        "backends": {},
    }
    for b in backends:
        result["backends"][b.label] = {
            "latency_ms": {
                "median": statistics.median(b.latency_ms),
                "p99": percentile(b.latency_ms, 99),
            },
            "init_duration_ms": {
                "median": statistics.median(b.init_ms),
                "p99": percentile(b.init_ms, 99),
            },
            "idle_memory": memory[b.label],
        }
    print_table(result)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.json}")
    return 0


def print_table(result: dict[str, Any]) -> None:
    rows = result["backends"]
    labels = list(rows)
    width = max(12, *(len(label) + 2 for label in labels))
    head = f"{'':34}" + "".join(f"{label:>{width}}" for label in labels)
    print(f"cold starts, python3.12, 128 MB, {result['n']} each, a fresh function per start")
    print(head)

    def line(title: str, get: Any) -> None:
        cells = []
        for label in labels:
            try:
                value = get(rows[label])
            except (KeyError, TypeError):
                value = None
            if value is None:
                cells.append(f"{'-':>{width}}")
            elif isinstance(value, int):
                cells.append(f"{value:>{width}d}")
            else:
                cells.append(f"{value:>{width}.2f}")
        print(f"{title:34}" + "".join(cells))

    line("Invoke latency median (ms)", lambda r: r["latency_ms"]["median"])
    line("Invoke latency p99 (ms)", lambda r: r["latency_ms"]["p99"])
    line("Init/Restore Duration median (ms)", lambda r: r["init_duration_ms"]["median"])
    line("Init/Restore Duration p99 (ms)", lambda r: r["init_duration_ms"]["p99"])
    print("memory per idle environment (MiB, median)")
    line("  idle environments measured", lambda r: r["idle_memory"]["environments"])
    line("  cgroup charge", lambda r: r["idle_memory"]["cgroup_charge_mib"]["median"])
    line("  runtime PSS", lambda r: r["idle_memory"]["runtime_pss_mib"]["median"])
    line(
        "  bwrap monitor PSS (host side)",
        lambda r: r["idle_memory"]["bwrap_monitor_pss_mib"]["median"],
    )
    line("  NAT helper PSS (host side)", lambda r: r["idle_memory"]["nat_helper_pss_mib"]["median"])


if __name__ == "__main__":
    sys.exit(main())
