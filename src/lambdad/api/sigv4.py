"""Server-side AWS Signature Version 4.

Owns authentication of incoming requests: ``verify`` (and ``check_head``, its part
that needs no body) reads the request's claim (``sigv4_claim``: the header or the
presigned-URL parameters, the clock), checks its scope against the services this port
answers, rebuilds the canonical request and its signature (``sigv4_signing``) and
compares the two. Also owns ``presign_url`` for the URLs lambdad hands out itself. It
answers "who signed this request", never "may they do it"; authorisation lives
elsewhere.

A request signed with an execution-role session's key (``ASIA...``, model/session.py)
is accepted only with that session's own token (``X-Amz-Security-Token``, header or
query parameter), while it has not expired; its principal carries the session.

Chunk-signed streaming payloads (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``) are not
supported: the AWS services lambdad imitates do not accept them either.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from lambdad.api.sigv4_claim import (
    MAX_PRESIGNED_EXPIRES,
    Claim,
    check_time,
    claim_from_header,
    claim_from_query,
)
from lambdad.api.sigv4_signing import (
    ALGORITHM,
    TERMINATOR,
    canonical_headers,
    canonical_query,
    canonical_uri,
    first,
    format_amz_date,
    host_header,
    sign,
    split_query,
)
from lambdad.errors import (
    ExpiredTokenException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from lambdad.model.credential import Credential
from lambdad.model.headers import index_headers
from lambdad.model.session import Session, is_session_key

# How a session's token is opened: (access key id, token) -> the session, or None.
OpenSession = Callable[[str, str], Session | None]
_INVALID_TOKEN = "The security token included in the request is invalid."

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# Any of these in the query string means the client meant a presigned URL.
_PRESIGN_MARKERS = frozenset({"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"})
# The services lambdad answers on its port, by the name their requests are signed for
# (the credential scope's service). A service added to the API port is added here.
# Services routed by the scope alone (no X-Amz-Target, paths of their own): REST-JSON,
# query and RPC-v2-CBOR APIs beside Lambda's, each answered by the responder registered
# for its name (``App.scoped_services``; one not registered is an unknown operation).
SCOPED_SERVICES = frozenset(
    {"scheduler", "apigateway", "monitoring", "cloudformation", "elasticloadbalancing", "xray"}
)
SERVICES = frozenset({"lambda", "logs", "sts", "events", "codedeploy"}) | SCOPED_SERVICES
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
    """Who signed a request, and for which region and service they scoped it; with a
    session key, the execution-role session it belongs to."""

    credential: Credential
    region: str
    service: str
    session: Session | None = None

    @property
    def arn(self) -> str:
        """Who the principal is, as AWS names it in AccessDenied messages."""
        if self.session is not None:
            return self.session.assumed_role_arn
        return f"arn:aws:iam::{self.credential.account_id}:root"


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
    sessions: OpenSession | None = None,
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
    claim, credential, signed_params, by_name, session = _claimed(
        query_string, headers, lookup, now, service, sessions
    )
    principal = _check_signature(
        method,
        raw_path,
        claim,
        credential,
        signed_params,
        by_name,
        _payload_hash(by_name, body),
    )
    if session is not None:
        return Principal(principal.credential, principal.region, principal.service, session)
    return principal


def check_head(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Sequence[tuple[str, str]],
    lookup: Callable[[str], Credential | None],
    now: datetime,
    *,
    service: str | None = None,
    sessions: OpenSession | None = None,
) -> None:
    """What of a request's signature can be checked before its body is read: that it
    has one, by a known key, within its time window and scope; and the signature
    itself when the payload's hash is declared (``x-amz-content-sha256``). Raises as
    ``verify`` does; ``verify`` must still check the whole request."""
    claim, credential, signed_params, by_name, _ = _claimed(
        query_string, headers, lookup, now, service, sessions
    )
    declared = first(by_name, "x-amz-content-sha256")
    if declared == UNSIGNED_PAYLOAD or (declared and _PAYLOAD_DIGEST.fullmatch(declared)):
        _check_signature(method, raw_path, claim, credential, signed_params, by_name, declared)


def _claimed(
    query_string: str,
    headers: Sequence[tuple[str, str]],
    lookup: Callable[[str], Credential | None],
    now: datetime,
    service: str | None,
    sessions: OpenSession | None = None,
) -> tuple[Claim, Credential, list[tuple[str, str]], dict[str, list[str]], Session | None]:
    """The signature's claim, checked but for the signature itself."""
    params = split_query(query_string)
    by_name = index_headers(headers)
    authorization = first(by_name, "authorization")
    if authorization is not None:
        claim = claim_from_header(authorization, by_name)
        signed_params = params
        token = first(by_name, "x-amz-security-token")
    elif any(name in _PRESIGN_MARKERS for name, _ in params):
        claim = claim_from_query(params)
        # The signature cannot sign itself.
        signed_params = [(k, v) for k, v in params if k != "X-Amz-Signature"]
        token = next((v for k, v in params if k == "X-Amz-Security-Token"), None)
    else:
        raise MissingAuthenticationTokenException("Missing Authentication Token")

    session = None
    credential = lookup(claim.access_key_id)
    # A long-term key signs on its own: a token beside it is ignored (tools that always
    # send one keep working); only a session's key needs its token.
    if credential is None and token and sessions and is_session_key(claim.access_key_id):
        session = sessions(claim.access_key_id, token)
        if session is not None:
            credential = Credential(claim.access_key_id, session.secret_access_key, session.account)
    if credential is None:
        raise UnrecognizedClientException(_INVALID_TOKEN)
    check_time(claim, now)
    if session is not None and session.expired(now):
        raise ExpiredTokenException("The security token included in the request is expired")
    _check_scope(claim, service)
    return claim, credential, signed_params, by_name, session


def _check_scope(claim: Claim, service: str | None) -> None:
    if not _REGION.fullmatch(claim.region):
        raise InvalidSignatureException(
            f"Credential should be scoped to a valid region, not '{claim.region[:100]}'. "
        )
    if service is not None and claim.service != service:
        raise InvalidSignatureException(
            f"Credential should be scoped to correct service: '{service}'. "
        )
    # A caller naming the service (a front door checking its own, execute-api) takes
    # only that one; the API port takes any it answers.
    if service is None and claim.service not in SERVICES:
        raise InvalidSignatureException(
            f"Credential should be scoped to correct service: '{claim.service[:100]}' "
            "is not a service this endpoint answers. "
        )


def _check_signature(
    method: str,
    raw_path: str,
    claim: Claim,
    credential: Credential,
    signed_params: list[tuple[str, str]],
    by_name: dict[str, list[str]],
    payload_hash: str,
) -> Principal:
    canonical_request = "\n".join(
        (
            method.upper(),
            canonical_uri(raw_path),
            canonical_query(signed_params),
            canonical_headers(claim.signed_headers, by_name),
            claim.signed_headers,
            payload_hash,
        )
    )
    expected = sign(
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
        credential = next((v for k, v in split_query(query_string) if k == "X-Amz-Credential"), "")
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
    token: str | None = None,
) -> str:
    """Return ``base_url`` + ``path`` signed in the query string, valid ``expires`` seconds.

    ``path`` is the path as it will go on the wire (already percent-encoded) and
    may carry a query string of its own, which is signed along with it. Only the
    ``host`` header is signed, so any HTTP client can fetch the URL as is. ``token``:
    the session token of a session's credential, which the URL then carries.
    """
    if not 1 <= expires <= MAX_PRESIGNED_EXPIRES:
        raise ValueError(f"expires must be within 1..{MAX_PRESIGNED_EXPIRES}, got {expires}")
    base = urlsplit(base_url)
    host = host_header(base.scheme, base.netloc)
    path, _, own_query = path.partition("?")
    full_path = base.path.rstrip("/") + path
    amz_date = format_amz_date(now)
    scope_date = amz_date[:8]
    params = [
        *split_query(own_query),
        ("X-Amz-Algorithm", ALGORITHM),
        (
            "X-Amz-Credential",
            f"{credential.access_key_id}/{scope_date}/{region}/{service}/{TERMINATOR}",
        ),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", "host"),
    ]
    if token is not None:
        params.append(("X-Amz-Security-Token", token))
    # Sending the canonical query string itself means the server sees exactly what was signed.
    query = canonical_query(params)
    canonical_request = "\n".join(
        (
            method.upper(),
            canonical_uri(full_path),
            query,
            f"host:{host}\n",
            "host",
            hashlib.sha256(b"").hexdigest(),
        )
    )
    signature = sign(
        credential.secret_access_key, amz_date, scope_date, region, service, canonical_request
    )
    return f"{base.scheme}://{host}{full_path}?{query}&X-Amz-Signature={signature}"


def _payload_hash(by_name: dict[str, list[str]], body: bytes) -> str:
    declared = first(by_name, "x-amz-content-sha256")
    if declared == UNSIGNED_PAYLOAD:
        return declared
    # Hash the body even when a digest is declared: trusting the header would let
    # a tampered body through under a valid signature.
    return hashlib.sha256(body).hexdigest()
