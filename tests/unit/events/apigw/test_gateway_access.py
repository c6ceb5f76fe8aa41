"""The checks every API Gateway door shares: an API found by id (remembered until the
next control-plane write), and which functions it may invoke."""

from __future__ import annotations

from lambdad.events.apigw.api_store import Found
from lambdad.events.apigw.gateway_access import ApiLookup, Permissions
from lambdad.events.url_cache import UrlCache
from lambdad.model.arn import FunctionRef
from lambdad.model.changes import ChangeHub
from lambdad.model.scope import Scope

OWNER = Scope("111111111111", "us-east-1")
FOUND = Found("HTTP", OWNER, {"ApiId": "a"})


class Apis:
    def __init__(self) -> None:
        self.generation = 0
        self.asked = 0

    def find(self, api_id: str) -> Found | None:
        self.asked += 1
        return FOUND if api_id == "a" else None


class Policies:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def allows_service(
        self, owner: Scope, name: str, qualifier: str | None, service: str, source_arn: str
    ) -> bool:
        self.asked.append(service)
        return name == "allowed"


def test_an_api_is_remembered_until_the_next_write() -> None:
    apis = Apis()
    lookup = ApiLookup(apis)  # type: ignore[arg-type]
    assert lookup.find("a") is FOUND
    assert lookup.find("a") is FOUND
    assert lookup.find("nope") is None
    assert apis.asked == 2
    apis.generation += 1
    assert lookup.find("a") is FOUND
    assert apis.asked == 3


def test_only_the_apis_own_account_and_region_and_a_permitting_policy() -> None:
    policies = Policies()
    rights = Permissions(policies, UrlCache(ChangeHub()))
    arn = "arn:aws:execute-api:us-east-1:111111111111:a/prod/GET/"
    assert rights.may_invoke(FOUND, FunctionRef("allowed"), arn)
    assert rights.may_invoke(FOUND, FunctionRef("allowed", None, "111111111111", "us-east-1"), arn)
    assert not rights.may_invoke(FOUND, FunctionRef("allowed", None, "222222222222"), arn)
    assert not rights.may_invoke(FOUND, FunctionRef("allowed", None, None, "eu-west-1"), arn)
    assert not rights.may_invoke(FOUND, FunctionRef("other"), arn)
    assert policies.asked == ["apigateway.amazonaws.com"] * 2  # the verdict is remembered
