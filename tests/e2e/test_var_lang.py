"""What a function sees of its interpreter and memory, as on AWS: the interpreter at
``/var/lang`` (``sys.executable``, tracebacks, ``python3`` on ``PATH``), AWS's ``PATH``
and ``LD_LIBRARY_PATH``, and a REPORT whose Max Memory Used counts the interpreter, on
the zygote path and the exec path alike."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from e2e.helpers import LambdadServer, handler_zip, make_zip
from e2e.sandboxes import require_full_isolation

require_full_isolation()

SOURCE = """
import json, os, subprocess, sys, traceback

def handler(event, context):
    try:
        json.loads("{")
    except ValueError:
        trace = traceback.format_exc()
    child = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"],
                           capture_output=True, text=True)
    return {
        "executable": sys.executable,
        "prefix": sys.prefix,
        "trace": trace,
        "path": os.environ["PATH"],
        "ld_library_path": os.environ["LD_LIBRARY_PATH"],
        "python3": child.stdout.strip() or child.stderr,
        "meminfo": open("/proc/meminfo").read(),
        "free": subprocess.run(["free", "-m"], capture_output=True, text=True).stdout,
    }
"""
AWS_PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
AWS_LD_LIBRARY_PATH = (
    "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
)
MEMORY = 384
# What a reader of /proc/meminfo learns of how much memory there is: the configured
# memory, no swap, no page cache (the host's own figures do not show).
EXPECTED_MEMINFO = {
    **{n: f"{MEMORY * 1024} kB" for n in ("MemTotal", "MemFree", "MemAvailable", "CommitLimit")},
    **{n: "0 kB" for n in ("SwapTotal", "SwapFree", "Cached", "Buffers", "Slab")},
}


def _meminfo(text: str) -> dict[str, str]:
    fields = (line.partition(":") for line in text.splitlines())
    return {name: value.strip() for name, _, value in fields if name in EXPECTED_MEMINFO}


# LC_ALL sends the Python runtime down the exec path; without, it is forked.
PATHS = {"zygote": {}, "exec": {"LC_ALL": "C.UTF-8"}}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_the_interpreter_is_at_var_lang(
    path: str, lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    env = {"Variables": PATHS[path] or {"MODE": path}}
    name = new_function(handler_zip(SOURCE), Environment=env, MemorySize=MEMORY)["FunctionName"]
    out = lambdad.client("lambda").invoke(FunctionName=name, LogType="Tail")
    seen = json.loads(out["Payload"].read())
    log = base64.b64decode(out["LogResult"]).decode()
    assert "executable" in seen, (seen, log)
    assert re.fullmatch(r"/var/lang/bin/python3\.\d+", seen["executable"]), seen
    assert seen["prefix"] == "/var/lang"
    frames = re.findall(r'File "([^"]+)"', seen["trace"])
    assert frames[0] == "/var/task/app.py"
    assert frames[-1].startswith("/var/lang/lib/python3."), frames
    assert seen["path"] == AWS_PATH
    assert seen["ld_library_path"] == AWS_LD_LIBRARY_PATH
    assert seen["python3"].startswith("/var/lang/bin/python3"), seen["python3"]
    # /proc/meminfo is the configured memory's (a snapshot at start), not the host's.
    assert _meminfo(seen["meminfo"]) == EXPECTED_MEMINFO, seen["meminfo"]
    mem = seen["free"].splitlines()[1].split()
    assert mem[0] == "Mem:", seen["free"]
    assert mem[1] == str(MEMORY), seen["free"]
    used = int(re.search(r"Max Memory Used: (\d+) MB", log).group(1))  # type: ignore[union-attr]
    # The interpreter counts, as in a microVM (its peak resident size: 16 MB on CPython
    # 3.12 here), not the few MB a fork adds to its zygote.
    assert used >= 12, log


def test_a_failed_init_reports_the_memory_it_used(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    name = new_function(handler_zip("import json\nraise RuntimeError('no')\n"))["FunctionName"]
    out = lambdad.client("lambda").invoke(FunctionName=name, LogType="Tail")
    assert out["FunctionError"] == "Unhandled"
    log = base64.b64decode(out["LogResult"]).decode()
    used = int(re.search(r"Max Memory Used: (\d+) MB", log).group(1))  # type: ignore[union-attr]
    assert used >= 12, log


NODE_SOURCE = """
exports.handler = async () => ({
  execPath: process.execPath,
  path: process.env.PATH,
  totalmem: require("os").totalmem(),
  freemem: require("os").freemem(),
  mounts: require("fs").readFileSync("/proc/self/mountinfo", "utf8"),
});
"""


def test_node_runs_from_var_lang(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    code = make_zip({"index.js": NODE_SOURCE})
    fn = new_function(code, Runtime="nodejs20.x", Handler="index.handler", MemorySize=MEMORY)[
        "FunctionName"
    ]
    seen = json.loads(lambdad.client("lambda").invoke(FunctionName=fn)["Payload"].read())
    assert seen["execPath"] == "/var/lang/bin/node", seen
    assert seen["path"] == AWS_PATH
    assert str(lambdad.data_dir) not in seen["mounts"]
    assert seen["totalmem"] == seen["freemem"] == MEMORY << 20, seen
