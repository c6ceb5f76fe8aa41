"""A function's ``VpcConfig`` as AWS answers it: the subnets and security groups given,
the VPC they belong to (``VpcId``, ``""`` without subnets) and
``Ipv6AllowedForDualStack``.

lambdad attaches no VPC (the function reaches the network as its network mode says),
but it keeps what tools read back. Which subnets and security groups exist is the
operator's to say (``LAMBDAD_VPC_NETWORKS``, a JSON document of VPC id -> its
``SubnetIds`` and ``SecurityGroupIds``): with it, a subnet or security group that no
configured VPC has is refused with AWS's EC2 messages; without it, any is accepted and
the VPC id is a stable one made from the account and the subnets.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from lambdad.errors import InvalidParameterValueException

Networks = Mapping[str, Mapping[str, tuple[str, ...]]]


def parse_networks(text: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """``LAMBDAD_VPC_NETWORKS`` read (ValueError: malformed)."""
    if not text.strip():
        return {}
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise ValueError("LAMBDAD_VPC_NETWORKS must be a JSON object of VPC id -> networks")
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for vpc, members in doc.items():
        if not isinstance(members, dict):
            raise ValueError(f"LAMBDAD_VPC_NETWORKS: {vpc} must map to an object")
        out[str(vpc)] = {
            key: tuple(str(v) for v in members.get(key, []))
            for key in ("SubnetIds", "SecurityGroupIds")
        }
    return out


def vpc_config(given: Mapping[str, Any], account: str, networks: Networks) -> dict[str, Any]:
    """The stored ``VpcConfig`` for a request's (InvalidParameterValueException: a
    subnet or security group the configured networks do not have)."""
    subnets = list(given.get("SubnetIds") or [])
    groups = list(given.get("SecurityGroupIds") or [])
    vpc_id = ""
    if subnets:
        vpc_id = _vpc_of(subnets, groups, networks) if networks else _made_up(account, subnets)
    return {
        "SubnetIds": subnets,
        "SecurityGroupIds": groups,
        "VpcId": vpc_id,
        "Ipv6AllowedForDualStack": bool(given.get("Ipv6AllowedForDualStack", False)),
    }


def _vpc_of(subnets: list[str], groups: list[str], networks: Networks) -> str:
    owner = {s: vpc for vpc, n in networks.items() for s in n.get("SubnetIds", ())}
    for subnet in subnets:
        if subnet not in owner:
            raise InvalidParameterValueException(
                "Error occurred while DescribeSubnets. EC2 Error Code: InvalidSubnetID.NotFound. "
                f"EC2 Error Message: The subnet ID '{subnet}' does not exist"
            )
    vpc = owner[subnets[0]]
    known = {g for n in networks.values() for g in n.get("SecurityGroupIds", ())}
    for group in groups:
        if group not in known:
            raise InvalidParameterValueException(
                "Error occurred while DescribeSecurityGroups. EC2 Error Code: "
                f"InvalidGroup.NotFound. EC2 Error Message: The security group '{group}' "
                "does not exist"
            )
    return vpc


def _made_up(account: str, subnets: list[str]) -> str:
    digest = hashlib.sha256(f"{account}:{','.join(sorted(subnets))}".encode()).hexdigest()
    return f"vpc-{digest[:17]}"
