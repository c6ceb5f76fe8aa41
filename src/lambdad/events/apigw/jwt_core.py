"""HTTP APIs' JWT authorizers, the decisions (pure): reading a token, checking it as
API Gateway does, and what the integration's event and the refusal carry.

API Gateway Developer Guide, "Control access to HTTP APIs with JWT authorizers":

- The identity source holds the token alone or after ``Bearer``.
- The token's ``alg`` must be an RSA one (``RS256``/``RS384``/``RS512``,
  ``PS256``/``PS384``/``PS512``: "only RSA-based algorithms are supported"); its
  ``kid`` must name a key of the issuer's key set, and the signature must verify.
- ``iss`` must equal the authorizer's ``Issuer``; ``aud`` (or ``client_id`` when there
  is no ``aud``) must be one of its ``Audience``; ``exp`` after now, ``nbf`` and
  ``iat`` before now; when the route lists ``AuthorizationScopes``, ``scope`` (or
  ``scp``) must hold one of them.
- A refused token: 401 ``{"message":"Unauthorized"}`` with ``www-authenticate: Bearer
  scope="" error="invalid_token" error_description="…"``; missing scopes: 403
  ``{"message":"Forbidden"}`` with ``error="insufficient_scope"`` and the scopes
  expected.
- The claims reach the integration as strings, in ``requestContext.authorizer.jwt``
  (format 2.0, with the token's ``scopes`` when the route asks for scopes) or
  ``requestContext.authorizer`` (1.0).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from lambdad.events.http.response import HttpResponse

_HASHES: Final[dict[str, Callable[[], hashes.HashAlgorithm]]] = {
    "256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512,
}  # fmt: skip
MAX_TOKEN_CHARS: Final = 16 * 1024


@dataclass(frozen=True, slots=True)
class JwtConfig:
    issuer: str
    audience: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Token:
    """A decoded (not yet verified) token."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def kid(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None


@dataclass(frozen=True, slots=True)
class Grant:
    """A token that passed: its claims and (when the route asks for scopes) its scopes."""

    claims: Mapping[str, Any]
    scopes: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a token was refused; ``scopes`` set when it lacked the route's scopes."""

    description: str
    scopes: tuple[str, ...] | None = None


def token_of(value: str) -> str:
    """The token of an identity source's value: alone, or after ``Bearer``."""
    value = value.strip()
    if value[:7].lower() == "bearer ":
        return value[7:].strip()
    return value


def decode(token: str) -> Token | Refusal:
    if len(token) > MAX_TOKEN_CHARS:
        return Refusal("the token is too large")
    parts = token.split(".")
    if len(parts) != 3:
        return Refusal("token contains an invalid number of segments")
    try:
        header = json.loads(_unbase64(parts[0]))
        claims = json.loads(_unbase64(parts[1]))
        signature = _unbase64(parts[2])
    except (ValueError, binascii.Error, RecursionError):
        return Refusal("the token is malformed")
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return Refusal("the token is malformed")
    return Token(header, claims, f"{parts[0]}.{parts[1]}".encode(), signature)


def public_key(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey | None:
    """An RSA public key from its JWK (``kty`` ``RSA``, ``n``, ``e``); None otherwise."""
    if (
        jwk.get("kty") != "RSA"
        or not isinstance(jwk.get("n"), str)
        or not isinstance(jwk.get("e"), str)
    ):
        return None
    try:
        n = int.from_bytes(_unbase64(jwk["n"]), "big")
        e = int.from_bytes(_unbase64(jwk["e"]), "big")
        return rsa.RSAPublicNumbers(e, n).public_key()
    except (ValueError, binascii.Error):
        return None


def key_set(document: object) -> dict[str, rsa.RSAPublicKey]:
    """The usable keys of a JWKS document, by ``kid``."""
    keys = document.get("keys") if isinstance(document, dict) else None
    found: dict[str, rsa.RSAPublicKey] = {}
    for jwk in keys if isinstance(keys, list) else ():
        if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str):
            key = public_key(jwk)
            if key is not None:
                found[jwk["kid"]] = key
    return found


def check(
    token: Token,
    keys: Mapping[str, rsa.RSAPublicKey],
    config: JwtConfig,
    route_scopes: Sequence[str],
    now: float,
) -> Grant | Refusal:
    """The token against the issuer's ``keys``, the authorizer and the route, at
    ``now`` (seconds since the epoch)."""
    return signature(token, keys) or claims(token, config, route_scopes, now)


def signature(token: Token, keys: Mapping[str, rsa.RSAPublicKey]) -> Refusal | None:
    """Why the token's algorithm, key id or signature is refused; None when they pass
    (what does not change while the key set does not: a caller may remember it)."""
    alg = token.header.get("alg")
    if not isinstance(alg, str) or alg[:2] not in ("RS", "PS") or alg[2:] not in _HASHES:
        # The name goes into a header: only a plain one is repeated.
        shown = alg if isinstance(alg, str) and _ALG_NAME.fullmatch(alg) else "unknown"
        return Refusal(f"signing method {shown} is invalid")
    key = keys.get(token.kid or "")
    if key is None:
        return Refusal("the token's key id does not match any key of the issuer")
    scheme = (
        padding.PKCS1v15()
        if alg.startswith("RS")
        else padding.PSS(padding.MGF1(_HASHES[alg[2:]]()), padding.PSS.DIGEST_LENGTH)
    )
    try:
        key.verify(token.signature, token.signing_input, scheme, _HASHES[alg[2:]]())
    except (InvalidSignature, ValueError):
        return Refusal("crypto/rsa: verification error")
    return None


def claims(
    token: Token, config: JwtConfig, route_scopes: Sequence[str], now: float
) -> Grant | Refusal:
    """The token's claims against the authorizer and the route, at ``now``."""
    stated = token.claims
    if stated.get("iss") != config.issuer:
        return Refusal("the token does not have a valid issuer")
    if not _audience_ok(stated, config.audience):
        return Refusal("the token does not have a valid audience")
    if "exp" in stated and not (_number(stated["exp"]) > now):
        return Refusal("the token has expired")
    if "nbf" in stated and not (_number(stated["nbf"]) <= now):
        return Refusal("the token is not valid yet")
    if "iat" in stated and not (_number(stated["iat"]) <= now):
        return Refusal("the token was issued in the future")
    if not route_scopes:
        return Grant(stated, None)
    held = _scopes(stated)
    if not any(scope in held for scope in route_scopes):
        return Refusal(f"expected scopes: [{' '.join(route_scopes)}]", tuple(route_scopes))
    return Grant(stated, held)


def event_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """The claims as the event carries them: every value a string (lists as
    ``[a b]``, objects as JSON)."""
    return {name: _text(value) for name, value in claims.items()}


def refusal_answer(refusal: Refusal) -> HttpResponse:
    if refusal.scopes is not None:
        scopes = _quotable(" ".join(refusal.scopes))
        challenge = (
            f'Bearer scope="{scopes}" error="insufficient_scope" '
            f'error_description="{_quotable(refusal.description)}"'
        )
        return HttpResponse(403, (*_JSON, (_CHALLENGE, challenge)), b'{"message":"Forbidden"}')
    described = _quotable(refusal.description)
    challenge = f'Bearer scope="" error="invalid_token" error_description="{described}"'
    return HttpResponse(401, (*_JSON, (_CHALLENGE, challenge)), b'{"message":"Unauthorized"}')


_JSON: Final = (("Content-Type", "application/json"),)
_ALG_NAME: Final = re.compile(r"[A-Za-z0-9._+-]{1,32}")
# What may not stand in a quoted header parameter: quotes, backslashes, controls.
_UNQUOTABLE: Final = re.compile(r'["\\\x00-\x1f\x7f]')
_CHALLENGE: Final = "www-authenticate"


def _quotable(text: str) -> str:
    return _UNQUOTABLE.sub("", text)


def _unbase64(part: str) -> bytes:
    if not part.isascii():
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")  # compares false: a time claim that is no number fails
    return float(value)


def _audience_ok(claims: Mapping[str, Any], audience: Sequence[str]) -> bool:
    found = claims["aud"] if "aud" in claims else claims.get("client_id")
    values = found if isinstance(found, list) else [found]
    return any(isinstance(v, str) and v in audience for v in values)


def _scopes(claims: Mapping[str, Any]) -> tuple[str, ...]:
    found = claims.get("scope")
    if found is None:
        found = claims.get("scp")
    if isinstance(found, str):
        return tuple(found.split())
    if isinstance(found, list):
        return tuple(s for s in found if isinstance(s, str))
    return ()


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + " ".join(_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return "" if value is None else str(value)
