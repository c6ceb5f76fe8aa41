"""Function configuration rules AWS checks beyond botocore's model, and the defaults."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from lambdad.errors import (
    AccessDeniedException,
    InvalidParameterValueException,
    ValidationException,
)
from lambdad.model import function as fmodel

TODAY = date(2026, 1, 1)


def test_last_modified_is_awss_format_in_utc() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=timezone(timedelta(hours=2)))
    assert fmodel.now_iso(at) == "2026-01-02T01:04:05.678+0000"
    assert fmodel.now_iso(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000+0000"


def test_a_role_of_another_account_is_refused() -> None:
    fmodel.check_role(None, "123456789012")
    fmodel.check_role("arn:aws:iam::123456789012:role/r", "123456789012")
    with pytest.raises(AccessDeniedException, match="Cross-account pass role"):
        fmodel.check_role("arn:aws:iam::210987654321:role/r", "123456789012")


def test_runtime_and_handler_are_required_and_the_runtime_must_be_known() -> None:
    fmodel.check_runtime("python3.12", "app.handler", today=TODAY)
    with pytest.raises(InvalidParameterValueException, match="mandatory"):
        fmodel.check_runtime("python3.12", None, today=TODAY)
    with pytest.raises(InvalidParameterValueException) as info:
        fmodel.check_runtime("cobol1.0", "app.handler", today=TODAY)
    assert info.value.message.startswith(
        "Value cobol1.0 at 'runtime' failed to satisfy constraint: Member must satisfy enum "
        "value set: [nodejs20.x, python3.14, "
    )
    assert info.value.message.endswith(", provided.al2, java8.al2] or be a valid ARN")


def test_environment_variables_are_checked_and_made_strings() -> None:
    assert fmodel.check_environment(None) is None
    assert fmodel.check_environment({}) == {}
    assert fmodel.check_environment({"Variables": {"N": 1}}) == {"N": "1"}
    with pytest.raises(InvalidParameterValueException, match="AWS_REGION, _HANDLER"):
        fmodel.check_environment({"Variables": {"_HANDLER": "x", "AWS_REGION": "y"}})
    with pytest.raises(InvalidParameterValueException, match="exceeded the 4KB limit"):
        fmodel.check_environment({"Variables": {"BIG": "x" * fmodel.ENV_LIMIT_BYTES}})


@pytest.mark.parametrize(
    ("params", "member"),
    [
        ({"Timeout": 901}, "timeout"),
        ({"MemorySize": 10241}, "memorySize"),
        ({"EphemeralStorage": {"Size": 10241}}, "ephemeralStorage.size"),
    ],
)
def test_limits_tighter_than_the_model_are_validation_errors(
    params: dict[str, Any], member: str
) -> None:
    with pytest.raises(ValidationException, match=f"at '{member}' failed to satisfy"):
        fmodel.check_limits(params)


def test_limits_at_their_maximum_and_one_architecture_pass() -> None:
    fmodel.check_limits({"Timeout": 900, "MemorySize": 10240, "EphemeralStorage": {"Size": 10240}})
    fmodel.check_limits({"Architectures": ["arm64"]})
    with pytest.raises(InvalidParameterValueException, match="Only one architecture"):
        fmodel.check_limits({"Architectures": ["arm64", "x86_64"]})


def test_the_default_configuration_uses_the_one_set_of_defaults() -> None:
    config = fmodel.default_config("fn", "eu-west-1")
    assert config["Timeout"] == fmodel.DEFAULT_TIMEOUT_S == 3
    assert config["MemorySize"] == fmodel.DEFAULT_MEMORY_MB == 128
    assert config["EphemeralStorage"] == {"Size": fmodel.DEFAULT_EPHEMERAL_STORAGE_MB}
    assert config["Architectures"] == [fmodel.DEFAULT_ARCHITECTURE]
    assert config["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn"}
    # Each call is a fresh document a caller may change.
    assert fmodel.default_config("fn", "eu-west-1") is not config


def test_the_runtime_version_arn_is_stable_per_runtime() -> None:
    a = fmodel.runtime_version_arn("us-east-1", "python3.12")
    assert a == fmodel.runtime_version_arn("us-east-1", "python3.12")
    assert a != fmodel.runtime_version_arn("us-east-1", "python3.13")
    assert a.startswith("arn:aws:lambda:us-east-1::runtime:")
