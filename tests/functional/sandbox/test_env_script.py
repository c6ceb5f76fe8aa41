"""The last, unprivileged stage of a bwrap sandbox applies exactly the function's
variables, whatever bytes they hold."""

from __future__ import annotations

import os
import subprocess

import pytest

from lambdad.errors import SandboxError
from lambdad.sandbox.bwrap_plan import APPLY_ENV, PRIVILEGED_ENV, env_script


def applied(env: dict[str, str]) -> dict[str, str]:
    fd = os.memfd_create("env")
    try:
        os.write(fd, env_script(env))
        os.lseek(fd, 0, os.SEEK_SET)
        out = subprocess.run(
            ["/bin/sh", "-c", APPLY_ENV, "sh", "/usr/bin/env", "-0"],
            stdin=fd,
            env=PRIVILEGED_ENV,
            capture_output=True,
            check=True,
        ).stdout
    finally:
        os.close(fd)
    return dict(item.split("=", 1) for item in out.decode().split("\0") if item)


def test_values_reach_the_runtime_byte_for_byte() -> None:
    env = {
        "QUOTES": "it's \"quoted\" 'twice'",
        "SHELL_SYNTAX": "$(id) `id` ${HOME} ; exit 1 \\ |",
        "LINES": "one\ntwo\n",
        "UNICODE": "zürich ☃",
        "EMPTY": "",
        "LD_PRELOAD": "/var/task/lib.so",
        "_HANDLER": "app.handler",
    }

    assert applied(env) == env  # and nothing else: not even the stages' PATH or LANG


def test_a_name_the_shell_would_read_as_code_is_refused() -> None:
    with pytest.raises(SandboxError, match="cannot pass the variable"):
        env_script({"A=B; id": "x"})
