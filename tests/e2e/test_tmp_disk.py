"""/tmp on disk, as on AWS: ephemeral storage apart from the function's memory.

A 128 MB function downloads 300 MB to its /tmp and is not OOM-killed; writing past its
EphemeralStorage fails with ENOSPC; each new environment starts with an empty /tmp,
which lasts across its invocations; once the server stops, none of its disks is
mounted any longer. Over every way an environment's sandbox is built: forked from a
zygote (a spare, or built on demand), exec'd by bwrap, restored from a SnapStart
snapshot.

Needs root, bubblewrap, cgroups and loop devices; skipped elsewhere with the reason.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import ServerFactory
from e2e.helpers import active_function, invoke_ok
from e2e.sandboxes import require_full_isolation

require_full_isolation()
if not os.path.exists("/dev/loop-control"):
    pytest.skip("no loop devices: /tmp stays a tmpfs here", allow_module_level=True)

pytestmark = pytest.mark.root

SOURCE = """
import errno, os

def handler(event, context):
    if event.get("op") == "write":
        block, written, error = b"x" * (1 << 20), 0, None
        with open("/tmp/" + event["file"], "wb", buffering=0) as f:
            while written < event["mb"] << 20:
                try:
                    written += f.write(block)
                except OSError as exc:
                    error = errno.errorcode.get(exc.errno)
                    break
        if error is not None:
            os.unlink("/tmp/" + event["file"])
        st = os.statvfs("/tmp")
        size = st.f_blocks * st.f_frsize >> 20
        return {"written_mb": written >> 20, "error": error, "size_mb": size}
    mounts = [line.split() for line in open("/proc/self/mountinfo")]
    tmp = [m for m in mounts if m[4] == "/tmp"][-1]
    return {
        "files": sorted(os.listdir("/tmp")),
        "mode": oct(os.stat("/tmp").st_mode & 0o7777),
        "mount": tmp[3:6] + tmp[tmp.index("-") + 1 :],
    }
"""


def disk_mounts(data_dir: Path) -> list[str]:
    prefix = str(data_dir.resolve()) + "/"
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return [line for line in lines if line.split()[4].startswith(prefix)]


def points(mounts: list[str]) -> set[str]:
    return {line.split()[4] for line in mounts}


def deleted_images_attached(data_dir: Path) -> list[str]:
    """Loop devices still attached to an image of this server's that was deleted."""
    prefix = str(data_dir.resolve()) + "/"
    out = []
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        with contextlib.suppress(OSError):
            name = backing.read_text().strip()
            if name.startswith(prefix) and name.endswith("(deleted)"):
                out.append(name)
    return out


def look(server: Any, name: str, qualifier: str = "$LATEST") -> dict[str, Any]:
    out = server.client("lambda").invoke(FunctionName=name, Qualifier=qualifier, Payload=b"{}")
    assert "FunctionError" not in out, out["Payload"].read()
    answer: dict[str, Any] = json.loads(out["Payload"].read())
    return answer


def test_tmp_is_a_disk_of_the_ephemeral_storage_size(lambdad_factory: ServerFactory) -> None:
    server = lambdad_factory()
    lam = server.client("lambda")
    big = active_function(
        lam, "big-tmp", SOURCE, MemorySize=128, Timeout=60, EphemeralStorage={"Size": 1024}
    )
    small = active_function(lam, "small-tmp", SOURCE, MemorySize=128, Timeout=60)
    # A variable the interpreter reads at start-up: exec'd by bwrap, not forked.
    execd = active_function(
        lam, "execd-tmp", SOURCE, MemorySize=128, Timeout=60, variables={"PYTHONHASHSEED": "1"}
    )

    for name in (big, execd):
        wrote = invoke_ok(server, name, {"op": "write", "mb": 300, "file": "model.bin"})
        assert wrote["error"] is None, name
        assert wrote["written_mb"] == 300
        # The environment's /tmp lasts across its invocations, on a disk of its own.
        seen = look(server, name)
        assert seen["files"] == ["model.bin"]
        assert seen["mode"] == "0o1777"
        root, point, options, fstype, source, _ = seen["mount"]
        assert (root, point, fstype) == ("/", "/tmp", "ext4")
        assert source.startswith("/dev/loop")
        assert {"nosuid", "nodev"} <= set(options.split(","))
    assert wrote["size_mb"] == 512  # the default EphemeralStorage

    full = invoke_ok(server, small, {"op": "write", "mb": 600, "file": "too-big"})
    assert full["error"] == "ENOSPC"
    assert full["size_mb"] == 512
    assert 480 <= full["written_mb"] < 512

    # A new environment (after a configuration change) starts with an empty /tmp.
    lam.update_function_configuration(FunctionName=big, Description="new environments")
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=big, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )
    assert look(server, big)["files"] == []

    # Once their environments are gone, their disks are: no namespace (a zygote's, a
    # spare sandbox's) keeps a copy mounted, holding its loop device and deleted image.
    for name in (big, small, execd):
        lam.delete_function(FunctionName=name)
    deadline = time.monotonic() + 10
    while deleted_images_attached(server.data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert deleted_images_attached(server.data_dir) == []

    data_dir = server.data_dir
    assert disk_mounts(data_dir)  # the spares
    assert server.stop() == 0
    assert disk_mounts(data_dir) == []
    assert os.listdir(data_dir / "tmp-disks") == []


def test_a_snapstart_restore_gets_a_disk_with_the_init_files(
    lambdad_factory: ServerFactory,
) -> None:
    server = lambdad_factory()
    lam = server.client("lambda")
    source = SOURCE + "\nopen('/tmp/from-init', 'w').write('init')\n"
    name = active_function(
        lam,
        "snap-tmp",
        source,
        MemorySize=128,
        Timeout=60,
        SnapStart={"ApplyOn": "PublishedVersions"},
    )
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier=version, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )

    out = lam.invoke(
        FunctionName=name,
        Qualifier=version,
        Payload=b'{"op": "write", "mb": 300, "file": "model.bin"}',
        LogType="Tail",
    )
    assert "FunctionError" not in out, out["Payload"].read()
    if os.environ.get("LAMBDAD_FAST_PATH", "1").strip().lower() in ("1", "true", "yes", "on"):
        # Restored from the version's snapshot (else an on-demand start, exec'd by bwrap).
        assert "\tRestore Duration: " in base64.b64decode(out["LogResult"]).decode()
    seen = look(server, name, version)
    assert seen["files"] == ["from-init", "model.bin"]
    assert seen["mount"][1:4:2] == ["/tmp", "ext4"]

    data_dir = server.data_dir
    assert server.stop() == 0
    assert disk_mounts(data_dir) == []


def test_a_server_that_died_leaves_disks_the_next_start_removes(
    lambdad_factory: ServerFactory,
) -> None:
    dying, bystander = lambdad_factory(), lambdad_factory()
    for server in (dying, bystander):
        name = active_function(server.client("lambda"), "keeps-tmp", SOURCE, MemorySize=128)
        invoke_ok(server, name, {"op": "write", "mb": 1, "file": "kept"})
    left = disk_mounts(dying.data_dir)
    assert left

    dying.kill()  # SIGKILL: no clean stop
    assert disk_mounts(dying.data_dir) == left

    again = lambdad_factory(data_dir=dying.data_dir)
    # The disks the dead server left are gone (the new one has its own), the other's kept.
    assert not points(left) & points(disk_mounts(again.data_dir))
    assert look(bystander, name)["files"] == ["kept"]


def test_the_operator_may_keep_tmp_in_memory(lambdad_factory: ServerFactory) -> None:
    server = lambdad_factory(env={"LAMBDAD_TMP_STORAGE": "memory"})
    name = active_function(server.client("lambda"), "memory-tmp", SOURCE, MemorySize=128)

    seen = look(server, name)

    assert seen["mount"][3] == "tmpfs"
    assert seen["mode"] == "0o1777"
    assert disk_mounts(server.data_dir) == []
    assert "/tmp in memory (tmpfs)" in server.stdout()
