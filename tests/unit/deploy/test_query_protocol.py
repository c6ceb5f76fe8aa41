"""The query protocol as botocore speaks it: its own serializer's form read back into
the parameters, and our XML read by its own parser into the same result."""

from __future__ import annotations

from urllib.parse import urlencode

import botocore.session
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from lambdad.deploy import query_protocol

MODEL = botocore.session.get_session().get_service_model("cloudformation")
XMLNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


def test_form_read_back_into_parameters() -> None:
    op = MODEL.operation_model("CreateChangeSet")
    params = {
        "StackName": "s",
        "ChangeSetName": "c",
        "TemplateBody": "Resources: {}",
        "Parameters": [
            {"ParameterKey": "A", "ParameterValue": "1"},
            {"ParameterKey": "B", "UsePreviousValue": True},
        ],
        "Capabilities": ["CAPABILITY_IAM"],
    }
    wire = create_serializer("query").serialize_to_request(params, op)
    body = urlencode(wire["body"]).encode()  # botocore encodes the dict when it sends
    form = query_protocol.read_form(body, "")
    assert form["Action"] == "CreateChangeSet"
    assert query_protocol.parse(op, form) == params


def test_result_parsed_by_botocore() -> None:
    op = MODEL.operation_model("DescribeStacks")
    result = {
        "Stacks": [
            {
                "StackId": "arn:aws:cloudformation:us-east-1:1:stack/s/x",
                "StackName": "s",
                "CreationTime": "2026-01-02T03:04:05.000Z",
                "StackStatus": "CREATE_COMPLETE",
                "Outputs": [{"OutputKey": "Url", "OutputValue": "http://a/?x=1&y=<2>"}],
                "NotInTheModel": "dropped",
            }
        ]
    }
    body = query_protocol.response(op, result, "rid", XMLNS)
    parsed = create_parser("query").parse(
        {"body": body, "headers": {}, "status_code": 200}, op.output_shape
    )
    (stack,) = parsed["Stacks"]
    assert stack["Outputs"] == [{"OutputKey": "Url", "OutputValue": "http://a/?x=1&y=<2>"}]
    assert stack["CreationTime"].year == 2026
    assert "NotInTheModel" not in stack
    assert parsed["ResponseMetadata"]["RequestId"] == "rid"


def test_error_parsed_by_botocore() -> None:
    op = MODEL.operation_model("DescribeStacks")
    body = query_protocol.error("ValidationError", "Stack with id <s> does not exist", "r", XMLNS)
    parsed = create_parser("query").parse(
        {"body": body, "headers": {}, "status_code": 400}, op.output_shape
    )
    assert parsed["Error"]["Code"] == "ValidationError"
    assert parsed["Error"]["Message"] == "Stack with id <s> does not exist"
