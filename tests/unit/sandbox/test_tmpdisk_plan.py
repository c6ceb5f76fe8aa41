from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from lambdad.sandbox import tmpdisk_plan as plan
from lambdad.sandbox.base import SandboxSpec
from lambdad.sandbox.bwrap_plan import tmp_args
from lambdad.sandbox.rootfs import plan_own, tmp_step

ROOT = Path("/srv/lambdad/tmp-disks")


def spec(tmp_mb: int = 512) -> SandboxSpec:
    return SandboxSpec("env-1", ("python3", "boot.py"), {}, Path("/t"), Path("/r"), tmp_mb=tmp_mb)


def mountinfo(*points: str) -> str:
    return "".join(
        f"{100 + i} 27 7:{i} / {p} rw,nosuid,nodev,relatime - ext4 /dev/loop{i} rw\n"
        for i, p in enumerate(points)
    )


def test_disks_are_named_by_the_server_under_its_own_directory() -> None:
    paths = plan.disk_paths(ROOT, "0a1b2c3d", 7, 1024)

    assert paths.name == "1024m-0a1b2c3d-00000007"
    assert paths.image == ROOT / "1024m-0a1b2c3d-00000007.img"
    assert paths.mount_point == ROOT / "1024m-0a1b2c3d-00000007"
    assert plan.disk_paths(ROOT, "0a1b2c3d", 8, 1024).name != paths.name
    assert plan.disk_paths(ROOT, "99999999", 7, 1024).name != paths.name


@pytest.mark.parametrize("size_mb", [512, 1024, 3000, 10240])
def test_the_image_leaves_the_configured_size_after_ext4s_tables(size_mb: int) -> None:
    size = plan.image_bytes(size_mb)

    assert size % plan.BLOCK == 0
    # 1/64 of the image is inode table; what is left is at least the ephemeral storage,
    # and not 1% more.
    assert size * 63 / 64 >= size_mb << 20
    assert size * 63 / 64 < (size_mb << 20) * 1.01


def test_mkfs_takes_only_the_servers_paths() -> None:
    image = ROOT / "template-512m-0a1b2c3d.img"

    mkfs = plan.mkfs_argv("/usr/sbin/mkfs.ext4", image)

    assert mkfs[0] == "/usr/sbin/mkfs.ext4"
    assert mkfs[-1] == str(image)
    assert "-m" in mkfs
    assert mkfs[mkfs.index("-m") + 1] == "0"  # nothing reserved for root


def test_mkfs_is_told_everything_and_an_error_never_stops_the_host() -> None:
    # It runs with no configuration file (MKE2FS_CONFIG=/dev/null): nothing of the
    # host's /etc/mke2fs.conf decides a tenant's file system.
    mkfs = plan.mkfs_argv("/usr/sbin/mkfs.ext4", ROOT / "template-512m-0a1b2c3d.img")

    assert mkfs[mkfs.index("-e") + 1] == "continue"
    assert mkfs[mkfs.index("-I") + 1] == "256"
    features = mkfs[mkfs.index("-O") + 1].split(",")
    assert {"extent", "flex_bg", "64bit", "extra_isize", "^has_journal"} <= set(features)


def test_templates_are_not_taken_for_disks() -> None:
    template = plan.template_paths(ROOT, "0a1b2c3d", 512)
    disk = plan.disk_paths(ROOT, "0a1b2c3d", 1, 512)

    assert template.image.parent == ROOT
    assert template.name != disk.name
    assert template.image != disk.image


def test_disk_is_the_default_where_it_can_be_made() -> None:
    choice = plan.choose_storage("disk", root=True, loop_control=True, mkfs="/sbin/mkfs.ext4")

    assert choice == plan.StorageChoice("disk")


def test_memory_when_the_operator_asks_says_nothing() -> None:
    choice = plan.choose_storage("memory", root=True, loop_control=True, mkfs="/sbin/mkfs.ext4")

    assert choice == plan.StorageChoice("memory")


def test_a_container_host_falls_back_to_memory_and_says_why() -> None:
    choice = plan.choose_storage("disk", root=True, loop_control=False, mkfs=None)

    assert choice.mode == "memory"
    assert "no /dev/loop-control" in choice.warning
    assert "e2fsprogs" in choice.warning
    assert "OOM" in choice.warning


def test_an_unknown_storage_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="disk, memory"):
        plan.choose_storage("ssd", root=True, loop_control=True, mkfs="m")


def test_mountinfo_escapes_are_undone() -> None:
    assert plan.unescape(r"/data/with\040space\011tab\134x") == "/data/with space\ttab\\x"
    assert plan.unescape("/plain") == "/plain"
    assert plan.unescape("/trailing\\04") == "/trailing\\04"


A = "512m-0a1b2c3d-00000001"
B = "1024m-0a1b2c3d-00000002"


def test_a_dead_servers_mounts_under_its_directory_are_stale() -> None:
    text = mountinfo(
        "/",
        f"{ROOT}/{A}",
        f"/srv/lambdad/tmp-disks-other/{A}",  # another server's (a prefix)
        f"/srv/other/tmp-disks/{A}",  # another data directory
        f"{ROOT}/{B}",
        str(ROOT),  # the directory itself is not one of its disks
        f"{ROOT}/other",  # not a name of ours
        f"{ROOT}/{A}/{B}",  # nor anything deeper
    )

    stale = plan.stale_mount_points(text, ROOT)

    assert stale == [f"{ROOT}/{B}", f"{ROOT}/{A}"]


def test_escaped_mount_points_are_matched_as_they_are() -> None:
    root = Path("/srv/my data/tmp-disks")
    text = mountinfo(rf"/srv/my\040data/tmp-disks/{A}")

    assert plan.stale_mount_points(text, root) == [f"/srv/my data/tmp-disks/{A}"]


def test_only_the_names_a_server_gives_are_its_own() -> None:
    disk = plan.disk_paths(ROOT, "0a1b2c3d", 7, 1024)
    template = plan.template_paths(ROOT, "0a1b2c3d", 1024)

    for path in (disk.image, disk.mount_point, template.image, template.mount_point):
        assert plan.is_ours(path.name)
    for name in ("other", "512m-00000001", f"{A}.img.bak", f"x{A}", "template-512m", ".img"):
        assert not plan.is_ours(name)


def test_a_disks_directory_is_used_only_if_the_servers_alone() -> None:
    assert plan.safe_root(0o040700, 0, 0)
    assert plan.safe_root(0o040755, 0, 0)
    assert not plan.safe_root(0o120777, 0, 0)  # a link
    assert not plan.safe_root(0o100600, 0, 0)  # a file
    assert not plan.safe_root(0o040700, 1000, 0)  # someone else's
    assert not plan.safe_root(0o040770, 0, 0)  # group-writable
    assert not plan.safe_root(0o041777, 0, 0)  # anyone's


def test_spares_of_the_default_size_and_one_of_each_latest_size() -> None:
    assert plan.spares_wanted(512, 2, [1024, 512, 2048, 1536]) == {512: 2, 1536: 1, 2048: 1}
    assert plan.spares_wanted(512, 2, [2048, 1024]) == {512: 2, 1024: 1, 2048: 1}
    assert plan.spares_wanted(512, 1, [2048, 1024]) == {512: 1, 1024: 1}
    assert plan.spares_wanted(512, 6, [640, 768, 896, 1024]) == {512: 6, 1024: 1, 896: 1}
    assert plan.spares_wanted(512, 0, [1024]) == {}


def test_ready_disks_of_sizes_no_longer_wanted_are_dropped() -> None:
    wanted = {512: 2, 1024: 1}

    assert plan.spares_to_drop({512: 2, 1024: 1}, wanted) == []
    assert plan.spares_to_drop({512: 2, 1024: 1, 2048: 1, 1536: 2}, wanted) == [2048, 1536, 1536]
    assert plan.spares_to_drop({512: 3}, wanted) == [512]
    assert plan.spares_to_drop({512: 2}, {}) == [512, 512]


def test_ready_disks_are_never_more_than_the_spares_and_two() -> None:
    wanted = {512: 2, 1024: 1, 1536: 1, 2048: 1}

    assert plan.spares_to_drop({512: 2, 1024: 1, 1536: 1, 2048: 1}, wanted) == [2048]


def test_spares_make_room_for_a_disk_largest_first_if_they_can() -> None:
    assert plan.room_short(1024, plan.image_bytes(1024) + plan.HEADROOM, 0) == 0
    short = plan.room_short(1024, plan.image_bytes(1024) + plan.HEADROOM, 100 << 20)
    assert short == 100 << 20

    assert plan.spares_to_evict([512, 2048, 512], short) == [2048]
    assert plan.spares_to_evict([512, 512], plan.image_bytes(512) + 1) == [512, 512]
    assert plan.spares_to_evict([512], plan.image_bytes(512) + 1) == []
    assert plan.spares_to_evict([512], 0) == []


def test_no_large_disk_is_kept_ready() -> None:
    assert plan.spares_wanted(512, 2, [10240, 4096, 1024]) == {512: 2, 1024: 1}


def test_the_pool_makes_what_is_missing_most_wanted_first() -> None:
    wanted = {512: 2, 1024: 1, 2048: 1}

    assert plan.sizes_to_make({}, wanted) == [512, 512, 1024, 2048]
    assert plan.sizes_to_make({512: 2, 2048: 3}, wanted) == [1024]
    assert plan.sizes_to_make({512: 2, 1024: 1, 2048: 1}, wanted) == []


def test_bwrap_binds_the_disk_else_mounts_a_tmpfs() -> None:
    assert tmp_args(spec(), "/srv/lambdad/tmp-disks/512m-00000001") == [
        "--bind",
        "/srv/lambdad/tmp-disks/512m-00000001",
        "/tmp",
    ]
    assert tmp_args(spec(1024), None) == [
        "--perms",
        "1777",
        "--size",
        str(1024 << 20),
        "--tmpfs",
        "/tmp",
    ]


def test_a_forked_sandbox_moves_the_disks_mount_onto_tmp() -> None:
    own = plan_own(spec(), {}, tmp_step(spec(), moved=0))

    assert own[-1] == ["mount_fd", 0, "/tmp"]
    # No host path in the step: the keeper moves the descriptor it was sent.
    assert not any("tmp-disks" in str(part) for step in own for part in step)
    assert tmp_step(spec(2048)) == ["tmpfs", "/tmp", f"mode=1777,size={2048 << 20}"]


@pytest.mark.parametrize("module", ["zygote", "lang_root"])
def test_zygotes_and_spares_know_any_servers_disks_by_name(module: str) -> None:
    # They unmount their copies of every disk (runtimes/python/{zygote,lang_root}.py):
    # the names the platform gives must be the ones they look for.
    disk_name = importlib.import_module(f"lambdad.runtimes.python.{module}")._TMP_DISK

    for size in (512, 10240):
        assert disk_name.search(str(plan.disk_paths(ROOT, "0a1b2c3d", 12, size).mount_point))
    assert not disk_name.search(str(plan.disk_paths(ROOT, "0a1b2c3d", 12, 512).image))
    assert not disk_name.search(str(plan.template_paths(ROOT, "0a1b2c3d", 512).mount_point))
    assert not disk_name.search(str(ROOT))
    assert not disk_name.search("/srv/lambdad/envs/512m-00000001")


def test_a_disk_is_made_only_where_it_fits_filled_with_room_to_spare() -> None:
    size = plan.image_bytes(1024)

    assert plan.has_room(1024, size + plan.HEADROOM)
    assert not plan.has_room(1024, size + plan.HEADROOM - 1)
    assert not plan.has_room(10240, 5 << 30)


def test_disks_already_made_are_counted_as_if_written_full() -> None:
    size = plan.image_bytes(512)
    promised = plan.unwritten_bytes(512, 200 << 20) + plan.unwritten_bytes(512, 0)

    assert promised == 2 * size - (200 << 20)
    assert plan.has_room(512, promised + size + plan.HEADROOM, promised)
    assert not plan.has_room(512, promised + size + plan.HEADROOM - 1, promised)
    assert plan.unwritten_bytes(512, size + 4096) == 0
