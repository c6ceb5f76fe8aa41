"""The upstream relay's signing: a session's SigV4 signature checked as the SDKs make
it, and the request signed again with the operator's keys for the upstream's host."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lambdad.api import sigv4
from lambdad.environments.upstream_sigv4 import Refused, Request, check, claim_of, resigned
from lambdad.model.credential import Credential
from lambdad.model.upstream import UpstreamCredential

SESSION = Credentials("ASIASESSION", "session-secret", "session-token")
UPSTREAM = UpstreamCredential("AKIAOPERATOR", "operator-secret")


def botocore_signed(
    service: str, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> Request:
    """A request as boto3 inside a function signs it with its session."""
    aws = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    auth = S3SigV4Auth if service == "s3" else SigV4Auth
    auth(SESSION, service, "us-east-1").add_auth(aws)
    target = url.split("://", 1)[1]
    path_query = "/" + target.split("/", 1)[1] if "/" in target else "/"
    path, _, query = path_query.partition("?")
    host = target.split("/", 1)[0]
    sent = (("Host", host), *((k, str(v)) for k, v in aws.headers.items()))
    return Request(method, path, query, sent, body)


def signed_at(request: Request) -> datetime:
    stamp = request.header("x-amz-date") or ""
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("service", "method", "url", "body"),
    [
        (
            "s3",
            "GET",
            "http://127.0.0.1:4566/bucket/a%20key%2Bplus?versionId=1&x-id=GetObject",
            b"",
        ),
        ("s3", "PUT", "http://127.0.0.1:4566/bucket/k", b"payload"),
        ("dynamodb", "POST", "http://127.0.0.1:8000/", b'{"TableName": "t"}'),
    ],
)
def test_a_session_signature_made_by_botocore_checks(
    service: str, method: str, url: str, body: bytes
) -> None:
    request = botocore_signed(service, method, url, body)
    claim = claim_of(request)
    assert claim is not None
    assert claim.service == service
    digest = check(request, claim, "session-secret", signed_at(request))
    assert digest in (hashlib.sha256(body).hexdigest(), "UNSIGNED-PAYLOAD")


def test_another_secret_a_changed_body_or_an_old_date_is_refused() -> None:
    request = botocore_signed("s3", "PUT", "http://127.0.0.1:4566/bucket/k", b"payload")
    claim = claim_of(request)
    assert claim is not None
    now = signed_at(request)
    with pytest.raises(Refused) as wrong:
        check(request, claim, "another-secret", now)
    assert (wrong.value.status, wrong.value.code) == (403, "SignatureDoesNotMatch")
    tampered = Request(request.method, request.path, request.query, request.headers, b"other")
    with pytest.raises(Refused) as changed:
        check(tampered, claim, "session-secret", now)
    assert changed.value.code == "XAmzContentSHA256Mismatch"
    with pytest.raises(Refused) as late:
        check(request, claim, "session-secret", now + timedelta(minutes=16))
    assert late.value.code == "RequestTimeTooSkewed"


def test_chunk_signed_uploads_are_refused_and_unsigned_requests_carry_no_claim() -> None:
    signed = botocore_signed("s3", "PUT", "http://127.0.0.1:4566/bucket/k", b"x")
    chunked = tuple(
        (k, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" if k.lower() == "x-amz-content-sha256" else v)
        for k, v in signed.headers
    )
    request = Request("PUT", signed.path, "", chunked, b"x")
    claim = claim_of(request)
    assert claim is not None
    with pytest.raises(Refused) as refused:
        check(request, claim, "session-secret", signed_at(request))
    assert refused.value.status == 501
    assert claim_of(Request("GET", "/", "", (("Host", "h"),), b"")) is None
    with pytest.raises(Refused):
        claim_of(Request("GET", "/", "", (("Authorization", "AWS4-HMAC-SHA256 junk"),), b""))


def test_the_request_is_signed_again_for_the_upstream_with_the_operators_key() -> None:
    request = botocore_signed("dynamodb", "POST", "http://127.0.0.1:8000/", b"{}")
    claim = claim_of(request)
    assert claim is not None
    now = signed_at(request) + timedelta(seconds=3)
    digest = check(request, claim, "session-secret", now)
    token = UpstreamCredential("AKIAOPERATOR", "operator-secret", "upstream-token", "eu-west-1")
    headers = resigned(request, claim, digest, token, "dynamodb.example:8000", now)
    names = [k.lower() for k, _ in headers]
    assert names.count("host") == names.count("authorization") == names.count("x-amz-date") == 1
    values = {k.lower(): v for k, v in headers}
    assert values["x-amz-security-token"] == "upstream-token"
    assert "session-token" not in {v for _, v in headers}
    assert "Credential=AKIAOPERATOR/" in values["authorization"]
    # The upstream (here lambdad's own verifier) accepts it under the operator's key.
    principal = sigv4.verify(
        "POST",
        "/",
        "",
        headers,
        b"{}",
        lambda key: Credential(key, "operator-secret", "1") if key == "AKIAOPERATOR" else None,
        now,
        service="dynamodb",
    )
    assert (principal.credential.access_key_id, principal.region) == ("AKIAOPERATOR", "eu-west-1")


def test_an_s3_request_signed_again_checks_under_the_operators_key() -> None:
    request = botocore_signed("s3", "PUT", "http://127.0.0.1:4566/bucket/a%20b", b"body")
    claim = claim_of(request)
    assert claim is not None
    now = signed_at(request)
    digest = check(request, claim, "session-secret", now)
    headers = resigned(request, claim, digest, UPSTREAM, "127.0.0.1:4566", now)
    again = Request(request.method, request.path, request.query, headers, request.body)
    upstream_claim = claim_of(again)
    assert upstream_claim is not None
    assert upstream_claim.access_key_id == "AKIAOPERATOR"
    assert "x-amz-security-token" not in upstream_claim.signed_headers
    check(again, upstream_claim, "operator-secret", now)
