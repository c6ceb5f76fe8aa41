"""The elbv2 query adapter: the model's constraints checked as ELB words them, and
every answer, a failing one too, in ELB's XML."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

from lambdad.api.context import RequestContext
from lambdad.api.elbv2_api import NAMESPACE, ElbApi
from lambdad.api.sigv4 import Principal
from lambdad.model.credential import Credential
from lambdad.model.scope import Scope

NS = "{" + NAMESPACE + "}"


async def _run(fn: Any, *args: Any) -> Any:
    return fn(*args)


def _call(operations: dict[str, Any], params: dict[str, Any]) -> tuple[int, ET.Element]:
    api = ElbApi(operations, _run)
    ctx = RequestContext(
        Principal(Credential("AKID", "secret", "111122223333"), "us-east-1",
                  "elasticloadbalancing"), "req-1", "http://x", {})  # fmt: skip
    body = urlencode({"Version": "2015-12-01", **params}).encode()
    status, headers, out = asyncio.run(api(ctx, "POST", "/", "", body))
    assert headers["Content-Type"] == "text/xml"
    return status, ET.fromstring(out)


def _error(root: ET.Element) -> tuple[str | None, str | None]:
    return root.findtext(f"{NS}Error/{NS}Code"), root.findtext(f"{NS}Error/{NS}Message")


def test_model_constraints_are_checked_before_the_operation_runs() -> None:
    ran: list[dict[str, Any]] = []

    def create(scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        ran.append(params)
        return {"LoadBalancers": []}

    ops = {"CreateLoadBalancer": create}
    status, root = _call(ops, {"Action": "CreateLoadBalancer", "Name": "w", "Scheme": "bogus"})
    assert status == 400
    assert _error(root) == (
        "ValidationError",
        "1 validation error detected: Value 'bogus' at 'scheme' failed to satisfy "
        "constraint: Member must satisfy enum value set: [internet-facing, internal]",
    )
    status, root = _call(ops, {"Action": "CreateLoadBalancer"})
    assert _error(root)[1] == (
        "1 validation error detected: Value null at 'name' failed to satisfy constraint: "
        "Member must not be null"
    )
    assert ran == []


def test_an_answer_that_cannot_be_written_is_an_xml_internal_failure() -> None:
    def broken(scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        return {"LoadBalancers": [{"CreatedTime": 1.5}]}  # no datetime: to_xml fails

    status, root = _call({"DescribeLoadBalancers": broken}, {"Action": "DescribeLoadBalancers"})
    assert status == 500
    assert _error(root)[0] == "InternalFailure"
