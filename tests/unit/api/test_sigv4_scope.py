"""What a signature's scope must say (a region, the service the request reached), what
can be checked from a request's head alone, and hostile presigned-URL lifetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock
from urllib.parse import urlsplit

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lambdad.api import sigv4_claim
from lambdad.api.sigv4 import SERVICES, check_head, verify
from lambdad.errors import (
    AwsError,
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from lambdad.model.credential import Credential

KEY = Credential("AKIDEXAMPLE", "secret", "123456789012")
AT = datetime(2024, 1, 1, tzinfo=UTC)
URL = "http://127.0.0.1:9550/2015-03-31/functions"

Wire = tuple[str, str, str, list[tuple[str, str]], bytes]


def lookup(access_key_id: str) -> Credential | None:
    return KEY if access_key_id == KEY.access_key_id else None


def signed(
    *,
    service: str = "lambda",
    region: str = "us-east-1",
    body: bytes = b"{}",
    headers: dict[str, str] | None = None,
    secret: str = KEY.secret_access_key,
) -> Wire:
    request = AWSRequest(method="POST", url=URL, data=body, headers=headers or {})
    clock = mock.patch.object(botocore.auth, "get_current_datetime", return_value=AT)
    with clock:
        SigV4Auth(Credentials(KEY.access_key_id, secret), service, region).add_auth(request)
    prepared = request.prepare()
    url = urlsplit(prepared.url)
    wire = [("host", url.netloc)]
    wire += [
        (k.lower(), v.decode() if isinstance(v, bytes) else v) for k, v in prepared.headers.items()
    ]
    return "POST", url.path, url.query, wire, body


def check(wire: Wire, service: str | None = "lambda") -> None:
    method, path, query, headers, body = wire
    verify(method, path, query, headers, body, lookup, AT, service=service)


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-3", "us-gov-west-1", "cn-north-1"])
def test_any_aws_region_is_a_valid_scope(region: str) -> None:
    check(signed(region=region))


@pytest.mark.parametrize("region", ["bogus", "US-EAST-1", "us-east-1x", "x" * 5000, "*"])
def test_a_scope_that_names_no_region_is_refused(region: str) -> None:
    with pytest.raises(InvalidSignatureException) as caught:
        check(signed(region=region))
    assert caught.value.message.startswith("Credential should be scoped to a valid region")
    assert len(caught.value.message) < 200


def test_a_request_signed_for_another_service_is_refused_with_awss_message() -> None:
    with pytest.raises(InvalidSignatureException) as caught:
        check(signed(service="s3"))
    assert caught.value.message == "Credential should be scoped to correct service: 'lambda'. "
    # Signed for the Logs API but sent to the Lambda API (and the other way round).
    with pytest.raises(InvalidSignatureException):
        check(signed(service="logs"), service="lambda")
    with pytest.raises(InvalidSignatureException):
        check(signed(service="lambda"), service="logs")
    check(signed(service="logs"), service="logs")


def test_without_an_expected_service_only_the_services_lambdad_answers_pass() -> None:
    assert {"lambda", "logs", "sts"} <= SERVICES
    for service in sorted(SERVICES):
        check(signed(service=service), service=None)
    with pytest.raises(InvalidSignatureException):
        check(signed(service="s3"), service=None)


def head_check(wire: Wire) -> None:
    method, path, query, headers, _ = wire
    check_head(method, path, query, headers, lookup, AT, service="lambda")


def test_the_head_check_refuses_what_it_can_without_the_body() -> None:
    head_check(signed())  # a good head passes without its body
    unsigned: Wire = ("POST", "/2015-03-31/functions", "", [("host", "h")], b"")
    cases: list[tuple[Wire, type[AwsError]]] = [
        (unsigned, MissingAuthenticationTokenException),
        (signed(service="s3"), InvalidSignatureException),
        (signed(region="nowhere"), InvalidSignatureException),
    ]
    method, path, query, headers, body = signed()
    unknown = [(k, v.replace("AKIDEXAMPLE", "AKIDUNKNOWN")) for k, v in headers]
    cases.append(((method, path, query, unknown, body), UnrecognizedClientException))
    for wire, error in cases:
        with pytest.raises(error):
            head_check(wire)


def test_with_a_declared_payload_hash_the_head_check_verifies_the_signature() -> None:
    declared = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    head_check(signed(headers=declared))
    with pytest.raises(InvalidSignatureException):
        head_check(signed(headers=declared, secret="wrong"))
    # Without one, a forged signature waits for the body to be found out.
    head_check(signed(secret="wrong"))
    with pytest.raises(InvalidSignatureException):
        check(signed(secret="wrong"))


@pytest.mark.parametrize(
    ("expires", "error"),
    [
        ("9" * 5000, IncompleteSignatureException),
        ("0" * 5000 + "60", None),
        ("604801", IncompleteSignatureException),
        ("-1", IncompleteSignatureException),
        ("١٢", IncompleteSignatureException),  # digits, but not ASCII ones
    ],
)
def test_presigned_lifetimes_are_bounded_before_they_are_converted(
    expires: str, error: type[AwsError] | None
) -> None:
    query = [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", f"{KEY.access_key_id}/20240101/us-east-1/lambda/aws4_request"),
        ("X-Amz-Date", "20240101T000000Z"),
        ("X-Amz-Expires", expires),
        ("X-Amz-SignedHeaders", "host"),
        ("X-Amz-Signature", "0" * 64),
    ]
    if error is None:
        claim = sigv4_claim.claim_from_query(query)
        assert claim.expires == 60
    else:
        with pytest.raises(error):
            sigv4_claim.claim_from_query(query)
