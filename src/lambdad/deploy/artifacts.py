"""Code archives uploaded for stacks (``lambdad deploy``), kept by digest per account:
a template names one as ``S3Bucket: ARTIFACT_BUCKET, S3Key: <sha256 hex>``. An account
reads only the archives it uploaded itself."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from lambdad.deploy.errors import ValidationError
from lambdad.deploy.stack_records import Where
from lambdad.model.artifacts import ARTIFACT_BUCKET
from lambdad.store.base import MetadataStore
from lambdad.store.blobs import BlobStore

KIND = "cfn-artifact"
# An upload's limit: a function's zipped code limit (50 MB).
MAX_BYTES = 50 * 1024 * 1024
# How long an upload no stack or change set names is kept (the time between
# `lambdad deploy`'s upload and its CreateChangeSet, with room to spare).
GRACE = 600.0


class Artifacts:
    def __init__(self, store: MetadataStore, blobs: BlobStore, now: Callable[[], float]) -> None:
        self.store = store
        self.blobs = blobs
        self.now = now

    def put(self, where: Where, data: bytes) -> str:
        if len(data) > MAX_BYTES:
            raise ValidationError(f"Artifact is larger than {MAX_BYTES} bytes")
        digest = self.blobs.put(data)
        doc = {"Digest": digest, "Size": len(data), "Uploaded": self.now()}
        self.store.put_child(KIND, where.account, "", "", digest, doc)
        return digest

    def collect(self, where: Where, templates: Iterable[str]) -> list[str]:
        """Forget the account's uploads that no template in ``templates`` names (the
        account's stacks and change sets) once their grace has passed; delete an archive
        no account keeps any more. The digests forgotten."""
        texts = list(templates)
        gone = []
        for digest, doc in self.store.list_children(KIND, where.account, "", ""):
            if self.now() - float(doc.get("Uploaded", 0)) < GRACE:
                continue
            if any(digest in text for text in texts):
                continue
            self.store.delete_child(KIND, where.account, "", "", digest)
            if not self.store.find_children(KIND, "Digest", digest):
                self.blobs.delete(digest)
            gone.append(digest)
        return gone

    def read(self, where: Where, bucket: str, key: str) -> bytes | None:
        """The archive, if ``bucket`` is lambdad's (else None: an S3 location)."""
        if bucket != ARTIFACT_BUCKET:
            return None
        if self.store.get_child(KIND, where.account, "", "", key) is None or not self.blobs.exists(
            key
        ):
            raise ValidationError(
                f"Artifact {key} was not uploaded to lambdad by this account (lambdad deploy "
                "uploads the code it names)"
            )
        return self.blobs.get(key)
