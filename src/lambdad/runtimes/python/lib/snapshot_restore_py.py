"""Runtime hooks for SnapStart, as AWS's Python runtimes provide them.

``register_before_snapshot(func, *args, **kwargs)`` runs ``func`` once the init is
done, before the snapshot is taken (hooks run in the reverse order of their
registration); ``register_after_restore(func, *args, **kwargs)`` runs it in every
environment restored from the snapshot, before its first invocation (in order). Both
return ``func``, so they work as decorators too. An exception in a before-snapshot
hook fails the snapshot (the version's state becomes Failed); in an after-restore
hook, it fails the restore (the invocation answers SnapStartException).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Hook = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]

_before_snapshot: list[Hook] = []
_after_restore: list[Hook] = []


def register_before_snapshot(
    func: Callable[..., Any], *args: Any, **kwargs: Any
) -> Callable[..., Any]:
    _before_snapshot.append((func, args, kwargs))
    return func


def register_after_restore(
    func: Callable[..., Any], *args: Any, **kwargs: Any
) -> Callable[..., Any]:
    _after_restore.append((func, args, kwargs))
    return func


def get_before_snapshot() -> list[Hook]:
    return _before_snapshot


def get_after_restore() -> list[Hook]:
    return _after_restore
