"""The URL door's cache: the config and the policy decision are read once, and read
again after any change of URLs, policies, aliases or functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lambdad.events.url_auth import UrlAuthorizer, UrlForbidden
from lambdad.events.url_cache import CachedUrlConfigs, UrlCache
from lambdad.model import policy
from lambdad.model.changes import ChangeHub
from lambdad.model.function_url import UrlConfig
from lambdad.model.scope import Scope

ID = "abcdefghijklmnopqrstuvwxyz012345"
SCOPE = Scope("111111111111", "us-east-1")
CONFIG = UrlConfig(ID, "111111111111", "us-east-1", "f", None, "NONE")


class _Configs:
    def __init__(self) -> None:
        self.reads = 0
        self.config: UrlConfig | None = CONFIG

    def config_for(self, url_id: str) -> UrlConfig | None:
        self.reads += 1
        return self.config if url_id == ID else None


class _Policies:
    def __init__(self) -> None:
        self.reads = 0
        params = {"StatementId": "u", "Action": "lambda:InvokeFunctionUrl", "Principal": "*",
                  "FunctionUrlAuthType": "NONE"}  # fmt: skip
        invoke = {"StatementId": "i", "Action": "lambda:InvokeFunction", "Principal": "*",
                  "InvokedViaFunctionUrl": True}  # fmt: skip
        resource = "arn:aws:lambda:us-east-1:111111111111:function:f"
        self.statements = [policy.function_statement(p, resource) for p in (params, invoke)]

    def get_policy(self, scope: Scope, name: str, qualifier: str | None) -> dict[str, Any]:
        self.reads += 1
        return {"Policy": policy.to_json(policy.document(self.statements))}


def test_the_config_is_read_once_then_again_after_a_url_change() -> None:
    hub = ChangeHub()
    configs = _Configs()
    cached = CachedUrlConfigs(configs.config_for, UrlCache(hub))
    assert cached.config_for(ID) == CONFIG
    assert cached.config_for(ID) == CONFIG
    assert cached.config_for("x" * 32) is None
    assert cached.config_for("x" * 32) is None
    assert configs.reads == 2
    configs.config = None
    hub.url_changed(SCOPE, "f", None)
    assert cached.config_for(ID) is None
    assert configs.reads == 3


@pytest.mark.parametrize(
    "change",
    [
        lambda hub: hub.policy_changed(SCOPE, "f", None),
        lambda hub: hub.alias_changed(SCOPE, "f", "live"),
        lambda hub: hub.function_changed(SCOPE, "f", None),
        lambda hub: hub.url_changed(SCOPE, "f", None),
    ],
)
def test_the_policy_decision_is_kept_until_a_change(change: Callable[[ChangeHub], None]) -> None:
    hub = ChangeHub()
    policies = _Policies()
    authorizer = UrlAuthorizer(policies, lambda *args: None, UrlCache(hub))
    for _ in range(3):
        assert authorizer.authorize(CONFIG, "GET", "/", "", [], b"") is None
    assert policies.reads == 1
    policies.statements = []
    change(hub)
    with pytest.raises(UrlForbidden):
        authorizer.authorize(CONFIG, "GET", "/", "", [], b"")
    assert policies.reads == 2


def test_an_answer_read_across_a_change_is_not_kept() -> None:
    hub = ChangeHub()
    cache = UrlCache(hub)

    def read_while_changing() -> str:
        hub.url_changed(SCOPE, "f", None)  # a control-plane thread, mid-read
        return "stale"

    assert cache.get("k", read_while_changing) == "stale"
    assert cache.get("k", lambda: "fresh") == "fresh"


def test_the_cache_is_bounded() -> None:
    cache = UrlCache(ChangeHub(), max_entries=3)
    for i in range(10):
        cache.get(i, lambda: None)
    assert len(cache) <= 3
