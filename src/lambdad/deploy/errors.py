"""The errors the CloudFormation subset answers with (rendered by ``cfn_api``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class StackError(Exception):
    """An AWS CloudFormation error: its code, HTTP status and message."""

    code = "ValidationError"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(StackError):
    """A template, parameter or request AWS refuses as invalid."""


class ChangeSetNotFound(StackError):
    code = "ChangeSetNotFound"
    status = 404


class InsufficientCapabilities(StackError):
    code = "InsufficientCapabilitiesException"


class AlreadyExists(StackError):
    code = "AlreadyExistsException"


class UnsupportedResources(ValidationError):
    """The template declares resource types lambdad does not serve (never skipped
    silently: the plan fails with the list, unless the caller asked to skip them)."""

    def __init__(
        self, unsupported: dict[str, list[str]], unavailable: Mapping[str, str] | None = None
    ) -> None:
        why = unavailable or {}
        parts = []
        for t, ids in sorted(unsupported.items()):
            reason = f": {why[t]}" if t in why else ""
            parts.append(f"{t} ({', '.join(ids)}){reason}")
        listed = "; ".join(parts)
        super().__init__(f"Template contains resource types lambdad does not support: {listed}")
        self.unsupported = unsupported


class ApplyFailed(Exception):
    """A step of a plan failed while it was applied (the executor rolled back)."""

    def __init__(self, logical_id: str, reason: str, stranded: tuple[Any, ...] = ()) -> None:
        super().__init__(f"{logical_id}: {reason}")
        self.logical_id = logical_id
        self.reason = reason
        # Resources the rollback could not delete (ResourceRecord): still the stack's.
        self.stranded = stranded
