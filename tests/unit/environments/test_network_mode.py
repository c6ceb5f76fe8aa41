"""The network mode a function's environments get: the ``lambdad:network`` tag
narrows the server's setting, never widens it; anything else leaves the setting in force."""

from __future__ import annotations

import pytest

from lambdad.environments.blueprint import NETWORK_TAG, network_mode


@pytest.mark.parametrize(
    ("server", "tag", "expected"),
    [
        ("isolated", "none", "none"),
        ("isolated", "isolated", "isolated"),
        ("host", "isolated", "isolated"),
        ("host", "none", "none"),
        ("host", "host", "host"),
    ],
)
def test_tag_chooses_within_what_the_server_allows(server: str, tag: str, expected: str) -> None:
    assert network_mode({NETWORK_TAG: tag, "team": "a"}, server) == expected


@pytest.mark.parametrize(
    ("server", "tag"), [("isolated", "host"), ("none", "host"), ("none", "isolated")]
)
def test_tag_cannot_widen_the_network(server: str, tag: str) -> None:
    assert network_mode({NETWORK_TAG: tag}, server) == server


def test_without_the_tag_the_server_setting_applies() -> None:
    assert network_mode({"team": "a"}, "none") == "none"


@pytest.mark.parametrize("value", ["", "Host", "bridge", "isolated "])
def test_unknown_values_leave_the_server_setting(value: str) -> None:
    assert network_mode({NETWORK_TAG: value}, "isolated") == "isolated"
