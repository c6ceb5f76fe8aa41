"""The network mode a function's environments get: the ``lambdad:network`` tag
overrides the server's setting; anything else leaves the setting in force."""

from __future__ import annotations

import pytest

from lambdad.environments.pool import NETWORK_TAG, network_mode


@pytest.mark.parametrize("mode", ["isolated", "none", "host"])
def test_tag_overrides_the_server_setting(mode: str) -> None:
    assert network_mode({NETWORK_TAG: mode, "team": "a"}, "isolated") == mode


def test_without_the_tag_the_server_setting_applies() -> None:
    assert network_mode({"team": "a"}, "none") == "none"


@pytest.mark.parametrize("value", ["", "Host", "bridge", "isolated "])
def test_unknown_values_leave_the_server_setting(value: str) -> None:
    assert network_mode({NETWORK_TAG: value}, "isolated") == "isolated"
