"""Checking a function's SigV4 signature and signing its request again for upstream.

The pure half of the upstream relay (environments/upstream_proxy.py): ``claim_of``
reads a request's ``Authorization`` header; ``check`` recomputes its signature with
the role session's secret and compares; ``resigned`` gives the headers the upstream
request goes with: the same request, for the upstream's ``Host``, dated now, signed
with the operator's keys for the role (model/upstream.py), the session's token gone.

The canonical request is built as the AWS SDKs build it: the URI encoded once more
and normalised for every service but S3 (whose keys are taken as sent), the query
decoded and re-encoded in order, the signed headers' values trimmed, the payload's
hash as declared in ``x-amz-content-sha256`` (checked against the body when it is a
digest) or computed. Chunk-signed uploads (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``)
carry one signature per chunk, chained from the session's: they are refused
(the SDKs send them only when asked to, over HTTPS).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lambdad.model import sigv4_canonical as canonical
from lambdad.model.upstream import UpstreamCredential

ALGORITHM = "AWS4-HMAC-SHA256"
# Services whose signed URI is the path as sent (no second encoding, no normalising).
S3_SERVICES = frozenset({"s3", "s3-object-lambda", "s3express"})
SKEW = timedelta(minutes=15)
UNSIGNED = frozenset({"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"})
_HEX = frozenset("0123456789abcdef")
# Headers the relay sets itself on the upstream request.
_REPLACED = frozenset({"authorization", "x-amz-security-token", "x-amz-date", "host"})


class Refused(Exception):
    """A request the relay answers itself, as the upstream would: HTTP ``status``,
    AWS's error ``code``."""

    def __init__(self, status: int, code: str, message: str, service: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        # The service the request was signed for, whose error format the answer takes.
        self.service = service


@dataclass(frozen=True, slots=True)
class Claim:
    access_key_id: str
    scope_date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # as on the wire, still percent-encoded
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, lower_name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == lower_name), None)


def claim_of(request: Request) -> Claim | None:
    """The ``Authorization`` header's claim; None for a request without one (it
    passes as it is). Refused when it is not SigV4's or is malformed."""
    authorization = request.header("authorization")
    if authorization is None:
        return None
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise Refused(400, "InvalidRequest", "Only AWS4-HMAC-SHA256 signatures are relayed.")
    fields = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    scope = fields.get("Credential", "").split("/")
    signed = tuple(fields.get("SignedHeaders", "").split(";"))
    if (
        len(scope) != 5
        or scope[4] != "aws4_request"
        or not all(signed)
        or not fields.get("Signature")
    ):
        raise Refused(400, "AuthorizationHeaderMalformed", "The authorization header is malformed.")
    return Claim(scope[0], scope[1], scope[2], scope[3], signed, fields["Signature"])


def payload_hash(request: Request) -> str:
    """What the signature covers of the body; Refused when the declared digest is not
    the body's, or the body is chunk-signed."""
    declared = request.header("x-amz-content-sha256")
    if declared is None:
        return hashlib.sha256(request.body).hexdigest()
    if declared in UNSIGNED:
        return declared
    if len(declared) == 64 and set(declared) <= _HEX:
        if hashlib.sha256(request.body).hexdigest() != declared:
            raise Refused(
                400,
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )
        return declared
    raise Refused(
        501,
        "NotImplemented",
        "Chunk-signed payloads are not relayed: sign the payload whole or leave it unsigned.",
    )


def check(request: Request, claim: Claim, secret: str, now: datetime) -> str:
    """Raise Refused unless ``secret`` made the request's signature within the allowed
    skew; return the payload's hash."""
    amz_date = request.header("x-amz-date") or ""
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise Refused(403, "AccessDenied", "The request carries no valid X-Amz-Date.") from None
    if abs(now - signed_at) > SKEW or not amz_date.startswith(claim.scope_date):
        raise Refused(403, "RequestTimeTooSkewed", "The request time is too far from now.")
    digest = payload_hash(request)
    canonical = canonical_request(request, claim.signed_headers, claim.service, digest)
    expected = sign(secret, amz_date, claim.scope_date, claim.region, claim.service, canonical)
    if not hmac.compare_digest(expected, claim.signature):
        raise Refused(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    return digest


def resigned(
    request: Request,
    claim: Claim,
    digest: str,
    upstream: UpstreamCredential,
    host: str,
    now: datetime,
) -> tuple[tuple[str, str], ...]:
    """The upstream request's headers: the request's own but for its signature, date,
    token and ``Host``, signed with ``upstream``'s keys for ``host``."""
    amz_date = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = [(k, v) for k, v in request.headers if k.lower() not in _REPLACED]
    headers += [("Host", host), ("X-Amz-Date", amz_date)]
    signed = set(claim.signed_headers) - {"x-amz-security-token"} | {"host", "x-amz-date"}
    if upstream.session_token:
        headers.append(("X-Amz-Security-Token", upstream.session_token))
        signed.add("x-amz-security-token")
    names = tuple(sorted(signed))
    region = upstream.region or claim.region
    scope_date = amz_date[:8]
    again = Request(request.method, request.path, request.query, tuple(headers), request.body)
    canonical = canonical_request(again, names, claim.service, digest)
    signature = sign(
        upstream.secret_access_key, amz_date, scope_date, region, claim.service, canonical
    )
    credential = f"{upstream.access_key_id}/{scope_date}/{region}/{claim.service}/aws4_request"
    authorization = (
        f"{ALGORITHM} Credential={credential}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature}"
    )
    return (*headers, ("Authorization", authorization))


def canonical_request(
    request: Request, signed_headers: Sequence[str], service: str, digest: str
) -> str:
    by_name: dict[str, list[str]] = {}
    for name, value in request.headers:
        by_name.setdefault(name.lower(), []).append(value)
    uri = (request.path or "/") if service in S3_SERVICES else canonical.canonical_uri(request.path)
    return "\n".join(
        (
            request.method.upper(),
            uri,
            canonical.canonical_query(canonical.split_query(request.query)),
            canonical.canonical_headers(signed_headers, by_name),
            ";".join(signed_headers),
            digest,
        )
    )


def sign(
    secret: str, amz_date: str, scope_date: str, region: str, service: str, canonical: str
) -> str:
    key = f"AWS4{secret}".encode()
    for part in (scope_date, region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    scope = f"{scope_date}/{region}/{service}/aws4_request"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return hmac.new(
        key, f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}".encode(), "sha256"
    ).hexdigest()
