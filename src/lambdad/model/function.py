"""Function configuration: defaults, semantic validation and the API shape.

The wire-level constraints (types, lengths, patterns, ranges) are checked by the
protocol layer from botocore's model; what lives here is what AWS checks beyond
the model, with AWS's messages, and the rendering of a stored version into the
``FunctionConfiguration`` shape.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from lambdad.errors import InvalidParameterValueException
from lambdad.model.runtimes import deprecated_message, runtime_info, unknown_runtime_message

RESERVED_ENV_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
ENV_LIMIT_BYTES = 4096
MAX_TIMEOUT = 900
MAX_MEMORY = 10240
MAX_EPHEMERAL_STORAGE = 10240
# What a function gets when CreateFunction leaves a setting out (AWS's defaults), read by
# ``default_config`` and by the runnable version (model/version.py).
DEFAULT_TIMEOUT_S = 3
DEFAULT_MEMORY_MB = 128
DEFAULT_EPHEMERAL_STORAGE_MB = 512
DEFAULT_ARCHITECTURE = "x86_64"

# Members of FunctionConfiguration that AWS leaves out of ListFunctions and
# ListVersionsByFunction.
NOT_LISTED = (
    "State",
    "StateReason",
    "StateReasonCode",
    "LastUpdateStatus",
    "LastUpdateStatusReason",
    "LastUpdateStatusReasonCode",
    "RuntimeVersionConfig",
)

# Members of CreateFunction/UpdateFunctionConfiguration kept as given (LoggingConfig is
# merged: ``logging_config``).
PASSTHROUGH = (
    "Description",
    "CapacityProviderConfig",
    "Timeout",
    "MemorySize",
    "Handler",
    "Runtime",
    "Role",
    "TracingConfig",
    "DeadLetterConfig",
    "KMSKeyArn",
    "EphemeralStorage",
    "SnapStart",
    "VpcConfig",
    "FileSystemConfigs",
    "ImageConfig",
)


def now_iso(now: datetime) -> str:
    """AWS's LastModified format: 2024-01-01T00:00:00.000+0000."""
    return (
        now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"
    )


def check_role(role: str | None, account: str) -> None:
    """Lambda may only assume roles of the caller's own account."""
    if role is None:
        return
    parts = role.split(":")
    if len(parts) > 4 and parts[4] and parts[4] != account:
        from lambdad.errors import AccessDeniedException

        raise AccessDeniedException("Cross-account pass role is not allowed.")


def check_runtime(runtime: str | None, handler: str | None, *, today: Any) -> None:
    if runtime is None or handler is None:
        raise InvalidParameterValueException(
            "Runtime and Handler are mandatory parameters for functions created with "
            "deployment packages."
        )
    info = runtime_info(runtime)
    if info is None:
        raise InvalidParameterValueException(unknown_runtime_message(runtime))
    if info.blocked(today):
        raise InvalidParameterValueException(deprecated_message(runtime))


def check_environment(env: dict[str, Any] | None) -> dict[str, str] | None:
    if env is None:
        return None
    variables = env.get("Variables")
    if variables is None:
        return {}
    reserved = sorted(k for k in variables if k in RESERVED_ENV_KEYS)
    if reserved:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the "
            "environment variables you have provided contains reserved keys that are "
            f"currently not supported for modification. Reserved keys used in this request: "
            f"{', '.join(reserved)}"
        )
    measured = json.dumps(variables, separators=(",", ":"), ensure_ascii=False)
    if len(measured.encode()) > ENV_LIMIT_BYTES:
        # AWS quotes the string it measured, not its size.
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the "
            f"environment variables you have provided exceeded the 4KB limit. String measured: "
            f"{measured}"
        )
    return {str(k): str(v) for k, v in variables.items()}


def check_limits(params: dict[str, Any]) -> None:
    """Ranges AWS enforces more tightly than botocore's published model."""
    from lambdad.errors import ValidationException

    violations = []
    timeout = params.get("Timeout")
    if isinstance(timeout, (int, float)) and timeout > MAX_TIMEOUT:
        violations.append(
            f"Value '{timeout}' at 'timeout' failed to satisfy constraint: Member must have "
            f"value less than or equal to {MAX_TIMEOUT}"
        )
    memory = params.get("MemorySize")
    if isinstance(memory, (int, float)) and memory > MAX_MEMORY:
        violations.append(
            f"Value '{memory}' at 'memorySize' failed to satisfy constraint: Member must have "
            f"value less than or equal to {MAX_MEMORY}"
        )
    storage = (params.get("EphemeralStorage") or {}).get("Size")
    if isinstance(storage, (int, float)) and storage > MAX_EPHEMERAL_STORAGE:
        violations.append(
            f"Value '{storage}' at 'ephemeralStorage.size' failed to satisfy constraint: Member "
            f"must have value less than or equal to {MAX_EPHEMERAL_STORAGE}"
        )
    if violations:
        raise ValidationException.for_violations(violations)
    arch = params.get("Architectures")
    if arch is not None and len(arch) != 1:
        raise InvalidParameterValueException("Only one architecture is supported.")


def runtime_version_arn(region: str, runtime: str) -> str:
    digest = hashlib.sha256(f"lambdad:{runtime}".encode()).hexdigest()
    return f"arn:aws:lambda:{region}::runtime:{digest}"


def default_config(name: str, region: str) -> dict[str, Any]:
    return {
        "FunctionName": name,
        "Description": "",
        "Timeout": DEFAULT_TIMEOUT_S,
        "MemorySize": DEFAULT_MEMORY_MB,
        "TracingConfig": {"Mode": "PassThrough"},
        "PackageType": "Zip",
        "Architectures": [DEFAULT_ARCHITECTURE],
        "EphemeralStorage": {"Size": DEFAULT_EPHEMERAL_STORAGE_MB},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
        "State": "Active",
        "LastUpdateStatus": "Successful",
    }


def as_creating(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` as AWS answers a create or a publish: still being set up (Pending, no
    LastUpdateStatus), under a revision of its own, which the stored document, already
    Active, has left behind (Pending -> Active is a change: a new RevisionId)."""
    config.update(
        State="Pending",
        StateReason="The function is being created.",
        StateReasonCode="Creating",
        RevisionId=str(uuid.uuid4()),
    )
    config.pop("LastUpdateStatus", None)
    return config


def as_updating(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` as AWS answers an update: InProgress, under a revision of its own that
    the stored document, already Successful, has left behind."""
    config.update(
        LastUpdateStatus="InProgress",
        LastUpdateStatusReason="The function is being created.",
        LastUpdateStatusReasonCode="Creating",
        RevisionId=str(uuid.uuid4()),
    )
    return config


def logging_config(
    name: str, current: dict[str, Any] | None, given: dict[str, Any]
) -> dict[str, Any]:
    """A ``LoggingConfig`` parameter merged into the function's current one, as AWS
    merges it: what is not given is kept (``LogGroup`` included), JSON brings the log
    levels (INFO unless given), Text drops them."""
    merged = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}", **(current or {})}
    merged.update({k: v for k, v in given.items() if v is not None})
    if merged["LogFormat"] == "JSON":
        merged.setdefault("ApplicationLogLevel", "INFO")
        merged.setdefault("SystemLogLevel", "INFO")
    else:
        merged.pop("ApplicationLogLevel", None)
        merged.pop("SystemLogLevel", None)
    return merged
