"""Code archive links: the presigned ``Code.Location`` and ``Content.Location`` URLs
lambdad hands out, and answering them.

A link is presigned with the credential of whoever asked for it, so a valid
signature only says which account downloads; ``control/downloads`` decides whether
that account holds the archive.
"""

from __future__ import annotations

from collections.abc import Callable

from lambdad.api import sigv4
from lambdad.api.context import RequestContext
from lambdad.clock import Clock
from lambdad.control.downloads import may_download
from lambdad.errors import AccessDeniedException
from lambdad.store.base import MetadataStore
from lambdad.store.blobs import BlobStore

CODE_PATH = "/_lambdad/code/"
_HEX = frozenset("0123456789abcdef")


class CodeLinks:
    def __init__(self, clock: Clock, store: MetadataStore, blobs: BlobStore) -> None:
        self.clock = clock
        self.store = store
        self.blobs = blobs

    def for_request(self, ctx: RequestContext) -> Callable[[str], str]:
        """Digest -> a URL the caller of ``ctx`` may download that archive from."""

        def url(sha256_hex: str) -> str:
            return sigv4.presign_url(
                ctx.base_url,
                "GET",
                CODE_PATH + sha256_hex,
                ctx.principal.credential,
                ctx.principal.region,
                "lambda",
                self.clock.now(),
                token=None if ctx.principal.session is None else ctx.principal.session.token,
            )

        return url

    def download(
        self, name: str, principal: sigv4.Principal, request_id: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """A presigned link (or a request the holder signed itself): only an account
        that holds the archive gets it. One answer for "not yours" and "no such
        archive", so the digest reveals nothing."""
        sha = name.split("/", 1)[0]
        if not (
            len(sha) == 64
            and _HEX.issuperset(sha)
            and may_download(self.store, principal.credential.account_id, principal.region, sha)
            and self.blobs.exists(sha)
        ):
            raise AccessDeniedException("Access Denied")
        data = self.blobs.get(sha)
        return (
            200,
            [
                (b"content-type", b"application/zip"),
                (b"x-amzn-requestid", request_id.encode()),
            ],
            data,
        )
