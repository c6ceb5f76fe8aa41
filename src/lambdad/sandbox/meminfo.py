"""The ``/proc/meminfo`` an environment reads: its configured memory, not the host's.

A sandbox shares the host's kernel, whose ``/proc/meminfo`` describes the whole
machine; a function reading it (``free``, Node.js's ``os.totalmem()``/``os.freemem()``,
a Python handler parsing the file) would size its caches for the host's memory and
learn how much the host has. Both sandbox paths bind this file over it instead
(``bwrap_plan.generated_files``, ``rootfs.plan_own``): ``MemTotal`` is the function's
``MemorySize``, as in the microVM AWS gives it.

A snapshot taken when the environment starts, not a live view: nothing of the
function's has run yet, so ``MemFree`` and ``MemAvailable`` equal ``MemTotal``, and
they do not follow the cgroup's usage afterwards (a live file would need a FUSE file
system, as LXCFS serves, in every sandbox). The cgroup's limit is what binds the
function; its usage shows in REPORT's Max Memory Used. No other figure of the host
appears: every other field is zero (no swap, no page cache counted), but for the
kernel's constants (page sizes, the vmalloc space). Pure.
"""

from __future__ import annotations

# The fields of a current kernel's /proc/meminfo, in its order (``free`` and libuv
# read MemTotal, MemFree, MemAvailable, Buffers, Cached, SReclaimable, Shmem, Swap*).
FIELDS = (
    "MemTotal",
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "SwapCached",
    "Active",
    "Inactive",
    "Active(anon)",
    "Inactive(anon)",
    "Active(file)",
    "Inactive(file)",
    "Unevictable",
    "Mlocked",
    "SwapTotal",
    "SwapFree",
    "Zswap",
    "Zswapped",
    "Dirty",
    "Writeback",
    "AnonPages",
    "Mapped",
    "Shmem",
    "KReclaimable",
    "Slab",
    "SReclaimable",
    "SUnreclaim",
    "KernelStack",
    "PageTables",
    "SecPageTables",
    "NFS_Unstable",
    "Bounce",
    "WritebackTmp",
    "CommitLimit",
    "Committed_AS",
    "VmallocTotal",
    "VmallocUsed",
    "VmallocChunk",
    "Percpu",
    "AnonHugePages",
    "ShmemHugePages",
    "ShmemPmdMapped",
    "FileHugePages",
    "FilePmdMapped",
    "HugePages_Total",
    "HugePages_Free",
    "HugePages_Rsvd",
    "HugePages_Surp",
    "Hugepagesize",
    "Hugetlb",
)
# What all of the environment's memory is: with no swap, what it may commit too.
_WHOLE = frozenset({"MemTotal", "MemFree", "MemAvailable", "CommitLimit"})
# The kernel's constants on x86-64 and arm64 with 4 KiB pages, in kB.
_CONSTANT = {"VmallocTotal": 34359738367, "Hugepagesize": 2048}


def meminfo(memory_mb: int) -> bytes:
    """The file for an environment of ``memory_mb`` MB, in the kernel's layout (the
    name and colon in 16 columns, the value right-aligned in 8, then ``kB`` but for the
    huge-page counts)."""
    total_kb = memory_mb * 1024
    lines = []
    for name in FIELDS:
        value = total_kb if name in _WHOLE else _CONSTANT.get(name, 0)
        unit = "" if name.startswith("HugePages_") else " kB"
        lines.append(f"{name + ':':<16}{value:>8}{unit}\n")
    return "".join(lines).encode()
