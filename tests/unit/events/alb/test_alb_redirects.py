"""A load balancer's redirect action: configs completed and checked as ELB's API
reference describes them, and the Location each answers."""

from __future__ import annotations

import pytest

from lambdad.events.alb import redirects
from lambdad.events.alb.errors import ElbError


def test_omitted_components_keep_the_requests_and_are_stored_as_their_keywords() -> None:
    config = redirects.completed({"StatusCode": "HTTP_301", "Protocol": "HTTPS", "Port": "443"})
    assert config == {
        "StatusCode": "HTTP_301",
        "Protocol": "HTTPS",
        "Port": "443",
        "Host": "#{host}",
        "Path": "/#{path}",
        "Query": "#{query}",
    }
    where = redirects.location(config, host="shop.example", port=80, path="/a/b", query="x=1")
    assert where == "https://shop.example:443/a/b?x=1"
    assert redirects.status_of(config) == 301


def test_keywords_are_reused_where_the_config_places_them() -> None:
    config = redirects.completed({
        "StatusCode": "HTTP_302",
        "Host": "www.#{host}",
        "Path": "/new/#{path}",
        "Query": "#{query}&from=#{port}",
    })  # fmt: skip
    where = redirects.location(config, host="example.test", port=8080, path="/old", query="q=2")
    assert where == "http://www.example.test:8080/new/old?q=2&from=8080"
    assert redirects.status_of(config) == 302


def test_a_host_header_that_is_no_host_name_builds_no_location() -> None:
    config = redirects.completed({"StatusCode": "HTTP_301", "Path": "/new"})
    for host in ("evil.example/x", "a@b", "h?q", "h#f", "h k", "", "h\\x"):
        assert redirects.location(config, host=host, port=80, path="/", query="") is None, host
    assert redirects.location(config, host="[::1]", port=80, path="/", query="") is not None


def test_no_query_means_no_question_mark_and_request_values_are_not_expanded() -> None:
    config = redirects.completed({"StatusCode": "HTTP_301", "Path": "/moved"})
    assert redirects.location(config, host="h", port=80, path="/x", query="") == "http://h:80/moved"
    # A request's own text that looks like a keyword stays as it came.
    config = redirects.completed({"StatusCode": "HTTP_301", "Path": "/n/#{path}"})
    where = redirects.location(config, host="h", port=80, path="/#{host}", query="")
    assert where == "http://h:80/n/#{host}"


@pytest.mark.parametrize(
    "config",
    [
        None,
        {},
        {"StatusCode": "HTTP_307", "Protocol": "HTTPS"},
        {"StatusCode": "HTTP_301"},  # changes nothing: a loop
        {"StatusCode": "HTTP_301", "Protocol": "#{protocol}", "Host": "#{host}"},
        {"StatusCode": "HTTP_301", "Protocol": "FTP"},
        {"StatusCode": "HTTP_301", "Port": "0"},
        {"StatusCode": "HTTP_301", "Port": "65536"},
        {"StatusCode": "HTTP_301", "Port": "http"},
        {"StatusCode": "HTTP_301", "Path": "relative"},
        {"StatusCode": "HTTP_301", "Host": "h" * 129},
        {"StatusCode": "HTTP_301", "Host": ""},
        {"StatusCode": "HTTP_301", "Host": 5},
        # Keywords where ELB's model does not allow them: a host from the path or query.
        {"StatusCode": "HTTP_301", "Host": "#{path}"},
        {"StatusCode": "HTTP_301", "Host": "x.#{query}"},
        {"StatusCode": "HTTP_301", "Path": "/#{query}"},
        {"StatusCode": "HTTP_301", "Path": "/#{nothing}"},
    ],
)
def test_configs_elb_refuses_are_validation_errors(config: dict[str, object] | None) -> None:
    with pytest.raises(ElbError) as raised:
        redirects.completed(config)
    assert raised.value.code == "ValidationError"
