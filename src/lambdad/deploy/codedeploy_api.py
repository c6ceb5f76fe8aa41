"""The CodeDeploy API subset a traffic-shifting deployment needs (JSON 1.1, target
``CodeDeploy_20141006``): ``PutLifecycleEventHookExecutionStatus``, which a lifecycle
hook function calls with its result, and ``GetDeployment`` to follow one. Deployments
are those of the signer's account and region (codedeploy_records.py)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from lambdad.api.context import RequestContext
from lambdad.deploy.codedeploy_records import CodeDeployRecords
from lambdad.deploy.stack_records import Where

log = logging.getLogger(__name__)
TARGET_PREFIX = "CodeDeploy_20141006"
CONTENT_TYPE = "application/x-amz-json-1.1"
_DEPLOYMENT_ID = re.compile(r"d-[A-Z0-9]{9}")
_MESSAGES = {
    "DeploymentDoesNotExistException": "The deployment {id} does not exist.",
    "InvalidLifecycleEventHookExecutionIdException": (
        "The lifecycle event hook execution id {hook} is not valid for deployment {id}."
    ),
    "LifecycleEventAlreadyCompletedException": (
        "The lifecycle event hook execution {hook} of deployment {id} has already completed."
    ),
}
Response = tuple[int, dict[str, str], bytes]


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class CodeDeployApi:
    def __init__(self, records: CodeDeployRecords) -> None:
        self.records = records

    async def __call__(self, ctx: RequestContext, target: str, body: bytes) -> Response:
        where = Where(ctx.principal.credential.account_id, ctx.principal.region)
        prefix, _, name = target.partition(".")
        try:
            params = _params(body)
            if prefix != TARGET_PREFIX or name not in _OPERATIONS:
                raise _Refused("UnknownOperationException", f"Unknown operation {target}")
            result = _OPERATIONS[name](self.records, where, params)
        except _Refused as exc:
            out = {"__type": exc.code, "message": exc.message}
            return 400, {"Content-Type": CONTENT_TYPE}, json.dumps(out).encode()
        except Exception:
            log.exception("codedeploy operation %s failed in request %s", target, ctx.request_id)
            out = {"__type": "InternalFailure", "message": "An internal error occurred."}
            return 500, {"Content-Type": CONTENT_TYPE}, json.dumps(out).encode()
        return 200, {"Content-Type": CONTENT_TYPE}, json.dumps(result).encode()


def _params(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _Refused("SerializationException", "Could not parse request body as JSON") from None
    if not isinstance(doc, dict):
        raise _Refused("SerializationException", "The request body must be a JSON object")
    return doc


def _deployment_id(params: dict[str, Any]) -> str:
    value = params.get("deploymentId")
    if not value:
        raise _Refused("DeploymentIdRequiredException", "Deployment Id is required.")
    if not isinstance(value, str) or not _DEPLOYMENT_ID.fullmatch(value):
        raise _Refused("InvalidDeploymentIdException", f"Specified DeploymentId is not in the "
                       f"valid format: {str(value)[:64]}")  # fmt: skip
    return value


def put_lifecycle_event_hook_execution_status(
    records: CodeDeployRecords, where: Where, params: dict[str, Any]
) -> dict[str, Any]:
    deployment_id = _deployment_id(params)
    hook = params.get("lifecycleEventHookExecutionId")
    if not isinstance(hook, str) or not hook:
        raise _Refused("InvalidLifecycleEventHookExecutionIdException",
                       "lifecycleEventHookExecutionId is required.")  # fmt: skip
    status = params.get("status")
    if status not in ("Succeeded", "Failed"):
        raise _Refused("InvalidLifecycleEventHookExecutionStatusException",
                       f"The result status {str(status)[:32]} is not valid: Succeeded or "
                       "Failed.")  # fmt: skip
    problem = records.report_hook(where, deployment_id, hook, status)
    if problem:
        raise _Refused(problem, _MESSAGES[problem].format(id=deployment_id, hook=hook[:64]))
    return {"lifecycleEventHookExecutionId": hook}


def get_deployment(
    records: CodeDeployRecords, where: Where, params: dict[str, Any]
) -> dict[str, Any]:
    deployment_id = _deployment_id(params)
    doc = records.deployment(where, deployment_id)
    if doc is None:
        message = _MESSAGES["DeploymentDoesNotExistException"].format(id=deployment_id)
        raise _Refused("DeploymentDoesNotExistException", message)
    info: dict[str, Any] = {
        "deploymentId": deployment_id,
        "applicationName": doc.get("applicationName"),
        "deploymentGroupName": doc.get("deploymentGroupName"),
        "deploymentConfigName": doc.get("deploymentConfigName"),
        "status": doc.get("status"),
        "computePlatform": "Lambda",
        "creator": "user",
        "deploymentStyle": {
            "deploymentType": "BLUE_GREEN",
            "deploymentOption": "WITH_TRAFFIC_CONTROL",
        },
    }
    if doc.get("autoRollbackConfiguration"):
        info["autoRollbackConfiguration"] = doc["autoRollbackConfiguration"]
    if doc.get("error"):
        code = doc.get("errorCode") or "INTERNAL_ERROR"  # a record from before codes were kept
        info["errorInformation"] = {"code": code, "message": doc["error"]}
    return {"deploymentInfo": info}


_OPERATIONS = {
    "PutLifecycleEventHookExecutionStatus": put_lifecycle_event_hook_execution_status,
    "GetDeployment": get_deployment,
}
