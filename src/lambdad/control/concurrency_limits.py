"""The concurrency limits the data plane enforces, as a cached in-memory view of the
configuration: every reservation and provisioned concurrency of an (account, region).

``ConcurrencyLimits`` answers the lease component (``function_concurrency``,
``account_concurrency``) and the async dispatcher (``reservations``) without reading
the database on an invocation: a view is built once and kept until the configuration
changes (``invalidate``, called by whoever changes it). ``RegionConcurrency`` is the
view of one (account, region), and the arithmetic of the unreserved pool the
configuration services check a change against.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from lambdad.config import Settings
from lambdad.model.scope import Scope
from lambdad.store.base import MetadataStore

# The kind of the provisioned concurrency configurations, children of their function.
PROVISIONED_KIND = "provisioned"

_NONE: dict[str, int] = {}


@dataclass(slots=True)
class RegionConcurrency:
    """The concurrency configuration of one (account, region)."""

    reserved: dict[str, int] = field(default_factory=dict)
    provisioned: dict[str, dict[str, int]] = field(default_factory=dict)
    # A view is replaced, never changed, once built: its totals are summed once (every
    # invoke's lease asks for them).
    _totals: tuple[int, int] | None = None

    def totals(self) -> tuple[int, int]:
        """(all reservations, provisioned concurrency of functions without one)."""
        if self._totals is None:
            unreserved_provisioned = sum(
                sum(p.values()) for name, p in self.provisioned.items() if name not in self.reserved
            )
            self._totals = (sum(self.reserved.values()), unreserved_provisioned)
        return self._totals

    def unreserved_pool(self, limit: int) -> int:
        reserved, provisioned = self.totals()
        return max(0, limit - reserved - provisioned)


class ConcurrencyLimits:
    def __init__(self, settings: Settings, store: MetadataStore) -> None:
        self.settings = settings
        self.store = store
        self._regions: dict[tuple[str, str], RegionConcurrency] = {}
        # Every reservation, by (account, region, name): None until asked after a change.
        self._reservations: Mapping[tuple[str, str, str], int] | None = None
        # Bumped by every change, so a view built while one happened is not kept.
        self._generation = 0
        self._lock = threading.Lock()

    def region(self, scope: Scope) -> RegionConcurrency:
        """The configuration of ``scope``'s (account, region), built if not cached."""
        key = (scope.account, scope.region)
        with self._lock:
            region = self._regions.get(key)
        if region is not None:
            return region
        region = RegionConcurrency()
        for account, region_name, name, fdoc in self.store.iter_all_functions():
            if (account, region_name) != key:
                continue
            if fdoc.get("ReservedConcurrency") is not None:
                region.reserved[name] = int(fdoc["ReservedConcurrency"])
            configs = self.store.list_children(PROVISIONED_KIND, account, region_name, name)
            if configs:
                region.provisioned[name] = {q: int(d["Requested"]) for q, d in configs}
        with self._lock:
            self._regions[key] = region
        return region

    def invalidate(self, scope: Scope) -> None:
        """Forget the view of ``scope``'s (account, region): its configuration changed."""
        with self._lock:
            self._regions.pop((scope.account, scope.region), None)
            self._reservations = None
            self._generation += 1

    def reservations(self) -> Mapping[tuple[str, str, str], int]:
        """Every function's reserved concurrency, by (account, region, name): what the
        async dispatcher claims each function's events up to."""
        with self._lock:
            cached, generation = self._reservations, self._generation
        if cached is not None:
            return cached
        built = {
            (account, region, name): int(fdoc["ReservedConcurrency"])
            for account, region, name, fdoc in self.store.iter_all_functions()
            if fdoc.get("ReservedConcurrency") is not None
        }
        with self._lock:
            if self._generation == generation:
                self._reservations = built
        return built

    def function_concurrency(
        self, account: str, region: str, name: str
    ) -> tuple[int | None, dict[str, int]]:
        """(reserved concurrency or None, qualifier -> provisioned concurrency)."""
        view = self.region(Scope(account, region))
        provisioned = view.provisioned.get(name)
        # The view is never changed once built: its dicts can be handed out as they are.
        return view.reserved.get(name), provisioned if provisioned is not None else _NONE

    def account_concurrency(self, account: str, region: str) -> tuple[int, int, int]:
        """(account limit, all reservations, provisioned concurrency of functions without)."""
        reserved, provisioned = self.region(Scope(account, region)).totals()
        return self.settings.account_concurrency, reserved, provisioned

    def unreserved(self, scope: Scope) -> int:
        """GetAccountSettings' UnreservedConcurrentExecutions."""
        return self.region(scope).unreserved_pool(self.settings.account_concurrency)
