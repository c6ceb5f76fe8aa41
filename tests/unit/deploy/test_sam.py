"""SAM templates translated offline by aws-sam-translator: managed policies by name,
no region from the environment, SAM's errors as CloudFormation's."""

from __future__ import annotations

import pytest

from lambdad.deploy import sam
from lambdad.deploy.errors import ValidationError
from lambdad.deploy.parameters import StackIdentity

ID = StackIdentity(
    "123456789012",
    "eu-central-1",
    "s",
    "arn:aws:cloudformation:eu-central-1:123456789012:stack/s/x",
)


def _fn(**props: object) -> dict[str, object]:
    base = {"CodeUri": {"Bucket": "b", "Key": "k"}, "Handler": "a.h", "Runtime": "python3.11"}
    return {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": {**base, **props}}},
    }


def test_managed_policies_by_name_without_iam(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    out = sam.translate(
        _fn(Policies=["AmazonS3ReadOnlyAccess", "AWSLambdaVPCAccessExecutionRole"]), {}, ID
    )
    role = out["Resources"]["FnRole"]["Properties"]
    assert role["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    ]
    assert out["Resources"]["Fn"]["Type"] == "AWS::Lambda::Function"


def test_sam_errors_are_validation_errors() -> None:
    with pytest.raises(ValidationError, match="Transform AWS::Serverless-2016-10-31 failed"):
        sam.translate(_fn(Events={"E": {"Type": "Nope"}}), {}, ID)


def test_a_local_code_uri_is_refused_in_cloudformations_words() -> None:
    with pytest.raises(ValidationError) as caught:
        sam.translate(_fn(CodeUri="hello_world/"), {}, ID)
    assert str(caught.value.message) == (
        "Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application "
        "Specification document. Number of errors found: 1. Resource with id [Fn] is "
        "invalid. 'CodeUri' is not a valid S3 Uri of the form 's3://bucket/key' with "
        "optional versionId query parameter."
    )
