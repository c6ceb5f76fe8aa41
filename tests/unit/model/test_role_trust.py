"""Whether Lambda may assume a role: trust policies as IAM reads them, and when an
account's roles are checked at all."""

from __future__ import annotations

import pytest

from lambdad.model.role_trust import LAMBDA_TRUST, Role, assumable, trust_text, trusts

LAMBDA = "lambda.amazonaws.com"
APP = "arn:aws:iam::111111111111:role/app"
OTHER = "arn:aws:iam::111111111111:role/other"
ELSEWHERE = "arn:aws:iam::222222222222:role/app"


def _trust(*statements: dict[str, object]) -> str:
    return trust_text({"Version": "2012-10-17", "Statement": list(statements)})


def test_lambda_trust_and_its_spellings() -> None:
    assert trusts(trust_text(LAMBDA_TRUST), LAMBDA)
    listed = {"Principal": {"Service": ["edgelambda.amazonaws.com", LAMBDA]}}
    assert trusts(_trust({"Effect": "Allow", **listed, "Action": ["sts:AssumeRole"]}), LAMBDA)
    assert trusts(_trust({"Effect": "Allow", "Principal": "*", "Action": "sts:*"}), LAMBDA)


def test_an_empty_statement_list_trusts_nobody() -> None:
    assert not trusts(trust_text({"Statement": []}), LAMBDA)


def test_other_principals_actions_and_denies_do_not_trust_lambda() -> None:
    ec2 = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}}
    assert not trusts(_trust({**ec2, "Action": "sts:AssumeRole"}), LAMBDA)
    tagging = {"Effect": "Allow", "Principal": {"Service": LAMBDA}, "Action": "sts:TagSession"}
    assert not trusts(_trust(tagging), LAMBDA)
    allow = {"Effect": "Allow", "Principal": {"Service": LAMBDA}, "Action": "sts:AssumeRole"}
    deny = {**allow, "Effect": "Deny"}
    assert not trusts(_trust(allow, deny), LAMBDA)
    account = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}}
    assert not trusts(_trust({**account, "Action": "sts:AssumeRole"}), LAMBDA)


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        [],
        {"Version": "2012-10-17"},
        {"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "sts:AssumeRole"}]},
        {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]},
        {"Statement": [{"Effect": "Allow", "Principal": "*"}]},
    ],
)
def test_malformed_trust_policies_are_refused(document: object) -> None:
    with pytest.raises(ValueError, match=r"trust|Effect|Principal|Action"):
        trust_text(document)


def test_no_declared_trust_means_every_role_is_accepted() -> None:
    assert assumable({}, APP)
    # An identity policy alone (lambdad roles allow) does not turn checks on.
    assert assumable({APP: Role()}, OTHER)
    # Nor does a stack's role.
    assert assumable({APP: Role(trust=trust_text(LAMBDA_TRUST), stack="s")}, OTHER)


def test_a_declared_trust_checks_its_account_only() -> None:
    ec2 = _trust({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "*"})
    roles = {
        APP: Role(trust=trust_text(LAMBDA_TRUST)),
        OTHER.replace("other", "ec2"): Role(trust=ec2),
        OTHER.replace("other", "plain"): Role(),
        OTHER.replace("other", "stacked"): Role(trust=trust_text(LAMBDA_TRUST), stack="s"),
    }
    assert assumable(roles, APP)
    assert not assumable(roles, OTHER)
    assert not assumable(roles, OTHER.replace("other", "ec2"))
    assert assumable(roles, OTHER.replace("other", "plain"))
    assert assumable(roles, OTHER.replace("other", "stacked"))
    assert assumable(roles, ELSEWHERE.replace("app", "anything"))
