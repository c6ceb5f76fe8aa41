"""The zygote fast path's rules and wire format, as pure functions.

- ``refusal``: whether an environment can be forked from a zygote at all. A forked
  runtime must be indistinguishable from an exec'd one, so variables the interpreter
  reads at start-up (``PYTHON*``, the locale) must be ones the zygote can honour.
- ``zygote_argv`` / ``zygote_environment``: how a zygote is started, so that every
  child's ``/proc/<pid>/cmdline`` reads as an exec'd runtime's would.
- ``spawn_request`` / ``encode`` / ``decode``: the JSON messages (see
  ``runtimes/python/zygote.py`` for the protocol).
- ``exit_code``: a child's wait status as ``Sandbox.wait()`` reports it.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from lambdad.runtimes.table import DEBUG_PORT_VARIABLE

ZYGOTE_SCRIPT = "zygote.py"
# Read by CPython at start-up; the zygote re-applies these in each child.
EMULATED = frozenset({"PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"})
# Read only later, on use, so a forked runtime honours them like an exec'd one.
READ_ON_USE = frozenset({"PYTHONBREAKPOINT", "PYTHONSTARTUP", "PYTHONASYNCIODEBUG"})
LOCALE = ("LANG", "LC_ALL", "LC_CTYPE")
# What a zygote starts with: the locale every environment has (pool.py sets LANG), so
# that the interpreter sets up its encodings as it would for an exec'd runtime.
ZYGOTE_ENV = {"LANG": "en_US.UTF-8", "TZ": ":UTC", "PATH": "/usr/local/bin:/usr/bin/:/bin"}


def refusal(env: Mapping[str, str]) -> str | None:
    """Why a runtime with these variables must be exec'd (None: it can be forked)."""
    if DEBUG_PORT_VARIABLE in env:
        return "a debugger is attached"
    for name in sorted(env):
        if name.startswith("PYTHON") and name not in EMULATED and name not in READ_ON_USE:
            return f"{name} is read by the interpreter at start-up"
    for name in LOCALE:
        if env.get(name) != ZYGOTE_ENV.get(name):
            return f"{name}={env.get(name)!r} differs from the zygote's locale"
    return None


def zygote_argv(interpreter: str, shown_script: str) -> list[str] | None:
    """argv of a zygote whose command line can be rewritten in place to
    ``interpreter shown_script`` (same length), or None if ``shown_script`` is too short.

    The script is ``zygote.py`` relative to the zygote's working directory, padded with
    slashes (``./////zygote.py``) to the length of ``shown_script``.
    """
    pad = len(shown_script) - len(ZYGOTE_SCRIPT) - 1
    if pad < 1:
        return None
    return [interpreter, "." + "/" * pad + ZYGOTE_SCRIPT]


def zygote_config(
    interpreter: str, bootstrap: str, shown_as: str, env: Mapping[str, str]
) -> dict[str, Any]:
    """The first message a zygote reads (on its stdin)."""
    return {
        "argv0": interpreter,
        "bootstrap": bootstrap,
        "bootstrap_as": shown_as,
        "env_keys": sorted(env),
    }


def spawn_request(
    request_id: str,
    *,
    sandboxed: bool,
    spare: bool = False,
    cwd: str,
    plan: Sequence[Sequence[Any]] = (),
    uid: int = 0,
    gid: int = 0,
    network: str = "isolated",
    cgroup_join: Sequence[str] = (),
    hostname: str = "localhost",
    seccomp: bytes | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "op": "spawn",
        "id": request_id,
        "mode": ("spare" if spare else "sandbox") if sandboxed else "process",
        "cwd": cwd,
    }
    if sandboxed:
        doc.update(
            plan=[list(step) for step in plan],
            network=network,
            hostname=hostname,
            root_size="1m",
        )
    if sandboxed and not spare:
        # A spare learns whose it is (cgroups, uid, filter) when it is assigned.
        doc.update(uid=uid, gid=gid, cgroup_join=list(cgroup_join))
        if seccomp:
            doc["seccomp"] = b64(seccomp)
    return doc


def runtime_message(
    env: Mapping[str, str],
    argv: Sequence[str],
    cwd: str,
    confinement: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What the new runtime receives before it may start: its variables, argv and cwd,
    and (a spare's runtime, parked before it was anyone's) its uid and filter."""
    doc: dict[str, Any] = {"env": dict(env), "argv": list(argv), "cwd": cwd}
    if confinement is not None:
        doc["confine"] = dict(confinement)
    return doc


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def encode(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def decode(data: bytes) -> dict[str, Any]:
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise ValueError(f"not a message: {data[:80]!r}")
    return doc


def exit_code(status: int, *, sandboxed: bool) -> int:
    """``>= 0`` an exit code, ``< 0`` a signal. A sandbox's keeper exits with 128 + the
    signal that killed the runtime (as bwrap's init does)."""
    code = os.waitstatus_to_exitcode(status)
    if sandboxed and code > 128:
        code = -(code - 128)
    return code
