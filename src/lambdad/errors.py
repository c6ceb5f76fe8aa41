"""The one error hierarchy of lambdad.

Every error a client can see is an ``AwsError``: it carries the HTTP status, the
exception name AWS puts in ``x-amzn-ErrorType``, its message and any extra fields
of the modelled exception shape. ``lambdad.api.errors`` is the only place that
turns them into HTTP responses.

    LambdadError
    ├── AwsError                                  (client-visible, AWS-shaped)
    │   ├── ResourceNotFoundException             404
    │   ├── ProvisionedConcurrencyConfigNotFoundException 404
    │   ├── ResourceConflictException             409
    │   ├── SnapStartNotReadyException            409
    │   ├── SnapStartException                    400
    │   ├── SnapStartTimeoutException             408
    │   ├── ResourceInUseException                400
    │   ├── InvalidParameterValueException        400
    │   ├── ValidationException                   400
    │   ├── InvalidRequestContentException        400
    │   ├── CodeStorageExceededException          400
    │   ├── PolicyLengthExceededException         400
    │   ├── PreconditionFailedException           412
    │   ├── CodeVerificationFailedException       400
    │   ├── InvalidCodeSignatureException         400
    │   ├── CodeSigningConfigNotFoundException    404
    │   ├── RequestTooLargeException              413
    │   │   └── RequestEntityTooLargeException    413 (AWS's name for some)
    │   ├── UnsupportedMediaTypeException         415
    │   ├── TooManyRequestsException              429
    │   ├── ServiceException                      500
    │   ├── ResourceNotReadyException             502
    │   ├── InvalidRuntimeException               502
    │   ├── InvalidZipFileException               502
    │   ├── AccessDeniedException                 403
    │   │   └── ForeignFunctionDenied
    │   ├── UnknownOperationException             404
    │   ├── NotFoundException                     404 (API Gateway's)
    │   ├── BadRequestException                   400 (API Gateway's)
    │   ├── ConflictException                     409 (API Gateway's)
    │   └── AuthError                             403
    │       ├── MissingAuthenticationTokenException
    │       ├── UnrecognizedClientException
    │       ├── ExpiredTokenException
    │       ├── InvalidSignatureException
    │       └── IncompleteSignatureException
    ├── SandboxError                              (platform-internal)
    └── IllegalTransition                         (platform-internal: a bug)
"""

from __future__ import annotations

from typing import Any, ClassVar, Self


class LambdadError(Exception):
    """Root of every error raised by lambdad."""


class AwsError(LambdadError):
    """An error answered to the client in AWS's shape."""

    status: ClassVar[int] = 400
    # AWS spells the message member "message" for most exceptions and "Message" for some.
    message_key: ClassVar[str] = "message"
    error_type: ClassVar[str] = "User"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        self.headers: dict[str, str] = {}
        self.typed = True

    def without_type(self) -> Self:
        """This error answered without ``Type``, as AWS answers some (concurrency limits)."""
        self.typed = False
        return self

    @property
    def code(self) -> str:
        return type(self).__name__

    def body(self) -> dict[str, Any]:
        typed = {"Type": self.error_type} if self.typed else {}
        return {**typed, self.message_key: self.message, **self.fields}


class ResourceNotFoundException(AwsError):
    status = 404
    message_key = "Message"


class ProvisionedConcurrencyConfigNotFoundException(AwsError):
    status = 404


class ResourceConflictException(AwsError):
    status = 409


class SnapStartNotReadyException(AwsError):
    """A SnapStart version invoked before its snapshot is taken."""

    status = 409
    message_key = "Message"


class SnapStartException(AwsError):
    """A SnapStart version's restore hook failed."""

    status = 400
    message_key = "Message"


class SnapStartTimeoutException(AwsError):
    """A SnapStart version's snapshot could not be restored in time."""

    status = 408
    message_key = "Message"


class ResourceInUseException(AwsError):
    status = 400
    message_key = "Message"


class InvalidParameterValueException(AwsError):
    status = 400


class ValidationException(AwsError):
    status = 400

    @classmethod
    def for_violations(cls, violations: list[str]) -> ValidationException:
        n = len(violations)
        noun = "error" if n == 1 else "errors"
        return cls(f"{n} validation {noun} detected: " + "; ".join(violations))


class InvalidRequestContentException(AwsError):
    status = 400


class CodeStorageExceededException(AwsError):
    status = 400


class PolicyLengthExceededException(AwsError):
    status = 400


class PreconditionFailedException(AwsError):
    status = 412


class CodeVerificationFailedException(AwsError):
    """A package fails its code signing checks under ``Enforce``."""

    message_key = "Message"


class InvalidCodeSignatureException(AwsError):
    """A package's signature does not match it (blocks even under ``Warn``)."""

    message_key = "Message"


class CodeSigningConfigNotFoundException(AwsError):
    status = 404
    message_key = "Message"


class RequestTooLargeException(AwsError):
    status = 413


class RequestEntityTooLargeException(RequestTooLargeException):
    """What AWS names some too-large requests (a direct upload over the zipped limit),
    whatever botocore's model says."""


class UnsupportedMediaTypeException(AwsError):
    status = 415


class TooManyRequestsException(AwsError):
    status = 429

    def __init__(self, message: str, *, reason: str, retry_after: int = 1) -> None:
        super().__init__(message, Reason=reason)
        self.headers["Retry-After"] = str(retry_after)


class ServiceException(AwsError):
    status = 500
    message_key = "Message"
    error_type = "Service"


class ResourceNotReadyException(AwsError):
    status = 502


class InvalidRuntimeException(AwsError):
    status = 502
    message_key = "Message"


class InvalidZipFileException(AwsError):
    """Invoke: the function's stored archive cannot be extracted."""

    status = 502
    message_key = "Message"


class AccessDeniedException(AwsError):
    status = 403
    message_key = "Message"


class ForeignFunctionDenied(AccessDeniedException):
    """Another account's function, named by ARN, that no resource policy opens to the
    caller. Raised where the action is not known; the API layer names it."""

    def __init__(
        self,
        caller_account: str,
        resource: str,
        action: str = "lambda:*",
        principal_arn: str | None = None,
    ) -> None:
        self.caller_account = caller_account
        self.resource = resource
        who = principal_arn or f"arn:aws:iam::{caller_account}:root"
        super().__init__(
            f"User: {who} is not authorized to perform: {action} "
            f"on resource: {resource} because no resource-based policy allows the {action} "
            "action"
        )

    @property
    def code(self) -> str:
        return "AccessDeniedException"

    def for_action(self, action: str, principal_arn: str | None = None) -> ForeignFunctionDenied:
        """The same refusal, naming the action (and the caller, when not the root)."""
        return ForeignFunctionDenied(self.caller_account, self.resource, action, principal_arn)


class UnknownOperationException(AwsError):
    status = 404


class NotFoundException(AwsError):
    """API Gateway's: no such API, route, integration, stage or resource."""

    status = 404


class BadRequestException(AwsError):
    """API Gateway's: an invalid parameter (its ``ValidationException``)."""

    status = 400


class ConflictException(AwsError):
    """API Gateway's: the resource already exists (a route key, a stage name)."""

    status = 409


class AuthError(AwsError):
    """A request that could not be authenticated (always 403)."""

    status = 403


class MissingAuthenticationTokenException(AuthError):
    pass


class UnrecognizedClientException(AuthError):
    pass


class ExpiredTokenException(AuthError):
    """A session's token past its expiry (execution-role credentials)."""


class InvalidSignatureException(AuthError):
    pass


class IncompleteSignatureException(AuthError):
    pass


class SandboxError(LambdadError):
    """A sandbox could not be started or used; never shown to clients as is."""


class IllegalTransition(LambdadError):
    """An execution environment was asked to move between states its life cycle does not
    join (STOPPED -> READY, ...): a bug in the platform, never shown to clients as is."""

    def __init__(self, env_id: str, current: str, target: str) -> None:
        super().__init__(f"environment {env_id}: {current} -> {target}")
        self.env_id = env_id
        self.current = current
        self.target = target
