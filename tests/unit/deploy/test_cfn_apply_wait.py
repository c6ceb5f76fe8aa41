"""ExecuteChangeSet and DeleteStack answer once their work is done, or after
``APPLY_WAIT`` seconds with the work going on (a traffic-shifting deployment takes
minutes; the caller's read timeout is 60 s)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from lambdad.deploy import cfn_api
from lambdad.deploy.stack_records import Where

HERE = Where("123456789012", "us-east-1")


class _Records:
    def all(self, where: Where) -> list[Any]:
        return []


class _Service:
    records = _Records()


class _Artifacts:
    def collect(self, where: Where, texts: list[str]) -> list[str]:
        return []


def _api() -> cfn_api.CloudFormationApi:
    return cfn_api.CloudFormationApi(_Service(), _Artifacts(), "http://x")  # type: ignore[arg-type]


def test_quick_work_is_answered_with_its_result() -> None:
    def work(service: Any, where: Where, params: Any, env_for: Any) -> dict[str, str]:
        return {"done": "yes"}

    assert asyncio.run(_api()._apply(work, HERE, {}, None)) == {"done": "yes"}


def test_long_work_is_answered_early_and_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cfn_api, "APPLY_WAIT", 0.05)
    release, finished = threading.Event(), threading.Event()

    def work(service: Any, where: Where, params: Any, env_for: Any) -> dict[str, str]:
        release.wait(5)
        finished.set()
        return {"done": "late"}

    async def scenario() -> None:
        api = _api()
        assert await api._apply(work, HERE, {}, None) == {}
        assert not finished.is_set()
        (running,) = api._running
        release.set()
        await running
        assert finished.is_set()
        assert not api._running

    asyncio.run(scenario())


def test_one_accounts_long_deployments_leave_room_for_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cfn_api, "APPLY_WAIT", 0.05)
    monkeypatch.setattr(cfn_api, "APPLY_PER_ACCOUNT", 1)
    release, two_running = threading.Event(), threading.Event()
    started: list[str] = []

    def work(service: Any, where: Where, params: Any, env_for: Any) -> dict[str, str]:
        started.append(params["name"])
        if len(started) == 2:
            two_running.set()
        release.wait(5)
        return {}

    other = Where("210987654321", "us-east-1")

    async def scenario() -> None:
        api = _api()
        await api._apply(work, HERE, {"name": "first"}, None)
        await api._apply(work, HERE, {"name": "second"}, None)
        await api._apply(work, other, {"name": "elsewhere"}, None)
        # The account's second deployment waits for its first; another account's runs.
        assert await asyncio.to_thread(two_running.wait, 5)
        assert sorted(started) == ["elsewhere", "first"]
        release.set()
        await asyncio.gather(*list(api._running))
        assert sorted(started) == ["elsewhere", "first", "second"]

    asyncio.run(scenario())
