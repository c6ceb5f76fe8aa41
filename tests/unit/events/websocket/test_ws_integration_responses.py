"""A WebSocket API's integration responses through ``apigatewayv2``'s operations: their
keys ($default or /regex/), one per key, kept in their integration; none on HTTP APIs."""

from __future__ import annotations

import pytest

from lambdad.errors import BadRequestException, ConflictException, NotFoundException
from lambdad.events.websocket.integration_responses import valid_key
from unit.events.apigw.conftest import Call

ARN = "arn:aws:lambda:us-east-1:111111111111:function:f"


def _integration(v2: Call, protocol: str = "WEBSOCKET") -> dict[str, str]:
    websocket = protocol == "WEBSOCKET"
    extra = {"RouteSelectionExpression": "$request.body.action"} if websocket else {}
    api_id = v2("CreateApi", {"Name": "w", "ProtocolType": protocol, **extra})["ApiId"]
    version = "1.0" if websocket else "2.0"
    integration = {"IntegrationType": "AWS_PROXY", "IntegrationUri": ARN}
    made = v2(
        "CreateIntegration", {"ApiId": api_id, "PayloadFormatVersion": version, **integration}
    )
    return {"ApiId": api_id, "IntegrationId": made["IntegrationId"]}


def test_keys() -> None:
    assert valid_key("$default")
    assert valid_key("/4\\d\\d/")
    for bad in ("", "default", "/", "//"[:1], "/[/", "4\\d\\d"):
        assert not valid_key(bad), bad


def test_integration_responses(v2: Call) -> None:
    ids = _integration(v2)
    template = {"TemplateSelectionExpression": "\\$default"}
    made = v2(
        "CreateIntegrationResponse", {**ids, "IntegrationResponseKey": "$default", **template}
    )
    assert made["IntegrationResponseKey"] == "$default"
    assert made["TemplateSelectionExpression"] == "\\$default"
    with pytest.raises(ConflictException):
        v2("CreateIntegrationResponse", {**ids, "IntegrationResponseKey": "$default"})
    with pytest.raises(BadRequestException):
        v2("CreateIntegrationResponse", {**ids, "IntegrationResponseKey": "4xx"})
    errors = v2("CreateIntegrationResponse", {**ids, "IntegrationResponseKey": "/4\\d\\d/"})
    assert len(v2("GetIntegrationResponses", ids)["Items"]) == 2
    one = {**ids, "IntegrationResponseId": errors["IntegrationResponseId"]}
    with pytest.raises(ConflictException):
        v2("UpdateIntegrationResponse", {**one, "IntegrationResponseKey": "$default"})
    updated = v2("UpdateIntegrationResponse", {**one, "IntegrationResponseKey": "/5\\d\\d/"})
    assert v2("GetIntegrationResponse", one) == updated
    v2("DeleteIntegrationResponse", one)
    with pytest.raises(NotFoundException):
        v2("GetIntegrationResponse", one)
    with pytest.raises(NotFoundException):
        v2("GetIntegrationResponses", {**ids, "IntegrationId": "nope"})


def test_http_apis_have_none(v2: Call) -> None:
    ids = _integration(v2, "HTTP")
    with pytest.raises(BadRequestException):
        v2("CreateIntegrationResponse", {**ids, "IntegrationResponseKey": "$default"})
