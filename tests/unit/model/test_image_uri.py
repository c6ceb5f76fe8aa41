"""ImageUri parsing and its mapping to the operator's registry."""

from __future__ import annotations

import pytest

from lambdad.errors import AccessDeniedException, InvalidParameterValueException
from lambdad.model.image_uri import Registry, parse_image_uri, parse_registry

REGISTRY = Registry("127.0.0.1:5000", tls=False)
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
DIGEST = "sha256:" + "a" * 64


def parse(uri: str, *, trusted: bool = False, registry: Registry | None = REGISTRY):
    return parse_image_uri(
        uri, account="123456789012", region="us-east-1", registry=registry, trusted=trusted
    )


def test_an_ecr_uri_maps_to_the_accounts_part_of_the_registry() -> None:
    ref = parse(f"{ECR}/team/app:v1")
    assert (ref.repository, ref.tag, ref.digest) == ("123456789012/team/app", "v1", None)
    assert ref.reference == "127.0.0.1:5000/123456789012/team/app:v1"
    assert ref.pinned(DIGEST) == f"127.0.0.1:5000/123456789012/team/app@{DIGEST}"
    assert ref.resolved_uri(DIGEST) == f"{ECR}/team/app@{DIGEST}"


def test_a_digest_pins_the_image_and_no_tag_means_latest() -> None:
    assert parse(f"{ECR}/app@{DIGEST}").digest == DIGEST
    assert parse(f"{ECR}/app").tag == "latest"


@pytest.mark.parametrize(
    "uri",
    [
        "app:v1",  # no registry
        f"{ECR}/",
        f"{ECR}/App:v1",  # repositories are lower case
        f"{ECR}/app:",
        f"{ECR}/app:-bad",
        f"{ECR}/app@sha256:short",
        f"{ECR}/../app:v1",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1",  # another region
        "evil.example:5000/app:v1",  # a registry the tenant chose
        "169.254.169.254/latest:v1",
        "127.0.0.1:5000/app:v1",  # the operator's registry, named by an untrusted account
    ],
)
def test_invalid_or_foreign_uris_are_refused(uri: str) -> None:
    with pytest.raises(InvalidParameterValueException) as caught:
        parse(uri)
    assert caught.value.message == f"Source image {uri} is not valid. Provide a valid source image."


def test_another_accounts_repository_is_denied() -> None:
    with pytest.raises(AccessDeniedException):
        parse("210987654321.dkr.ecr.us-east-1.amazonaws.com/app:v1")


def test_a_trusted_account_may_name_the_operators_registry_directly() -> None:
    ref = parse("127.0.0.1:5000/shared/app:v1", trusted=True)
    assert ref.repository == "shared/app"
    with pytest.raises(InvalidParameterValueException):
        parse("127.0.0.2:5000/shared/app:v1", trusted=True)


def test_no_registry_configured_says_what_to_set() -> None:
    with pytest.raises(InvalidParameterValueException, match="LAMBDAD_IMAGE_REGISTRY"):
        parse(f"{ECR}/app:v1", registry=None)


def test_registry_setting() -> None:
    assert parse_registry("") is None
    assert parse_registry("http://127.0.0.1:5000") == Registry("127.0.0.1:5000", False)
    assert parse_registry("Registry.Example") == Registry("registry.example", True)
    for bad in ("ftp://x", "http://user@host:5000", "http://host/path", "http://"):
        with pytest.raises(ValueError, match="image registry must be"):
            parse_registry(bad)
