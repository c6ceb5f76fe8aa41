"""A role's identity policy: what an execution-role session may do."""

from __future__ import annotations

import pytest

from lambdad.model.role_policy import DEFAULT, RolePolicy, allows, from_document

FN = "arn:aws:lambda:us-east-1:123456789012:function:orders"


def test_default_policy_is_lambda_and_logs() -> None:
    assert allows(DEFAULT, "lambda:InvokeFunction", FN)
    assert allows(DEFAULT, "lambda:ListFunctions", "*")
    assert allows(DEFAULT, "logs:PutLogEvents", "arn:aws:logs:us-east-1:1:log-group:g:*")
    assert not allows(DEFAULT, "events:PutEvents", "*")
    assert not allows(DEFAULT, "scheduler:*", "*")


def test_allow_list_by_action_and_resource() -> None:
    policy = from_document(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "lambda:Get*", "Resource": FN + "*"},
                {"Action": ["lambda:ListFunctions"], "Resource": "*"},
            ],
        }
    )
    assert allows(policy, "lambda:GetFunction", FN)
    assert allows(policy, "LAMBDA:getfunction", FN + ":live")  # actions ignore case
    assert not allows(policy, "lambda:GetFunction", FN.replace("orders", "other"))
    assert not allows(policy, "lambda:InvokeFunction", FN)
    assert allows(policy, "lambda:ListFunctions", "*")
    # A resource-less action needs "*": a narrower pattern does not grant it.
    assert not allows(policy, "lambda:GetAccountSettings", "*")


def test_deny_wins() -> None:
    policy = from_document(
        [
            {"Effect": "Allow", "Action": "lambda:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "lambda:DeleteFunction", "Resource": "*"},
        ]
    )
    assert allows(policy, "lambda:GetFunction", FN)
    assert not allows(policy, "lambda:DeleteFunction", FN)


def test_wildcards_are_iams_only() -> None:
    policy = from_document([{"Action": "lambda:Get[F]unction", "Resource": "arn:?ws:*"}])
    assert not allows(policy, "lambda:GetFunction", FN)
    assert allows(policy, "lambda:Get[F]unction", FN)


def test_an_empty_policy_allows_nothing() -> None:
    assert not allows(RolePolicy(()), "lambda:GetFunction", FN)


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"Statement": []},
        {"Statement": [{"Effect": "Maybe", "Action": "x", "Resource": "*"}]},
        {"Statement": [{"Action": [], "Resource": "*"}]},
        {"Statement": [{"Action": "lambda:*"}]},
        {"Statement": ["lambda:*"]},
    ],
)
def test_malformed_documents_are_refused(doc: object) -> None:
    with pytest.raises(ValueError, match=r"must|needs"):
        from_document(doc)  # type: ignore[arg-type]


def test_document_round_trip() -> None:
    policy = from_document([{"Action": "logs:*", "Resource": "*"}])
    assert from_document(policy.as_document()) == policy
