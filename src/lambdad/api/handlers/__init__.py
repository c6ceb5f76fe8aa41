"""The Lambda REST operations, one module per resource.

Each handler takes the request context and the parameters the protocol layer parsed
and validated (the same dict a boto3 caller passed) and returns the operation's
output members, which the protocol layer serialises. Handlers get the services they
call through their constructors; ``api/routes.py`` names the handler of each
operation. This module holds what they share: the handler signature, ``Offload`` and ``CodeUrls``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from lambdad.api.context import RequestContext

T = TypeVar("T")

Params = dict[str, Any]
Output = dict[str, Any] | None
Handler = Callable[[RequestContext, Params], Awaitable[Output]]
# The request being served -> archive digest -> a presigned download URL for its caller.
CodeUrls = Callable[[RequestContext], Callable[[str], str]]


class Offload(Protocol):
    """Runs blocking work (archive checks, hashing, big writes) off the event loop."""

    async def __call__(self, fn: Callable[..., T], /, *args: Any) -> T: ...
