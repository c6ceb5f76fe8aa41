"""Requests signed by botocore verify; altered, stale or malformed ones do not."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import parse_qsl, quote, urlsplit

import botocore.auth
import botocore.session
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lambdad.api.sigv4 import Principal, presign_url, signing_service, verify
from lambdad.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from lambdad.model.credential import Credential

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CREDENTIAL = Credential(ACCESS_KEY, SECRET_KEY, "123456789012")
SIGNED_AT = datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC)
ENDPOINT = "http://127.0.0.1:9550"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:foo:$LATEST"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


def lookup(access_key_id: str) -> Credential | None:
    return CREDENTIAL if access_key_id == ACCESS_KEY else None


@dataclasses.dataclass(frozen=True)
class Received:
    """A request as the server sees it on the wire."""

    method: str
    raw_path: str
    query_string: str
    headers: list[tuple[str, str]]
    body: bytes

    def verify(self, now: datetime = SIGNED_AT) -> Principal:
        return verify(
            self.method, self.raw_path, self.query_string, self.headers, self.body, lookup, now
        )

    def header(self, name: str) -> str:
        return next(v for k, v in self.headers if k.lower() == name)

    def replace_header(self, name: str, value: str) -> Received:
        headers = [(k, value if k.lower() == name else v) for k, v in self.headers]
        return dataclasses.replace(self, headers=headers)

    def without_header(self, name: str) -> Received:
        headers = [(k, v) for k, v in self.headers if k.lower() != name]
        return dataclasses.replace(self, headers=headers)


def received(prepared: Any) -> Received:
    """What the HTTP client puts on the wire for a prepared botocore request."""
    url = urlsplit(prepared.url)
    # botocore signs a host derived from the URL; the HTTP client sends it as Host.
    headers = [("Host", url.netloc)]
    for name, value in prepared.headers.items():
        headers.append((name, value.decode() if isinstance(value, bytes) else value))
    body = prepared.body or b""
    return Received(
        prepared.method,
        url.path,
        url.query,
        headers,
        body.encode() if isinstance(body, str) else body,
    )


def frozen_botocore_clock(at: datetime) -> Any:
    return mock.patch.object(
        botocore.auth, "get_current_datetime", return_value=at.replace(tzinfo=None)
    )


def sign(
    method: str,
    url: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    service: str = "lambda",
    token: str | None = None,
    at: datetime = SIGNED_AT,
) -> Received:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    with frozen_botocore_clock(at):
        SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, token), service, "us-east-1").add_auth(
            request
        )
    return received(request.prepare())


def presign_with_botocore(url: str, *, expires: int, at: datetime = SIGNED_AT) -> Received:
    request = AWSRequest(method="GET", url=url)
    with frozen_botocore_clock(at):
        SigV4QueryAuth(
            Credentials(ACCESS_KEY, SECRET_KEY), "lambda", "us-east-1", expires
        ).add_auth(request)
    return received(request.prepare())


def received_from_url(url: str, method: str = "GET") -> Received:
    parts = urlsplit(url)
    return Received(method, parts.path, parts.query, [("host", parts.netloc)], b"")


EXPECTED = Principal(credential=CREDENTIAL, region="us-east-1", service="lambda")


# --- requests signed by botocore verify ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path_and_query", "body"),
    [
        pytest.param("GET", "/2015-03-31/functions/?MaxItems=5&Marker=abc", b"", id="get-query"),
        pytest.param(
            "POST",
            "/2015-03-31/functions/foo/invocations",
            json.dumps({"key": "value", "n": [1, 2]}).encode(),
            id="post-json",
        ),
        pytest.param(
            "GET",
            f"/2015-03-31/functions/{quote(ARN, safe='')}/configuration",
            b"",
            id="encoded-arn-latest",
        ),
        pytest.param(
            "GET", f"/2015-03-31/functions/{ARN}/configuration", b"", id="raw-colons-and-dollar"
        ),
        pytest.param(
            "GET",
            "/2015-03-31/functions/?Marker=x%20y%20%C3%BC%E2%82%AC&FunctionVersion=ALL",
            b"",
            id="unicode-and-space-in-query",
        ),
        pytest.param("GET", "/2015-03-31/functions/?A=2&A=1&B=", b"", id="repeated-and-empty"),
        pytest.param("GET", "/2015-03-31//functions/", b"", id="double-slash"),
        pytest.param("GET", "", b"", id="empty-path"),
    ],
)
def test_botocore_signed_request_verifies(method: str, path_and_query: str, body: bytes) -> None:
    request = sign(method, ENDPOINT + path_and_query, body=body)
    assert request.verify() == EXPECTED


def test_plus_in_the_query_string_is_a_space() -> None:
    # Form-encoding clients send a space as '+' but sign it as %20.
    request = sign("GET", ENDPOINT + "/2015-03-31/functions/?Marker=x%20y%2Bz")
    plus = dataclasses.replace(request, query_string="Marker=x+y%2Bz")
    assert plus.verify() == EXPECTED


def test_principal_carries_region_and_service_of_the_scope() -> None:
    request = sign("POST", ENDPOINT + "/", body=b"{}", service="logs")
    assert request.verify() == Principal(CREDENTIAL, "us-east-1", "logs")


def test_session_token_is_accepted_as_a_signed_header() -> None:
    request = sign("GET", ENDPOINT + "/2015-03-31/functions/", token="FwoGZXIvYXdzEXAMPLE//+=")
    assert "x-amz-security-token" in request.header("authorization")
    assert request.verify() == EXPECTED


def test_date_header_stands_in_for_x_amz_date() -> None:
    request = sign(
        "GET",
        ENDPOINT + "/2015-03-31/functions/",
        headers={"Date": "Mon, 01 Jan 2024 00:00:00 GMT"},
    )
    assert not any(name.lower() == "x-amz-date" for name, _ in request.headers)
    assert request.verify() == EXPECTED


def test_header_names_are_case_insensitive_and_values_trimmed() -> None:
    request = sign(
        "GET", ENDPOINT + "/", headers={"X-Custom": "a,b", "X-Spaced": "one  two   three"}
    )
    headers = [(name.upper(), value) for name, value in request.headers if name != "X-Custom"]
    headers += [("x-custom", "a"), ("X-CUSTOM", "  b ")]
    rewritten = dataclasses.replace(request, headers=headers).replace_header(
        "x-spaced", "  one two  three "
    )
    assert rewritten.verify() == EXPECTED


def test_unsigned_payload_does_not_cover_the_body() -> None:
    request = sign(
        "POST",
        ENDPOINT + "/",
        body=b"original",
        headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
    )
    assert dataclasses.replace(request, body=b"other").verify() == EXPECTED


def test_declared_payload_hash_must_match_the_body() -> None:
    body = b'{"a": 1}'
    digest = hashlib.sha256(body).hexdigest()
    request = sign("POST", ENDPOINT + "/", body=body, headers={"X-Amz-Content-SHA256": digest})
    assert request.verify() == EXPECTED
    with pytest.raises(InvalidSignatureException):
        dataclasses.replace(request, body=b'{"a": 2}').verify()


def test_verify_accepts_a_naive_utc_now() -> None:
    request = sign("GET", ENDPOINT + "/")
    assert request.verify(now=SIGNED_AT.replace(tzinfo=None)) == EXPECTED


# --- requests from a real botocore lambda client ----------------------------------------------


class Captured(Exception):
    """Stops the client right before it would open a connection."""

    def __init__(self, request: Any) -> None:
        super().__init__("captured")
        self.request = request


@pytest.fixture(scope="module")
def lambda_client() -> Any:
    # Keep the developer's own AWS configuration out of the test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    with mock.patch.dict(os.environ, env, clear=True):
        client = botocore.session.get_session().create_client(
            "lambda",
            region_name="us-east-1",
            endpoint_url=ENDPOINT,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def capture(request: Any, **_: Any) -> None:
        raise Captured(request)

    client.meta.events.register("before-send.lambda", capture)
    return client


def capture(call: Callable[[], object]) -> Received:
    with frozen_botocore_clock(SIGNED_AT), pytest.raises(Captured) as captured:
        call()
    return received(captured.value.request)


def test_real_client_get_function_by_qualified_arn(lambda_client: Any) -> None:
    request = capture(lambda: lambda_client.get_function(FunctionName=ARN))
    assert "%24LATEST" in request.raw_path
    assert request.verify() == EXPECTED


def test_real_client_list_functions_with_space_in_marker(lambda_client: Any) -> None:
    request = capture(lambda: lambda_client.list_functions(MaxItems=5, Marker="x y+z"))
    assert "Marker=x%20y%2Bz" in request.query_string
    assert request.verify() == EXPECTED


def test_real_client_invoke_with_payload(lambda_client: Any) -> None:
    request = capture(lambda: lambda_client.invoke(FunctionName="foo", Payload=b'{"k": "v"}'))
    assert request.verify() == EXPECTED
    with pytest.raises(InvalidSignatureException):
        dataclasses.replace(request, body=b'{"k": "w"}').verify()


# --- authentication failures -------------------------------------------------------------------


def test_unsigned_request_is_missing_a_token() -> None:
    request = sign("GET", ENDPOINT + "/?a=1").without_header("authorization")
    with pytest.raises(
        MissingAuthenticationTokenException, match=r"^Missing Authentication Token$"
    ):
        request.verify()


def test_unknown_access_key_is_unrecognized() -> None:
    request = sign("GET", ENDPOINT + "/")
    other = request.replace_header(
        "authorization", request.header("authorization").replace(ACCESS_KEY, "AKIDOTHER")
    )
    with pytest.raises(UnrecognizedClientException) as raised:
        other.verify()
    assert raised.value.message == "The security token included in the request is invalid."


def test_wrong_secret_does_not_match() -> None:
    request = AWSRequest(method="GET", url=ENDPOINT + "/")
    with frozen_botocore_clock(SIGNED_AT):
        SigV4Auth(Credentials(ACCESS_KEY, "not-the-secret"), "lambda", "us-east-1").add_auth(
            request
        )
    with pytest.raises(InvalidSignatureException) as raised:
        received(request.prepare()).verify()
    assert raised.value.message == MISMATCH
    assert raised.value.status == 403


def tamper_path(r: Received) -> Received:
    return dataclasses.replace(r, raw_path=r.raw_path.replace("foo", "bar"))


def tamper_query(r: Received) -> Received:
    return dataclasses.replace(r, query_string=r.query_string.replace("5", "6"))


def add_query(r: Received) -> Received:
    return dataclasses.replace(r, query_string=r.query_string + "&Extra=1")


def tamper_body(r: Received) -> Received:
    return dataclasses.replace(r, body=b'{"x": 2}')


def tamper_method(r: Received) -> Received:
    return dataclasses.replace(r, method="PUT")


def tamper_signed_header(r: Received) -> Received:
    return r.replace_header("x-custom", "evil")


def tamper_host(r: Received) -> Received:
    return r.replace_header("host", "127.0.0.1:9551")


def drop_signed_header(r: Received) -> Received:
    return r.without_header("x-custom")


def tamper_date(r: Received) -> Received:
    return r.replace_header("x-amz-date", "20240101T000001Z")


def tamper_signature(r: Received) -> Received:
    auth = r.header("authorization")
    return r.replace_header("authorization", auth[:-1] + ("0" if auth[-1] != "0" else "1"))


@pytest.mark.parametrize(
    "tamper",
    [
        tamper_path,
        tamper_query,
        add_query,
        tamper_body,
        tamper_method,
        tamper_signed_header,
        tamper_host,
        drop_signed_header,
        tamper_date,
        tamper_signature,
    ],
)
def test_tampered_request_does_not_match(tamper: Callable[[Received], Received]) -> None:
    request = sign(
        "POST",
        ENDPOINT + "/2015-03-31/functions/foo/invocations?MaxItems=5",
        body=b'{"x": 1}',
        headers={"X-Custom": "good"},
    )
    assert request.verify() == EXPECTED
    with pytest.raises(InvalidSignatureException, match=r"^The request signature we calculated"):
        tamper(request).verify()


def test_sixteen_minutes_of_skew_is_expired() -> None:
    request = sign("GET", ENDPOINT + "/")
    with pytest.raises(InvalidSignatureException) as raised:
        request.verify(now=SIGNED_AT + timedelta(minutes=16))
    assert raised.value.message == (
        "Signature expired: 20240101T000000Z is now earlier than 20240101T000100Z "
        "(20240101T001600Z - 15 min.)"
    )


@pytest.mark.parametrize("minutes", [-15, -14, 14, 15])
def test_skew_within_fifteen_minutes_passes(minutes: int) -> None:
    request = sign("GET", ENDPOINT + "/")
    assert request.verify(now=SIGNED_AT + timedelta(minutes=minutes)) == EXPECTED


def test_signature_from_sixteen_minutes_ahead_is_not_yet_current() -> None:
    request = sign("GET", ENDPOINT + "/")
    with pytest.raises(InvalidSignatureException) as raised:
        request.verify(now=SIGNED_AT - timedelta(minutes=16))
    assert raised.value.message == (
        "Signature not yet current: 20240101T000000Z is still later than 20231231T235900Z "
        "(20231231T234400Z + 15 min.)"
    )


def without_param(authorization: str, name: str) -> str:
    algorithm, _, rest = authorization.partition(" ")
    kept = [p for p in rest.split(", ") if not p.startswith(name + "=")]
    return f"{algorithm} {', '.join(kept)}"


@pytest.mark.parametrize("name", ["Credential", "SignedHeaders", "Signature"])
def test_authorization_without_a_parameter_is_incomplete(name: str) -> None:
    request = sign("GET", ENDPOINT + "/")
    auth = without_param(request.header("authorization"), name)
    with pytest.raises(IncompleteSignatureException) as raised:
        request.replace_header("authorization", auth).verify()
    assert raised.value.message == (
        f"Authorization header requires '{name}' parameter. Authorization={auth}"
    )


def test_non_sigv4_authorization_names_everything_missing() -> None:
    request = sign("GET", ENDPOINT + "/").replace_header("authorization", "Bearer abc")
    with pytest.raises(IncompleteSignatureException) as raised:
        request.without_header("x-amz-date").verify()
    assert raised.value.message == (
        "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=Bearer abc"
    )


def test_missing_date_is_incomplete() -> None:
    request = sign("GET", ENDPOINT + "/").without_header("x-amz-date")
    with pytest.raises(IncompleteSignatureException, match="'X-Amz-Date' or a 'Date' header"):
        request.verify()


def test_malformed_date_is_incomplete() -> None:
    request = sign("GET", ENDPOINT + "/").replace_header("x-amz-date", "2024-01-01T00:00:00Z")
    with pytest.raises(IncompleteSignatureException, match="ISO-8601 'basic format'"):
        request.verify()


def test_unsupported_algorithm_is_incomplete() -> None:
    request = sign("GET", ENDPOINT + "/")
    auth = request.header("authorization").replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512")
    with pytest.raises(IncompleteSignatureException, match="AWS4-HMAC-SHA512"):
        request.replace_header("authorization", auth).verify()


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        (
            f"{ACCESS_KEY}/20240101/us-east-1/lambda",
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{ACCESS_KEY}/20240101/us-east-1/lambda'",
        ),
        (
            f"{ACCESS_KEY}/20240101/us-east-1/lambda/aws5_request",
            "Credential should be scoped with a valid terminator: 'aws4_request', "
            "not 'aws5_request'.",
        ),
        (
            f"{ACCESS_KEY}/20240101//lambda/aws4_request",
            "Credential should be scoped to a valid region. ",
        ),
    ],
)
def test_malformed_credential_scope_is_incomplete(scope: str, message: str) -> None:
    request = sign("GET", ENDPOINT + "/")
    good = f"{ACCESS_KEY}/20240101/us-east-1/lambda/aws4_request"
    auth = request.header("authorization").replace(good, scope)
    with pytest.raises(IncompleteSignatureException) as raised:
        request.replace_header("authorization", auth).verify()
    assert raised.value.message == message


def test_scope_date_must_be_the_request_day() -> None:
    request = sign("GET", ENDPOINT + "/")
    auth = request.header("authorization").replace("/20240101/", "/20231231/")
    with pytest.raises(InvalidSignatureException) as raised:
        request.replace_header("authorization", auth).verify()
    assert raised.value.message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        "HTTP: '20231231' != '20240101', from '20240101T000000Z'."
    )


# --- query-string (presigned) signatures -------------------------------------------------------


def test_botocore_presigned_url_verifies_until_it_expires() -> None:
    request = presign_with_botocore(ENDPOINT + "/2015-03-31/functions/?MaxItems=5", expires=300)
    assert not any(name.lower() == "authorization" for name, _ in request.headers)
    assert request.verify(now=SIGNED_AT + timedelta(seconds=300)) == EXPECTED
    with pytest.raises(InvalidSignatureException, match=r"^Signature expired"):
        request.verify(now=SIGNED_AT + timedelta(seconds=301))


def test_presigned_url_with_tampered_query_does_not_match() -> None:
    request = presign_with_botocore(ENDPOINT + "/2015-03-31/functions/?MaxItems=5", expires=300)
    tampered = dataclasses.replace(
        request, query_string=request.query_string.replace("MaxItems=5", "MaxItems=50")
    )
    with pytest.raises(InvalidSignatureException, match=r"^The request signature we calculated"):
        tampered.verify()


def test_presigned_url_expiry_is_signed() -> None:
    request = presign_with_botocore(ENDPOINT + "/", expires=300)
    longer = dataclasses.replace(
        request, query_string=request.query_string.replace("X-Amz-Expires=300", "X-Amz-Expires=900")
    )
    with pytest.raises(InvalidSignatureException, match=r"^The request signature we calculated"):
        longer.verify(now=SIGNED_AT + timedelta(seconds=600))


@pytest.mark.parametrize(
    "name", ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders"]
)
def test_presigned_url_without_a_parameter_is_incomplete(name: str) -> None:
    request = presign_with_botocore(ENDPOINT + "/", expires=300)
    query = "&".join(p for p in request.query_string.split("&") if not p.startswith(name + "="))
    with pytest.raises(IncompleteSignatureException, match=f"must include '{name}'"):
        dataclasses.replace(request, query_string=query).verify()


def test_presigned_url_longer_than_a_week_is_incomplete() -> None:
    request = presign_with_botocore(ENDPOINT + "/", expires=300)
    query = request.query_string.replace("X-Amz-Expires=300", "X-Amz-Expires=604801")
    with pytest.raises(IncompleteSignatureException, match="less than a week"):
        dataclasses.replace(request, query_string=query).verify()


PRESIGN_ARGS: dict[str, Any] = {
    "credential": CREDENTIAL,
    "region": "us-east-1",
    "service": "lambda",
    "now": SIGNED_AT,
}


def test_presign_url_round_trips_and_expires() -> None:
    url = presign_url(
        ENDPOINT, "GET", "/2015-03-31/functions/foo/code", expires=600, **PRESIGN_ARGS
    )
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Credential"] == f"{ACCESS_KEY}/20240101/us-east-1/lambda/aws4_request"
    assert query["X-Amz-Date"] == "20240101T000000Z"
    assert query["X-Amz-Expires"] == "600"
    assert query["X-Amz-SignedHeaders"] == "host"
    request = received_from_url(url)
    assert request.verify(now=SIGNED_AT + timedelta(seconds=600)) == EXPECTED
    with pytest.raises(InvalidSignatureException, match=r"^Signature expired"):
        request.verify(now=SIGNED_AT + timedelta(seconds=601))
    with pytest.raises(InvalidSignatureException, match=r"^The request signature we calculated"):
        received_from_url(url, method="DELETE").verify()
    with pytest.raises(InvalidSignatureException, match=r"^The request signature we calculated"):
        received_from_url(url.replace("/foo/", "/bar/")).verify()


def test_presign_url_signs_what_botocore_signs() -> None:
    path = f"/2015-03-31/functions/{quote(ARN, safe='')}/code?Qualifier=x%20y"
    ours = presign_url(ENDPOINT, "GET", path, expires=900, **PRESIGN_ARGS)
    theirs = presign_with_botocore(ENDPOINT + path, expires=900)
    assert dict(parse_qsl(urlsplit(ours).query)) == dict(parse_qsl(theirs.query_string))
    assert received_from_url(ours).verify() == EXPECTED


@pytest.mark.parametrize(
    ("base_url", "host"),
    [
        ("https://lambda.example.com:443", "lambda.example.com"),
        ("http://lambda.example.com:80/prefix/", "lambda.example.com"),
        ("http://[::1]:9550", "[::1]:9550"),
    ],
)
def test_presign_url_signs_the_host_clients_send(base_url: str, host: str) -> None:
    url = presign_url(base_url, "GET", "/2015-03-31/functions/foo/code", **PRESIGN_ARGS)
    request = received_from_url(url)
    assert request.headers == [("host", host)]
    assert request.verify() == EXPECTED


def test_presign_url_rejects_lifetimes_aws_would_refuse() -> None:
    with pytest.raises(ValueError, match="expires"):
        presign_url(ENDPOINT, "GET", "/", expires=604801, **PRESIGN_ARGS)


# --- signing_service ----------------------------------------------------------------------------


def test_signing_service_reads_the_header_scope() -> None:
    request = sign("POST", ENDPOINT + "/", body=b"{}", service="logs")
    assert signing_service(request.headers, request.query_string) == "logs"


def test_signing_service_reads_the_query_scope() -> None:
    url = presign_url(ENDPOINT, "GET", "/x", **{**PRESIGN_ARGS, "service": "sts"})
    assert signing_service([("host", "127.0.0.1:9550")], urlsplit(url).query) == "sts"


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ([], ""),
        ([("Authorization", "Bearer abc")], ""),
        ([("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20240101")], ""),
        ([], "X-Amz-Credential=AKID%2F20240101"),
    ],
)
def test_signing_service_is_none_without_a_scope(
    headers: list[tuple[str, str]], query: str
) -> None:
    assert signing_service(headers, query) is None
