"""An account's limits and usage in a region: ``GetAccountSettings``.

Usage is counted over the store (functions, and the code size of every function
version and every layer version, as AWS counts it);
the limits are the server's settings. ``UnreservedConcurrentExecutions`` here is the
limit less every reservation; the API handler answers the concurrency service's figure,
which takes provisioned concurrency out of the pool too.
"""

from __future__ import annotations

from typing import Any

from lambdad.config import Settings
from lambdad.control.layer_refs import INDEX_KIND, INDEX_NAME, KIND, LayerRef
from lambdad.model.scope import Scope
from lambdad.store.base import MetadataStore


class AccountSettings:
    def __init__(self, settings: Settings, store: MetadataStore) -> None:
        self.settings = settings
        self.store = store

    def get(self, scope: Scope) -> dict[str, Any]:
        count = 0
        total = 0
        reserved = 0
        for account, region, name, fdoc in self.store.iter_all_functions():
            if account != scope.account or region != scope.region:
                continue
            count += 1
            reserved += int(fdoc.get("ReservedConcurrency") or 0)
            for _, doc in self.store.list_versions(account, region, name):
                total += int(doc.get("CodeSize", 0))
        total += self._layer_code_size(scope)
        limit = self.settings.account_concurrency
        return {
            "AccountLimit": {
                "TotalCodeSize": self.settings.code_storage_limit,
                "CodeSizeUnzipped": self.settings.max_unzipped_bytes,
                "CodeSizeZipped": self.settings.max_zipped_bytes,
                "ConcurrentExecutions": limit,
                "UnreservedConcurrentExecutions": limit - reserved,
            },
            "AccountUsage": {"TotalCodeSize": total, "FunctionCount": count},
        }

    def _layer_code_size(self, scope: Scope) -> int:
        total = 0
        for name, _ in self.store.list_children(
            INDEX_KIND, scope.account, scope.region, INDEX_NAME
        ):
            ref = LayerRef(scope.account, scope.region, name)
            rows = self.store.list_children(KIND, ref.account, ref.region, ref.store_name)
            total += sum(int(doc.get("CodeSize", 0)) for _, doc in rows)
        return total
