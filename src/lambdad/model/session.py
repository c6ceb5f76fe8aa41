"""Execution-role sessions: the temporary credentials a function's environment gets.

A session is what AWS Lambda hands a function for its execution role: an access key
id starting ``ASIA``, a secret key and a session token, valid until ``expires``. Here
the token *is* the session: its fields (key id, secret, account, role ARN, function
ARN, expiry) sealed with AES-GCM under the server's session key
(``secrets.session_key``), so the server keeps no table of sessions and nobody
without that key can make, alter or extend one. ``mint`` makes a session, ``open_token``
authenticates one: a token that was not sealed under the key, or names another key
id than the request was signed with, is no session at all; an expired one is
``expired``, which the caller answers with AWS's ``ExpiredTokenException``.

Pure: the key, the clock's reading and the random bytes are passed in.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import string
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SESSION_KEY_PREFIX = "ASIA"
# What binds a token to its purpose: the same key sealing anything else never opens as
# a session.
_AAD = b"lambdad-role-session-1"
_ALPHABET = string.ascii_uppercase + string.digits
_NONCE = 12


@dataclass(frozen=True, slots=True)
class Session:
    access_key_id: str
    secret_access_key: str
    token: str
    account: str
    role_arn: str
    function_arn: str
    expires: datetime

    @property
    def role_name(self) -> str:
        """The role's name: the last part of its ARN's resource (after any path)."""
        return self.role_arn.rsplit("/", 1)[-1] or "role"

    @property
    def session_name(self) -> str:
        """The role session's name, as Lambda names it: the function's name."""
        return self.function_arn.split(":")[6] if self.function_arn.count(":") >= 6 else ""

    @property
    def assumed_role_arn(self) -> str:
        """Who the session is, as STS and AccessDenied messages name it."""
        return f"arn:aws:sts::{self.account}:assumed-role/{self.role_name}/{self.session_name}"

    def expired(self, now: datetime) -> bool:
        return now >= self.expires


def is_session_key(access_key_id: str) -> bool:
    return access_key_id.startswith(SESSION_KEY_PREFIX)


def mint(
    key: bytes,
    *,
    account: str,
    role_arn: str,
    function_arn: str,
    expires: datetime,
    entropy: bytes | None = None,
) -> Session:
    """A new session of ``role_arn`` for ``function_arn`` in ``account``, valid until
    ``expires`` (whole seconds). ``entropy``: 58 random bytes (tests fix them)."""
    raw = entropy if entropy is not None else os.urandom(58)
    if len(raw) != 58:
        raise ValueError("mint needs 58 bytes of entropy")
    akid = SESSION_KEY_PREFIX + "".join(_ALPHABET[b % len(_ALPHABET)] for b in raw[:16])
    secret = base64.b64encode(raw[16:46]).decode()
    nonce = raw[46:58]
    until = int(expires.timestamp())
    fields = {
        "k": akid,
        "s": secret,
        "a": account,
        "r": role_arn,
        "f": function_arn,
        "x": until,
    }
    plain = json.dumps(fields, separators=(",", ":")).encode()
    sealed = AESGCM(key).encrypt(nonce, plain, _AAD)
    token = base64.b64encode(nonce + sealed).decode()
    return Session(
        access_key_id=akid,
        secret_access_key=secret,
        token=token,
        account=account,
        role_arn=role_arn,
        function_arn=function_arn,
        expires=datetime.fromtimestamp(until, UTC),
    )


def open_token(key: bytes, access_key_id: str, token: str) -> Session | None:
    """The session ``token`` seals, if it was sealed under ``key`` for ``access_key_id``;
    None for anything else (forged, altered, truncated, another key's, another session's).
    Whether it has expired is the caller's question (``Session.expired``)."""
    if not is_session_key(access_key_id) or len(token) > 4096:
        return None
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) <= _NONCE + 16:
        return None
    try:
        plain = AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], _AAD)
        fields = json.loads(plain)
    except (InvalidTag, ValueError):
        return None
    if fields.get("k") != access_key_id:
        return None
    return Session(
        access_key_id=access_key_id,
        secret_access_key=str(fields["s"]),
        token=token,
        account=str(fields["a"]),
        role_arn=str(fields["r"]),
        function_arn=str(fields["f"]),
        expires=datetime.fromtimestamp(int(fields["x"]), UTC),
    )


class SessionIssuer:
    """Mints sessions of ``lifetime`` seconds and opens their tokens, under one key.

    Opening is an AES-GCM decryption per request; the last few thousand opened
    tokens are kept (a token opens to the same session every time), so a function
    calling in a loop costs a dictionary look-up."""

    def __init__(self, key: bytes, lifetime: float, cache_size: int = 4096) -> None:
        self._key = key
        self.lifetime = lifetime
        self._cache: dict[tuple[str, str], Session] = {}
        self._cache_size = cache_size

    def mint(self, account: str, role_arn: str, function_arn: str, now: datetime) -> Session:
        expires = datetime.fromtimestamp(int(now.timestamp() + self.lifetime), UTC)
        return mint(
            self._key,
            account=account,
            role_arn=role_arn,
            function_arn=function_arn,
            expires=expires,
        )

    def container_token(self, function_arn: str, version: str) -> str:
        """The ``AWS_CONTAINER_AUTHORIZATION_TOKEN`` of a SnapStart version's
        environments: the same for its template and every environment restored from it
        (a client made during init keeps it), no other version's."""
        mac = hmac.new(self._key, f"container:{function_arn}:{version}".encode(), "sha256")
        return mac.hexdigest()

    def open(self, access_key_id: str, token: str) -> Session | None:
        known = self._cache.get((access_key_id, token))
        if known is not None:
            return known
        session = open_token(self._key, access_key_id, token)
        if session is not None:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[(access_key_id, token)] = session
        return session


def role_account(role_arn: str) -> str:
    """The account of an IAM role ARN (empty if it is not one)."""
    parts = role_arn.split(":")
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return ""
    return parts[4]
