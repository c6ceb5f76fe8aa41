"""How a SnapStart restore gets its namespaces, with the real filters in forked children:
a template under the full filter cannot create a user namespace, but joins one that a
process left under the relaxed filter (its namespace factory's holder) made, and then
creates every other kind of namespace inside it (``runtimes/python/snapstart.py``)."""

from __future__ import annotations

import ctypes
import errno
import json
import os

import pytest

from lambdad.sandbox import seccomp
from lambdad.sandbox.seccomp import CLONE_NEWUSER

FULL = seccomp.program()
RELAXED = seccomp.program(user_namespaces=True)
pytestmark = [
    pytest.mark.skipif(FULL is None, reason="no seccomp filter for this machine"),
    pytest.mark.root,
]

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x20000000, 0x40000000
OTHERS = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET


def _errno(result: int) -> str:
    return "ok" if result == 0 else errno.errorcode[ctypes.get_errno()]


def _hold(ready_w: int, release_r: int) -> None:
    """The holder, under the relaxed filter: a new user namespace, kept until released."""
    libc = ctypes.CDLL(None, use_errno=True)
    made = _errno(libc.unshare(CLONE_NEWUSER))
    os.write(ready_w, json.dumps([made, os.getpid()]).encode())
    os.read(release_r, 1)


def _template(ready_r: int) -> dict[str, str]:
    """The template, under the full filter (on top of the relaxed one)."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert FULL is not None
    seccomp.install(FULL)
    result = {"unshare user": _errno(libc.unshare(CLONE_NEWUSER))}
    made, holder = json.loads(os.read(ready_r, 64))
    result["holder"] = made
    fd = os.open(f"/proc/{holder}/ns/user", os.O_RDONLY)
    result["setns user"] = _errno(libc.setns(fd, CLONE_NEWUSER))
    os.close(fd)
    result["unshare others"] = _errno(libc.unshare(OTHERS))
    result["then unshare user"] = _errno(libc.unshare(CLONE_NEWUSER))
    return result


def restore_steps() -> dict[str, str]:
    """A child under the relaxed filter forks the holder, then takes the full filter
    and tries each step: what each step answered."""
    out_r, out_w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(out_r)
            assert RELAXED is not None
            seccomp.install(RELAXED)
            ready_r, ready_w = os.pipe()
            release_r, release_w = os.pipe()
            holder = os.fork()
            if holder == 0:
                try:
                    for fd in (out_w, ready_r, release_w):
                        os.close(fd)
                    _hold(ready_w, release_r)
                finally:
                    os._exit(0)
            try:
                os.write(out_w, json.dumps(_template(ready_r)).encode())
            finally:
                os.close(release_w)
                os.waitpid(holder, 0)
        finally:
            os._exit(0)
    os.close(out_w)
    with os.fdopen(out_r, "rb") as f:
        data = f.read()
    os.waitpid(child, 0)
    result: dict[str, str] = json.loads(data)
    return result


def test_a_template_joins_the_factory_s_user_namespace_but_cannot_make_one() -> None:
    steps = restore_steps()

    if steps["holder"] != "ok":
        pytest.skip(f"this host refuses user namespaces: {steps['holder']}")
    assert steps == {
        "unshare user": "EPERM",
        "holder": "ok",
        "setns user": "ok",
        "unshare others": "ok",
        "then unshare user": "EPERM",
    }
