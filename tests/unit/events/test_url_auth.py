"""Who may call a function URL: both statements AWS asks of new URLs since October 2025
(``lambda:InvokeFunctionUrl`` and ``lambda:InvokeFunction`` through the URL), for
anyone (``AuthType NONE``) and for other accounts (``AWS_IAM``)."""

from __future__ import annotations

from typing import Any

import pytest

from lambdad.events.http.request import IamCaller
from lambdad.events.url_auth import UrlAuthorizer, UrlForbidden
from lambdad.events.url_cache import UrlCache
from lambdad.model import policy
from lambdad.model.changes import ChangeHub
from lambdad.model.function_url import UrlConfig
from lambdad.model.scope import Scope

ID = "abcdefghijklmnopqrstuvwxyz012345"
OWNER = "111111111111"
OTHER = "222222222222"
RESOURCE = f"arn:aws:lambda:us-east-1:{OWNER}:function:f"


def _url(principal: str = "*", auth: str = "NONE") -> dict[str, Any]:
    return {"StatementId": "url", "Action": "lambda:InvokeFunctionUrl", "Principal": principal,
            "FunctionUrlAuthType": auth}  # fmt: skip


def _via_url(principal: str = "*") -> dict[str, Any]:
    return {"StatementId": "via", "Action": "lambda:InvokeFunction", "Principal": principal,
            "InvokedViaFunctionUrl": True}  # fmt: skip


def _plain(principal: str = "*") -> dict[str, Any]:
    return {"StatementId": "plain", "Action": "lambda:InvokeFunction", "Principal": principal}


class _Policies:
    def __init__(self, params: list[dict[str, Any]]) -> None:
        self.statements = [policy.function_statement(p, RESOURCE) for p in params]

    def get_policy(self, scope: Scope, name: str, qualifier: str | None) -> dict[str, Any]:
        return {"Policy": policy.to_json(policy.document(self.statements))}


def _allowed(params: list[dict[str, Any]], auth: str = "NONE", signer: str = "") -> bool:
    caller = IamCaller("AK", signer, signer, f"arn:aws:iam::{signer}:root", signer)
    authorizer = UrlAuthorizer(_Policies(params), lambda *a: caller, UrlCache(ChangeHub()))
    config = UrlConfig(ID, OWNER, "us-east-1", "f", None, auth)
    try:
        authorizer.authorize(config, "GET", "/", "", [], b"")
    except UrlForbidden:
        return False
    return True


@pytest.mark.parametrize(
    ("params", "allowed"),
    [
        ([], False),
        ([_url()], False),
        ([_via_url()], False),
        ([_plain()], False),
        ([_url(), _via_url()], True),
        ([_url(), _plain()], True),  # a plain InvokeFunction for anyone covers URL calls too
        ([_url(auth="AWS_IAM"), _via_url()], False),  # granted for the other auth type
        ([_url(), _via_url(OTHER)], False),  # InvokeFunction only for another account
    ],
)
def test_a_public_url_needs_both_statements(params: list[dict[str, Any]], allowed: bool) -> None:
    assert _allowed(params) is allowed


def test_a_deny_of_invoke_function_refuses_the_url() -> None:
    policies = _Policies([_url(), _via_url()])
    policies.statements.append(
        {
            "Sid": "no",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "lambda:InvokeFunction",
            "Resource": RESOURCE,
        }
    )
    authorizer = UrlAuthorizer(policies, lambda *a: None, UrlCache(ChangeHub()))
    with pytest.raises(UrlForbidden):
        authorizer.authorize(UrlConfig(ID, OWNER, "us-east-1", "f", None, "NONE"), "GET", "/",
                             "", [], b"")  # fmt: skip


@pytest.mark.parametrize(
    ("params", "allowed"),
    [
        ([_url(OTHER, "AWS_IAM")], False),
        ([_via_url(OTHER)], False),
        ([_url(OTHER, "AWS_IAM"), _via_url(OTHER)], True),
        ([_url(OTHER, "AWS_IAM"), _plain(OTHER)], True),
        ([_url("*", "AWS_IAM"), _via_url("*")], True),
        ([_url(OTHER, "NONE"), _via_url(OTHER)], False),
    ],
)
def test_another_account_needs_both_statements(params: list[dict[str, Any]], allowed: bool) -> None:
    assert _allowed(params, "AWS_IAM", OTHER) is allowed


def test_the_owners_account_needs_no_statement() -> None:
    assert _allowed([], "AWS_IAM", OWNER)
