"""lambdad's own debugger endpoint: ``lambdad dev --debug NAME`` turns it on and off.

- ``PUT /_lambdad/debug/NAME`` with ``{"Port": p}``: the function's new environments
  start under a debugger (debugpy for Python, the inspector for Node.js) listening on
  the host's 127.0.0.1:p, waiting for it to attach before the handler's code loads, with
  no timeout; its running environments are retired.
- ``DELETE /_lambdad/debug/NAME``: back to normal environments.

Signed for lambda by the function's account, like the Lambda API.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from lambdad.api.context import RequestContext
from lambdad.control.functions import FunctionService
from lambdad.errors import InvalidParameterValueException, UnknownOperationException
from lambdad.model.scope import Scope

PREFIX = "/_lambdad/debug/"

Answer = tuple[int, dict[str, str], bytes]


class DebugTargets(Protocol):
    def debug(self, scope: Scope, name: str, port: int | None) -> None: ...


class DebugApi:
    action = "lambdad:Debug"

    def __init__(self, functions: FunctionService, targets: DebugTargets) -> None:
        self.functions = functions
        self.targets = targets

    def answers(self, path: str) -> bool:
        return path.startswith(PREFIX)

    def respond(self, ctx: RequestContext, method: str, path: str, body: bytes) -> Answer:
        scope = ctx.scope
        ref = self.functions.function_ref(scope, path[len(PREFIX) :])
        self.functions.function_doc(scope, ref.name)  # ResourceNotFoundException
        if method == "DELETE":
            self.targets.debug(scope, ref.name, None)
            return 204, {}, b""
        if method != "PUT":
            raise UnknownOperationException(f"Unknown operation: {method} {path}")
        port = _port(body)
        self.targets.debug(scope, ref.name, port)
        out: dict[str, Any] = {"FunctionName": ref.name, "Port": port}
        return 200, {}, json.dumps(out).encode()


def _port(body: bytes) -> int:
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        raise InvalidParameterValueException("The request body is not valid JSON.") from None
    port = doc.get("Port") if isinstance(doc, dict) else None
    if not isinstance(port, int) or isinstance(port, bool) or not 1024 <= port <= 65535:
        raise InvalidParameterValueException("Port must be a number from 1024 to 65535.")
    return port
