"""What the function URL door looks up per request, kept between requests.

Without it every URL request reads SQLite twice: the URL's config by its id, and the
resource policy that decides who may call it. ``UrlCache`` remembers both answers
(``None`` too: an unknown URL id stays unknown until a URL is created) and forgets
them all whenever the control plane says a function, an alias, a policy or a URL
changed (``model.changes.ChangeHub``). Such changes are rare next to requests, so
forgetting everything is simpler than tracking which entry depends on what, and as
correct. Change listeners run on the publisher's thread while the event loop reads:
as in ``invoke.cache.ResolveCache``, a generation makes sure an answer read before a
change is never stored after it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

from lambdad.model import function_url as furl
from lambdad.model.changes import ChangeHub
from lambdad.model.scope import Scope

T = TypeVar("T")
_MISSING = object()


class UrlCache:
    def __init__(self, changes: ChangeHub, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: dict[Hashable, object] = {}
        self._generation = 0
        self._lock = threading.Lock()
        changes.on_function_change(self._forget)
        changes.on_alias_change(self._forget)
        changes.on_policy_change(self._forget)
        changes.on_url_change(self._forget)

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The remembered answer for ``key``, else ``compute()``'s, remembered."""
        found = self._entries.get(key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        generation = self._generation
        value = compute()
        with self._lock:
            if self._generation == generation:
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()  # bounded: a flood of unknown ids starts over
                self._entries[key] = value
        return value

    def _forget(self, scope: Scope, name: str, qualifier: str | None) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class CachedUrlConfigs:
    """A URL's config by its id (``read``: the URL service's ``config_for``), through the
    cache."""

    def __init__(self, read: Callable[[str], furl.UrlConfig | None], cache: UrlCache) -> None:
        self.read = read
        self.cache = cache

    def config_for(self, url_id: str) -> furl.UrlConfig | None:
        return self.cache.get(("config", url_id), lambda: self.read(url_id))
