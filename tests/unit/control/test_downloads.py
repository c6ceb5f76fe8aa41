"""Who may download an archive by digest (lambdad.control.downloads)."""

from __future__ import annotations

import pytest

from lambdad.control.downloads import may_download
from lambdad.store.sqlite import SqliteStore

OWNER, OTHER, THIRD = "111111111111", "222222222222", "333333333333"
CODE, LAYER = "a" * 64, "b" * 64


@pytest.fixture
def store(store: SqliteStore) -> SqliteStore:
    """The shared empty store, with OWNER's function and a layer shared with OTHER."""
    s = store
    s.put_version(OWNER, "us-east-1", "fn", "$LATEST", {"CodeSha256Hex": CODE})
    s.put_child(
        "layer",
        OWNER,
        "us-east-1",
        "layer:shared",
        "000000001",
        {
            "Version": 1,
            "Sha256Hex": LAYER,
            "Policy": [
                {
                    "Sid": "share",
                    "Effect": "Allow",
                    "Principal": {"AWS": OTHER},
                    "Action": "lambda:GetLayerVersion",
                    "Resource": f"arn:aws:lambda:us-east-1:{OWNER}:layer:shared:1",
                }
            ],
        },
    )
    return s


def test_the_owner_may_download_in_its_region(store: SqliteStore) -> None:
    assert may_download(store, OWNER, "us-east-1", CODE)
    assert may_download(store, OWNER, "us-east-1", LAYER)
    assert not may_download(store, OWNER, "eu-west-1", CODE)


def test_another_account_may_not_download_code(store: SqliteStore) -> None:
    assert not may_download(store, OTHER, "us-east-1", CODE)


def test_a_shared_layer_may_be_downloaded_by_whom_it_is_shared_with(store: SqliteStore) -> None:
    assert may_download(store, OTHER, "us-east-1", LAYER)
    assert not may_download(store, THIRD, "us-east-1", LAYER)


def test_an_unknown_digest_is_nobody_s(store: SqliteStore) -> None:
    assert not may_download(store, OWNER, "us-east-1", "c" * 64)
