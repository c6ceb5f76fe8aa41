"""``seccomp.install`` in a forked child: the filter holds there, and only there."""

from __future__ import annotations

import ctypes
import errno
import os

import pytest

from lambdad.sandbox import seccomp

PROGRAM = seccomp.program()
pytestmark = pytest.mark.skipif(PROGRAM is None, reason="no seccomp filter for this machine")


def in_child(after_install: int) -> int:
    """Fork; the child installs the filter, runs one keyctl and exits with its errno."""
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            assert PROGRAM is not None
            seccomp.install(PROGRAM)
            libc = ctypes.CDLL(None, use_errno=True)
            keyctl = seccomp.ABIS[os.uname().machine].denied[2]
            code = 0 if libc.syscall(keyctl, after_install, 0, 0, 0, 0) >= 0 else ctypes.get_errno()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_installed_filter_refuses_the_keyring() -> None:
    assert in_child(0) == errno.EPERM  # keyctl(KEYCTL_GET_KEYRING_ID, ...)


def filters() -> str:
    with open("/proc/self/status") as f:
        return next(line for line in f if line.startswith("Seccomp_filters:"))


def test_the_parent_is_not_filtered() -> None:
    before = filters()
    in_child(0)
    assert filters() == before
