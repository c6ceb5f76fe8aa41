"""A version's function scaling as one host honours it: floor and cap from the stored
configuration, whether a cold start may happen, what the keeper starts and stops, and
what the reaper may stop."""

from __future__ import annotations

from lambdad.model import scaling
from lambdad.model.scaling import Adjustment, VersionScaling


def _on_provider(**managed: object) -> dict[str, object]:
    arn = "arn:aws:lambda:us-east-1:123456789012:capacity-provider:cp"
    config = {"CapacityProviderArn": arn, **managed}
    return {"CapacityProviderConfig": {"LambdaManagedInstancesCapacityProviderConfig": config}}


def test_min_is_the_floor_and_max_the_cap() -> None:
    config = {"MinExecutionEnvironments": 1, "MaxExecutionEnvironments": 3}
    assert scaling.from_config(config) == VersionScaling(floor=1, cap=3)
    assert scaling.from_config({}) == VersionScaling(floor=0, cap=None)
    assert scaling.from_config({"MaxExecutionEnvironments": 0}) == VersionScaling(0, 0)


def test_each_environment_runs_its_workers_at_once() -> None:
    # An AWS environment runs PerExecutionEnvironmentMaxConcurrency invocations at once;
    # a lambdad environment is one worker: the cap counts workers, the floor environments.
    doc = _on_provider(PerExecutionEnvironmentMaxConcurrency=4)
    workers = scaling.per_environment(doc)
    assert workers == 4
    config = {"MinExecutionEnvironments": 1, "MaxExecutionEnvironments": 2}
    assert scaling.from_config(config, workers) == VersionScaling(floor=1, cap=8)
    assert scaling.per_environment(_on_provider()) == 1
    assert scaling.per_environment({}) == 1


def test_a_cold_start_only_below_the_cap() -> None:
    capped = VersionScaling(floor=0, cap=2)
    assert scaling.may_start(0, capped)
    assert scaling.may_start(1, capped)
    assert not scaling.may_start(2, capped)
    assert not scaling.may_start(0, VersionScaling(cap=0))
    assert scaling.may_start(10_000, VersionScaling(floor=1))


def test_the_keeper_starts_up_to_the_floor_never_past_the_cap() -> None:
    assert scaling.adjust(0, 0, VersionScaling(floor=2, cap=5)) == Adjustment(start=2)
    assert scaling.adjust(1, 1, VersionScaling(floor=2, cap=5)) == Adjustment(start=1)
    assert scaling.adjust(3, 0, VersionScaling(floor=2, cap=5)) == Adjustment()
    assert scaling.adjust(0, 0, VersionScaling(floor=2)) == Adjustment(start=2)
    # Min equal to Max, already full of busy environments: nothing to start.
    assert scaling.adjust(2, 0, VersionScaling(floor=2, cap=2)) == Adjustment()


def test_a_lower_cap_stops_idle_environments_only() -> None:
    assert scaling.adjust(4, 3, VersionScaling(floor=1, cap=2)) == Adjustment(stop_idle=2)
    # Busy ones finish their invocations; the rest go when released and reaped.
    assert scaling.adjust(4, 1, VersionScaling(floor=1, cap=2)) == Adjustment(stop_idle=1)
    assert scaling.adjust(2, 2, VersionScaling(cap=0)) == Adjustment(stop_idle=2)


def test_the_reaper_leaves_the_floor() -> None:
    floor_two = VersionScaling(floor=2)
    assert scaling.reapable(expired=3, live=3, scaling=floor_two) == 1
    assert scaling.reapable(expired=1, live=2, scaling=floor_two) == 0
    assert scaling.reapable(expired=2, live=5, scaling=floor_two) == 2
    assert scaling.reapable(expired=1, live=1, scaling=VersionScaling()) == 1
