"""/proc/meminfo inside: the environment's memory, on both sandbox paths, no host figure."""

from __future__ import annotations

from pathlib import Path

from lambdad.sandbox import bwrap_plan, meminfo, rootfs
from lambdad.sandbox.base import SandboxSpec

HOST = rootfs.HostLayout(top_level=(("/usr", None),), etc=(), devices=("null",))


def fields(text: bytes) -> dict[str, str]:
    out = {}
    for line in text.decode().splitlines():
        name, _, value = line.partition(":")
        out[name] = value.strip()
    return out


def spec(memory_mb: int) -> SandboxSpec:
    return SandboxSpec(
        env_id="e1",
        argv=("/usr/bin/python3.12",),
        env={},
        task_dir=Path("/data/code/abc"),
        runtime_dir=Path("/srv/runtimes"),
        host_paths=(Path("/usr/bin/python3.12"),),
        memory_mb=memory_mb,
    )


def test_memory_total_free_and_available_are_the_configured_memory() -> None:
    seen = fields(meminfo.meminfo(512))
    assert seen["MemTotal"] == seen["MemFree"] == seen["MemAvailable"] == "524288 kB"
    assert seen["SwapTotal"] == seen["SwapFree"] == seen["Cached"] == "0 kB"
    assert seen["HugePages_Total"] == "0"
    assert list(seen)[:3] == ["MemTotal", "MemFree", "MemAvailable"]


def test_the_layout_is_the_kernels() -> None:
    lines = meminfo.meminfo(128).decode().splitlines()
    assert lines[0] == "MemTotal:         131072 kB"
    assert "HugePages_Total:       0" in lines
    assert not any(line.startswith("DirectMap") for line in lines)  # the host's page tables


def test_bwrap_binds_it_over_proc_meminfo() -> None:
    files = bwrap_plan.generated_files("isolated", 1000, 1024)
    assert fields(files["/proc/meminfo"])["MemTotal"] == "1048576 kB"
    assert "/proc/meminfo" not in bwrap_plan.generated_files("isolated", 1000)


def test_a_forked_environment_binds_it_after_its_proc_and_snapstart_redoes_it() -> None:
    plan = rootfs.plan_root(spec(256), HOST, {})
    data = [s for s in plan if s[0] == "data"]
    assert data == [["data", "/proc/meminfo", meminfo.meminfo(256).decode(), "0444"]]
    assert plan.index(["proc", "/proc"]) < plan.index(data[0])
    own, redo = rootfs.split_proc_read_only(plan)
    assert data[0] not in own
    assert redo[0] == ["proc", "/proc"]
    assert data[0] in redo
