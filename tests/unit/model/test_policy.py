"""Resource policies: statements as AWS writes them, and their evaluation."""

from __future__ import annotations

import pytest

from lambdad.errors import InvalidParameterValueException, PolicyLengthExceededException
from lambdad.model import policy
from lambdad.model.policy import AccessRequest, allows

FN = "arn:aws:lambda:us-east-1:111111111111:function:fn"
INVOKE = "lambda:InvokeFunction"


def stmt(principal: str, **extra: str) -> dict:
    params = {"StatementId": "s", "Action": INVOKE, "Principal": principal, **extra}
    return policy.function_statement(params, FN)


def req(account: str = "222222222222", **kw: object) -> AccessRequest:
    return AccessRequest(action=INVOKE, resource=FN, account=account, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("principal", "block"),
    [
        ("*", "*"),
        ("222222222222", {"AWS": "arn:aws:iam::222222222222:root"}),
        ("arn:aws:iam::222222222222:role/r", {"AWS": "arn:aws:iam::222222222222:role/r"}),
        ("s3.amazonaws.com", {"Service": "s3.amazonaws.com"}),
        ("alexa-appkit.amazon.com", {"Service": "alexa-appkit.amazon.com"}),
    ],
)
def test_principal_forms(principal: str, block: object) -> None:
    assert policy.principal_block(principal) == block


@pytest.mark.parametrize("principal", ["nobody", "1234", "arn:aws:s3:::bucket", ""])
def test_invalid_principal(principal: str) -> None:
    with pytest.raises(InvalidParameterValueException, match="provided principal was invalid"):
        policy.principal_block(principal)


def test_statement_shape_and_order() -> None:
    s = stmt(
        "*",
        SourceArn="arn:aws:s3:::b",
        SourceAccount="111111111111",
        FunctionUrlAuthType="NONE",
        PrincipalOrgID="o-1234567890",
    )
    assert list(s) == ["Sid", "Effect", "Principal", "Action", "Resource", "Condition"]
    assert s["Condition"] == {
        "StringEquals": {
            "AWS:SourceAccount": "111111111111",
            "lambda:FunctionUrlAuthType": "NONE",
            "aws:PrincipalOrgID": "o-1234567890",
        },
        "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::b"},
    }
    assert "Condition" not in stmt("s3.amazonaws.com")


def test_account_principal_allows_that_account_only() -> None:
    statements = [stmt("222222222222")]
    assert allows(statements, req("222222222222"))
    assert not allows(statements, req("333333333333"))


def test_wildcard_principal_allows_anyone() -> None:
    assert allows([stmt("*")], req("333333333333"))


def test_service_principal_does_not_allow_an_account() -> None:
    statements = [stmt("events.amazonaws.com")]
    assert not allows(statements, req())
    assert allows(statements, req(service="events.amazonaws.com"))


def test_condition_on_a_key_the_request_lacks_denies() -> None:
    statements = [stmt("*", SourceArn="arn:aws:s3:::bucket")]
    assert not allows(statements, req())
    assert allows(statements, req(context={"aws:sourcearn": "arn:aws:s3:::bucket"}))
    assert not allows(statements, req(context={"AWS:SourceArn": "arn:aws:s3:::other"}))


def test_arnlike_wildcards() -> None:
    statements = [stmt("*", SourceArn="arn:aws:s3:::bucket-*")]
    assert allows(statements, req(context={"AWS:SourceArn": "arn:aws:s3:::bucket-1"}))


def test_action_and_resource_must_match() -> None:
    other_action = [
        policy.function_statement(
            {"StatementId": "s", "Action": "lambda:GetFunction", "Principal": "*"}, FN
        )
    ]
    assert not allows(other_action, req())
    wildcard = [
        policy.function_statement({"StatementId": "s", "Action": "lambda:*", "Principal": "*"}, FN)
    ]
    assert allows(wildcard, req())
    elsewhere = [
        policy.function_statement(
            {"StatementId": "s", "Action": INVOKE, "Principal": "*"}, FN + ":prod"
        )
    ]
    assert not allows(elsewhere, req())


def test_explicit_deny_wins() -> None:
    deny = dict(stmt("*"), Effect="Deny")
    assert not allows([stmt("*"), deny], req())


def test_no_statement_denies() -> None:
    assert not allows([], req())


def test_access_denied_message() -> None:
    exc = policy.access_denied(req("222222222222"))
    assert exc.message == (
        "User: arn:aws:iam::222222222222:root is not authorized to perform: "
        f"lambda:InvokeFunction on resource: {FN} because no resource-based policy allows "
        "the lambda:InvokeFunction action"
    )
    assert exc.status == 403


def test_size_limit() -> None:
    statements = [stmt("*") for _ in range(10)]
    policy.check_size(statements)
    with pytest.raises(PolicyLengthExceededException, match=r"bigger than the limit \(20480\)"):
        policy.check_size(statements * 20)


def test_layer_statement() -> None:
    s = policy.layer_statement(
        {
            "StatementId": "x",
            "Action": "lambda:GetLayerVersion",
            "Principal": "222222222222",
            "OrganizationId": "o-123456",
        },
        "arn:aws:lambda:us-east-1:111111111111:layer:l:1",
    )
    assert s["Principal"] == {"AWS": "arn:aws:iam::222222222222:root"}
    assert s["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-123456"}}
