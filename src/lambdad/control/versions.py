"""A function's published versions: publishing, listing, and the snapshot state of
SnapStart versions.

``FunctionService`` answers the API operations and hands this its look-ups and
rendering (``FunctionLookups``: the public methods it needs, so this module does not
import ``functions.py``, which imports it). A version is
$LATEST frozen: publishing again with nothing changed returns the last version. A
version published while ``SnapStart.ApplyOn`` is ``PublishedVersions`` starts
``Pending``; SnapStart's jobs, told on the ``ChangeHub`` (``snapshot_requested``),
take its snapshot and report with ``finish_snapshot``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Protocol

from lambdad.control.paging import LIST_PAGE_MAX, decode_marker, encode_marker
from lambdad.errors import InvalidParameterValueException
from lambdad.model import function as fmodel
from lambdad.model import snapstart
from lambdad.model.arn import LATEST, FunctionRef
from lambdad.model.changes import ChangeHub
from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore

log = logging.getLogger(__name__)

# What may differ between $LATEST and the version published from it when nothing
# that matters changed since.
_NOT_CONTENT = frozenset(
    {
        "LastModified",
        "RevisionId",
        "_published_from",
        "Description",
        # The sealed environment differs on every seal (random nonce): compared unsealed.
        "_env",
        "_unzipped",
        "_layers_unzipped",
        "_latest_description",
        # A SnapStart version's state is its snapshot's.
        "State",
        "StateReason",
        "StateReasonCode",
    }
)


class FunctionLookups(Protocol):
    """What publishing and listing versions need of ``FunctionService``."""

    store: MetadataStore

    def function_ref(
        self, scope: Scope, function_name: str, field: str = "functionName"
    ) -> FunctionRef: ...

    def function_doc(self, scope: Scope, name: str) -> Doc: ...

    def latest_for_update(
        self, scope: Scope, function_name: str, revision_id: str | None
    ) -> tuple[str, Doc]: ...

    def render(
        self, scope: Scope, name: str, version: str, doc: Doc, as_qualifier: str | None = None
    ) -> dict[str, Any]: ...

    def stamp(self, doc: Doc) -> None: ...

    def unseal(self, scope: Scope, name: str, doc: Doc) -> dict[str, str]: ...


class Versions:
    def __init__(self, functions: FunctionLookups, changes: ChangeHub) -> None:
        self.functions = functions
        self.changes = changes

    def publish(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        fs = self.functions
        store = fs.store
        name, latest = fs.latest_for_update(scope, params["FunctionName"], params.get("RevisionId"))
        sha = params.get("CodeSha256")
        if sha is not None and sha != latest["CodeSha256"]:
            raise InvalidParameterValueException(
                f"CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST "
                f"({latest['CodeSha256']}). Please try again with the CodeSHA256 in $LATEST."
            )
        with store.transaction():
            fdoc = fs.function_doc(scope, name)
            last = int(fdoc.get("LatestPublished", 0))
            if last:
                prev = store.get_version(scope.account, scope.region, name, str(last))
                if prev is not None and self._same_content(scope, name, prev, latest):
                    return fs.render(scope, name, str(last), prev)
            version = str(last + 1)
            doc = dict(latest)
            # What $LATEST's own description was: a change of it alone is a new version.
            doc["_latest_description"] = latest.get("Description", "")
            if "Description" in params:
                doc["Description"] = params["Description"]
            doc["_published_from"] = latest["RevisionId"]
            if snapstart.applies(latest):
                snapstart.mark_pending(doc)
            fs.stamp(doc)
            fdoc["LatestPublished"] = last + 1
            store.put_function(scope.account, scope.region, name, fdoc)
            store.put_version(scope.account, scope.region, name, version, doc)
            # AWS gives $LATEST a new revision when a version is published from it.
            latest["RevisionId"] = str(uuid.uuid4())
            store.put_version(scope.account, scope.region, name, LATEST, latest)
        if snapstart.is_pending(version, doc):
            self.changes.snapshot_requested(scope, name, version)
        # As on AWS, a new version is answered while it is being created.
        return fmodel.as_creating(fs.render(scope, name, version, doc))

    def _same_content(self, scope: Scope, name: str, a: Doc, b: Doc) -> bool:
        if a.get("_latest_description", a.get("Description", "")) != b.get("Description", ""):
            return False
        if {k: v for k, v in a.items() if k not in _NOT_CONTENT} != {
            k: v for k, v in b.items() if k not in _NOT_CONTENT
        }:
            return False
        fs = self.functions
        env_a = fs.unseal(scope, name, a) if "_env" in a else None
        env_b = fs.unseal(scope, name, b) if "_env" in b else None
        return env_a == env_b

    def finish_snapshot(
        self, scope: Scope, name: str, version: str, error: str | None, reason_code: str
    ) -> None:
        """A SnapStart version's snapshot was taken (``error`` None: the version becomes
        Active) or could not be (Failed, ``error`` its StateReason). A version deleted
        meanwhile is left alone."""
        fs = self.functions
        with fs.store.transaction():
            doc = fs.store.get_version(scope.account, scope.region, name, version)
            if doc is None or version == LATEST or not snapstart.applies(doc):
                return
            snapstart.mark_finished(doc, error, reason_code)
            doc["RevisionId"] = str(uuid.uuid4())
            fs.store.put_version(scope.account, scope.region, name, version, doc)
        log.info(
            "snapshot of %s:%s in %s/%s: %s",
            name,
            version,
            scope.account,
            scope.region,
            doc["State"],
        )
        self.changes.function_changed(scope, name, version)

    def pending_snapshots(self) -> list[tuple[Scope, str, str]]:
        """Every SnapStart version whose snapshot is still to be taken (a server that
        stopped while taking it leaves it so)."""
        store = self.functions.store
        pending = []
        for account, region, name, _ in store.iter_all_functions():
            for version, doc in store.list_versions(account, region, name):
                if snapstart.is_pending(version, doc):
                    pending.append((Scope(account, region), name, version))
        return pending

    def list(
        self, scope: Scope, function_name: str, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        fs = self.functions
        ref = fs.function_ref(scope, function_name)
        fs.function_doc(scope, ref.name)
        rows = fs.store.list_versions(scope.account, scope.region, ref.name)
        position = decode_marker(marker) or "0"
        if not (position.isascii() and position.isdigit()):
            raise InvalidParameterValueException("Invalid marker.")
        start = int(position)
        limit = min(max_items or LIST_PAGE_MAX, LIST_PAGE_MAX)
        versions = []
        for v, d in rows[start : start + limit]:
            item = fs.render(scope, ref.name, v, d, LATEST if v == LATEST else None)
            for key in fmodel.NOT_LISTED:
                item.pop(key, None)
            versions.append(item)
        result: dict[str, Any] = {"Versions": versions}
        if start + limit < len(rows):
            result["NextMarker"] = encode_marker(str(start + limit))
        return result
