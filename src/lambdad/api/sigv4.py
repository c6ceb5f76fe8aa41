"""Server-side AWS Signature Version 4.

Owns authentication of incoming requests: parsing the ``Authorization`` header or
the presigned-URL query parameters, rebuilding the canonical request the way the
AWS SDKs build it, checking the clock, and comparing signatures. Also owns
``presign_url`` for the URLs lambdad hands out itself. It answers "who signed
this request", never "may they do it"; authorisation lives elsewhere.

Chunk-signed streaming payloads (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``) are not
supported: the AWS services lambdad imitates do not accept them either.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import quote, unquote_plus, urlsplit

from lambdad.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from lambdad.model.credential import Credential

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_CLOCK_SKEW = timedelta(minutes=15)
MAX_PRESIGNED_EXPIRES = 7 * 24 * 3600
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# Any of these in the query string means the client meant a presigned URL.
_PRESIGN_MARKERS = frozenset({"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"})
# The services lambdad answers on its port, by the name their requests are signed for
# (the credential scope's service). A service added to the API port is added here.
SERVICES = frozenset({"lambda", "logs", "sts"})
# A region as AWS names them (botocore's pattern in Lambda's ARNs): any such region is
# a world of its own on lambdad; anything else is not a region.
_REGION = re.compile(r"(eusc-)?[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}")
_PAYLOAD_DIGEST = re.compile(r"[0-9a-f]{64}")

_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who signed a request, and for which region and service they scoped it."""

    credential: Credential
    region: str
    service: str


class _Claim(NamedTuple):
    """What a request says about its own signature, before any of it is checked (a
    tuple: one per request, built for a fraction of a frozen dataclass's cost)."""

    access_key_id: str
    scope_date: str
    region: str
    service: str
    amz_date: str
    signed_at: datetime
    signed_headers: str
    signature: str
    # Presigned URLs may carry their own lifetime; otherwise the skew window applies.
    expires: int | None


def verify(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    lookup: Callable[[str], Credential | None],
    now: datetime,
    *,
    service: str | None = None,
) -> Principal:
    """Check a request's SigV4 signature and return who signed it.

    ``raw_path`` and ``query_string`` are exactly as they arrived on the wire
    (still percent-encoded); the signature covers their encoded form. ``service``:
    the service the request reached, which its scope must name (None: any of
    ``SERVICES``).

    Raises an ``AuthError`` subclass when the request is unsigned, malformed,
    signed by an unknown key, outside its time window, scoped to something else,
    or tampered with.
    """
    claim, credential, signed_params, by_name = _claimed(
        query_string, headers, lookup, now, service
    )
    return _check_signature(
        method,
        raw_path,
        claim,
        credential,
        signed_params,
        by_name,
        _payload_hash(by_name, body),
    )


def check_head(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Sequence[tuple[str, str]],
    lookup: Callable[[str], Credential | None],
    now: datetime,
    *,
    service: str | None = None,
) -> None:
    """What of a request's signature can be checked before its body is read: that it
    has one, by a known key, within its time window and scope; and the signature
    itself when the payload's hash is declared (``x-amz-content-sha256``). Raises as
    ``verify`` does; ``verify`` must still check the whole request."""
    claim, credential, signed_params, by_name = _claimed(
        query_string, headers, lookup, now, service
    )
    declared = _first(by_name, "x-amz-content-sha256")
    if declared == UNSIGNED_PAYLOAD or (declared and _PAYLOAD_DIGEST.fullmatch(declared)):
        _check_signature(method, raw_path, claim, credential, signed_params, by_name, declared)


def _claimed(
    query_string: str,
    headers: Sequence[tuple[str, str]],
    lookup: Callable[[str], Credential | None],
    now: datetime,
    service: str | None,
) -> tuple[_Claim, Credential, list[tuple[str, str]], dict[str, list[str]]]:
    """The signature's claim, checked but for the signature itself."""
    params = _split_query(query_string)
    by_name = _index_headers(headers)
    authorization = _first(by_name, "authorization")
    if authorization is not None:
        claim = _claim_from_header(authorization, by_name)
        signed_params = params
    elif any(name in _PRESIGN_MARKERS for name, _ in params):
        claim = _claim_from_query(params)
        # The signature cannot sign itself.
        signed_params = [(k, v) for k, v in params if k != "X-Amz-Signature"]
    else:
        raise MissingAuthenticationTokenException("Missing Authentication Token")

    credential = lookup(claim.access_key_id)
    if credential is None:
        raise UnrecognizedClientException("The security token included in the request is invalid.")
    _check_time(claim, now)
    _check_scope(claim, service)
    return claim, credential, signed_params, by_name


def _check_scope(claim: _Claim, service: str | None) -> None:
    if not _REGION.fullmatch(claim.region):
        raise InvalidSignatureException(
            f"Credential should be scoped to a valid region, not '{claim.region[:100]}'. "
        )
    if service is not None and claim.service != service:
        raise InvalidSignatureException(
            f"Credential should be scoped to correct service: '{service}'. "
        )
    if claim.service not in SERVICES:
        raise InvalidSignatureException(
            f"Credential should be scoped to correct service: '{claim.service[:100]}' "
            "is not a service this endpoint answers. "
        )


def _check_signature(
    method: str,
    raw_path: str,
    claim: _Claim,
    credential: Credential,
    signed_params: list[tuple[str, str]],
    by_name: dict[str, list[str]],
    payload_hash: str,
) -> Principal:
    canonical_request = "\n".join(
        (
            method.upper(),
            _canonical_uri(raw_path),
            _canonical_query(signed_params),
            _canonical_headers(claim.signed_headers, by_name),
            claim.signed_headers,
            payload_hash,
        )
    )
    expected = _signature(
        credential.secret_access_key,
        claim.amz_date,
        claim.scope_date,
        claim.region,
        claim.service,
        canonical_request,
    )
    if not hmac.compare_digest(expected.encode(), claim.signature.encode("utf-8", "replace")):
        raise InvalidSignatureException(_MISMATCH)
    return Principal(credential=credential, region=claim.region, service=claim.service)


def signing_service(headers: Sequence[tuple[str, str]], query_string: str) -> str | None:
    """Peek at the service named in the credential scope, without verifying anything.

    For routing only: the answer is whatever the client claims.
    """
    authorization = next((v for k, v in headers if k.lower() == "authorization"), None)
    if authorization is not None:
        _, found, rest = authorization.partition("Credential=")
        credential = rest.split(",", 1)[0].strip() if found else ""
    elif "X-Amz-Credential=" in query_string:
        credential = next((v for k, v in _split_query(query_string) if k == "X-Amz-Credential"), "")
    else:
        return None
    parts = credential.split("/")
    if len(parts) != 5 or not parts[3]:
        return None
    return parts[3]


def presign_url(
    base_url: str,
    method: str,
    path: str,
    credential: Credential,
    region: str,
    service: str,
    now: datetime,
    expires: int = 600,
) -> str:
    """Return ``base_url`` + ``path`` signed in the query string, valid ``expires`` seconds.

    ``path`` is the path as it will go on the wire (already percent-encoded) and
    may carry a query string of its own, which is signed along with it. Only the
    ``host`` header is signed, so any HTTP client can fetch the URL as is.
    """
    if not 1 <= expires <= MAX_PRESIGNED_EXPIRES:
        raise ValueError(f"expires must be within 1..{MAX_PRESIGNED_EXPIRES}, got {expires}")
    base = urlsplit(base_url)
    host = _host_header(base.scheme, base.netloc)
    path, _, own_query = path.partition("?")
    full_path = base.path.rstrip("/") + path
    amz_date = _format_amz_date(now)
    scope_date = amz_date[:8]
    params = [
        *_split_query(own_query),
        ("X-Amz-Algorithm", ALGORITHM),
        (
            "X-Amz-Credential",
            f"{credential.access_key_id}/{scope_date}/{region}/{service}/{TERMINATOR}",
        ),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", "host"),
    ]
    # Sending the canonical query string itself means the server sees exactly what was signed.
    query = _canonical_query(params)
    canonical_request = "\n".join(
        (
            method.upper(),
            _canonical_uri(full_path),
            query,
            f"host:{host}\n",
            "host",
            hashlib.sha256(b"").hexdigest(),
        )
    )
    signature = _signature(
        credential.secret_access_key, amz_date, scope_date, region, service, canonical_request
    )
    return f"{base.scheme}://{host}{full_path}?{query}&X-Amz-Signature={signature}"


def _claim_from_header(authorization: str, by_name: dict[str, list[str]]) -> _Claim:
    algorithm, _, rest = authorization.strip().partition(" ")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        key, found, value = item.strip().partition("=")
        if found:
            fields.setdefault(key, value.strip())

    amz_date = _first(by_name, "x-amz-date")
    if amz_date is None:
        http_date = _first(by_name, "date")
        if http_date is not None:
            amz_date = _amz_date_from_http_date(http_date)

    credential = fields.get("Credential")
    signed_headers = fields.get("SignedHeaders")
    signature = fields.get("Signature")
    if credential and signed_headers and signature and amz_date is not None:
        if algorithm != ALGORITHM:
            raise IncompleteSignatureException(f"Unsupported AWS 'algorithm': '{algorithm}'")
        return _claim(credential, amz_date, signed_headers, signature, None)
    # AWS names every missing piece at once, then echoes the header.
    problems = [
        f"Authorization header requires '{name}' parameter. "
        for name in ("Credential", "Signature", "SignedHeaders")
        if not fields.get(name)
    ]
    if amz_date is None:
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        )
    raise IncompleteSignatureException("".join(problems) + f"Authorization={authorization}")


def _claim_from_query(params: list[tuple[str, str]]) -> _Claim:
    fields: dict[str, str] = {}
    for key, value in params:
        fields.setdefault(key, value)
    for name in (
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-Date",
        "X-Amz-SignedHeaders",
    ):
        if not fields.get(name):
            raise IncompleteSignatureException(
                f"AWS query-string parameters must include '{name}'. "
                "Re-examine the query-string parameters."
            )
    if fields["X-Amz-Algorithm"] != ALGORITHM:
        raise IncompleteSignatureException(
            f"Unsupported AWS 'algorithm': '{fields['X-Amz-Algorithm']}'"
        )
    raw_expires = fields.get("X-Amz-Expires")
    expires = None
    if raw_expires is not None:
        if not (raw_expires.isascii() and raw_expires.isdigit()):
            raise IncompleteSignatureException("X-Amz-Expires should be a number")
        # Bounded before int(): thousands of digits are refused, not converted.
        digits = raw_expires.lstrip("0") or "0"
        expires = int(digits) if len(digits) <= 7 else MAX_PRESIGNED_EXPIRES + 1
        if expires > MAX_PRESIGNED_EXPIRES:
            raise IncompleteSignatureException(
                "X-Amz-Expires must be less than a week (in seconds) that is 604800"
            )
    return _claim(
        fields["X-Amz-Credential"],
        fields["X-Amz-Date"],
        fields["X-Amz-SignedHeaders"],
        fields["X-Amz-Signature"],
        expires,
    )


def _claim(
    credential: str, amz_date: str, signed_headers: str, signature: str, expires: int | None
) -> _Claim:
    parts = credential.split("/")
    if len(parts) != 5:
        raise IncompleteSignatureException(
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{credential}'"
        )
    access_key_id, scope_date, region, service, terminator = parts
    signed_at = _parse_amz_date(amz_date)
    if terminator != TERMINATOR:
        raise IncompleteSignatureException(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
            f"not '{terminator}'."
        )
    if not region:
        raise IncompleteSignatureException("Credential should be scoped to a valid region. ")
    if not service:
        raise IncompleteSignatureException("Credential should be scoped to correct service. ")
    if scope_date != amz_date[:8]:
        raise InvalidSignatureException(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{scope_date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    return _Claim(
        access_key_id=access_key_id,
        scope_date=scope_date,
        region=region,
        service=service,
        amz_date=amz_date,
        signed_at=signed_at,
        signed_headers=signed_headers,
        signature=signature,
        expires=expires,
    )


def _check_time(claim: _Claim, now: datetime) -> None:
    now = _utc(now)
    signed_at = claim.signed_at
    if signed_at - now > MAX_CLOCK_SKEW:
        raise InvalidSignatureException(
            f"Signature not yet current: {claim.amz_date} is still later than "
            f"{_format_amz_date(now + MAX_CLOCK_SKEW)} ({_format_amz_date(now)} + 15 min.)"
        )
    if claim.expires is None:
        if now - signed_at > MAX_CLOCK_SKEW:
            raise InvalidSignatureException(
                f"Signature expired: {claim.amz_date} is now earlier than "
                f"{_format_amz_date(now - MAX_CLOCK_SKEW)} ({_format_amz_date(now)} - 15 min.)"
            )
    elif now - signed_at > timedelta(seconds=claim.expires):
        raise InvalidSignatureException(
            f"Signature expired: {claim.amz_date} is now earlier than "
            f"{_format_amz_date(now - timedelta(seconds=claim.expires))} "
            f"({_format_amz_date(now)} - {claim.expires} sec.)"
        )


@lru_cache(maxsize=256)
def _parse_amz_date(value: str) -> datetime:
    # strptime is the slowest step of a verify; the basic format is fixed-width anyway.
    # Cached: every request signed within the same second carries the same date.
    digits = value[:8] + value[9:15]
    if len(value) == 16 and value[8] == "T" and value[15] == "Z" and digits.isascii():
        try:
            return datetime(
                int(value[0:4]),
                int(value[4:6]),
                int(value[6:8]),
                int(value[9:11]),
                int(value[11:13]),
                int(value[13:15]),
                tzinfo=UTC,
            )
        except ValueError:
            pass
    raise IncompleteSignatureException(
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601"
    )


def _amz_date_from_http_date(value: str) -> str:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        # Let the ISO-8601 check reject it with AWS's message.
        return value
    return _format_amz_date(parsed)


def _utc(moment: datetime) -> datetime:
    # A naive datetime is taken to be UTC already, never local time.
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _format_amz_date(moment: datetime) -> str:
    return _utc(moment).strftime(_AMZ_DATE_FORMAT)


def _index_headers(headers: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    by_name: dict[str, list[str]] = {}
    for name, value in headers:
        key = name.lower()
        values = by_name.get(key)
        if values is None:
            by_name[key] = [value]
        else:
            values.append(value)
    return by_name


def _first(by_name: dict[str, list[str]], lower_name: str) -> str | None:
    values = by_name.get(lower_name)
    return values[0] if values else None


def _split_query(query_string: str) -> list[tuple[str, str]]:
    # Decoded so that any equivalent encoding re-encodes to the same canonical form;
    # a bare '+' is a space, as in form encoding and as the Go SDK reads it.
    if not query_string:
        return []
    pairs = []
    for item in query_string.split("&"):
        if item:
            key, _, value = item.partition("=")
            pairs.append((unquote_plus(key), unquote_plus(value)))
    return pairs


def _canonical_query(params: Sequence[tuple[str, str]]) -> str:
    if not params:
        return ""
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in encoded)


@lru_cache(maxsize=1024)
def _canonical_uri(raw_path: str) -> str:
    # Cached: the same few paths (an invoked function's) come again and again.
    # SDKs sign the already-encoded path encoded once more (every service but S3),
    # after dropping dot segments and empty segments, as botocore's normalisation does.
    segments: list[str] = []
    for segment in raw_path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    path = "/" + "/".join(segments)
    if segments and raw_path.endswith("/"):
        path += "/"
    return quote(path, safe="/~")


def _canonical_headers(signed_headers: str, by_name: dict[str, list[str]]) -> str:
    # A signed header the request lacks canonicalises as empty and fails the comparison.
    out = []
    for name in signed_headers.split(";"):
        values = by_name.get(name, ())
        if len(values) == 1:
            out.append(f"{name}:{' '.join(values[0].split())}\n")
        else:
            out.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}\n")
    return "".join(out)


def _payload_hash(by_name: dict[str, list[str]], body: bytes) -> str:
    declared = _first(by_name, "x-amz-content-sha256")
    if declared == UNSIGNED_PAYLOAD:
        return declared
    # Hash the body even when a digest is declared: trusting the header would let
    # a tampered body through under a valid signature.
    return hashlib.sha256(body).hexdigest()


def _host_header(scheme: str, netloc: str) -> str:
    host = netloc.rpartition("@")[2]
    default_port = {"http": ":80", "https": ":443"}.get(scheme)
    if default_port and host.endswith(default_port):
        host = host[: -len(default_port)]
    return host


def _signature(
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
