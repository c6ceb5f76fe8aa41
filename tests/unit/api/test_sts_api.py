"""STS GetCallerIdentity, driven by botocore's own ``sts`` client.

botocore serialises and signs each request as it would for AWS; instead of sending it,
a ``before-send`` hook hands it to ``StsApi.respond`` and gives botocore the answer to
parse. So the request shapes, the XML and the error codes are checked against the
client every tool uses, without a socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError

from lambdad.api.sts_api import StsApi, is_sts_request
from lambdad.clock import FakeClock
from lambdad.model.credential import Credential

CRED = Credential("LKIASTSTEST000000001", "sts-test-secret", "123456789012")
ENDPOINT = "http://127.0.0.1:9550"


class _Raw:
    """The body of an answer, as urllib3's response hands it to botocore."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, *_: Any, **__: Any) -> Iterator[bytes]:
        yield self.body


class Wire:
    """Answers botocore's prepared requests with ``StsApi.respond``."""

    def __init__(self) -> None:
        self.clock = FakeClock(datetime.now(UTC))
        self.api = StsApi(lambda key: CRED if key == CRED.access_key_id else None, self.clock)
        self.seen: list[tuple[str, str, list[tuple[str, str]], bytes]] = []

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        url = urlsplit(request.url)
        headers = [("host", url.netloc)]
        headers += [
            (k.lower(), v.decode() if isinstance(v, bytes) else v)
            for k, v in request.headers.items()
        ]
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        path = url.path or "/"
        self.seen.append((path, url.query, headers, body))
        status, out_headers, out_body = self.api.respond(
            request.method, path, url.query, headers, body, "req-0001"
        )
        decoded = {k.decode(): v.decode() for k, v in out_headers}
        return AWSResponse(request.url, status, decoded, _Raw(out_body))  # type: ignore[arg-type]


@pytest.fixture
def wire() -> Wire:
    return Wire()


def sts(wire: Wire, key: str = CRED.access_key_id, secret: str = CRED.secret_access_key) -> Any:
    client = boto3.session.Session().client(
        "sts",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}),
    )
    client.meta.events.register("before-send.sts", wire)
    return client


def test_get_caller_identity_names_the_accounts_root(wire: Wire) -> None:
    out = sts(wire).get_caller_identity()
    assert out["Account"] == "123456789012"
    assert out["Arn"] == "arn:aws:iam::123456789012:root"
    assert out["UserId"] == "123456789012"
    assert out["ResponseMetadata"]["RequestId"] == "req-0001"


def test_the_request_is_recognised_by_its_signing_scope(wire: Wire) -> None:
    sts(wire).get_caller_identity()
    path, query, headers, body = wire.seen[0]
    assert body == b"Action=GetCallerIdentity&Version=2011-06-15"
    assert is_sts_request(path, query, headers)
    # A Logs API call on the same port (signed for "logs", X-Amz-Target) is not STS.
    logs = [(k, v.replace("/sts/", "/logs/")) for k, v in headers]
    assert not is_sts_request(path, query, [*logs, ("x-amz-target", "Logs_20140328.X")])
    assert not is_sts_request("/2015-03-31/functions/", "", headers)


def test_the_response_is_stss_xml(wire: Wire) -> None:
    sts(wire).get_caller_identity()
    path, query, headers, body = wire.seen[0]
    status, out_headers, out = wire.api.respond("POST", path, query, headers, body, "r-2")
    assert status == 200
    assert (b"content-type", b"text/xml") in out_headers
    root = ElementTree.fromstring(out)
    ns = "{https://sts.amazonaws.com/doc/2011-06-15/}"
    assert root.tag == f"{ns}GetCallerIdentityResponse"
    assert root.findtext(f"{ns}GetCallerIdentityResult/{ns}Account") == "123456789012"
    assert root.findtext(f"{ns}ResponseMetadata/{ns}RequestId") == "r-2"


@pytest.mark.parametrize(
    ("key", "secret", "status", "code"),
    [
        ("LKIANOSUCHKEY0000000", "whatever", 403, "InvalidClientTokenId"),
        (CRED.access_key_id, "wrong-secret", 403, "SignatureDoesNotMatch"),
    ],
)
def test_bad_credentials_are_stss_errors(
    wire: Wire, key: str, secret: str, status: int, code: str
) -> None:
    with pytest.raises(ClientError) as caught:
        sts(wire, key, secret).get_caller_identity()
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert error["Error"]["Code"] == code
    assert error["Error"]["Type"] == "Sender"


def test_an_old_signature_has_expired(wire: Wire) -> None:
    wire.clock.advance(16 * 60)
    with pytest.raises(ClientError) as caught:
        sts(wire).get_caller_identity()
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert "Signature expired" in caught.value.response["Error"]["Message"]


def test_other_operations_are_refused_in_stss_shape(wire: Wire) -> None:
    with pytest.raises(ClientError) as caught:
        sts(wire).get_session_token()
    assert caught.value.response["Error"]["Code"] == "InvalidAction"
    assert "not supported by lambdad" in caught.value.response["Error"]["Message"]


def _send_form(wire: Wire, form: bytes) -> ClientError:
    """Send ``form`` signed: botocore signs it (the body swapped before it signs)."""

    def swap(request: Any, **_: Any) -> None:
        request.data = form

    client = sts(wire)
    client.meta.events.register_first("before-sign.sts", swap)
    with pytest.raises(ClientError) as caught:
        client.get_caller_identity()
    assert wire.seen[-1][3] == form
    return caught.value


@pytest.mark.parametrize(
    ("form", "code", "message"),
    [
        (b"Version=2011-06-15", "MissingAction", "Missing Action"),
        (
            b"Action=NoSuchThing&Version=2011-06-15",
            "InvalidAction",
            "Could not find operation NoSuchThing for version 2011-06-15",
        ),
        (
            b"Action=GetCallerIdentity&Version=2099-01-01",
            "InvalidAction",
            "Could not find operation GetCallerIdentity for version 2099-01-01",
        ),
        (b"Action=\xff\xfe", "MalformedInput", "The request body is not UTF-8."),
    ],
)
def test_malformed_requests_are_400s_in_stss_shape(
    wire: Wire, form: bytes, code: str, message: str
) -> None:
    error = _send_form(wire, form).response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert (error["Error"]["Code"], error["Error"]["Message"]) == (code, message)
    assert error["ResponseMetadata"]["RequestId"] == "req-0001"


def test_an_unsigned_form_post_is_sts_and_refused_so() -> None:
    headers = [("host", "127.0.0.1:9550"), ("content-type", "application/x-www-form-urlencoded")]
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    assert is_sts_request("/", "", headers)
    status, _, out = Wire().api.respond("POST", "/", "", headers, body, "r-4")
    assert status == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in out
