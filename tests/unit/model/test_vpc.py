"""A function's VpcConfig as AWS answers it."""

from __future__ import annotations

import pytest

from lambdad.errors import InvalidParameterValueException
from lambdad.model.vpc import parse_networks, vpc_config

NETWORKS = parse_networks(
    '{"vpc-0aaa": {"SubnetIds": ["subnet-1", "subnet-2"], "SecurityGroupIds": ["sg-1"]}}'
)


def test_without_subnets_the_vpc_id_is_empty() -> None:
    assert vpc_config({}, "1", NETWORKS) == {
        "SubnetIds": [],
        "SecurityGroupIds": [],
        "VpcId": "",
        "Ipv6AllowedForDualStack": False,
    }


def test_configured_networks_name_the_vpc_and_refuse_strangers() -> None:
    given = {"SubnetIds": ["subnet-2"], "SecurityGroupIds": ["sg-1"]}
    assert vpc_config(given, "1", NETWORKS)["VpcId"] == "vpc-0aaa"
    with pytest.raises(InvalidParameterValueException, match=r"InvalidSubnetID\.NotFound"):
        vpc_config({"SubnetIds": ["subnet-9"], "SecurityGroupIds": ["sg-1"]}, "1", NETWORKS)
    with pytest.raises(InvalidParameterValueException, match=r"InvalidGroup\.NotFound"):
        vpc_config({"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-9"]}, "1", NETWORKS)


def test_without_configured_networks_any_subnet_gets_a_stable_vpc_id() -> None:
    one = vpc_config({"SubnetIds": ["subnet-b", "subnet-a"]}, "111122223333", {})["VpcId"]
    two = vpc_config({"SubnetIds": ["subnet-a", "subnet-b"]}, "111122223333", {})["VpcId"]
    assert one == two
    assert one.startswith("vpc-")
    assert len(one) == 21
    assert vpc_config({"SubnetIds": ["subnet-a"]}, "444455556666", {})["VpcId"] != one


@pytest.mark.parametrize("bad", ["[]", '{"vpc-1": 3}', "{not json"])
def test_malformed_networks_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        parse_networks(bad)
