"""The bwrap sandbox of a container image function: the image's unpacked root as ``/``.

The root is bwrap's own tmpfs, read-only once built, with each top-level entry of the
image bound read-only (directories and files) or recreated (symbolic links); then, as
for every environment, a fresh ``/proc`` (with the function's ``/proc/meminfo`` and an
empty ``/proc/cmdline``), a minimal ``/dev``, a ``/tmp`` of the ephemeral storage
size, the environment's ``/etc/hosts`` and ``/etc/resolv.conf`` over the image's (plain
files there: ``store/images.prepare_mount_points``), its working directory, namespaces,
cgroup, seccomp filter and Runtime API as ``bwrap_plan`` describes.

The privileged stage runs inside the image's root as root (with the capabilities bwrap
keeps), so it is a static program that loads and reads nothing there
(``image_stage.c``: no dynamic loader, whose ``/etc/ld.so.preload`` and library
directories the image would provide, no user names, whose lookup loads the NSS modules
the image's ``/etc/nsswitch.conf`` names): a cgroup namespace, the environment's uid
with ``no_new_privs`` and no capabilities, then the host's shell, unprivileged, that
applies the function's variables (an image may have no shell at all, or one built for
another C library). That shell is run through the host's dynamic loader with the
host's library directories (``--inhibit-cache``: never the image's ld.so.cache), bound
read-only under ``HOST`` (``/dev/.lambdad-host``) with the stage program. As defense
in depth an image's ``/etc`` must be a directory and ``/etc/ld.so.preload`` is an empty
file the sandbox binds (``store/images.prepare_mount_points``): no loader in the
sandbox preloads anything. The function can read the host directories under ``HOST``,
as a .zip function reads the host's ``/usr`` as its own.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lambdad.errors import SandboxError
from lambdad.sandbox.base import SandboxSpec
from lambdad.sandbox.bwrap_plan import APPLY_ENV, STAGE_CAPS, tmp_args

HOST = "/dev/.lambdad-host"
STAGE = HOST + "/image-stage"
PRELOAD = "/etc/ld.so.preload"
# Top-level names of an image the sandbox makes its own.
OWN_TOP_LEVEL = frozenset({"proc", "dev", "tmp", "sys"})
# The generated files an image's sandbox shows (``bwrap_plan.generated_files``).
IMAGE_FILES = ("/etc/hosts", "/etc/resolv.conf", "/proc/cmdline", "/proc/meminfo")
# The image's files the sandbox binds its own content over (plain files once prepared).
MOUNTED_ETC = ("/etc/hosts", "/etc/resolv.conf", PRELOAD)
DIR, FILE, LINK = "dir", "file", "link"


@dataclass(frozen=True, slots=True)
class HostPrograms:
    """The host's programs the stages run, and what loads the shell (resolved once)."""

    loader: str
    library_dirs: tuple[str, ...]
    binds: tuple[str, ...]  # host directories bound under HOST
    shell: str
    stage: str  # the static privileged stage (``image_stage.build``)

    def run(self, program: str) -> list[str]:
        """The command line that runs the host's ``program`` inside an image's sandbox."""
        libs = ":".join(HOST + d for d in self.library_dirs)
        return [HOST + self.loader, "--inhibit-cache", "--library-path", libs, HOST + program]


@dataclass(frozen=True, slots=True)
class RootLayout:
    """The top level of an unpacked image and which /etc files may be mounted over."""

    entries: tuple[tuple[str, str, str], ...]  # (name, DIR|FILE|LINK, link target)
    etc_files: frozenset[str]


def host_programs(stage: str, shell: str = "/usr/bin/bash") -> HostPrograms:
    """Where the host's shell loads from (``ldd``'s answer); ``stage``: the static
    privileged stage."""
    programs = [os.path.realpath(shell)]
    try:
        out = subprocess.run(
            ["ldd", *programs], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError(f"cannot find the host's loader for image sandboxes: {exc}") from None
    loader, libraries = loader_and_libraries(out)
    if loader is None:
        raise SandboxError("cannot find the host's dynamic loader for image sandboxes")
    loader = os.path.realpath(loader)
    found = {os.path.dirname(os.path.realpath(p)) for p in libraries}
    dirs = sorted(found | {os.path.dirname(loader)})
    tops = sorted({"/" + Path(p).parts[1] for p in [loader, *dirs, *programs]})
    return HostPrograms(loader, tuple(dirs), tuple(tops), programs[0], stage)


def loader_and_libraries(ldd_output: str) -> tuple[str | None, list[str]]:
    """(the dynamic loader, the libraries) ``ldd`` names."""
    loader, libraries = None, []
    for line in ldd_output.splitlines():
        line = line.strip()
        if "=>" in line:
            path = line.split("=>", 1)[1].strip().split(" ")[0]
            if path.startswith("/"):
                libraries.append(path)
        elif line.startswith("/") and "(" in line:
            loader = line.split(" ")[0]
    return loader, libraries


def root_layout(rootfs: Path) -> RootLayout:
    """The top level of ``rootfs`` (following no link)."""
    entries: list[tuple[str, str, str]] = []
    with os.scandir(rootfs) as it:
        for entry in it:
            if entry.is_symlink():
                entries.append((entry.name, LINK, os.readlink(entry.path)))
            elif entry.is_dir(follow_symlinks=False):
                entries.append((entry.name, DIR, ""))
            elif entry.is_file(follow_symlinks=False):
                entries.append((entry.name, FILE, ""))
    etc: set[str] = set()
    if (("etc", DIR, "")) in entries:
        for path in MOUNTED_ETC:
            try:
                if stat.S_ISREG(os.lstat(rootfs / path.lstrip("/")).st_mode):
                    etc.add(path)
            except OSError:
                pass
    return RootLayout(tuple(sorted(entries)), frozenset(etc))


def image_files(files: Mapping[str, bytes], layout: RootLayout) -> dict[str, bytes]:
    """The generated files an image's sandbox binds (the image keeps its passwd), and
    an empty ``/etc/ld.so.preload``."""
    out = {
        dest: content
        for dest, content in files.items()
        if dest in IMAGE_FILES and (not dest.startswith("/etc/") or dest in layout.etc_files)
    }
    out[PRELOAD] = b""
    return out


def check_layout(layout: RootLayout) -> None:
    """Refuse a root whose ``/etc`` is not a directory or whose ``/etc/ld.so.preload``
    is not the plain file the sandbox binds empty (an image unpacked unprepared)."""
    if ("etc", DIR, "") not in layout.entries or PRELOAD not in layout.etc_files:
        raise SandboxError(
            "the function's image cannot run: its /etc is not a directory prepared by lambdad"
        )


def image_argv(
    bwrap: str,
    host: HostPrograms,
    spec: SandboxSpec,
    layout: RootLayout,
    network: str,
    fds: tuple[int, int, int | None],
    uid: int,
    data_fds: Mapping[str, int],
    tmp_disk: str | None = None,
) -> list[str]:
    """bwrap's command line for an image's environment; ``fds``: (info, block, seccomp);
    ``tmp_disk``: where its /tmp disk is mounted (``bwrap_plan.tmp_args``)."""
    assert spec.root_dir is not None
    check_layout(layout)
    info_fd, block_fd, seccomp_fd = fds
    a = [bwrap, "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    for cap in STAGE_CAPS:
        a += ["--cap-add", cap]
    a += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if network != "host":
        a.append("--unshare-net")
    a += ["--hostname", "localhost"]
    for name, kind, target in layout.entries:
        if name in OWN_TOP_LEVEL:
            continue
        if kind == LINK:
            a += ["--symlink", target, f"/{name}"]
        else:
            a += ["--ro-bind", str(spec.root_dir / name), f"/{name}"]
    for dest, fd in data_fds.items():
        if dest.startswith("/etc/"):
            a += ["--perms", "0644", "--ro-bind-data", str(fd), dest]
    a += ["--proc", "/proc", "--dev", "/dev"]
    for dest, fd in data_fds.items():
        if dest.startswith("/proc/"):
            a += ["--perms", "0444", "--ro-bind-data", str(fd), dest]
    a += ["--perms", "0755", "--dir", HOST]
    for top in host.binds:
        a += ["--ro-bind", top, HOST + top]
    a += ["--ro-bind", host.stage, STAGE]
    a += tmp_args(spec, tmp_disk)
    a += ["--remount-ro", "/", "--chdir", spec.workdir or "/"]
    a += ["--info-fd", str(info_fd), "--block-fd", str(block_fd)]
    if seccomp_fd is not None:
        a += ["--seccomp", str(seccomp_fd)]
    a.append("--")
    a += [STAGE, str(uid), str(uid)]
    a += [*host.run(host.shell), "-c", APPLY_ENV, "sh", *spec.argv]
    return a
