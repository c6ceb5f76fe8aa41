"""Which service a request must be signed for, decided before it is verified."""

from __future__ import annotations

import pytest

from lambdad.api.admission import signing_service
from lambdad.api.sigv4 import SCOPED_SERVICES, SERVICES


def _signed_for(service: str) -> list[tuple[str, str]]:
    scope = f"AKIDEXAMPLE/20261205/us-east-1/{service}/aws4_request"
    return [("authorization", f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Sig=0")]


@pytest.mark.parametrize("service", sorted(SCOPED_SERVICES))
def test_a_scoped_service_is_answered_by_the_service_it_claims(service: str) -> None:
    assert service in SERVICES
    assert signing_service(_signed_for(service)) == service


@pytest.mark.parametrize("service", ["lambda", "s3", "logs", "sts"])
def test_any_other_request_without_a_target_must_be_signed_for_lambda(service: str) -> None:
    assert signing_service(_signed_for(service)) == "lambda"
    assert signing_service([]) == "lambda"


def test_a_json_target_decides_before_the_scope() -> None:
    headers = [*_signed_for("scheduler"), ("x-amz-target", "Logs_20140328.PutLogEvents")]
    assert signing_service(headers) == "logs"
    assert signing_service([("x-amz-target", "Nope.Op")]) is None


def test_a_presigned_scope_counts_as_the_header_one() -> None:
    query = "X-Amz-Credential=AKIDEXAMPLE%2F20261205%2Fus-east-1%2Fmonitoring%2Faws4_request"
    assert signing_service([], query.replace("%2F", "/")) == "monitoring"
