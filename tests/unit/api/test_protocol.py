"""The rest-json protocol, server side: what boto3 sends comes back as what it meant.

Requests are built by botocore's own serializer, so routing and parsing are checked
against exactly what an SDK puts on the wire (ARNs with ``%3A``, repeated query
keys, base64 blobs in JSON), and the validation messages against AWS's wording.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import botocore.loaders
import botocore.model
import botocore.serialize
import pytest

from lambdad.api.protocol import ServiceModel, parse_query
from lambdad.api.routes import OPERATIONS
from lambdad.errors import InvalidRequestContentException, ValidationException

ARN = "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
ROLE = "arn:aws:iam::123456789012:role/lambda-role"
RAW_MODEL = botocore.loaders.Loader().load_service_model("lambda", "service-2")
BOTO_MODEL = botocore.model.ServiceModel(RAW_MODEL, "lambda")


@pytest.fixture(scope="module")
def model() -> ServiceModel:
    return ServiceModel.load("lambda")


def wire(operation: str, params: dict[str, Any], *, validate: bool = True) -> dict[str, Any]:
    """The request boto3 would send for ``operation(**params)``.

    ``validate=False`` skips botocore's client-side checks, as a careless client would.
    """
    serializer = botocore.serialize.create_serializer("rest-json", include_validation=validate)
    request = serializer.serialize_to_request(params, BOTO_MODEL.operation_model(operation))
    query: list[tuple[str, str]] = []
    for key, value in request["query_string"].items():
        for item in value if isinstance(value, list) else [value]:
            text = str(item).lower() if isinstance(item, bool) else str(item)
            query.append((key, text))
    body = request["body"]
    return {
        "method": request["method"],
        "path": request["url_path"],
        "query": query,
        "headers": {k.lower(): v for k, v in request["headers"].items()},
        "body": body.encode() if isinstance(body, str) else body,
    }


def serve(model: ServiceModel, req: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Route and parse a request as the app does: (operation name, parameters)."""
    routed = model.route(req["method"], req["path"], dict(req["query"]))
    assert routed is not None, req
    op, uri_params = routed
    params = model.parse_request(op, uri_params, req["query"], req["headers"], req["body"])
    return op.name, params


def violations(model: ServiceModel, operation: str, params: dict[str, Any]) -> str:
    with pytest.raises(ValidationException) as info:
        serve(model, wire(operation, params, validate=False))
    return info.value.message


# -- routing ------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", sorted(RAW_MODEL["operations"]))
def test_every_operation_of_the_model_routes_to_itself(model: ServiceModel, operation: str) -> None:
    http = RAW_MODEL["operations"][operation]["http"]
    path, _, fixed = http["requestUri"].partition("?")
    path = re.sub(r"\{(\w+)\+?\}", "some-name", path)
    query = dict(part.partition("=")[::2] for part in fixed.split("&")) if fixed else {}
    routed = model.route(http["method"], path, query)
    assert routed is not None
    assert routed[0].name == operation


SAMPLES: dict[str, dict[str, Any]] = {
    "CreateFunction": {
        "FunctionName": "my-fn",
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": b"PK\x05\x06" + bytes(18)},
        "Timeout": 30,
        "MemorySize": 256,
        "Environment": {"Variables": {"GREETING": "hi"}},
        "Tags": {"team": "core"},
        "Publish": True,
        "Architectures": ["arm64"],
        "EphemeralStorage": {"Size": 1024},
    },
    "GetFunction": {"FunctionName": ARN, "Qualifier": "$LATEST"},
    "GetFunctionConfiguration": {"FunctionName": f"{ARN}:7"},
    "ListFunctions": {"Marker": "bXktZm4=", "MaxItems": 10, "FunctionVersion": "ALL"},
    "UpdateFunctionCode": {
        "FunctionName": "123456789012:function:my-fn",
        "ZipFile": b"\x00\x01binary",
        "Publish": False,
        "DryRun": True,
        "RevisionId": "r-1",
    },
    "UpdateFunctionConfiguration": {
        "FunctionName": ARN,
        "Timeout": 900,
        "Description": "d",
        "RevisionId": "r-2",
        "Environment": {"Variables": {}},
    },
    "DeleteFunction": {"FunctionName": ARN, "Qualifier": "3"},
    "PublishVersion": {"FunctionName": "my-fn", "Description": "v1"},
    "ListVersionsByFunction": {"FunctionName": "my-fn", "MaxItems": 2, "Marker": "MQ=="},
    "TagResource": {"Resource": ARN, "Tags": {"a": "1", "b": ""}},
    "UntagResource": {"Resource": ARN, "TagKeys": ["a", "b"]},
    "ListTags": {"Resource": ARN},
    "GetAccountSettings": {},
}


def _implemented() -> list[str]:
    return sorted(OPERATIONS)


def test_samples_cover_the_function_management_operations() -> None:
    assert set(SAMPLES) <= set(_implemented())


@pytest.mark.parametrize("operation", sorted(SAMPLES))
def test_what_boto3_sends_parses_back_to_what_it_passed(
    model: ServiceModel, operation: str
) -> None:
    params = SAMPLES[operation]
    name, parsed = serve(model, wire(operation, params))
    assert name == operation
    expected = json.loads(json.dumps(params, default=lambda b: base64.b64encode(b).decode()))
    if operation == "UpdateFunctionCode":
        # A blob in a JSON body stays base64 text; the service decodes it.
        assert base64.b64decode(parsed.pop("ZipFile")) == params["ZipFile"]
        expected.pop("ZipFile")
    assert parsed == expected


def test_arns_in_the_path_are_decoded_whether_encoded_or_not(model: ServiceModel) -> None:
    for path in (
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn",
        f"/2015-03-31/functions/{ARN}",
    ):
        op, params = serve(
            model, {"method": "GET", "path": path, "query": [], "headers": {}, "body": b""}
        )
        assert op == "GetFunction"
        assert params == {"FunctionName": ARN}
    op, params = serve(
        model,
        {
            "method": "GET",
            "path": "/2015-03-31/functions/my-fn%3A%24LATEST/configuration",
            "query": [],
            "headers": {},
            "body": b"",
        },
    )
    assert (op, params) == ("GetFunctionConfiguration", {"FunctionName": "my-fn:$LATEST"})


@pytest.mark.parametrize(
    ("method", "path", "query", "operation"),
    [
        ("GET", "/2015-03-31/functions/", {}, "ListFunctions"),
        ("GET", "/2015-03-31/functions", {}, "ListFunctions"),
        ("POST", "/2015-03-31/functions", {}, "CreateFunction"),
        ("GET", "/2015-03-31/functions/f", {}, "GetFunction"),
        ("GET", "/2015-03-31/functions/f/configuration", {}, "GetFunctionConfiguration"),
        ("PUT", "/2015-03-31/functions/f/configuration", {}, "UpdateFunctionConfiguration"),
        ("PUT", "/2015-03-31/functions/f/code", {}, "UpdateFunctionCode"),
        ("DELETE", "/2015-03-31/functions/f", {}, "DeleteFunction"),
        ("POST", "/2015-03-31/functions/f/versions", {}, "PublishVersion"),
        ("GET", "/2015-03-31/functions/f/versions", {}, "ListVersionsByFunction"),
        ("GET", "/2016-08-19/account-settings/", {}, "GetAccountSettings"),
        ("GET", "/2016-08-19/account-settings", {}, "GetAccountSettings"),
        ("POST", f"/2017-03-31/tags/{ARN}", {}, "TagResource"),
        ("GET", f"/2017-03-31/tags/{ARN}", {}, "ListTags"),
        ("DELETE", f"/2017-03-31/tags/{ARN}", {"tagKeys": "a"}, "UntagResource"),
    ],
)
def test_routes_of_the_function_management_api(
    model: ServiceModel, method: str, path: str, query: dict[str, str], operation: str
) -> None:
    routed = model.route(method, path, query)
    assert routed is not None
    assert routed[0].name == operation


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/2015-03-31/functions/f/nope"),
        ("PATCH", "/2015-03-31/functions/f"),
        ("GET", "/2015-03-31/functions/a/b/configuration"),
        ("GET", "/2099-01-01/account-settings/"),
    ],
)
def test_unknown_routes_are_not_routed(model: ServiceModel, method: str, path: str) -> None:
    assert model.route(method, path, {}) is None


def test_parse_query_keeps_repeated_and_blank_values() -> None:
    assert parse_query("tagKeys=a&tagKeys=b&Marker=&X=%3A") == [
        ("tagKeys", "a"),
        ("tagKeys", "b"),
        ("Marker", ""),
        ("X", ":"),
    ]


# -- query and header values --------------------------------------------------------------


def test_query_numbers_are_numbers_and_bad_ones_name_the_field(model: ServiceModel) -> None:
    op = model.operations["ListFunctions"]
    assert model.parse_request(op, {}, [("MaxItems", "10")], {}, b"") == {"MaxItems": 10}
    with pytest.raises(ValidationException) as info:
        model.parse_request(op, {}, [("MaxItems", "ten")], {}, b"")
    assert info.value.message == (
        "1 validation error detected: Value 'ten' at 'maxItems' failed to satisfy "
        "constraint: Member must be a number"
    )
    with pytest.raises(ValidationException) as info:
        model.parse_request(op, {}, [("MaxItems", "0")], {}, b"")
    assert "Value '0' at 'maxItems'" in info.value.message
    assert "greater than or equal to 1" in info.value.message


def test_query_enum_values_are_checked(model: ServiceModel) -> None:
    op = model.operations["ListFunctions"]
    with pytest.raises(ValidationException) as info:
        model.parse_request(op, {}, [("FunctionVersion", "SOME")], {}, b"")
    assert "Value 'SOME' at 'functionVersion'" in info.value.message
    assert "Member must satisfy enum value set: [ALL]" in info.value.message


# -- validation messages -------------------------------------------------------------------

BASE = {
    "FunctionName": "my-fn",
    "Runtime": "python3.12",
    "Role": ROLE,
    "Handler": "app.handler",
    "Code": {"ZipFile": b"zip"},
}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"Timeout": 0},
            "Value '0' at 'timeout' failed to satisfy constraint: Member must have value "
            "greater than or equal to 1",
        ),
        (
            {"MemorySize": 64},
            "Value '64' at 'memorySize' failed to satisfy constraint: Member must have value "
            "greater than or equal to 128",
        ),
        (
            {"EphemeralStorage": {"Size": 100}},
            "Value '100' at 'ephemeralStorage.size' failed to satisfy constraint: Member must "
            "have value greater than or equal to 512",
        ),
        (
            {"Description": "d" * 257},
            f"Value '{'d' * 257}' at 'description' failed to satisfy constraint: Member must "
            "have length less than or equal to 256",
        ),
        (
            {"Handler": "has space"},
            "Value 'has space' at 'handler' failed to satisfy constraint: Member must satisfy "
            "regular expression pattern: [^\\s]+",
        ),
        (
            {"Role": "not-a-role"},
            "Value 'not-a-role' at 'role' failed to satisfy constraint: Member must satisfy "
            "regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?"
            "[a-zA-Z_0-9+=,.@\\-_/]+",
        ),
        (
            {"Environment": {"Variables": {"1BAD": "x"}}},
            "Value at 'environment.variables' failed to satisfy constraint: Map keys must "
            "satisfy constraint: [Member must satisfy regular expression pattern: "
            "[a-zA-Z]([a-zA-Z0-9_])+]",
        ),
        (
            {"FunctionName": "bad name"},
            "Value 'bad name' at 'functionName' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: ",
        ),
    ],
)
def test_constraint_violations_use_aws_wording(
    model: ServiceModel, overrides: dict[str, Any], message: str
) -> None:
    got = violations(model, "CreateFunction", {**BASE, **overrides})
    assert got.startswith("1 validation error detected: " + message)


def test_runtime_outside_the_enum_lists_the_allowed_values(model: ServiceModel) -> None:
    got = violations(model, "CreateFunction", {**BASE, "Runtime": "cobol"})
    assert got.startswith(
        "1 validation error detected: Value 'cobol' at 'runtime' failed to satisfy "
        "constraint: Member must satisfy enum value set: ["
    )
    assert "python3.12" in got
    assert "nodejs20.x" in got


def test_sensitive_values_are_not_echoed(model: ServiceModel) -> None:
    got = violations(
        model, "CreateFunction", {**BASE, "Environment": {"Variables": {"bad-key": "hunter2"}}}
    )
    assert "hunter2" not in got
    assert "bad-key" not in got


def test_every_violation_is_reported_and_counted(model: ServiceModel) -> None:
    got = violations(
        model, "CreateFunction", {**BASE, "Timeout": 0, "MemorySize": 1, "Handler": "a b"}
    )
    assert got.startswith("3 validation errors detected: ")
    assert got.count("failed to satisfy constraint") == 3
    for field in ("'timeout'", "'memorySize'", "'handler'"):
        assert field in got


def test_missing_required_members_are_named_in_camel_case(model: ServiceModel) -> None:
    op = model.operations["CreateFunction"]
    with pytest.raises(ValidationException) as info:
        model.parse_request(op, {}, [], {}, b'{"FunctionName": "f"}')
    assert info.value.message == (
        "2 validation errors detected: "
        "Value null at 'role' failed to satisfy constraint: Member must not be null; "
        "Value null at 'code' failed to satisfy constraint: Member must not be null"
    )


@pytest.mark.parametrize(
    ("member", "value", "kind"),
    [
        ("Timeout", "3", "number"),
        ("Timeout", 3.5, "number"),
        ("Timeout", True, "number"),
        ("Description", 5, "string"),
        ("Publish", "yes", "boolean"),
        ("Tags", ["a"], "map"),
        ("Architectures", "x86_64", "list"),
        ("Code", "zip", "structure"),
    ],
)
def test_wrong_types_are_validation_errors(
    model: ServiceModel, member: str, value: Any, kind: str
) -> None:
    op = model.operations["CreateFunction"]
    doc = {**BASE, "Code": {"ZipFile": "emlw"}, member: value}
    with pytest.raises(ValidationException) as info:
        model.parse_request(op, {}, [], {}, json.dumps(doc).encode())
    camel = member[0].lower() + member[1:]
    assert f"at '{camel}'" in info.value.message
    assert f"Member must be of type {kind}" in info.value.message


def test_integral_floats_count_as_integers(model: ServiceModel) -> None:
    op = model.operations["CreateFunction"]
    doc = {**BASE, "Code": {"ZipFile": "emlw"}, "Timeout": 30.0}
    assert model.parse_request(op, {}, [], {}, json.dumps(doc).encode())["Timeout"] == 30


# -- bodies -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"{", b"not json", b"\xff\xfe\x00", b"[]", b'"text"', b"null", b"[" * 50_000],
    ids=["truncated", "text", "binary", "list", "string", "null", "deep"],
)
def test_bodies_that_are_not_a_json_object_are_invalid_content(
    model: ServiceModel, body: bytes
) -> None:
    op = model.operations["CreateFunction"]
    with pytest.raises(InvalidRequestContentException) as info:
        model.parse_request(op, {}, [], {}, body)
    assert info.value.message.startswith("Could not parse request body into json")


def test_unknown_members_are_ignored(model: ServiceModel) -> None:
    op = model.operations["PublishVersion"]
    params = model.parse_request(
        op, {"FunctionName": "f"}, [], {}, b'{"Description": "d", "Surprise": 1}'
    )
    assert params == {"FunctionName": "f", "Description": "d"}


def test_null_members_count_as_absent(model: ServiceModel) -> None:
    op = model.operations["PublishVersion"]
    params = model.parse_request(op, {"FunctionName": "f"}, [], {}, b'{"Description": null}')
    assert params == {"FunctionName": "f"}


# -- responses ----------------------------------------------------------------------------------


def test_responses_take_the_status_of_the_model(model: ServiceModel) -> None:
    status, headers, body = model.serialize_response(
        model.operations["CreateFunction"], {"FunctionName": "f", "Timeout": 3, "Bogus": 1}
    )
    assert status == 201
    assert headers == {}
    assert json.loads(body) == {"FunctionName": "f", "Timeout": 3}

    status, _, body = model.serialize_response(
        model.operations["DeleteFunction"], {"StatusCode": 204}
    )
    assert (status, body) == (204, b"")

    status, _, body = model.serialize_response(model.operations["TagResource"], {})
    assert (status, body) == (204, b"")


def test_response_members_of_none_are_left_out(model: ServiceModel) -> None:
    _, _, body = model.serialize_response(
        model.operations["ListFunctions"], {"Functions": [], "NextMarker": None}
    )
    assert json.loads(body) == {"Functions": []}
