"""Where API Gateway's APIs are kept: one document per API in the metadata store.

An HTTP API (kind ``apigw-http``) and a REST API (kind ``apigw-rest``) are each one
document holding the API and its parts (routes, integrations, stages, deployments;
resources with their methods), keyed by the API id under the name ``apigw:<kind>``
of the owner's (account, region): a colon never appears in a function name, so
deleting a function never touches them. An API has at most a few hundred parts, so
one document read and written whole is simpler than a row per part, and a change is
atomic. ``edit`` serialises the read-modify-write of the control operations (they
run on worker threads); ``generation`` grows with every write, so the door knows
that what it compiled of an API is stale.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from lambdad.errors import NotFoundException
from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore

HTTP: Final = "apigw-http"
REST: Final = "apigw-rest"
ID_FIELD: Final = "ApiId"


@dataclass(frozen=True, slots=True)
class Found:
    """An API found by its id alone (what the door knows): its kind, owner and document.

    ``routes`` keeps what ``dispatch`` derives from the document per stage (its parsed
    routes), for as long as the door keeps this Found: until the API changes."""

    kind: str
    scope: Scope
    doc: Doc
    routes: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


class ApiStore:
    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        self.generation = 0
        self._lock = threading.Lock()

    def get(self, kind: str, scope: Scope, api_id: str) -> Doc:
        """The API's document; ``NotFoundException`` as API Gateway words it."""
        doc = self.store.get_child(kind, scope.account, scope.region, f"apigw:{kind}", api_id)
        if doc is None:
            raise NotFoundException(
                f"Invalid API identifier specified {scope.account}:{api_id}",
                **({"ResourceType": "Api"} if kind == HTTP else {}),
            )
        return doc

    def list(self, kind: str, scope: Scope) -> list[Doc]:
        rows = self.store.list_children(kind, scope.account, scope.region, f"apigw:{kind}")
        return [doc for _, doc in rows]

    def create(self, kind: str, scope: Scope, doc: Doc) -> None:
        with self._lock:
            self._put(kind, scope, doc)

    @contextmanager
    def edit(self, kind: str, scope: Scope, api_id: str) -> Iterator[Doc]:
        """The API's document to change in place; written back when the block ends
        without an error."""
        with self._lock:
            doc = self.get(kind, scope, api_id)
            yield doc
            self._put(kind, scope, doc)

    def delete(self, kind: str, scope: Scope, api_id: str) -> None:
        with self._lock:
            self.get(kind, scope, api_id)
            self.store.delete_child(kind, scope.account, scope.region, f"apigw:{kind}", api_id)
            self.generation += 1

    def find(self, api_id: str) -> Found | None:
        """The API with this id, whoever owns it (ids are unique across accounts)."""
        for kind in (HTTP, REST):
            for account, region, _, _, doc in self.store.find_children(kind, ID_FIELD, api_id):
                return Found(kind, Scope(account, region), doc)
        return None

    def _put(self, kind: str, scope: Scope, doc: Doc) -> None:
        name = f"apigw:{kind}"
        self.store.put_child(kind, scope.account, scope.region, name, doc[ID_FIELD], doc)
        self.generation += 1
