"""The operator's upstream credentials table: per role, per service or any."""

from __future__ import annotations

import pytest

from lambdad.model.upstream import UpstreamCredential, as_document, credential_for, parse

ROLE = "arn:aws:iam::123456789012:role/r"


def test_a_service_of_its_own_else_the_roles_any() -> None:
    table = parse(
        {
            ROLE: {
                "s3": {"AccessKeyId": "A", "SecretAccessKey": "S", "Region": "eu-west-1"},
                "*": {"AccessKeyId": "B", "SecretAccessKey": "T", "SessionToken": "X"},
            }
        }
    )
    assert credential_for(table, ROLE, "s3") == UpstreamCredential("A", "S", None, "eu-west-1")
    assert credential_for(table, ROLE, "dynamodb") == UpstreamCredential("B", "T", "X")
    assert credential_for(table, "arn:aws:iam::123456789012:role/other", "s3") is None
    assert parse(as_document(table)) == table


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {ROLE: []},
        {ROLE: {"s3": {"AccessKeyId": "A"}}},
        {ROLE: {"s3": {"AccessKeyId": "A", "SecretAccessKey": "S3CRET", "Secret": "S3CRET"}}},
        {ROLE: {"s3": {"AccessKeyId": "A", "SecretAccessKey": "S3CRET", "Region": 5}}},
    ],
)
def test_a_malformed_table_is_refused_without_its_secrets(doc: object) -> None:
    with pytest.raises(ValueError, match=r"must|required|unknown") as refused:
        parse(doc)
    assert "S3CRET" not in str(refused.value)
