"""Signing profiles: the publishers' keys lambdad keeps, and signing jobs.

A signing profile (AWS Signer's, on the ``AWSLambda-SHA384-ECDSA`` platform) is a
named ECDSA P-384 key of an account; each ``create`` of a name adds a version with a
fresh key, and jobs sign with the newest version that is not revoked. The private keys
never leave the server: they are stored sealed (``secrets.Sealer``), and a signing job
is a request to the server (``lambdad sign``). Revoking a version makes the signatures
it makes from the effective time on untrusted (earlier ones stay valid, as AWS Signer
does).

Stored in the metadata store's children: kind ``signing-profile``, under the name
``signer:`` (never a function's), key ``<account>/<profile name>``.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from lambdad.clock import Clock
from lambdad.errors import InvalidParameterValueException, ResourceNotFoundException
from lambdad.model import code_signature
from lambdad.model.scope import Scope
from lambdad.secrets import Sealer
from lambdad.store.base import Doc, MetadataStore

KIND = "signing-profile"
_NAME = "signer:"
NAME_PATTERN = re.compile(r"[a-zA-Z0-9_]{2,64}")
DEFAULT_VALIDITY_DAYS = 135 * 30  # AWS Signer's default: 135 months
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_ALGORITHM = ec.ECDSA(hashes.SHA384())


def profile_arn(scope: Scope, name: str) -> str:
    return f"arn:aws:signer:{scope.region}:{scope.account}:/signing-profiles/{name}"


@dataclass(frozen=True, slots=True)
class ProfileVersion:
    """One version of a profile, as the verifier needs it."""

    arn: str
    profile_arn: str
    public_key: ec.EllipticCurvePublicKey
    revoked_from: datetime | None

    def verify(self, signature: bytes, claims: bytes) -> bool:
        try:
            self.public_key.verify(signature, claims, _ALGORITHM)
        except InvalidSignature:
            return False
        return True


class SigningProfiles:
    def __init__(self, store: MetadataStore, sealer: Sealer, clock: Clock) -> None:
        self.store = store
        self.sealer = sealer
        self.clock = clock

    def _doc(self, scope: Scope, name: str) -> Doc | None:
        return self.store.get_child(KIND, "", "", _NAME, f"{scope.account}/{name}")

    def create(self, scope: Scope, name: str, validity_days: int | None) -> dict[str, Any]:
        """A new version of profile ``name`` (the profile itself if it is new)."""
        if not NAME_PATTERN.fullmatch(name):
            raise InvalidParameterValueException(
                "A signing profile name is 2 to 64 letters, digits and underscores."
            )
        days = DEFAULT_VALIDITY_DAYS if validity_days is None else validity_days
        if not 1 <= days <= DEFAULT_VALIDITY_DAYS:
            raise InvalidParameterValueException(
                f"The signature validity period must be 1 to {DEFAULT_VALIDITY_DAYS} days."
            )
        key = ec.generate_private_key(ec.SECP384R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        version = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        arn = f"{profile_arn(scope, name)}/{version}"
        doc = self._doc(scope, name) or {"Name": name, "Versions": []}
        doc["ValidityDays"] = days
        doc["Versions"].append(
            {
                "Version": version,
                "Arn": arn,
                "Created": self.clock.now().isoformat(),
                "PublicKey": key.public_key()
                .public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                .decode(),
                "_key": self.sealer.seal({"pem": pem}, arn),
            }
        )
        self.store.put_child(KIND, "", "", _NAME, f"{scope.account}/{name}", doc)
        return {"ProfileName": name, "ProfileVersion": version, "ProfileVersionArn": arn}

    def list(self, scope: Scope) -> list[dict[str, Any]]:
        prefix = f"{scope.account}/"
        out = []
        for key, doc in self.store.list_children(KIND, "", "", _NAME):
            if not key.startswith(prefix):
                continue
            out.append(
                {
                    "ProfileName": doc["Name"],
                    "ProfileArn": profile_arn(scope, doc["Name"]),
                    "SignatureValidityDays": doc["ValidityDays"],
                    "Versions": [
                        {k: v for k, v in version.items() if k not in ("_key", "PublicKey")}
                        for version in doc["Versions"]
                    ],
                }
            )
        return out

    def revoke(
        self, scope: Scope, name: str, version: str, effective: datetime | None, reason: str
    ) -> None:
        doc = self._doc(scope, name)
        entry = next((v for v in (doc or {}).get("Versions", []) if v["Version"] == version), None)
        if doc is None or entry is None:
            raise ResourceNotFoundException(f"Signing profile version not found: {name}/{version}")
        entry["RevokedFrom"] = (effective or self.clock.now()).isoformat()
        entry["RevocationReason"] = reason
        self.store.put_child(KIND, "", "", _NAME, f"{scope.account}/{name}", doc)

    def sign(self, scope: Scope, name: str, archive: bytes) -> bytes:
        """``archive`` signed by the newest usable version of profile ``name``."""
        doc = self._doc(scope, name)
        if doc is None:
            raise ResourceNotFoundException(f"Signing profile not found: {name}")
        now = self.clock.now()
        usable = [
            v
            for v in doc["Versions"]
            if "RevokedFrom" not in v or datetime.fromisoformat(v["RevokedFrom"]) > now
        ]
        if not usable:
            raise InvalidParameterValueException(f"Every version of profile {name} is revoked.")
        entry = usable[-1]
        key = serialization.load_pem_private_key(
            self.sealer.unseal(entry["_key"], entry["Arn"])["pem"].encode(), None
        )
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        try:
            unsigned_archive = code_signature.with_comment(archive, b"")
        except ValueError:
            raise InvalidParameterValueException(
                "Could not unzip uploaded file. Please check your file, then try to upload again."
            ) from None
        content = code_signature.split(unsigned_archive).content_digest
        job = str(uuid.uuid4())
        unsigned = code_signature.Envelope(
            entry["Arn"], job, now, now + timedelta(days=doc["ValidityDays"]), b""
        )
        signature = key.sign(unsigned.claims(content), _ALGORITHM)
        envelope = code_signature.Envelope(
            unsigned.profile_version_arn,
            job,
            unsigned.signed_at,
            unsigned.expires_at,
            signature,
        )
        return code_signature.with_comment(archive, envelope.encode())

    def version(self, arn: str) -> ProfileVersion | None:
        """The profile version an ARN names, in whichever account (None: unknown)."""
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[2] != "signer":
            return None
        path = parts[5].split("/")
        if len(path) != 4 or path[:2] != ["", "signing-profiles"]:
            return None
        doc = self.store.get_child(KIND, "", "", _NAME, f"{parts[4]}/{path[2]}")
        entry = next((v for v in (doc or {}).get("Versions", []) if v["Arn"] == arn), None)
        if entry is None:
            return None
        public = serialization.load_pem_public_key(entry["PublicKey"].encode())
        assert isinstance(public, ec.EllipticCurvePublicKey)
        revoked = entry.get("RevokedFrom")
        return ProfileVersion(
            arn=arn,
            profile_arn=arn.rsplit("/", 1)[0],
            public_key=public,
            revoked_from=datetime.fromisoformat(revoked) if revoked else None,
        )
