"""Memory per idle warm environment at 100 and 1,000 environments, and the warm path
with them all idle.

One server per start path (bwrap network ``none`` with the zygote; bwrap exec'ing the
runtime; the process backend with the zygote), one no-op Python function whose handler
holds its environment until a common deadline: N concurrent invocations make N warm
environments, idle once they answer. Then, per environment: what its cgroup is charged
(the kernel's accounting, what a memory limit sees) and the PSS of its processes (its
share of the physical memory, pages shared with a zygote split among the sharers);
plus what the server and the zygote themselves hold. Last, warm invoke round trips of
another function, before the N environments and with them all idle.

    python bench/memory.py [--quick] [--counts 100,1000] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

HOLD = (
    "import time\n"
    "def handler(event, context):\n"
    "    time.sleep(max(0.0, event['until'] - time.time()))\n"
    "    return 'ok'\n"
)
CGROUP = Path("/sys/fs/cgroup")


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cgroup_parent(data_dir: Path) -> str:
    return "lambdad-" + hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]


def environments(data_dir: Path) -> list[tuple[int, list[int]]]:
    """(cgroup memory charge in bytes, pids) of each environment cgroup of a server."""
    parent = cgroup_parent(data_dir)
    v2 = (CGROUP / "cgroup.controllers").exists()
    mem_root = CGROUP / parent if v2 else CGROUP / "memory" / parent
    out = []
    if not mem_root.is_dir():
        return out
    for env in sorted(p for p in mem_root.iterdir() if p.is_dir()):
        usage = env / ("memory.current" if v2 else "memory.usage_in_bytes")
        procs = env / "cgroup.procs"
        try:
            out.append((int(usage.read_text()), [int(x) for x in procs.read_text().split()]))
        except (OSError, ValueError):
            continue
    return out


def children_of() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(p.name))
    return children


def descendants(pid: int) -> list[int]:
    children = children_of()
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


async def hold_many(server: c.Server, n: int, until: float) -> int:
    """n concurrent invocations of the holding function; returns how many answered 200."""
    body = json.dumps({"until": until}).encode()
    request = c.signed_invoke(server.endpoint, "hold", body)

    async def one() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(request)
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        writer.close()
        return status

    statuses = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
    return sum(1 for s in statuses if s == 200)


def warm_round_trips(server: c.Server, n: int) -> dict[str, float]:
    request = c.signed_invoke(server.endpoint, "warm", b"{}")
    conn = c.Connection(server.port)
    try:
        conn.timed(request, 50)
        return c.summary(conn.timed(request, n))
    finally:
        conn.close()


def measure(label: str, env: dict[str, str], n: int, warm_n: int) -> dict[str, Any]:
    server = c.Server(
        {
            "LAMBDAD_ACCOUNT_CONCURRENCY": str(n + 200),
            "LAMBDAD_SCALE_UP_LIMIT": str(n + 100),
            **env,
        }
    ).start()
    try:
        server.create("warm", MemorySize=1769)
        server.create("hold", HOLD, Timeout=300)
        before = warm_round_trips(server, warm_n)
        ramp = max(10.0, n / 40)  # room for n cold starts, even exec'd ones
        started = time.perf_counter()
        ok = asyncio.run(hold_many(server, n, time.time() + ramp))
        elapsed = time.perf_counter() - started
        if ok != n:
            raise RuntimeError(f"{label}: only {ok} of {n} invocations answered")
        time.sleep(1.0)  # settle: the last answers out, the pipes drained
        assert server.process is not None
        envs = environments(server.data_dir / "data")
        if not envs:
            # No cgroups (process backend): an environment is a zygote's child.
            children = children_of()
            envs = [
                (0, [runtime])
                for zygote in children.get(server.process.pid, [])
                for runtime in children.get(zygote, [])
            ]
        charges = [charge for charge, _ in envs if charge]
        pss = [sum(pss_kib(pid) for pid in pids) for _, pids in envs]
        # What is not in any environment: the server itself, zygotes and spares.
        in_envs = {pid for _, pids in envs for pid in pids}
        others = [p for p in descendants(server.process.pid) if p not in in_envs]
        after = warm_round_trips(server, warm_n)
        result: dict[str, Any] = {
            "environments": len(envs),
            "answered": ok,
            "seconds_to_hold_all": elapsed,
            "server_pss_mib": pss_kib(server.process.pid) / 1024,
            "other_processes_pss_mib": sum(pss_kib(p) for p in others) / 1024,
            "warm_invoke_before_ms": before,
            "warm_invoke_with_all_idle_ms": after,
        }
        if charges:
            result["cgroup_charge_mib"] = {
                "median": statistics.median(charges) / 2**20,
                "mean": statistics.fmean(charges) / 2**20,
                "max": max(charges) / 2**20,
            }
        if envs:
            result["pss_mib"] = {
                "median": statistics.median(pss) / 1024,
                "mean": statistics.fmean(pss) / 1024,
                "max": max(pss) / 1024,
            }
        return result
    finally:
        server.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--counts", default="")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    counts = [int(x) for x in args.counts.split(",") if x] or ([20] if args.quick else [100, 1000])
    warm_n = 200 if args.quick else 1000
    variants: dict[str, dict[str, str]] = {
        "process, zygote": {"LAMBDAD_SANDBOX": "process", "LAMBDAD_FAST_PATH": "1"},
    }
    why = c.sandbox_unavailable()
    if why is None:
        sandboxed = {"LAMBDAD_SANDBOX": "bwrap", "LAMBDAD_NETWORK": "none"}
        variants = {
            "bwrap/none, zygote": {**sandboxed, "LAMBDAD_FAST_PATH": "1"},
            "bwrap/none, exec": {**sandboxed, "LAMBDAD_FAST_PATH": "0"},
            **variants,
        }
    results: dict[str, Any] = {}
    for n in counts:
        for label, env in variants.items():
            if n > 100 and label.endswith("exec"):
                continue  # 1,000 exec'd interpreters: ~15 GB; the 100 figure says it
            results[f"{label} x{n}"] = measure(label, env, n, warm_n)
    print("memory per idle warm environment (MiB)")
    print(
        f"  {'':28} {'envs':>6} {'cgroup med':>11} {'PSS med':>9} {'server PSS':>11} "
        f"{'zyg+spares':>11} {'warm before':>12} {'warm after':>11}"
    )
    for label, r in results.items():
        charge = r.get("cgroup_charge_mib", {}).get("median", float("nan"))
        pss = r.get("pss_mib", {}).get("median", float("nan"))
        print(
            f"  {label:28} {r['environments']:>6} {charge:11.2f} {pss:9.2f} "
            f"{r['server_pss_mib']:11.1f} {r['other_processes_pss_mib']:11.1f} "
            f"{r['warm_invoke_before_ms']['median']:9.3f} ms "
            f"{r['warm_invoke_with_all_idle_ms']['median']:8.3f} ms"
        )
    out: dict[str, Any] = {"host": c.host_info(), "results": results}
    if why is not None:
        out["bwrap_skipped"] = why
    print("wrote", c.write_json("memory", out, args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
