"""The fast path's rules and messages: which environments a zygote may fork, how a
zygote is started, and how a forked child's exit reads."""

from __future__ import annotations

import signal

import pytest

from lambdad.sandbox import zygote_wire

BASE = {"LANG": "en_US.UTF-8", "TZ": ":UTC", "_HANDLER": "app.handler"}


def test_an_ordinary_python_environment_is_forked() -> None:
    assert zygote_wire.refusal(BASE) is None


@pytest.mark.parametrize("name", ["PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"])
def test_startup_variables_the_zygote_reapplies_keep_the_fast_path(name: str) -> None:
    assert zygote_wire.refusal({**BASE, name: "1"}) is None


@pytest.mark.parametrize(
    "name", ["PYTHONHASHSEED", "PYTHONWARNINGS", "PYTHONOPTIMIZE", "PYTHONUTF8", "PYTHONHOME"]
)
def test_other_startup_variables_need_an_exec(name: str) -> None:
    assert (
        zygote_wire.refusal({**BASE, name: "1"}) == f"{name} is read by the interpreter at start-up"
    )


def test_variables_read_on_use_keep_the_fast_path() -> None:
    assert zygote_wire.refusal({**BASE, "PYTHONBREAKPOINT": "0"}) is None


@pytest.mark.parametrize(("name", "value"), [("LC_ALL", "C"), ("LC_CTYPE", "C"), ("LANG", "C")])
def test_another_locale_needs_an_exec(name: str, value: str) -> None:
    why = zygote_wire.refusal({**BASE, name: value})
    assert why is not None
    assert why.startswith(f"{name}=")


def test_zygote_command_line_has_the_length_of_the_one_it_will_show() -> None:
    shown = "/var/runtime/python/bootstrap.py"
    argv = zygote_wire.zygote_argv("/usr/bin/python3.12", shown)
    assert argv is not None
    assert argv[0] == "/usr/bin/python3.12"
    assert len(argv[1]) == len(shown)
    assert argv[1].startswith("./")
    assert argv[1].endswith("/zygote.py")


def test_no_zygote_command_line_shorter_than_its_script() -> None:
    assert zygote_wire.zygote_argv("/usr/bin/python3", "/x.py") is None


def test_process_spawn_request_carries_no_sandbox() -> None:
    doc = zygote_wire.spawn_request("7", sandboxed=False, cwd="/code")
    assert doc == {"op": "spawn", "id": "7", "mode": "process", "cwd": "/code"}


def test_sandbox_spawn_request_carries_plan_identity_and_filter() -> None:
    doc = zygote_wire.spawn_request(
        "8",
        sandboxed=True,
        cwd="/var/task",
        plan=[("dir", "/etc", "0755")],
        uid=1610612736,
        gid=1610612736,
        network="none",
        cgroup_join=["/sys/fs/cgroup/pids/x/tasks"],
        seccomp=b"\x06\x00\x00\x00\x00\x00\xff\x7f",
    )
    assert doc["mode"] == "sandbox"
    assert doc["plan"] == [["dir", "/etc", "0755"]]
    assert (doc["uid"], doc["gid"], doc["network"]) == (1610612736, 1610612736, "none")
    assert doc["cgroup_join"] == ["/sys/fs/cgroup/pids/x/tasks"]
    assert doc["seccomp"] == "BgAAAAAA/38="


def test_no_variables_go_through_the_zygote() -> None:
    # The function's variables (secrets) only ever go to the child itself.
    doc = zygote_wire.spawn_request("9", sandboxed=True, cwd="/var/task")
    assert "env" not in doc
    assert zygote_wire.runtime_message({"SECRET": "s"}, ["/b.py"], "/var/task") == {
        "env": {"SECRET": "s"},
        "argv": ["/b.py"],
        "cwd": "/var/task",
    }


def test_a_spare_runtime_learns_its_confinement_with_its_variables() -> None:
    doc = zygote_wire.runtime_message({}, ["/b.py"], "/var/task", {"uid": 7, "gid": 7})
    assert doc["confine"] == {"uid": 7, "gid": 7}


def test_a_spare_is_a_sandbox_without_an_owner() -> None:
    doc = zygote_wire.spawn_request("1", sandboxed=True, spare=True, cwd="/var/task")
    assert doc["mode"] == "spare"
    assert not {"uid", "gid", "cgroup_join", "seccomp"} & set(doc)


def test_messages_round_trip() -> None:
    doc = {"id": "1", "pid": 42}
    assert zygote_wire.decode(zygote_wire.encode(doc)) == doc


def test_a_message_is_an_object() -> None:
    with pytest.raises(ValueError, match="not a message"):
        zygote_wire.decode(b"[1, 2]")


@pytest.mark.parametrize(
    ("status", "sandboxed", "code"),
    [
        (3 << 8, False, 3),  # exited 3
        (int(signal.SIGKILL), False, -9),  # killed
        ((128 + 9) << 8, True, -9),  # the keeper reports its runtime's SIGKILL
        (int(signal.SIGKILL), True, -9),  # the keeper itself killed (OOM group, kill())
        (1 << 8, True, 1),
    ],
)
def test_exit_codes_read_as_wait_reports_them(status: int, sandboxed: bool, code: int) -> None:
    assert zygote_wire.exit_code(status, sandboxed=sandboxed) == code
