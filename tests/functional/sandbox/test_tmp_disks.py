"""The /tmp disks of one server, made and removed for real (loop devices, mkfs.ext4).

Needs root and loop devices; skipped elsewhere with the reason.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdad.sandbox import loopdev
from lambdad.sandbox.tmpdisk import TOOL_ENV, TmpDisks

MKFS = shutil.which("mkfs.ext4", path=TOOL_ENV["PATH"])

if os.geteuid() != 0 or not os.path.exists("/dev/loop-control") or not MKFS:
    pytest.skip("needs root, loop devices and mkfs.ext4", allow_module_level=True)

pytestmark = pytest.mark.root


def mounted_under(root: Path) -> list[str]:
    prefix = str(root.resolve()) + "/"
    points = (line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines())
    return sorted(p for p in points if p.startswith(prefix))


def disks(root: Path, spares: int = 0) -> TmpDisks:
    assert MKFS is not None
    return TmpDisks(root, mkfs=MKFS, spares=spares)


@pytest.fixture
def made() -> Iterator[list[TmpDisks]]:
    out: list[TmpDisks] = []
    yield out
    for each in out:
        each.close()


def test_a_disk_is_an_empty_world_writable_file_system_of_its_size(
    tmp_path: Path, made: list[TmpDisks]
) -> None:
    pool = disks(tmp_path / "tmp-disks")
    made.append(pool)
    assert pool.setup()

    disk = asyncio.run(pool.acquire(1024))

    assert disk is not None
    st = os.statvfs(disk.mount_point)
    assert st.f_blocks * st.f_frsize >> 20 == 1024
    assert os.listdir(disk.mount_point) == []
    assert oct(os.stat(disk.mount_point).st_mode & 0o7777) == "0o1777"
    assert oct(os.stat(pool.root).st_mode & 0o777) == "0o700"
    asyncio.run(pool.release(disk))
    assert mounted_under(pool.root) == []
    # What is left until the pool closes: the templates new disks are copied from.
    assert all(name.startswith("template-") for name in os.listdir(pool.root))


def test_a_stopped_pool_leaves_nothing(tmp_path: Path) -> None:
    pool = disks(tmp_path / "tmp-disks", spares=2)
    assert pool.setup()
    in_use = asyncio.run(pool.acquire(512))
    assert in_use is not None
    assert mounted_under(pool.root)

    pool.close()

    assert mounted_under(pool.root) == []
    assert os.listdir(pool.root) == []


def test_a_dead_servers_disks_are_removed_and_no_one_elses(
    tmp_path: Path, made: list[TmpDisks]
) -> None:
    dead, other = disks(tmp_path / "a" / "tmp-disks"), disks(tmp_path / "b" / "tmp-disks")
    made.append(other)
    assert dead.setup()
    assert other.setup()
    asyncio.run(dead.acquire(512))
    asyncio.run(other.acquire(512))
    left, others = mounted_under(dead.root), mounted_under(other.root)
    assert left
    assert others

    again = disks(tmp_path / "a" / "tmp-disks")  # the dead one never closed
    made.append(again)
    assert again.setup()

    assert not set(left) & set(mounted_under(again.root))
    assert mounted_under(other.root) == others


def test_where_disks_cannot_be_made_setup_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pool = TmpDisks(tmp_path / "tmp-disks", mkfs="/nonexistent/mkfs.ext4")

    with caplog.at_level(logging.WARNING):
        assert not pool.setup()

    assert [r.getMessage() for r in caplog.records if "tmpfs" in r.getMessage()]
    assert mounted_under(pool.root) == []
    assert os.listdir(pool.root) == []


def test_no_more_disks_than_the_hosts_disk_could_hold_written_full(
    tmp_path: Path, made: list[TmpDisks]
) -> None:
    small = tmp_path / "small"
    small.mkdir()
    # A file system of 1600 MB (a tmpfs: sparse images cost it nothing until written).
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1600m", "tmpfs", str(small)], check=True)
    try:
        pool = disks(small / "tmp-disks")
        made.append(pool)
        assert pool.setup()

        first, second = asyncio.run(pool.acquire(512)), asyncio.run(pool.acquire(512))
        third = asyncio.run(pool.acquire(512))

        assert first is not None
        assert second is not None
        assert third is None  # 1600 - 2 x 520 leaves less than a disk and the headroom
        asyncio.run(pool.release(first))
        assert asyncio.run(pool.acquire(512)) is not None
    finally:
        pool.close()
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_a_released_disk_takes_no_more_writes_and_frees_its_blocks(
    tmp_path: Path, made: list[TmpDisks]
) -> None:
    pool = disks(tmp_path / "tmp-disks")
    made.append(pool)
    assert pool.setup()
    disk = asyncio.run(pool.acquire(512))
    assert disk is not None
    kept = os.open(disk.mount_point / "kept", os.O_WRONLY | os.O_CREAT, 0o600)
    image = os.open(disk.paths.image, os.O_RDONLY)
    try:
        os.write(kept, b"x" * (8 << 20))
        os.fsync(kept)
        assert os.fstat(image).st_blocks * 512 > 8 << 20

        asyncio.run(pool.release(disk))

        with pytest.raises(OSError, match="Input/output error") as failed:
            os.write(kept, b"y" * (1 << 20))
        assert failed.value.errno == errno.EIO
        assert os.fstat(image).st_blocks == 0
        assert not disk.paths.image.exists()
    finally:
        os.close(kept)
        os.close(image)


def test_only_a_loop_mounted_disk_is_ever_shut_down(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "plain")

    assert not loopdev.shut_down(str(tmp_path / "plain"))
    assert not loopdev.shut_down(str(tmp_path / "link"))
    assert not loopdev.shut_down(str(tmp_path / "absent"))
    (tmp_path / "plain" / "still").write_text("writable")


def test_a_linked_disks_directory_is_refused_and_what_it_points_at_untouched(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    victim = tmp_path / "victim"
    name = "512m-0a1b2c3d-00000001"
    (victim / name).mkdir(parents=True)
    (victim / f"{name}.img").write_text("precious")
    (victim / "other").write_text("precious")
    mount = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(victim / name)]
    subprocess.run(mount, check=True)
    try:
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "tmp-disks").symlink_to(victim)
        pool = disks(tmp_path / "data" / "tmp-disks")

        with caplog.at_level(logging.WARNING):
            assert not pool.setup()

        assert [r for r in caplog.records if "tmpfs" in r.getMessage()]
        assert mounted_under(victim) == [str(victim / name)]
        assert sorted(os.listdir(victim)) == sorted([name, f"{name}.img", "other"])
        assert oct(victim.stat().st_mode & 0o777) == "0o755"
        assert not pool.recover()
        assert mounted_under(victim) == [str(victim / name)]
    finally:
        subprocess.run(["umount", "-l", str(victim / name)], check=False)


def test_a_disks_directory_others_may_write_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "tmp-disks"
    root.mkdir()
    os.chmod(root, 0o777)

    assert not disks(root).setup()
    assert os.listdir(root) == []


def test_only_disks_are_removed_from_the_disks_directory(
    tmp_path: Path, made: list[TmpDisks]
) -> None:
    root = tmp_path / "tmp-disks"
    root.mkdir(mode=0o700)
    (root / "notes").write_text("kept")
    (root / "512m-0a1b2c3d-00000009.img").write_text("a dead server's")
    pool = disks(root)
    made.append(pool)

    assert pool.setup()

    assert (root / "notes").read_text() == "kept"
    assert not (root / "512m-0a1b2c3d-00000009.img").exists()


def test_disks_made_at_once_are_made_only_as_far_as_they_fit(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    # 2600 MB: two 1024 MB disks (1041 MB images) and the headroom fit, a third does not.
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2600m", "tmpfs", str(small)], check=True)
    pool = disks(small / "tmp-disks")
    try:
        assert pool.setup()
        made: list[object] = []
        refused: list[OSError] = []

        def make() -> None:
            try:
                made.append(pool.make(1024))
            except OSError as exc:
                refused.append(exc)

        threads = [threading.Thread(target=make) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert len(made) == 2
        assert len(refused) == 6
        assert all(exc.errno == errno.ENOSPC for exc in refused)
    finally:
        pool.close()
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_a_disk_made_for_a_cancelled_acquire_is_removed(
    tmp_path: Path, made: list[TmpDisks]
) -> None:
    pool = disks(tmp_path / "tmp-disks")
    made.append(pool)
    assert pool.setup()

    async def cancelled() -> None:
        acquiring = asyncio.ensure_future(pool.acquire(1024))  # none ready: made
        await asyncio.sleep(0)
        acquiring.cancel()
        with pytest.raises(asyncio.CancelledError):
            await acquiring

    asyncio.run(cancelled())  # waits for the default executor's threads

    assert mounted_under(pool.root) == []
    assert all(name.startswith("template-") for name in os.listdir(pool.root))


def ready_becomes(pool: TmpDisks, expected: dict[int, int]) -> dict[int, int]:
    """What the worker keeps ready, once it is ``expected`` (or after 20 s)."""
    for _ in range(400):
        if pool.statistics() == expected:
            break
        time.sleep(0.05)
    return pool.statistics()


def test_spares_of_sizes_no_longer_asked_for_are_removed(
    tmp_path: Path, made: list[TmpDisks]
) -> None:
    pool = disks(tmp_path / "tmp-disks", spares=1)
    made.append(pool)
    assert pool.setup()
    for size in (1024, 1536):
        disk = asyncio.run(pool.acquire(size))
        assert disk is not None
        asyncio.run(pool.release(disk))
    assert ready_becomes(pool, {512: 1, 1536: 1}) == {512: 1, 1536: 1}

    mounted = mounted_under(pool.root)
    assert len(mounted) == 2
    assert not [m for m in mounted if "/1024m-" in m]


def test_spares_make_room_for_a_disk_the_host_could_not_hold_else(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    # 4000 MB: a 3072 MB disk (3121 MB image) fits beside one 512 MB spare, not two.
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4000m", "tmpfs", str(small)], check=True)
    pool = disks(small / "tmp-disks", spares=2)
    try:
        assert pool.setup()
        assert ready_becomes(pool, {512: 2}) == {512: 2}

        large = asyncio.run(pool.acquire(3072))

        assert large is not None
        assert pool.statistics() == {512: 1}
    finally:
        pool.close()
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_a_disk_is_ext4_as_lambdad_says_whatever_the_hosts_mke2fs_conf(
    tmp_path: Path, made: list[TmpDisks]
) -> None:
    assert TOOL_ENV["MKE2FS_CONFIG"] == "/dev/null"
    pool = disks(tmp_path / "tmp-disks")
    made.append(pool)
    disk = pool.make(512) if pool.setup() else None
    assert disk is not None

    dumpe2fs = shutil.which("dumpe2fs", path=TOOL_ENV["PATH"])
    assert dumpe2fs is not None
    header = subprocess.run(
        [dumpe2fs, "-h", str(disk.paths.image)], capture_output=True, text=True, check=True
    ).stdout
    fields = dict(line.split(":", 1) for line in header.splitlines() if ":" in line)

    assert fields["Errors behavior"].strip() == "Continue"
    assert fields["Inode size"].strip() == "256"
    assert {"extent", "flex_bg", "64bit", "metadata_csum"} <= set(
        fields["Filesystem features"].split()
    )
    assert "has_journal" not in fields["Filesystem features"].split()
