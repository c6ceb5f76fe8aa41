"""SnapStart's rules: which runtimes may turn it on, the refusals (ephemeral storage
over 512 MB, provisioned concurrency), the ``SnapStart`` member as stored and as
shown, and the states of a published version whose snapshot is being taken.

AWS takes a SnapStart version's snapshot after PublishVersion answers: the version
is ``Pending`` (reason ``Creating``) until its init has run, then ``Active``, or
``Failed`` with the init's error as its reason. Invoking it before then is refused.
These are pure functions over stored version documents; ``control/`` applies them
and stores the states, ``environments/snapstart.py`` takes the snapshots.
"""

from __future__ import annotations

from typing import Any

from lambdad.errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    SnapStartNotReadyException,
)
from lambdad.model.arn import LATEST
from lambdad.model.runtimes import runtime_info

PUBLISHED_VERSIONS = "PublishedVersions"
# lambdad runs Python only; AWS offers SnapStart from Python 3.12 on.
MIN_PYTHON = (3, 12)

PENDING, ACTIVE, FAILED = "Pending", "Active", "Failed"
CREATING = "Creating"
FUNCTION_ERROR = "FunctionError"
INTERNAL_ERROR = "InternalError"
CREATING_REASON = "The function is being created."
INTERNAL_REASON = "Lambda could not create the snapshot of this version (internal error)."
_STATE_KEYS = ("State", "StateReason", "StateReasonCode")

NOT_READY_MESSAGE = (
    "Lambda is initializing your function. It will be ready to invoke once your function "
    "state becomes ACTIVE."
)


def supports(runtime: str | None) -> bool:
    """Whether SnapStart can be turned on for functions of ``runtime``."""
    info = runtime_info(runtime) if runtime else None
    if info is None or info.family != "python":
        return False
    try:
        version = tuple(int(part) for part in info.version.split("."))
    except ValueError:
        return False
    return version >= MIN_PYTHON


def applies(doc: dict[str, Any]) -> bool:
    """Whether a stored configuration asks for snapshots of published versions."""
    return (doc.get("SnapStart") or {}).get("ApplyOn") == PUBLISHED_VERSIONS


def configure(doc: dict[str, Any], params: dict[str, Any]) -> None:
    """Store Create/UpdateFunctionConfiguration's ``SnapStart`` in ``doc`` (a $LATEST
    document that already carries the request's Runtime), refusing a runtime SnapStart
    does not support, whether SnapStart or the Runtime is what the request changes."""
    if "SnapStart" in params:
        doc["SnapStart"] = {
            "ApplyOn": (params["SnapStart"] or {}).get("ApplyOn", "None"),
            "OptimizationStatus": "Off",
        }
    if "SnapStart" in params or "Runtime" in params:
        check_runtime(doc.get("SnapStart"), doc.get("Runtime"))
    if "SnapStart" in params or "EphemeralStorage" in params:
        check_storage(doc.get("SnapStart"), doc.get("EphemeralStorage"))


def check_runtime(snap_start: dict[str, Any] | None, runtime: str | None) -> None:
    """Refuse SnapStart on a runtime that does not support it, with AWS's message."""
    if (snap_start or {}).get("ApplyOn") == PUBLISHED_VERSIONS and not supports(runtime):
        raise InvalidParameterValueException(
            f"{runtime} is not supported for SnapStart enabled functions."
        )


# AWS: SnapStart does not support ephemeral storage over 512 MB, nor provisioned
# concurrency (lambdad's wording of both refusals).
MAX_EPHEMERAL_STORAGE = 512
STORAGE_MESSAGE = (
    "SnapStart is not supported for functions with ephemeral storage greater than "
    f"{MAX_EPHEMERAL_STORAGE} MB."
)
PROVISIONED_MESSAGE = (
    "Provisioned concurrency is not supported for versions of SnapStart enabled functions."
)


def check_storage(snap_start: dict[str, Any] | None, storage: dict[str, Any] | None) -> None:
    """Refuse SnapStart with more than 512 MB of ephemeral storage, as AWS does."""
    size = int((storage or {}).get("Size") or MAX_EPHEMERAL_STORAGE)
    if (snap_start or {}).get("ApplyOn") == PUBLISHED_VERSIONS and size > MAX_EPHEMERAL_STORAGE:
        raise InvalidParameterValueException(STORAGE_MESSAGE)


def check_provisioned(version_doc: dict[str, Any]) -> None:
    """Refuse provisioned concurrency on a SnapStart version, as AWS does."""
    if applies(version_doc):
        raise InvalidParameterValueException(PROVISIONED_MESSAGE)


def render(out: dict[str, Any], version: str) -> None:
    """``SnapStart`` as AWS shows it: ``OptimizationStatus`` is On for a published
    version that has a snapshot, Off for $LATEST and every other version."""
    snap = out.get("SnapStart")
    if snap is None:
        return
    on = version != LATEST and snap.get("ApplyOn") == PUBLISHED_VERSIONS
    out["SnapStart"] = {**snap, "OptimizationStatus": "On" if on else "Off"}


def mark_pending(doc: dict[str, Any]) -> None:
    """A version just published from a SnapStart function: its snapshot is to be taken."""
    doc.update(State=PENDING, StateReason=CREATING_REASON, StateReasonCode=CREATING)


def mark_finished(doc: dict[str, Any], error: str | None, reason_code: str) -> None:
    """The snapshot was taken (``error`` None: Active) or could not be (Failed)."""
    for key in _STATE_KEYS:
        doc.pop(key, None)
    if error is None:
        doc["State"] = ACTIVE
    else:
        doc.update(State=FAILED, StateReason=error, StateReasonCode=reason_code)


def is_pending(version: str, doc: dict[str, Any]) -> bool:
    """A SnapStart version whose snapshot has not been taken yet."""
    return version != LATEST and doc.get("State") == PENDING and applies(doc)


def check_state(state: str | None) -> None:
    """Refuse to invoke a version in ``state`` (its ``State``) whose snapshot is not ready
    (Pending) or could not be taken (Failed), as AWS does."""
    if state == PENDING:
        raise SnapStartNotReadyException(NOT_READY_MESSAGE)
    if state == FAILED:
        raise ResourceConflictException(
            "The operation cannot be performed at this time. The function is currently in "
            "the following state: Failed"
        )
