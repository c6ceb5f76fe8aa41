"""SigV4's signing half: the canonical request and the signature over it.

Puts a request in canonical form the way the AWS SDKs put it (the query, the URI
with botocore's normalisation, the signed headers: model/sigv4_canonical.py, shared
with the upstream relay) and owns the HMAC chain from a secret key to a signature,
with its per-scope caches. ``verify`` (which rebuilds the signature a client sent) and
``presign_url`` (which makes one) both go through here, so the two cannot disagree.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache

from lambdad.model import sigv4_canonical as canonical

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


def utc(moment: datetime) -> datetime:
    # A naive datetime is taken to be UTC already, never local time.
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_amz_date(moment: datetime) -> str:
    return utc(moment).strftime(_AMZ_DATE_FORMAT)


def first(by_name: dict[str, list[str]], lower_name: str) -> str | None:
    values = by_name.get(lower_name)
    return values[0] if values else None


def split_query(query_string: str) -> list[tuple[str, str]]:
    return canonical.split_query(query_string)


def canonical_query(params: Sequence[tuple[str, str]]) -> str:
    return canonical.canonical_query(params)


@lru_cache(maxsize=1024)
def canonical_uri(raw_path: str) -> str:
    # Cached: the same few paths (an invoked function's) come again and again.
    return canonical.canonical_uri(raw_path)


def canonical_headers(signed_headers: str, by_name: dict[str, list[str]]) -> str:
    return canonical.canonical_headers(signed_headers.split(";"), by_name)


def host_header(scheme: str, netloc: str) -> str:
    host = netloc.rpartition("@")[2]
    default_port = {"http": ":80", "https": ":443"}.get(scheme)
    if default_port and host.endswith(default_port):
        host = host[: -len(default_port)]
    return host


def sign(
    secret: str, amz_date: str, scope_date: str, region: str, service: str, canonical: str
) -> str:
    string_to_sign = (
        f"{ALGORITHM}\n{amz_date}\n{scope_date}/{region}/{service}/{TERMINATOR}\n"
        + hashlib.sha256(canonical.encode()).hexdigest()
    )
    # HMAC-SHA256 (RFC 2104) from the key's two padded states, hashed once per key:
    # a copy of each and two updates cost less than a new HMAC context per request.
    inner, outer = _signing_pads(secret, scope_date, region, service)
    h = inner.copy()
    h.update(string_to_sign.encode())
    mac = outer.copy()
    mac.update(h.digest())
    return mac.hexdigest()


@lru_cache(maxsize=1024)
def _signing_key(secret: str, scope_date: str, region: str, service: str) -> bytes:
    # Four HMACs per request otherwise; a key changes only once a day per scope.
    key = hmac.digest(f"AWS4{secret}".encode(), scope_date.encode(), "sha256")
    key = hmac.digest(key, region.encode(), "sha256")
    key = hmac.digest(key, service.encode(), "sha256")
    return hmac.digest(key, TERMINATOR.encode(), "sha256")


@lru_cache(maxsize=1024)
def _signing_pads(
    secret: str, scope_date: str, region: str, service: str
) -> tuple[hashlib._Hash, hashlib._Hash]:
    """SHA-256 states after the signing key XOR ipad and XOR opad (never updated: copied)."""
    key = _signing_key(secret, scope_date, region, service).ljust(64, b"\0")
    return (
        hashlib.sha256(bytes(b ^ 0x36 for b in key)),
        hashlib.sha256(bytes(b ^ 0x5C for b in key)),
    )
