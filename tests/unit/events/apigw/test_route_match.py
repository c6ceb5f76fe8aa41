"""Route keys and the order API Gateway chooses routes in (Developer Guide, "Working
with routes for HTTP APIs": full match, then greedy, then ``$default``; the most
specific first)."""

from __future__ import annotations

import pytest

from lambdad.events.apigw.route_match import Match, match, parse_route_key


def _routes(*keys: str) -> list[tuple[str, object]]:
    parsed = []
    for key in keys:
        route = parse_route_key(key)
        assert route is not None, key
        parsed.append((key, route))
    return parsed


def _best(method: str, path: str, *keys: str) -> Match | None:
    return match(_routes(*keys), method, path)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "key", ["$default", "GET /", "ANY /{proxy+}", "GET /pets/{id}", "POST /a/b/{rest+}"]
)
def test_valid_route_keys(key: str) -> None:
    assert parse_route_key(key) is not None


@pytest.mark.parametrize(
    "key",
    ["GET", "get /pets", "GET pets", "GET /a//b", "GET /a/", "GET /{proxy+}/x", "GET /{",
     "GET /{}", "/pets", "GET /a b"],
)  # fmt: skip
def test_invalid_route_keys(key: str) -> None:
    assert parse_route_key(key) is None


def test_full_match_beats_variables_and_greedy_and_default() -> None:
    keys = ("$default", "ANY /{proxy+}", "GET /pets/{id}", "GET /pets/dog")
    assert _best("GET", "/pets/dog", *keys) == Match("GET /pets/dog", "GET /pets/dog", {})
    assert _best("GET", "/pets/cat", *keys) == Match(
        "GET /pets/{id}", "GET /pets/{id}", {"id": "cat"}
    )
    assert _best("GET", "/pets/cat/1", *keys) == Match(
        "ANY /{proxy+}", "ANY /{proxy+}", {"proxy": "pets/cat/1"}
    )


def test_a_method_beats_any() -> None:
    found = _best("GET", "/pets", "ANY /pets", "GET /pets")
    assert found is not None
    assert found.route_key == "GET /pets"
    found = _best("PUT", "/pets", "ANY /pets", "GET /pets")
    assert found is not None
    assert found.route_key == "ANY /pets"


def test_the_longer_greedy_prefix_wins() -> None:
    found = _best("GET", "/pets/dog/1", "ANY /{proxy+}", "GET /pets/{proxy+}")
    assert found == Match("GET /pets/{proxy+}", "GET /pets/{proxy+}", {"proxy": "dog/1"})


def test_a_literal_leftmost_segment_wins() -> None:
    found = _best("GET", "/pets/dog", "GET /{kind}/dog", "GET /pets/{name}")
    assert found is not None
    assert found.route_key == "GET /pets/{name}"


def test_default_catches_the_rest_and_none_without_it() -> None:
    assert _best("DELETE", "/x", "$default", "GET /x") == Match("$default", "$default", {})
    assert _best("DELETE", "/x", "GET /x") is None


def test_greedy_needs_a_segment_and_root_is_its_own_route() -> None:
    assert _best("GET", "/", "ANY /{proxy+}") is None
    assert _best("GET", "/", "GET /", "ANY /{proxy+}") == Match("GET /", "GET /", {})


def test_trailing_slash_and_encoded_values() -> None:
    found = _best("GET", "/pets/a%20b/", "GET /pets/{id}")
    assert found == Match("GET /pets/{id}", "GET /pets/{id}", {"id": "a%20b"})
    assert _best("GET", "/pets//", "GET /pets/{id}") is None
