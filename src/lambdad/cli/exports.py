"""The shell exports ``lambdad credentials`` and the ``serve`` banner print.

One ``export`` per variable the AWS SDKs and CLI read: the credential, the account,
both region variables (boto3 reads ``AWS_DEFAULT_REGION``, the other SDKs
``AWS_REGION``), and one ``AWS_ENDPOINT_URL_<SERVICE>`` per service lambdad answers,
named as the SDKs derive it from the service id. Never the bare ``AWS_ENDPOINT_URL``:
it would send every other AWS call of the shell (S3, CloudFormation...) to lambdad.
"""

from __future__ import annotations

from lambdad.model.credential import Credential

# The serviceId (botocore's model metadata) of each service lambdad answers.
SERVICE_IDS = (
    "Lambda",
    "CloudWatch Logs",
    "STS",
    "EventBridge",
    "Scheduler",
    "CloudWatch",
    "ApiGatewayV2",
    "API Gateway",
    "CloudFormation",
    "Elastic Load Balancing v2",
    "XRay",
    "CodeDeploy",
)


def endpoint_variable(service_id: str) -> str:
    """``CloudWatch Logs`` -> ``AWS_ENDPOINT_URL_CLOUDWATCH_LOGS``, as the SDKs name it."""
    return "AWS_ENDPOINT_URL_" + service_id.strip().replace(" ", "_").upper()


def export_lines(credential: Credential, region: str, endpoint: str) -> list[str]:
    lines = [
        f"# lambdad at {endpoint}, account {credential.account_id}",
        f"export AWS_ACCESS_KEY_ID={credential.access_key_id}",
        f"export AWS_SECRET_ACCESS_KEY={credential.secret_access_key}",
        f"export AWS_ACCOUNT_ID={credential.account_id}",
        f"export AWS_DEFAULT_REGION={region}",
        f"export AWS_REGION={region}",
    ]
    lines.extend(f"export {endpoint_variable(s)}={endpoint}" for s in SERVICE_IDS)
    return lines
