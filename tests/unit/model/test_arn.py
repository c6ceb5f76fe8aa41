"""Function names, ARNs and qualifiers as the Lambda API accepts them."""

from __future__ import annotations

import pytest

from lambdad.errors import InvalidParameterValueException, ValidationException
from lambdad.model.arn import (
    LATEST,
    FunctionRef,
    function_arn,
    is_valid_name,
    layer_arn,
    merge_qualifier,
    parse_function_ref,
)

ACCOUNT = "123456789012"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("my-fn", FunctionRef("my-fn")),
        ("My_Fn-2", FunctionRef("My_Fn-2")),
        ("my-fn:prod", FunctionRef("my-fn", "prod")),
        ("my-fn:7", FunctionRef("my-fn", "7")),
        ("my-fn:$LATEST", FunctionRef("my-fn", LATEST)),
        (f"{ACCOUNT}:function:my-fn", FunctionRef("my-fn", account=ACCOUNT)),
        (f"{ACCOUNT}:function:my-fn:prod", FunctionRef("my-fn", "prod", ACCOUNT)),
        (
            f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:my-fn",
            FunctionRef("my-fn", None, ACCOUNT, "us-east-1"),
        ),
        (
            f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:my-fn:$LATEST",
            FunctionRef("my-fn", LATEST, ACCOUNT, "eu-west-1"),
        ),
        (
            f"arn:aws:lambda:ap-southeast-2:{ACCOUNT}:function:my-fn:12",
            FunctionRef("my-fn", "12", ACCOUNT, "ap-southeast-2"),
        ),
        (
            f"arn:aws-us-gov:lambda:us-gov-west-1:{ACCOUNT}:function:f",
            FunctionRef("f", None, ACCOUNT, "us-gov-west-1"),
        ),
        (
            f"arn:aws-cn:lambda:cn-north-1:{ACCOUNT}:function:f",
            FunctionRef("f", None, ACCOUNT, "cn-north-1"),
        ),
        (
            f"arn:aws-eusc:lambda:eusc-de-east-1:{ACCOUNT}:function:f",
            FunctionRef("f", None, ACCOUNT, "eusc-de-east-1"),
        ),
        ("a" * 64, FunctionRef("a" * 64)),
    ],
)
def test_every_accepted_form_parses(value: str, expected: FunctionRef) -> None:
    assert parse_function_ref(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "bad name",
        "bad/name",
        "naïve",
        "my-fn:",
        "my-fn:a:b",
        "my-fn:$latest",
        ":my-fn",
        f"us-east-1:{ACCOUNT}:function:my-fn",  # a region needs the arn: prefix
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:my-layer",
        "arn:aws:s3:::bucket",
        f"arn:aws:lambda:useast1:{ACCOUNT}:function:f",
        "arn:aws:lambda:us-east-1:1234:function:f",
    ],
)
def test_malformed_names_are_validation_errors(value: str) -> None:
    with pytest.raises(ValidationException) as info:
        parse_function_ref(value)
    message = info.value.message
    assert message.startswith(f"1 validation error detected: Value '{value}' at 'functionName'")


def test_names_longer_than_64_characters_are_refused() -> None:
    with pytest.raises(ValidationException) as info:
        parse_function_ref("a" * 65)
    assert "Member must have length less than or equal to 64" in info.value.message
    with pytest.raises(ValidationException):
        parse_function_ref(f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{'b' * 65}")


def test_the_field_is_named_in_the_message() -> None:
    with pytest.raises(ValidationException) as info:
        parse_function_ref("bad name", field="resource")
    assert "at 'resource'" in info.value.message


@pytest.mark.parametrize(
    ("name_qualifier", "param", "expected"),
    [
        (None, None, None),
        ("prod", None, "prod"),
        (None, "3", "3"),
        ("3", "3", "3"),
        (LATEST, LATEST, LATEST),
    ],
)
def test_the_qualifier_comes_from_the_name_or_the_parameter(
    name_qualifier: str | None, param: str | None, expected: str | None
) -> None:
    assert merge_qualifier(FunctionRef("f", name_qualifier), param) == expected


def test_a_qualifier_in_the_name_must_match_the_parameter() -> None:
    with pytest.raises(InvalidParameterValueException) as info:
        merge_qualifier(FunctionRef("f", "prod"), "3")
    assert "does not match" in info.value.message


def test_arns_are_built_as_aws_spells_them() -> None:
    assert function_arn("us-east-1", ACCOUNT, "f") == (
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"
    )
    assert function_arn("eu-west-1", ACCOUNT, "f", "$LATEST") == (
        f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:f:$LATEST"
    )
    assert function_arn("us-east-1", ACCOUNT, "f", "2").endswith(":function:f:2")
    assert layer_arn("us-east-1", ACCOUNT, "deps") == (
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:deps"
    )
    assert layer_arn("us-east-1", ACCOUNT, "deps", 4).endswith(":layer:deps:4")


def test_built_arns_parse_back() -> None:
    for qualifier in (None, "$LATEST", "5", "live"):
        arn = function_arn("sa-east-1", ACCOUNT, "round-trip", qualifier)
        assert parse_function_ref(arn) == FunctionRef("round-trip", qualifier, ACCOUNT, "sa-east-1")


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("f", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("", False),
        ("a.b", False),
        ("a:b", False),
        ("A-z_0", True),
    ],
)
def test_is_valid_name(name: str, valid: bool) -> None:
    assert is_valid_name(name) is valid
