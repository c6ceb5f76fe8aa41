"""SigV4 with an execution-role session's key: accepted only with its own, unexpired
token; the principal carries the session, and a role policy decides what it may do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import botocore.auth
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lambdad.api import role_auth
from lambdad.api.sigv4 import Principal, verify
from lambdad.errors import AccessDeniedException, ExpiredTokenException, UnrecognizedClientException
from lambdad.model.credential import Credential
from lambdad.model.role_policy import DEFAULT, from_document
from lambdad.model.session import Session, SessionIssuer

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ISSUER = SessionIssuer(bytes(32), lifetime=3600)
ROLE = "arn:aws:iam::123456789012:role/runner"
FN = "arn:aws:lambda:us-east-1:123456789012:function:worker"
SESSION = ISSUER.mint("123456789012", ROLE, FN, NOW)
LONG_TERM = Credential("AKIDLONGTERM", "long-term-secret", "123456789012")
URL = "http://127.0.0.1:9550/2015-03-31/functions/"


def _lookup(akid: str) -> Credential | None:
    return LONG_TERM if akid == LONG_TERM.access_key_id else None


def _verify(request: AWSRequest, now: datetime = NOW) -> Principal:
    prepared = request.prepare()
    url = prepared.url.split("?", 1)
    headers = [("Host", "127.0.0.1:9550"), *((k, str(v)) for k, v in prepared.headers.items())]
    return verify(
        "GET", url[0].split("9550", 1)[1], url[1] if len(url) > 1 else "", headers, b"",
        _lookup, now, sessions=ISSUER.open,
    )  # fmt: skip


def _signed(
    session: Session, token: str | None, *, query: bool = False, at: datetime = NOW
) -> AWSRequest:
    request = AWSRequest(method="GET", url=URL)
    creds = Credentials(session.access_key_id, session.secret_access_key, token)
    signer = SigV4QueryAuth(creds, "lambda", "us-east-1") if query else None
    moment = (at + timedelta(seconds=5)).replace(tzinfo=None)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=moment):
        (signer or SigV4Auth(creds, "lambda", "us-east-1")).add_auth(request)
    return request


@pytest.mark.parametrize("query", [False, True])
def test_a_session_key_with_its_token_is_the_role(query: bool) -> None:
    principal = _verify(_signed(SESSION, SESSION.token, query=query))
    assert principal.session == SESSION
    assert principal.credential.account_id == "123456789012"
    assert principal.arn == "arn:aws:sts::123456789012:assumed-role/runner/worker"


def test_without_its_token_or_with_another_a_session_key_is_unknown() -> None:
    other = ISSUER.mint("123456789012", ROLE, FN, NOW)
    forged = SESSION.token[:10] + ("x" if SESSION.token[10] != "x" else "y") + SESSION.token[11:]
    for token in (None, other.token, forged):
        with pytest.raises(UnrecognizedClientException, match="security token"):
            _verify(_signed(SESSION, token))


def test_an_expired_session_is_refused_as_aws_does() -> None:
    later = NOW + timedelta(seconds=3600)
    request = _signed(SESSION, SESSION.token, at=later)
    with pytest.raises(ExpiredTokenException, match="expired"):
        _verify(request, later)
    # A second before its expiry it is still good.
    early = NOW + timedelta(seconds=3594)
    assert _verify(_signed(SESSION, SESSION.token, at=early), early).session == SESSION


def test_a_long_term_key_is_never_a_session() -> None:
    principal = _verify(
        _signed(
            Session(LONG_TERM.access_key_id, LONG_TERM.secret_access_key, "", "", "", "", NOW), None
        )
    )
    assert principal.session is None
    assert principal.arn == "arn:aws:iam::123456789012:root"


def test_role_policy_check() -> None:
    principal = Principal(Credential("ASIA1", "s", "123456789012"), "us-east-1", "lambda", SESSION)
    role_auth.check(principal, lambda _r: DEFAULT, "lambda:InvokeFunction", FN)
    narrow = from_document([{"Action": "lambda:GetFunction", "Resource": FN}])
    role_auth.check(principal, lambda _r: narrow, "lambda:GetFunction", FN)
    with pytest.raises(
        AccessDeniedException, match="no identity-based policy allows the lambda:InvokeFunction"
    ):
        role_auth.check(principal, lambda _r: narrow, "lambda:InvokeFunction", FN)
    root = Principal(LONG_TERM, "us-east-1", "lambda")
    role_auth.check(root, lambda _r: narrow, "lambda:DeleteFunction", FN)  # no session: root


def test_resources_named_by_requests() -> None:
    principal = Principal(Credential("ASIA1", "s", "123456789012"), "us-east-1", "lambda", SESSION)
    assert role_auth.lambda_resource(principal, {"FunctionName": "worker"}) == FN
    assert (
        role_auth.lambda_resource(principal, {"FunctionName": "worker", "Qualifier": "7"})
        == FN + ":7"
    )
    foreign = "arn:aws:lambda:us-east-1:210987654321:function:x"
    assert role_auth.lambda_resource(principal, {"FunctionName": foreign}) == foreign
    assert role_auth.lambda_resource(principal, {"LayerName": "deps"}).endswith(":layer:deps")
    assert role_auth.lambda_resource(principal, {}) == "*"
    assert role_auth.logs_resource(principal, b'{"logGroupName": "/aws/lambda/w"}') == (
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/w:*"
    )
    assert role_auth.logs_resource(principal, b"[") == "*"
    assert role_auth.target_action("Logs_20140328.FilterLogEvents") == (
        "logs:FilterLogEvents",
        "logs",
    )


def test_doors_without_a_resource_need_a_grant_on_everything() -> None:
    principal = Principal(Credential("ASIA1", "s", "123456789012"), "us-east-1", "lambda", SESSION)
    assert role_auth.permits(principal, lambda _r: DEFAULT, "lambda:InvokeFunctionUrl")
    assert not role_auth.permits(principal, lambda _r: DEFAULT, "execute-api:Invoke")
    narrow = from_document([{"Action": "lambda:InvokeFunctionUrl", "Resource": FN}])
    assert not role_auth.permits(principal, lambda _r: narrow, "lambda:InvokeFunctionUrl")
    root = Principal(LONG_TERM, "us-east-1", "lambda")
    assert role_auth.permits(root, lambda _r: narrow, "execute-api:Invoke")
