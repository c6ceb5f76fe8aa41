"""A signed deployment package: where its signature travels and what it covers.

A signing job (``lambdad sign``) signs a .zip archive with a signing profile version's
ECDSA P-384 key over SHA-384 (AWS Signer's ``AWSLambda-SHA384-ECDSA`` platform) and
puts the result in the archive's own comment (the end-of-central-directory record), so
the signed package is still an ordinary archive every tool and runtime reads as before.

What is signed is the archive with an empty comment, together with the profile version
ARN, the job id and the signing and expiry times: changing any member of the archive,
or any of those fields, breaks the signature (the integrity check). Which publishers
are trusted, expiry and revocation are decided elsewhere (``control/code_signing``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
from dataclasses import dataclass
from datetime import datetime

# The end-of-central-directory record: its signature, and its size without the comment.
_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_MAX_COMMENT = 0xFFFF
# The comment of a signed archive starts with this.
MARKER = b"lambdad-code-signature/1 "
PLATFORM_ID = "AWSLambda-SHA384-ECDSA"


@dataclass(frozen=True, slots=True)
class Envelope:
    """A package's signature and the claims it covers."""

    profile_version_arn: str
    job_id: str
    signed_at: datetime
    expires_at: datetime
    signature: bytes

    def claims(self, content_digest: bytes) -> bytes:
        """The bytes the signature is over: the unsigned archive's digest and the claims."""
        return b"\n".join(
            [
                MARKER.strip(),
                content_digest.hex().encode(),
                self.profile_version_arn.encode(),
                self.job_id.encode(),
                self.signed_at.isoformat().encode(),
                self.expires_at.isoformat().encode(),
            ]
        )

    def encode(self) -> bytes:
        doc = {
            "profile": self.profile_version_arn,
            "job": self.job_id,
            "signed": self.signed_at.isoformat(),
            "expires": self.expires_at.isoformat(),
            "sig": base64.b64encode(self.signature).decode(),
        }
        return MARKER + json.dumps(doc, separators=(",", ":")).encode()


class MalformedSignature(ValueError):
    """The archive's comment claims a signature that cannot be read."""


@dataclass(frozen=True, slots=True)
class SignedArchive:
    """An archive split into the digest of what was signed and its envelope (None:
    the archive carries no signature)."""

    content_digest: bytes
    envelope: Envelope | None


def _eocd_offset(data: bytes) -> int | None:
    """Where the end-of-central-directory record starts: the last one whose comment
    runs exactly to the end of the archive."""
    lowest = max(0, len(data) - _EOCD_SIZE - _MAX_COMMENT)
    at = data.rfind(_EOCD, lowest)
    while at >= 0:
        if at + _EOCD_SIZE <= len(data):
            (length,) = struct.unpack_from("<H", data, at + 20)
            if at + _EOCD_SIZE + length == len(data):
                return at
        at = data.rfind(_EOCD, lowest, at)
    return None


def with_comment(data: bytes, comment: bytes) -> bytes:
    """``data`` with its archive comment replaced (ValueError: not a .zip archive)."""
    at = _eocd_offset(data)
    if at is None:
        raise ValueError("not a .zip archive: no end-of-central-directory record")
    if len(comment) > _MAX_COMMENT:
        raise ValueError("archive comment too long")
    head = data[: at + 20]
    return head + struct.pack("<H", len(comment)) + comment


def split(data: bytes) -> SignedArchive:
    """The digest of ``data`` as signed (its comment emptied) and its signature, if any
    (MalformedSignature: the comment is a signature that cannot be read)."""
    at = _eocd_offset(data)
    if at is None:
        return SignedArchive(hashlib.sha384(data).digest(), None)
    comment = data[at + _EOCD_SIZE :]
    content = hashlib.sha384(data[: at + 20] + b"\x00\x00").digest()
    if not comment.startswith(MARKER):
        return SignedArchive(content, None)
    try:
        doc = json.loads(comment[len(MARKER) :])
        envelope = Envelope(
            profile_version_arn=str(doc["profile"]),
            job_id=str(doc["job"]),
            signed_at=datetime.fromisoformat(doc["signed"]),
            expires_at=datetime.fromisoformat(doc["expires"]),
            signature=base64.b64decode(doc["sig"], validate=True),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise MalformedSignature(str(exc)) from None
    if envelope.signed_at.tzinfo is None or envelope.expires_at.tzinfo is None:
        raise MalformedSignature("signature times carry no time zone")
    return SignedArchive(content, envelope)
