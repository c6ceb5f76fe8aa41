"""Encryption at rest for function environment variables (AES-256-GCM).

The key lives in the data directory (``master.key``, mode 0600), created on first
use. Sealed values are ``v1:`` + base64(nonce || ciphertext || tag); the function's
ARN is bound in as associated data so a sealed blob cannot be moved to another
function.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "v1:"


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> Sealer:
        path = data_dir / "master.key"
        if not path.exists():
            key = AESGCM.generate_key(bit_length=256)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(key)
        return cls(path.read_bytes())

    def seal(self, variables: dict[str, str], context: str) -> str:
        nonce = os.urandom(12)
        plain = json.dumps(variables, separators=(",", ":")).encode()
        sealed = self._aead.encrypt(nonce, plain, context.encode())
        return _PREFIX + base64.b64encode(nonce + sealed).decode()

    def unseal(self, token: str, context: str) -> dict[str, str]:
        raw = base64.b64decode(token.removeprefix(_PREFIX))
        plain = self._aead.decrypt(raw[:12], raw[12:], context.encode())
        result: dict[str, str] = json.loads(plain)
        return result
