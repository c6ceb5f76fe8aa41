"""The bwrap plan of a container image's sandbox."""

from __future__ import annotations

import os
from pathlib import Path

from lambdad.sandbox.base import SandboxSpec
from lambdad.sandbox.bwrap_image import (
    DIR,
    FILE,
    HOST,
    LINK,
    HostPrograms,
    RootLayout,
    image_argv,
    image_files,
    loader_and_libraries,
    root_layout,
)
from lambdad.sandbox.bwrap_plan import Tools

LDD = """/usr/bin/setpriv:
\tlinux-vdso.so.1 (0x00007ffc)
\tlibcap-ng.so.0 => /lib/x86_64-linux-gnu/libcap-ng.so.0 (0x00007f)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f)
"""
HOST_PROGRAMS = HostPrograms(
    loader="/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    library_dirs=("/usr/lib/x86_64-linux-gnu",),
    binds=("/usr",),
    unshare="/usr/bin/unshare",
    setpriv="/usr/bin/setpriv",
    shell="/usr/bin/bash",
)


def test_ldd_names_the_loader_and_libraries() -> None:
    loader, libraries = loader_and_libraries(LDD)
    assert loader == "/lib64/ld-linux-x86-64.so.2"
    assert libraries == [
        "/lib/x86_64-linux-gnu/libcap-ng.so.0",
        "/lib/x86_64-linux-gnu/libc.so.6",
    ]


def test_the_image_is_the_root_and_host_programs_run_the_stages() -> None:
    spec = SandboxSpec(
        env_id="e1",
        argv=("/lambda-entrypoint.sh", "app.handler"),
        env={},
        task_dir=Path("/var/task"),
        runtime_dir=Path("/var/runtime"),
        root_dir=Path("/data/images/abc/rootfs"),
        workdir="/var/task",
        tmp_mb=512,
    )
    layout = RootLayout(
        (("bin", LINK, "usr/bin"), ("dev", DIR, ""), ("etc", DIR, ""), ("usr", DIR, ""),
         ("marker", FILE, "")),
        frozenset({"/etc/hosts"}),
    )  # fmt: skip
    argv = image_argv(
        Tools("/usr/bin/bwrap", "/usr/bin/setpriv", "/usr/bin/unshare"),
        HOST_PROGRAMS,
        spec,
        layout,
        "isolated",
        (3, 4, None),
        1610612737,
        {"/etc/hosts": 7, "/proc/meminfo": 8},
    )
    text = " ".join(argv)
    assert "--symlink usr/bin /bin" in text
    assert "--ro-bind /data/images/abc/rootfs/usr /usr" in text
    assert "--ro-bind /data/images/abc/rootfs/marker /marker" in text
    assert "/data/images/abc/rootfs/dev" not in text  # the sandbox's own /dev
    assert f"--ro-bind /usr {HOST}/usr" in text
    assert "--remount-ro / --chdir /var/task" in text
    assert "--ro-bind-data 7 /etc/hosts" in text
    assert "--ro-bind-data 8 /proc/meminfo" in text
    stages = argv[argv.index("--") + 1 :]
    loader = f"{HOST}/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    assert stages[:4] == [loader, "--library-path", f"{HOST}/usr/lib/x86_64-linux-gnu",
                          f"{HOST}/usr/bin/unshare"]  # fmt: skip
    assert "--reuid=1610612737" in stages
    assert "--no-new-privs" in stages
    assert stages[-2:] == ["/lambda-entrypoint.sh", "app.handler"]


def test_root_layout_follows_no_link(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hosts").write_text("")
    os.symlink("/etc/passwd", tmp_path / "etc" / "resolv.conf")
    os.symlink("usr/bin", tmp_path / "bin")
    layout = root_layout(tmp_path)
    assert layout.entries == (("bin", LINK, "usr/bin"), ("etc", DIR, ""))
    assert layout.etc_files == {"/etc/hosts"}
    files = {"/etc/hosts": b"h", "/etc/resolv.conf": b"r", "/etc/passwd": b"p"}
    files["/proc/cmdline"] = b""
    assert set(image_files(files, layout)) == {"/etc/hosts", "/proc/cmdline"}
