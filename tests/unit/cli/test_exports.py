"""What `lambdad credentials` and the banner export: variables every SDK reads.

(That boto3 follows them to lambdad for each service is tests/e2e/test_readme.py's.)"""

from __future__ import annotations

from lambdad.cli.exports import endpoint_variable, export_lines
from lambdad.model.credential import Credential

CRED = Credential("LKIAEXAMPLE", "secret/with+chars", "123456789012")


def test_endpoint_variables_are_named_as_the_sdks_derive_them() -> None:
    assert endpoint_variable("Lambda") == "AWS_ENDPOINT_URL_LAMBDA"
    assert endpoint_variable("CloudWatch Logs") == "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"
    assert endpoint_variable("STS") == "AWS_ENDPOINT_URL_STS"


def test_export_lines() -> None:
    lines = export_lines(CRED, "eu-west-1", "http://127.0.0.1:9550")
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export ")
    )
    assert exports == {
        "AWS_ACCESS_KEY_ID": "LKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret/with+chars",
        "AWS_ACCOUNT_ID": "123456789012",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:9550",
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": "http://127.0.0.1:9550",
        "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9550",
        "AWS_ENDPOINT_URL_EVENTBRIDGE": "http://127.0.0.1:9550",
        "AWS_ENDPOINT_URL_SCHEDULER": "http://127.0.0.1:9550",
        "AWS_ENDPOINT_URL_CLOUDWATCH": "http://127.0.0.1:9550",
        "AWS_ENDPOINT_URL_APIGATEWAYV2": "http://127.0.0.1:9550",
        "AWS_ENDPOINT_URL_API_GATEWAY": "http://127.0.0.1:9550",
        "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2": "http://127.0.0.1:9550",
        "AWS_ENDPOINT_URL_CLOUDFORMATION": "http://127.0.0.1:9550",
        "AWS_ENDPOINT_URL_XRAY": "http://127.0.0.1:9550",
        "AWS_ENDPOINT_URL_CODEDEPLOY": "http://127.0.0.1:9550",
    }
    # Everything else is a shell comment (the account), so `eval` takes it whole.
    others = [line for line in lines if not line.startswith("export ")]
    assert others
    assert all(line.startswith("# ") for line in others)
    assert any("123456789012" in line for line in others)
