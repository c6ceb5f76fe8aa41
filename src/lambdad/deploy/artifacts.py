"""Code archives uploaded for stacks (``lambdad deploy``), kept by digest per account:
a template names one as ``S3Bucket: ARTIFACT_BUCKET, S3Key: <sha256 hex>``. An account
reads only the archives it uploaded itself."""

from __future__ import annotations

from lambdad.deploy.errors import ValidationError
from lambdad.deploy.stack_records import Where
from lambdad.model.artifacts import ARTIFACT_BUCKET
from lambdad.store.base import MetadataStore
from lambdad.store.blobs import BlobStore

KIND = "cfn-artifact"
# An upload's limit: a function's zipped code limit (50 MB).
MAX_BYTES = 50 * 1024 * 1024


class Artifacts:
    def __init__(self, store: MetadataStore, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs

    def put(self, where: Where, data: bytes) -> str:
        if len(data) > MAX_BYTES:
            raise ValidationError(f"Artifact is larger than {MAX_BYTES} bytes")
        digest = self.blobs.put(data)
        self.store.put_child(KIND, where.account, "", "", digest, {"Size": len(data)})
        return digest

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
