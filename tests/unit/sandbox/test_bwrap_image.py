"""The bwrap plan of a container image's sandbox."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from lambdad.errors import SandboxError
from lambdad.sandbox import image_stage
from lambdad.sandbox.base import SandboxSpec
from lambdad.sandbox.bwrap_image import (
    DIR,
    FILE,
    HOST,
    LINK,
    PRELOAD,
    STAGE,
    HostPrograms,
    RootLayout,
    image_argv,
    image_files,
    loader_and_libraries,
    root_layout,
)
from lambdad.sandbox.bwrap_plan import PRIVILEGED_ENV, env_script

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
    shell="/usr/bin/bash",
    stage="/data/image-stage/image-stage-1234",
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
        frozenset({"/etc/hosts", PRELOAD}),
    )  # fmt: skip
    argv = image_argv(
        "/usr/bin/bwrap",
        HOST_PROGRAMS,
        spec,
        layout,
        "isolated",
        (3, 4, None),
        1610612737,
        {"/etc/hosts": 7, "/proc/meminfo": 8, PRELOAD: 9},
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
    assert "--ro-bind-data 9 /etc/ld.so.preload" in text
    assert f"--ro-bind /data/image-stage/image-stage-1234 {STAGE}" in text
    # The privileged stage is the static program (no loader reads the image's files);
    # only then the host's shell, unprivileged, through the host's loader without the
    # image's ld.so.cache.
    stages = argv[argv.index("--") + 1 :]
    loader = f"{HOST}/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    assert stages[:3] == [STAGE, "1610612737", "1610612737"]
    assert stages[3:8] == [loader, "--inhibit-cache", "--library-path",
                           f"{HOST}/usr/lib/x86_64-linux-gnu", f"{HOST}/usr/bin/bash"]  # fmt: skip
    assert not any("setpriv" in a or "unshare" in a for a in stages)
    assert stages[-2:] == ["/lambda-entrypoint.sh", "app.handler"]


def test_a_root_without_its_etc_directory_does_not_run() -> None:
    spec = SandboxSpec(
        env_id="e1", argv=("/x",), env={}, task_dir=Path("/var/task"),
        runtime_dir=Path("/var/runtime"), root_dir=Path("/r"), workdir="/", tmp_mb=512,
    )  # fmt: skip
    unprepared = RootLayout((("etc", DIR, ""),), frozenset({"/etc/hosts"}))
    linked = RootLayout((("etc", LINK, "usr/etc"),), frozenset({PRELOAD}))
    for layout in (unprepared, linked):
        with pytest.raises(SandboxError):
            image_argv("bwrap", HOST_PROGRAMS, spec, layout, "none", (3, 4, None), 5, {})


def test_no_variable_of_the_function_reaches_a_privileged_stage() -> None:
    # bwrap and the static stage start with this environment; the function's and the
    # image's variables (LD_PRELOAD...) are applied by the last, unprivileged shell.
    assert set(PRIVILEGED_ENV) == {"PATH", "LANG"}
    script = env_script({"LD_PRELOAD": "/evil.so", "LD_LIBRARY_PATH": "/x"}).decode()
    assert "export LD_PRELOAD='/evil.so'" in script


def test_the_stage_program_is_static(tmp_path: Path) -> None:
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (apt-get install gcc libc6-dev)")
    stage = Path(image_stage.build(tmp_path / "stage"))
    assert image_stage.is_static(stage)
    assert stat.S_IMODE((tmp_path / "stage").stat().st_mode) == 0o700
    assert image_stage.build(tmp_path / "stage") == str(stage)  # built once
    assert not image_stage.is_static(Path(os.path.realpath("/usr/bin/bash")))
    assert not image_stage.is_static(tmp_path)


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
    shown = image_files(files, layout)
    assert set(shown) == {"/etc/hosts", "/proc/cmdline", PRELOAD}
    assert shown[PRELOAD] == b""
