"""What a function asks for that the host cannot honour (a runtime table with no I/O)."""

from __future__ import annotations

from pathlib import Path

from lambdad.runtimes.host_support import Shortfall, host_limits, shortfalls
from lambdad.runtimes.table import RuntimeTable


def table(pythons: dict[str, str], node: int | None = None) -> RuntimeTable:
    t = RuntimeTable(search_path="", pyenv_root=Path("/nonexistent"))
    # The discovered interpreters, as the cached properties would hold them.
    t.__dict__["pythons"] = {v: Path(p) for v, p in pythons.items()}
    t.__dict__["node"] = (Path("/usr/bin/node"), node) if node else None
    return t


PY312 = table({"3.12": "/usr/bin/python3.12"})


def settings(found: list[Shortfall]) -> list[tuple[str, bool]]:
    return [(s.setting, s.blocking) for s in found]


def test_a_function_this_host_runs_as_asked_has_no_shortfall() -> None:
    config = {"Runtime": "python3.12", "Architectures": ["x86_64"], "VpcConfig": {}}
    assert shortfalls(config, PY312, "x86_64") == []
    assert shortfalls({"Runtime": "provided.al2023"}, PY312, "x86_64") == []


def test_a_runtime_with_no_interpreter_blocks_and_says_what_runs_here() -> None:
    [java] = shortfalls({"Runtime": "java21"}, PY312, "x86_64")
    assert java.blocking
    assert "python3.x, nodejs*.x, provided.al2, provided.al2023" in java.message
    [node] = shortfalls({"Runtime": "nodejs22.x"}, PY312, "x86_64")
    assert node.blocking
    assert "install nodejs" in node.message
    [python] = shortfalls({"Runtime": "python3.12"}, table({}), "x86_64")
    assert python.blocking
    assert "install CPython 3.12" in python.message


def test_a_stand_in_interpreter_is_a_shortfall_that_runs() -> None:
    [stand_in] = shortfalls({"Runtime": "python3.13"}, PY312, "x86_64")
    assert not stand_in.blocking
    assert stand_in.message.startswith("Python 3.13 is not installed on this host")


def test_settings_that_are_accepted_but_not_honoured() -> None:
    config = {
        "Runtime": "python3.12",
        "Architectures": ["arm64"],
        "VpcConfig": {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"], "VpcId": "v"},
        "FileSystemConfigs": [{"Arn": "arn:fs", "LocalMountPath": "/mnt/data"}],
    }
    found = shortfalls(config, PY312, "x86_64")
    assert settings(found) == [
        ("Architectures", False),
        ("VpcConfig", False),
        ("FileSystemConfigs", False),
    ]
    assert "/mnt/data will not exist" in found[2].message
    # What GetFunctionConfiguration answers for a function without a VPC.
    empty_vpc = {"Runtime": "python3.12", "VpcConfig": {"SubnetIds": [], "SecurityGroupIds": []}}
    assert shortfalls(empty_vpc, PY312, "x86_64") == []
    assert settings(shortfalls({"Runtime": "python3.12"}, PY312, "arm64")) == [
        ("Architectures", False)
    ]


def test_doctor_notes_name_the_other_architecture() -> None:
    assert "Architectures arm64 run as x86_64" in host_limits("x86_64")[0]
    assert "Architectures x86_64 run as arm64" in host_limits("arm64")[0]
