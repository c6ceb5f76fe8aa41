"""The resource limits AWS gives a function: 1,024 open files and no core dumps, hard
limits the function cannot raise; ``ulimit -n`` inside says 1024."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from e2e.helpers import LambdadServer, handler_zip
from e2e.sandboxes import require_full_isolation

require_full_isolation()

LIMITS = """
import resource, subprocess

def handler(event, context):
    out = {
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
        "core": resource.getrlimit(resource.RLIMIT_CORE),
        "ulimit": subprocess.run(["/bin/sh", "-c", "ulimit -n"], capture_output=True,
                                 text=True).stdout.strip(),
    }
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
        out["raised"] = True
    except (ValueError, OSError):
        out["raised"] = False
    return out
"""


def test_open_files_and_core_dumps_as_on_aws(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    name = new_function(handler_zip(LIMITS))["FunctionName"]
    out = lambdad.client("lambda").invoke(FunctionName=name)
    assert json.loads(out["Payload"].read()) == {
        "nofile": [1024, 1024],
        "core": [0, 0],
        "ulimit": "1024",
        "raised": False,
    }
