"""Fakes shared by the unit and functional tiers (``tests`` is on ``pythonpath``).

Import with ``from fakes import ...``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lambdad.errors import ResourceNotFoundException
from lambdad.model.arn import LATEST
from lambdad.model.changes import ChangeHub, FunctionListener
from lambdad.model.scope import Scope
from lambdad.model.version import RunnableVersion

SCOPE = Scope("123456789012", "us-east-1")
CODE_SHA256_HEX = "ab" * 32


@dataclass
class FakeFunction:
    reserved: int | None = None
    dead_letter: str | None = None


class FakeFunctions:
    """What the invoke path asks of ``FunctionService``: ``resolve`` (a
    ``RunnableVersion``) and change listeners, over the functions a test ``add``s (any
    other name is not found; ``reserved`` is what a fake concurrency service reads).

    ``resolves`` counts the reads, and each version's ``revision_id`` is that count, so
    a test sees which read a cached version came from; ``during_resolve`` runs once,
    inside the next read (a change racing it).
    """

    def __init__(self) -> None:
        self.functions: dict[tuple[Scope, str], FakeFunction] = {}
        self.changes = ChangeHub()
        self.resolves = 0
        self.during_resolve: Callable[[], None] | None = None

    def add(
        self,
        name: str,
        reserved: int | None = None,
        dead_letter: str | None = None,
        scope: Scope = SCOPE,
    ) -> None:
        self.functions[(scope, name)] = FakeFunction(reserved, dead_letter)

    def remove(self, name: str, scope: Scope = SCOPE) -> None:
        """The function is deleted (without telling the listeners)."""
        del self.functions[(scope, name)]

    def on_change(self, listener: FunctionListener) -> None:
        self.changes.on_function_change(listener)

    def changed(self, scope: Scope, name: str, version: str | None) -> None:
        self.changes.function_changed(scope, name, version)

    def resolve(self, scope: Scope, name: str, qualifier: str | None) -> RunnableVersion:
        self.resolves += 1
        function = self.functions.get((scope, name))
        if function is None:
            raise ResourceNotFoundException(f"Function not found: {name}")
        if self.during_resolve is not None:
            hook, self.during_resolve = self.during_resolve, None
            hook()
        return RunnableVersion(
            scope,
            name,
            qualifier or LATEST,
            revision_id=str(self.resolves),
            code_sha256_hex=CODE_SHA256_HEX,
            dead_letter_arn=function.dead_letter,
        )
