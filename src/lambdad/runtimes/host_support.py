"""What a function asks for that this host cannot honour, said where the user looks.

The control plane stays AWS-exact: a ``java21`` function, an ``arm64`` one on an
x86_64 host, a ``VpcConfig`` or ``FileSystemConfigs`` are all accepted, as tools and
tests expect. But nothing degrades silently: each shortfall found here is logged by
the server when the function is created or changed, written to the function's init
log, marked by ``lambdad ls`` and summed up by ``lambdad doctor``. A *blocking*
shortfall means invocations fail (the runtime cannot start here); the others mean
the function runs without what the setting asks.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdad.runtimes.table import RuntimeTable, RuntimeUnavailable

# platform.machine() spellings -> Lambda's architecture names.
_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True, slots=True)
class Shortfall:
    setting: str  # the function configuration member: Runtime, Architectures, ...
    message: str  # what happens here, and what to do about it
    blocking: bool = False  # invocations fail


def host_architecture() -> str:
    machine = platform.machine().lower()
    return _ARCHITECTURES.get(machine, machine)


def setting_shortfalls(config: Mapping[str, Any], architecture: str) -> list[Shortfall]:
    """Shortfalls of the configuration's settings other than its runtime."""
    out = []
    wanted = (config.get("Architectures") or ["x86_64"])[0]
    if wanted != architecture:
        out.append(
            Shortfall(
                "Architectures",
                f"Architectures {wanted}: this host is {architecture}, so the function runs "
                f"as {architecture} code; native code built for {wanted} will not load "
                f"(run lambdad on an {wanted} host for that)",
            )
        )
    vpc = config.get("VpcConfig") or {}
    if vpc.get("SubnetIds"):
        out.append(
            Shortfall(
                "VpcConfig",
                "VpcConfig: lambdad attaches no VPC; the function reaches the network as "
                "lambdad's network setting allows (LAMBDAD_NETWORK)",
            )
        )
    for fs in config.get("FileSystemConfigs") or []:
        out.append(
            Shortfall(
                "FileSystemConfigs",
                f"FileSystemConfigs: lambdad mounts no EFS file system; "
                f"{fs.get('LocalMountPath', 'its mount path')} will not exist in the function",
            )
        )
    return out


def runtime_shortfall(runtime: str | None, runtimes: RuntimeTable) -> Shortfall | None:
    if not runtime:
        return None
    try:
        notice = runtimes.launch(runtime).notice
    except RuntimeUnavailable as exc:
        return Shortfall("Runtime", str(exc), blocking=True)
    return Shortfall("Runtime", notice.removeprefix("lambdad: ")) if notice else None


def shortfalls(
    config: Mapping[str, Any], runtimes: RuntimeTable, architecture: str
) -> list[Shortfall]:
    """Everything in ``config`` (a FunctionConfiguration) this host cannot honour."""
    found = runtime_shortfall(config.get("Runtime"), runtimes)
    return ([found] if found else []) + setting_shortfalls(config, architecture)


def host_limits(architecture: str) -> list[str]:
    """What ``lambdad doctor`` says of settings no host of lambdad honours fully."""
    other = "arm64" if architecture == "x86_64" else "x86_64"
    return [
        f"architecture {architecture}: functions with Architectures {other} run as "
        f"{architecture} code (native code built for {other} will not load)",
        "runtimes java*, dotnet*, ruby*, go1.x: functions are created, invokes fail "
        "(lambdad runs python3.x, nodejs*.x and provided.*; ls marks them 'cannot run')",
        "VpcConfig, FileSystemConfigs: accepted, not honoured (no VPC, no EFS mount); "
        "the function's init log and `lambdad ls` say so",
    ]
