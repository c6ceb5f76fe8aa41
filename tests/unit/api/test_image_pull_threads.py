"""A request that pulls a container image runs on the pulls' own threads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from lambdad.api.handlers.functions import FunctionHandlers
from lambdad.model.scope import Scope


class Functions:
    def create_function(self, scope: Scope, p: dict[str, Any]) -> dict[str, Any]:
        return {"FunctionName": p["FunctionName"]}

    def update_code(self, scope: Scope, p: dict[str, Any]) -> dict[str, Any]:
        return {"FunctionName": p["FunctionName"]}


class Ctx:
    scope = Scope("123456789012", "us-east-1")


def recorder(name: str, used: list[str]) -> Callable[..., Any]:
    async def offload(fn: Callable[..., Any], *args: Any) -> Any:
        used.append(name)
        return fn(*args)

    return offload


def test_image_requests_take_the_pull_threads() -> None:
    used: list[str] = []
    handlers = FunctionHandlers(
        Functions(),  # type: ignore[arg-type]
        recorder("io", used),
        lambda ctx: lambda digest: "",
        lambda config: [],
        offload_pull=recorder("pull", used),
    )
    ctx: Any = Ctx()

    async def calls() -> None:
        await handlers.create_function(ctx, {"FunctionName": "a", "PackageType": "Image"})
        await handlers.create_function(ctx, {"FunctionName": "b"})
        await handlers.update_code(ctx, {"FunctionName": "a", "ImageUri": "x"})
        await handlers.update_code(ctx, {"FunctionName": "b", "ZipFile": b""})

    asyncio.run(calls())
    assert used == ["pull", "io", "pull", "io"]
