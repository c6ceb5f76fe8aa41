"""SigV4's canonical pieces, shared by the API's check and the upstream relay."""

from lambdad.model.sigv4_canonical import (
    canonical_headers,
    canonical_query,
    canonical_uri,
    split_query,
)


def test_the_query_is_decoded_then_encoded_in_order() -> None:
    pairs = split_query("b=2&a=x+y&c=%7E&&d")
    assert canonical_query(pairs) == "a=x%20y&b=2&c=~&d="
    assert canonical_query(split_query("")) == ""


def test_the_uri_is_normalised_and_encoded_once_more() -> None:
    assert canonical_uri("/a/./b/../c//d%20e/") == "/a/c/d%2520e/"
    assert canonical_uri("") == "/"


def test_signed_headers_are_trimmed_and_joined() -> None:
    by_name = {"host": ["h"], "x-amz-meta": ["  a   b ", "c"]}
    assert canonical_headers(["host", "x-amz-meta", "absent"], by_name) == (
        "host:h\nx-amz-meta:a b,c\nabsent:\n"
    )
