"""Resolved versions, cached for the warm path: no database round trip per invoke.

``FunctionService.resolve`` reads SQLite and decrypts the environment (AES-GCM) on
every call. ``ResolveCache`` keeps what it returned by (account, region, function,
qualifier) and forgets a function's entries whenever ``FunctionService.on_change``
says it changed (update, publish, delete, tags, policy revision). Change listeners may
run on a worker thread while the event loop resolves: a per-function generation makes
sure an entry read before a change is never stored after it.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from lambdad.control.functions import FunctionService
from lambdad.model.scope import Scope
from lambdad.model.version import RunnableVersion

FunctionKey = tuple[str, str, str]  # account, region, name


class ResolveCache:
    def __init__(self, functions: FunctionService, max_functions: int = 10_000) -> None:
        self.functions = functions
        self.max_functions = max_functions
        self._entries: dict[FunctionKey, dict[str | None, RunnableVersion]] = {}
        # The same entries as named by a caller: (version, qualifier named) -> version.
        self._named: dict[FunctionKey, dict[tuple[str | None, str | None], RunnableVersion]] = {}
        self._generation: dict[FunctionKey, int] = {}
        self._lock = threading.Lock()
        functions.on_change(self.forget)

    def resolve(self, scope: Scope, name: str, qualifier: str | None) -> RunnableVersion:
        """``FunctionService.resolve(scope, name, qualifier)`` for a plain function name."""
        key = (scope.account, scope.region, name)
        versions = self._entries.get(key)
        if versions is not None:
            rv = versions.get(qualifier)
            if rv is not None:
                return rv
        generation = self._generation.get(key, 0)
        rv = self.functions.resolve(scope, name, qualifier)
        with self._lock:
            if self._generation.get(key, 0) == generation:
                if key not in self._entries and len(self._entries) >= self.max_functions:
                    # Bounded: the oldest function's entries go (dicts keep insertion order).
                    oldest = next(iter(self._entries))
                    del self._entries[oldest]
                    self._named.pop(oldest, None)
                self._entries.setdefault(key, {})[qualifier] = rv
        return rv

    def resolve_as(
        self, scope: Scope, name: str, qualifier: str | None, invoked_as: str | None
    ) -> RunnableVersion:
        """``resolve()`` with ``invoked_as`` set to the qualifier the caller named (an alias
        resolves to one of its versions), without a copy per call."""
        key = (scope.account, scope.region, name)
        named = self._named.get(key)
        if named is not None:
            rv = named.get((qualifier, invoked_as))
            if rv is not None:
                return rv
        generation = self._generation.get(key, 0)
        rv = replace(self.resolve(scope, name, qualifier), invoked_as=invoked_as)
        with self._lock:
            # Only next to an entry of the same generation: forget() clears both.
            if self._generation.get(key, 0) == generation and key in self._entries:
                self._named.setdefault(key, {})[(qualifier, invoked_as)] = rv
        return rv

    def forget(self, scope: Scope, name: str, version: str | None) -> None:
        """A change listener: every qualifier of the function goes (an alias or an
        unqualified name may resolve to the version that changed)."""
        key = (scope.account, scope.region, name)
        with self._lock:
            self._generation[key] = self._generation.get(key, 0) + 1
            self._entries.pop(key, None)
            self._named.pop(key, None)

    def __len__(self) -> int:
        return sum(len(v) for v in self._entries.values())
