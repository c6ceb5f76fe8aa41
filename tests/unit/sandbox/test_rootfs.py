"""The root file system a zygote's child builds: the same layout bwrap builds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lambdad.sandbox import bwrap_plan, rootfs
from lambdad.sandbox.base import SandboxSpec

HOST = rootfs.HostLayout(
    top_level=(("/usr", None), ("/bin", "usr/bin"), ("/lib", "usr/lib")),
    etc=(
        rootfs.EtcEntry("/etc/ssl", "/etc/ssl", True),
        rootfs.EtcEntry("/etc/localtime", "/usr/share/zoneinfo/Etc/UTC", False),
    ),
    devices=("null", "zero", "urandom"),
)
ETC = {"passwd": "root:x:0:0::/:/x\n", "group": "root:x:0:\n", "resolv.conf": ""}


def spec(**changes: Any) -> SandboxSpec:
    values: dict[str, Any] = {
        "env_id": "e1",
        "argv": ("/opt/py/3.12/bin/python3.12", "/srv/lambdad/runtimes/python/bootstrap.py"),
        "env": {},
        "task_dir": Path("/data/code/abc"),
        "runtime_dir": Path("/srv/lambdad/runtimes"),
        "host_paths": (Path("/opt/py/3.12/bin/python3.12"),),
        "tmp_mb": 512,
        **changes,
    }
    return SandboxSpec(**values)


def steps(plan: list[list[Any]], kind: str) -> list[list[Any]]:
    return [s for s in plan if s[0] == kind]


def test_code_runtime_and_interpreter_are_read_only_overlays_naming_no_host_path() -> None:
    plan = rootfs.plan_root(spec(), HOST, ETC)
    overlays = {s[2]: s[1] for s in steps(plan, "overlay")}
    # The interpreter's prefix where AWS has it; overlays, not binds: a bind's line in
    # /proc/self/mountinfo names its host directory.
    assert overlays == {
        "/var/task": "/data/code/abc",
        "/var/runtime": "/srv/lambdad/runtimes",
        "/var/lang": "/opt/py/3.12",
    }
    binds = {s[2]: s for s in steps(plan, "bind")}
    assert binds["/usr"][1] == "/usr"
    assert not {"/var/task", "/var/runtime", "/opt/py/3.12", "/var/lang"} & set(binds)
    for target in ("/usr", "/etc/ssl"):
        assert binds[target][3].get("ro", True), target


def test_a_distribution_interpreter_shows_usr_at_var_lang() -> None:
    plan = rootfs.plan_root(spec(host_paths=(Path("/usr/bin/python3.11"),)), HOST, ETC)
    assert ["overlay", "/usr", "/var/lang"] in plan


def test_without_layers_opt_is_an_empty_directory() -> None:
    plan = rootfs.plan_root(spec(), HOST, ETC)
    assert ["dir", "/opt", "0755"] in plan
    assert "/opt" not in {s[2] for s in steps(plan, "overlay")}


def test_layers_are_shown_at_opt() -> None:
    plan = rootfs.plan_root(spec(opt_dir=Path("/data/opt/xyz")), HOST, ETC)
    assert ["overlay", "/data/opt/xyz", "/opt"] in plan


def test_every_parent_directory_exists_world_readable_before_what_is_mounted_in_it() -> None:
    plan = rootfs.plan_root(spec(), HOST, ETC)
    made: set[str] = {"/"}
    for step in plan:
        if step[0] == "dir":
            assert step[2] == "0755" or step[1] == "/dev/shm"
        target = step[2] if step[0] in ("bind", "symlink", "overlay") else step[1]
        parent = str(Path(target).parent)
        assert parent in made or parent in ("/dev", "/proc", "/tmp"), step
        made.add(target)


def test_top_level_links_are_the_hosts() -> None:
    plan = rootfs.plan_root(spec(), HOST, ETC)
    assert ["symlink", "usr/bin", "/bin"] in plan
    assert ["symlink", "usr/lib", "/lib"] in plan


def test_etc_files_are_bound_from_their_real_paths_and_generated_ones_written() -> None:
    plan = rootfs.plan_root(spec(), HOST, ETC)
    assert ["bind", "/usr/share/zoneinfo/Etc/UTC", "/etc/localtime", {"file": True}] in plan
    assert ["file", "/etc/passwd", ETC["passwd"], "0644"] in plan
    assert ["file", "/etc/resolv.conf", "", "0644"] in plan


def test_devices_are_bound_usable_and_proc_is_its_own() -> None:
    plan = rootfs.plan_root(spec(), HOST, ETC)
    assert [
        "bind",
        "/dev/urandom",
        "/dev/urandom",
        {"file": True, "ro": False, "nodev": False},
    ] in plan
    assert ["proc", "/proc"] in plan
    ro_proc = [s[2] for s in steps(plan, "bind") if s[3].get("inside")]
    assert ro_proc == [
        "/proc/sys",
        "/proc/sysrq-trigger",
        "/proc/irq",
        "/proc/bus",
        "/proc/cmdline",  # the host's boot command line reads empty
    ]


def test_tmp_is_a_tmpfs_of_the_ephemeral_storage_size() -> None:
    plan = rootfs.plan_root(spec(tmp_mb=1024), HOST, ETC)
    assert plan[-1] == ["tmpfs", "/tmp", f"mode=1777,size={1024 << 20}"]


def test_generated_etc_files_name_the_uid_and_the_resolver_of_the_network() -> None:
    files = bwrap_plan.etc_files(1610612737, 1610612737, "sbx_user1051", "isolated", "x")
    assert "sbx_user1051:x:1610612737:1610612737::/tmp:/sbin/nologin" in files["passwd"]
    assert files["resolv.conf"] == "nameserver 10.0.2.3\n"
    assert bwrap_plan.etc_files(1, 1, "u", "none", "x")["resolv.conf"] == ""
    assert bwrap_plan.etc_files(1, 1, "u", "host", "nameserver 9.9.9.9\n")["resolv.conf"] == (
        "nameserver 9.9.9.9\n"
    )
