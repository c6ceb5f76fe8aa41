"""Naming layer versions and who may use them: the layer ARN, where a version's
document lives in the store, and the access rules the layer services share.

A layer version's document is a child of kind ``layer`` under the name
``layer:<LayerName>`` (a name no function can have), keyed by its zero-padded version
number; an index document per layer (kind ``layer-index``, under ``layer:``)
remembers the last version number ever published. Another account's layer version is
used only with its resource policy's consent (``GetLayerVersion``); one that does not
exist is refused the same way, since whether it exists is its owner's to tell. A layer
is changed only by its own account, in its own region.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lambdad.model import policy
from lambdad.model.arn import layer_arn
from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore

KIND = "layer"
INDEX_KIND = "layer-index"
INDEX_NAME = "layer:"
# A layer's versions are stored under this prefix and the layer's name.
STORE_PREFIX = "layer:"
NOT_FOUND = "The resource you requested does not exist."
GET_LAYER_VERSION = "lambda:GetLayerVersion"

LAYER_ARN = re.compile(
    r"arn:(?P<partition>aws[a-zA-Z-]*)?:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"layer:(?P<name>[a-zA-Z0-9_-]+)(?::(?P<version>\d+))?"
)


@dataclass(frozen=True, slots=True)
class LayerRef:
    account: str
    region: str
    name: str

    def arn(self, version: int | None = None) -> str:
        return layer_arn(self.region, self.account, self.name, version)

    @property
    def store_name(self) -> str:
        """The name the layer's version documents are stored under."""
        return f"{STORE_PREFIX}{self.name}"


def version_key(version: int) -> str:
    """A version's key among its layer's documents (zero-padded: they sort in order)."""
    return f"{version:09d}"


def ref_of(scope: Scope, layer_name: str) -> LayerRef:
    """The layer a LayerName parameter names: a layer ARN, or a name in ``scope``."""
    m = LAYER_ARN.fullmatch(layer_name)
    if m is not None:
        return LayerRef(m["account"], m["region"], m["name"])
    return LayerRef(scope.account, scope.region, layer_name)


def version_doc(store: MetadataStore, ref: LayerRef, version: int) -> Doc | None:
    """A layer version's stored document, or None."""
    return store.get_child(KIND, ref.account, ref.region, ref.store_name, version_key(version))


def save_version(store: MetadataStore, ref: LayerRef, version: int, doc: Doc) -> None:
    store.put_child(KIND, ref.account, ref.region, ref.store_name, version_key(version), doc)


def check_shared(scope: Scope, ref: LayerRef, version: int, doc: Doc | None) -> None:
    """Another account's layer version only with its permission; one that does not
    exist is refused the same way (whether it exists is its owner's to tell)."""
    request = policy.AccessRequest(
        action=GET_LAYER_VERSION, resource=ref.arn(version), account=scope.account
    )
    if doc is None or not policy.allows(doc.get("Policy", []), request):
        raise policy.access_denied(request)


def own(scope: Scope, layer_name: str, action: str) -> LayerRef:
    """A layer of the caller's own; another account's may only be read (GetLayerVersion)."""
    ref = ref_of(scope, layer_name)
    if ref.account != scope.account or ref.region != scope.region:
        request = policy.AccessRequest(
            action=f"lambda:{action}", resource=ref.arn(), account=scope.account
        )
        raise policy.access_denied(request)
    return ref
