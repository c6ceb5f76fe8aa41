"""Encryption at rest for function environment variables (AES-256-GCM).

The default key lives in the data directory (``master.key``, mode 0600), created on
first use. A function configured with ``KMSKeyArn`` is sealed with a named key of
its own instead: one key file per KMS key ARN under ``kms/`` (named by a digest of
the ARN, mode 0600), also created on first use, so that two functions sharing a
KMS key share its key file and no other.

Sealed values are ``v1:`` + base64(nonce || ciphertext || tag) for the default key
and ``k1:<key id>:`` + the same for a named key; the function's ARN is bound in as
associated data so a sealed blob cannot be moved to another function.

The key execution-role session tokens are sealed with (``session_key``,
``session.key``) lives beside it, a key of its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "v1:"
_NAMED_PREFIX = "k1:"


def _create_key(path: Path) -> None:
    key = AESGCM.generate_key(bit_length=256)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # created concurrently: the first one wins
    with os.fdopen(fd, "wb") as f:
        f.write(key)
        f.flush()
        os.fsync(f.fileno())


def key_id(kms_key_arn: str) -> str:
    """The file-system-safe id of a KMS key ARN's local key."""
    return hashlib.sha256(kms_key_arn.encode()).hexdigest()[:32]


class Sealer:
    def __init__(self, key: bytes, keys_dir: Path | None = None) -> None:
        self._aead = AESGCM(key)
        self._keys_dir = keys_dir
        self._named: dict[str, AESGCM] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> Sealer:
        path = data_dir / "master.key"
        if not path.exists():
            _create_key(path)
        return cls(path.read_bytes(), data_dir / "kms")

    def _named_key(self, kid: str, *, create: bool) -> AESGCM:
        with self._lock:
            aead = self._named.get(kid)
            if aead is not None:
                return aead
            if self._keys_dir is None:
                raise ValueError("this sealer has no directory for named keys")
            path = self._keys_dir / f"{kid}.key"
            if not path.exists():
                if not create:
                    raise ValueError(f"named key {kid} is missing from {self._keys_dir}")
                self._keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                _create_key(path)
            aead = AESGCM(path.read_bytes())
            self._named[kid] = aead
            return aead

    def seal(self, variables: dict[str, str], context: str, kms_key_arn: str | None = None) -> str:
        """Seal ``variables`` for the function ``context`` names, with the default key or,
        given a KMS key ARN, with that ARN's named key."""
        nonce = os.urandom(12)
        plain = json.dumps(variables, separators=(",", ":")).encode()
        if kms_key_arn:
            kid = key_id(kms_key_arn)
            sealed = self._named_key(kid, create=True).encrypt(nonce, plain, context.encode())
            return f"{_NAMED_PREFIX}{kid}:" + base64.b64encode(nonce + sealed).decode()
        sealed = self._aead.encrypt(nonce, plain, context.encode())
        return _PREFIX + base64.b64encode(nonce + sealed).decode()

    def unseal(self, token: str, context: str) -> dict[str, str]:
        if token.startswith(_NAMED_PREFIX):
            kid, _, body = token[len(_NAMED_PREFIX) :].partition(":")
            aead = self._named_key(kid, create=False)
        else:
            aead, body = self._aead, token.removeprefix(_PREFIX)
        raw = base64.b64decode(body)
        plain = aead.decrypt(raw[:12], raw[12:], context.encode())
        result: dict[str, str] = json.loads(plain)
        return result

    @staticmethod
    def key_of(token: str) -> str | None:
        """The named key id a sealed value uses (None: the default key)."""
        if token.startswith(_NAMED_PREFIX):
            return token[len(_NAMED_PREFIX) :].partition(":")[0]
        return None


def session_key(data_dir: Path) -> bytes:
    """The key execution-role session tokens are sealed with (``session.key`` in the
    data directory, mode 0600, created on first use): a key of its own, so that no
    sealed environment variable could ever be presented as a session."""
    path = data_dir / "session.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        _create_key(path)
    return path.read_bytes()
