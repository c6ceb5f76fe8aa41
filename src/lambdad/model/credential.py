"""An access key the server accepts: who signs with it, and the secret it signs with.

Shared by the store of accepted keys (``control/credentials``), the request
authenticator (``api/sigv4``) and the CLI, so it lives in the base layer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Credential:
    access_key_id: str
    secret_access_key: str
    account_id: str
