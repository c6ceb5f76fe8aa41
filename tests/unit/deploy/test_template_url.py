"""TemplateURL: S3 URLs in every style the AWS tools write, read as the caller's
account (a fake reader here), refused when lambdad has no way to read them."""

from __future__ import annotations

import pytest

from lambdad.deploy.errors import ValidationError
from lambdad.deploy.template_url import locate


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://s3.amazonaws.com/bkt/a/t.yaml", ("bkt", "a/t.yaml")),
        ("https://s3.eu-west-1.amazonaws.com/bkt/t%20x.yaml", ("bkt", "t x.yaml")),
        ("https://bkt.s3.amazonaws.com/dir/t.json", ("bkt", "dir/t.json")),
        ("https://bkt.s3.us-east-2.amazonaws.com/t.json", ("bkt", "t.json")),
        ("http://127.0.0.1:9000/bkt/t.yaml", ("bkt", "t.yaml")),
    ],
)
def test_locate(url: str, expected: tuple[str, str]) -> None:
    assert locate(url) == expected


@pytest.mark.parametrize("url", ["file:///etc/passwd", "https://s3.amazonaws.com/bkt", "nope"])
def test_not_an_s3_location(url: str) -> None:
    with pytest.raises(ValidationError):
        locate(url)
