"""SnapStart's rules (model/snapstart.py): runtimes, refusals, shapes and states."""

from __future__ import annotations

from typing import Any

import pytest

from lambdad.errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    SnapStartNotReadyException,
)
from lambdad.model import snapstart

ON = {"ApplyOn": "PublishedVersions"}


@pytest.mark.parametrize(
    ("runtime", "supported"),
    [
        ("python3.12", True),
        ("python3.13", True),
        ("python3.14", True),
        ("python3.11", False),
        ("python3.9", False),
        ("nodejs22.x", False),
        ("java21", False),
        ("dotnet8", False),
        ("provided.al2023", False),
        ("python9.99", False),  # not a runtime at all
        (None, False),
    ],
)
def test_supports_python_312_and_later_only(runtime: str | None, supported: bool) -> None:
    assert snapstart.supports(runtime) is supported


def test_configure_stores_apply_on_with_optimization_off() -> None:
    doc: dict[str, Any] = {"Runtime": "python3.12"}
    snapstart.configure(doc, {"SnapStart": ON})
    assert doc["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    snapstart.configure(doc, {"SnapStart": {}})
    assert doc["SnapStart"]["ApplyOn"] == "None"


def test_configure_refuses_a_runtime_change_away_from_snapstart() -> None:
    doc: dict[str, Any] = {"Runtime": "python3.10", "SnapStart": dict(ON)}
    with pytest.raises(InvalidParameterValueException, match=r"python3\.10 is not supported"):
        snapstart.configure(doc, {"Runtime": "python3.10"})
    # A request that touches neither leaves an existing configuration alone.
    snapstart.configure(doc, {"Timeout": 5})


def test_render_turns_optimization_on_for_published_versions_only() -> None:
    stored = {"SnapStart": {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}}
    latest, version = dict(stored), dict(stored)
    snapstart.render(latest, "$LATEST")
    snapstart.render(version, "3")
    assert latest["SnapStart"]["OptimizationStatus"] == "Off"
    assert version["SnapStart"]["OptimizationStatus"] == "On"
    off = {"SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"}}
    snapstart.render(off, "3")
    assert off["SnapStart"]["OptimizationStatus"] == "Off"


def test_state_transitions_and_invocability() -> None:
    doc: dict[str, Any] = {"SnapStart": dict(ON), "State": "Active"}
    snapstart.mark_pending(doc)
    assert snapstart.is_pending("1", doc)
    assert not snapstart.is_pending("$LATEST", doc)
    with pytest.raises(SnapStartNotReadyException) as not_ready:
        snapstart.check_state(doc["State"])
    assert not_ready.value.status == 409
    assert not_ready.value.body()["Message"].startswith("Lambda is initializing your function")

    failed = dict(doc)
    snapstart.mark_finished(failed, "init crashed", snapstart.FUNCTION_ERROR)
    assert (failed["State"], failed["StateReason"], failed["StateReasonCode"]) == (
        "Failed",
        "init crashed",
        "FunctionError",
    )
    with pytest.raises(ResourceConflictException, match="following state: Failed"):
        snapstart.check_state(failed["State"])

    snapstart.mark_finished(doc, None, snapstart.FUNCTION_ERROR)
    assert doc["State"] == "Active"
    assert "StateReason" not in doc
    assert "StateReasonCode" not in doc
    snapstart.check_state(doc["State"])
    snapstart.check_state(None)  # a configuration without a state runs


def test_ephemeral_storage_over_512_mb_is_refused_with_snapstart_only() -> None:
    with pytest.raises(InvalidParameterValueException, match="greater than 512 MB"):
        snapstart.check_storage(ON, {"Size": 513})
    snapstart.check_storage(ON, {"Size": 512})
    snapstart.check_storage(ON, None)  # the default is 512 MB
    snapstart.check_storage({"ApplyOn": "None"}, {"Size": 10240})
    doc: dict[str, Any] = {"Runtime": "python3.12", "EphemeralStorage": {"Size": 1024}}
    with pytest.raises(InvalidParameterValueException, match="ephemeral storage"):
        snapstart.configure(doc, {"SnapStart": ON})


def test_provisioned_concurrency_is_refused_on_snapstart_versions() -> None:
    with pytest.raises(InvalidParameterValueException, match="Provisioned concurrency"):
        snapstart.check_provisioned({"SnapStart": dict(ON)})
    snapstart.check_provisioned({"SnapStart": {"ApplyOn": "None"}})
    snapstart.check_provisioned({})
