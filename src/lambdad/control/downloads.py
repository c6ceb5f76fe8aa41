"""Who may download a stored archive through ``Code.Location`` or ``Content.Location``.

Those links are presigned with the credentials of the caller of GetFunction or
GetLayerVersion, so a valid signature only says which account asks. Archives are
named by their digest, which is no secret (``CodeSha256`` is in every listing that
shares a layer), so the account must also hold the archive in the signed region: as
the code of one of its function versions, as one of its layer versions, or as a
layer version another account shared with it (``AddLayerVersionPermission``).
"""

from __future__ import annotations

from lambdad.control.layer_refs import GET_LAYER_VERSION, STORE_PREFIX
from lambdad.control.layer_refs import KIND as LAYER_KIND
from lambdad.model import policy
from lambdad.model.arn import layer_arn
from lambdad.store.base import MetadataStore


def may_download(store: MetadataStore, account: str, region: str, sha256_hex: str) -> bool:
    for kind, owner, owner_region, name, doc in store.archive_holders(sha256_hex):
        if owner_region != region:
            continue  # each region is a separate world
        if owner == account:
            return True
        if kind == LAYER_KIND:
            resource = layer_arn(
                owner_region, owner, name.removeprefix(STORE_PREFIX), int(doc["Version"])
            )
            request = policy.AccessRequest(
                action=GET_LAYER_VERSION, resource=resource, account=account
            )
            if policy.allows(doc.get("Policy", []), request):
                return True
    return False
