"""Which sandbox backend runs here, and what ``doctor`` reports about the host.

``auto`` picks bwrap wherever it can run (root, bwrap installed, a writable
cgroup hierarchy with the memory, cpu and pids controllers); otherwise the
process backend runs, with a loud warning.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass

from lambdad.config import Settings
from lambdad.sandbox import cgroups, tmpdisk_plan
from lambdad.sandbox.base import SandboxBackend
from lambdad.sandbox.bwrap import BwrapBackend
from lambdad.sandbox.nat import nat_helper
from lambdad.sandbox.process import ProcessBackend
from lambdad.sandbox.tmpdisk import TOOL_ENV, TmpDisks
from lambdad.sandbox.uids import UidPool
from lambdad.sandbox.zygote import with_fast_path
from lambdad.store.trees import remove_quietly

log = logging.getLogger(__name__)

NAMESPACES = ("mnt", "pid", "ipc", "uts", "net")


@dataclass(frozen=True, slots=True)
class Capability:
    name: str
    present: bool
    detail: str
    fix: str = ""


def capabilities() -> list[Capability]:
    caps: list[Capability] = []
    root = os.geteuid() == 0
    caps.append(
        Capability(
            "root",
            root,
            "running as root" if root else f"uid {os.geteuid()}",
            "run lambdad as root for sandboxes and cgroups",
        )
    )
    bwrap = shutil.which("bwrap")
    caps.append(
        Capability(
            "bwrap",
            bwrap is not None,
            bwrap or "not found",
            "apt-get install bubblewrap (make install does it as root)",
        )
    )
    for ns in NAMESPACES:
        present = os.path.exists(f"/proc/self/ns/{ns}")
        caps.append(
            Capability(
                f"namespace {ns}",
                present,
                "available" if present else "missing",
                "a kernel with namespaces (CONFIG_NAMESPACES)",
            )
        )
    version = cgroups.detect()
    caps.append(
        Capability(
            "cgroups",
            version is not None,
            version or "no writable hierarchy",
            "mount cgroup2 at /sys/fs/cgroup (or v1 memory, cpu, pids) writable by root",
        )
    )
    for name, ok in cgroups.controllers().items():
        caps.append(
            Capability(
                f"cgroup controller {name}",
                ok,
                "available" if ok else "missing",
                f"enable the {name} controller",
            )
        )
    nat = nat_helper()
    caps.append(
        Capability(
            "NAT helper",
            nat is not None,
            nat or "not found",
            "apt-get install slirp4netns (or passt) for outbound network",
        )
    )
    setpriv = shutil.which("setpriv")
    caps.append(
        Capability(
            "setpriv", setpriv is not None, setpriv or "not found", "apt-get install util-linux"
        )
    )
    # skopeo and umoci pull images; cc builds the static stage of their sandboxes.
    tools = [t for t in ("skopeo", "umoci", "cc") if shutil.which(t) is None]
    caps.append(
        Capability(
            "container images",
            not tools,
            "skopeo, umoci, cc" if not tools else f"{', '.join(tools)} not found",
            "apt-get install skopeo umoci gcc libc6-dev (for PackageType Image functions)",
        )
    )
    caps.append(_tmp_disks_capability(root))
    if root and bwrap is not None:
        caps.append(_probe(bwrap))
    if root:
        caps.append(_user_namespace_probe())
    return caps


def _tmp_disks_capability(root: bool) -> Capability:
    """Whether environments' /tmp can be disks of their own (sandbox/tmpdisk.py), as on
    AWS, rather than a tmpfs charged to their memory."""
    choice = tmpdisk_plan.choose_storage(
        tmpdisk_plan.DISK,
        root=root,
        loop_control=os.path.exists("/dev/loop-control"),
        mkfs=shutil.which("mkfs.ext4", path=TOOL_ENV["PATH"]),
    )
    detail = "ext4 images on loop devices" if not choice.warning else choice.warning
    fix = "run as root on a host with loop devices (/dev/loop-control); apt-get install e2fsprogs"
    return Capability("/tmp on disk", not choice.warning, detail, fix)


def _user_namespace_probe() -> Capability:
    """Whether an unprivileged process may create a user namespace: environments
    restored from a SnapStart snapshot take their namespaces that way (elsewhere
    SnapStart versions start as on-demand ones do)."""
    fix = (
        "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, "
        "or kernel.apparmor_restrict_unprivileged_userns=0)"
    )
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's verdict is its exit status
        code = 1
        try:
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            code = 0 if _unshare_user() else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    ok = os.waitstatus_to_exitcode(status) == 0
    detail = "available (SnapStart restores)" if ok else "refused to unprivileged processes"
    return Capability("user namespaces", ok, detail, fix)


def _unshare_user() -> bool:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.unshare(ctypes.c_int(0x10000000)) == 0)  # CLONE_NEWUSER


def _probe(bwrap: str, attempts: int = 3) -> Capability:
    """Whether bwrap can really create the namespaces here (a locked-down container
    may be root and have bwrap, yet forbid new namespaces). Tried again when it fails:
    one failure of a busy host's (seen once in a full test run, on the next probe
    gone) would leave every function of this server unsandboxed."""
    argv = [bwrap, "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net"]
    argv += ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", "true"]
    failed = Capability("sandbox probe", False, "not run", PROBE_FIX)
    for attempt in range(attempts):
        if attempt:
            time.sleep(0.05 * attempt)
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            failed = Capability("sandbox probe", False, str(exc), PROBE_FIX)
            continue
        if proc.returncode == 0:
            return Capability(
                "sandbox probe", True, "bwrap created mount, pid, ipc, uts, net namespaces"
            )
        detail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        failed = Capability("sandbox probe", False, detail, PROBE_FIX)
    return failed


PROBE_FIX = (
    "allow namespaces: in a container, run it privileged or with CAP_SYS_ADMIN and no "
    "seccomp/AppArmor block on unshare"
)
REQUIRED = {"root", "bwrap", "cgroups", "setpriv", "sandbox probe"} | {
    f"namespace {n}" for n in NAMESPACES
}


def full_isolation_possible(caps: list[Capability] | None = None) -> bool:
    """Whether the bwrap backend can run, from ``caps`` (default: probe this host)."""
    caps = capabilities() if caps is None else caps
    names = {c.name for c in caps}
    if not names >= REQUIRED:
        return False  # e.g. no probe: not root or no bwrap
    return all(
        c.present for c in caps if c.name in REQUIRED or c.name.startswith("cgroup controller")
    )


def choose_backend(settings: Settings) -> SandboxBackend:
    work = settings.data_dir / "envs"
    want = settings.sandbox
    caps = capabilities() if want in ("auto", "bwrap") else []
    if want in ("auto", "bwrap") and full_isolation_possible(caps):
        version = cgroups.detect()
        assert version is not None
        backend = BwrapBackend(
            work,
            cgroups.CgroupManager(version, parent=_cgroup_parent(settings)),
            network=settings.network,
            uids=UidPool.for_host(settings.sandbox_uid_base, settings.sandbox_uid_count),
            tmp_disks=tmp_disks(settings),
        )
        backend.setup()
        return with_fast_path(settings, backend)
    if want == "bwrap":
        missing = [c.name for c in caps if not c.present]
        raise RuntimeError("bwrap sandbox requested but unavailable: missing " + ", ".join(missing))
    log.warning("no sandbox: functions run as plain processes (see `lambdad doctor`)")
    work.mkdir(parents=True, exist_ok=True)
    for leftover in work.iterdir():
        remove_quietly(leftover)
    return with_fast_path(settings, ProcessBackend(work))


def tmp_disks(settings: Settings) -> TmpDisks | None:
    """The disks sandboxed environments' /tmp live on; None (a tmpfs each, with one
    warning) where the operator asks for memory or disks cannot be made here."""
    mkfs = shutil.which("mkfs.ext4", path=TOOL_ENV["PATH"])
    choice = tmpdisk_plan.choose_storage(
        settings.tmp_storage,
        root=os.geteuid() == 0,
        loop_control=os.path.exists("/dev/loop-control"),
        mkfs=mkfs,
    )
    if choice.warning:
        log.warning("%s", choice.warning)
    if choice.mode != tmpdisk_plan.DISK or mkfs is None:
        return None
    return TmpDisks(
        settings.data_dir / tmpdisk_plan.DISKS_DIR, mkfs=mkfs, spares=settings.tmp_disk_spares
    )


def _cgroup_parent(settings: Settings) -> str:
    # One parent per data directory, so two servers on one host never reap each other.
    import hashlib

    digest = hashlib.sha256(str(settings.data_dir).encode()).hexdigest()[:12]
    return f"lambdad-{digest}"
