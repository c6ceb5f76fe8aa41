"""The warm path's resolve cache: one FunctionService read per version until it changes."""

from __future__ import annotations

import pytest

from fakes import FakeFunctions
from lambdad.errors import ResourceNotFoundException
from lambdad.invoke.cache import ResolveCache
from lambdad.model.scope import Scope

EAST = Scope("123456789012", "us-east-1")
WEST = Scope("123456789012", "eu-west-1")


@pytest.fixture
def functions() -> FakeFunctions:
    fake = FakeFunctions()
    for scope in (EAST, WEST):
        for name in ("a", "b", "c", "f", "g"):
            fake.add(name, scope=scope)
    return fake


@pytest.fixture
def cache(functions: FakeFunctions) -> ResolveCache:
    return ResolveCache(functions)  # type: ignore[arg-type]


def test_a_warm_invoke_does_not_read_again(cache: ResolveCache, functions: FakeFunctions) -> None:
    first = cache.resolve(EAST, "f", None)
    assert cache.resolve(EAST, "f", None) is first
    assert functions.resolves == 1


def test_each_qualifier_and_region_is_its_own_entry(
    cache: ResolveCache, functions: FakeFunctions
) -> None:
    cache.resolve(EAST, "f", None)
    cache.resolve(EAST, "f", "1")
    cache.resolve(WEST, "f", None)
    assert functions.resolves == 3
    assert len(cache) == 3


def test_a_change_forgets_every_qualifier_of_that_function_only(
    cache: ResolveCache, functions: FakeFunctions
) -> None:
    for qualifier in (None, "1", "live"):
        cache.resolve(EAST, "f", qualifier)
    cache.resolve(EAST, "g", None)
    functions.changed(EAST, "f", "$LATEST")
    assert cache.resolve(EAST, "f", "1").revision_id == "5"
    assert cache.resolve(EAST, "g", None).revision_id == "4"  # still cached


def test_a_change_during_a_read_is_not_undone_by_it(
    cache: ResolveCache, functions: FakeFunctions
) -> None:
    functions.during_resolve = lambda: functions.changed(EAST, "f", None)
    cache.resolve(EAST, "f", None)  # read before the change finished: not kept
    assert cache.resolve(EAST, "f", None).revision_id == "2"
    assert cache.resolve(EAST, "f", None).revision_id == "2"


def test_a_missing_function_is_asked_again(cache: ResolveCache, functions: FakeFunctions) -> None:
    functions.remove("f", scope=EAST)
    for _ in range(2):
        with pytest.raises(ResourceNotFoundException):
            cache.resolve(EAST, "f", None)
    assert functions.resolves == 2


def test_the_cache_is_bounded(functions: FakeFunctions) -> None:
    cache = ResolveCache(functions, max_functions=2)  # type: ignore[arg-type]
    for name in ("a", "b", "c"):
        cache.resolve(EAST, name, None)
    assert len(cache) == 2
    cache.resolve(EAST, "a", None)
    assert functions.resolves == 4  # the oldest went
